//! Record batch (magic v2) framing, for the broker and the tools alike.
//! Stored batches are the producer's bytes; only baseOffset (bytes 0..8)
//! and partitionLeaderEpoch (12..16) are ever rewritten, which is safe
//! because the CRC-32C covers attributes onward.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

/// baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1) crc(4)
/// attributes(2) lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8)
/// producerId(8) producerEpoch(2) baseSequence(4) recordCount(4).
pub const HEADER_LEN: usize = 61;
/// Bytes before the part `batchLength` counts.
pub const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
/// Attribute bits: codec (0-2), LogAppendTime (3), transactional (4),
/// control (5), delete horizon set (6).
pub const CODEC_MASK: i16 = 0x07;
pub const DELETE_HORIZON_FLAG: i16 = 1 << 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("truncated batch")]
    Truncated,
    #[error("unsupported magic {0}")]
    Magic(i8),
    #[error("invalid batch: {0}")]
    Invalid(String),
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parse the fixed header; `buf` must hold at least `HEADER_LEN` bytes.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated);
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != 2 {
            return Err(BatchError::Magic(magic));
        }
        let h = BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic,
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            first_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        };
        if (h.batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(BatchError::Invalid(format!("batch length {}", h.batch_length)));
        }
        Ok(h)
    }

    /// Whole batch size on disk / on the wire.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    pub fn is_control(&self) -> bool {
        self.attributes & (1 << 5) != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & (1 << 4) != 0
    }

    /// KIP-534: firstTimestamp holds the tombstones' delete horizon.
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_FLAG != 0
    }

    /// As kafka-dump-log names the timestamp type.
    pub fn timestamp_type_name(&self) -> &'static str {
        if self.attributes & i16::from(TIMESTAMP_TYPE_BIT) != 0 {
            "LogAppendTime"
        } else {
            "CreateTime"
        }
    }

    /// As kafka-dump-log names the codec.
    pub fn codec_name(&self) -> &'static str {
        match self.attributes & CODEC_MASK {
            0 => "none",
            1 => "gzip",
            2 => "snappy",
            3 => "lz4",
            4 => "zstd",
            _ => "unknown",
        }
    }

    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        // Sequences wrap at i32::MAX as in Kafka's DefaultRecordBatch.
        ((self.base_sequence as i64 + self.last_offset_delta as i64) % (i32::MAX as i64 + 1)) as i32
    }
}

/// Validate one complete batch from a producer: header sanity plus the CRC
/// (checked by kafka-protocol's header decoder, which never decompresses).
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let h = whole(batch)?;
    if h.record_count <= 0 || h.last_offset_delta < 0 || h.record_count != h.last_offset_delta + 1 {
        return Err(BatchError::Invalid(format!(
            "record count {} does not match last offset delta {}",
            h.record_count, h.last_offset_delta
        )));
    }
    check_crc(batch, h)
}

/// Validate a batch already in a log (recovery, replication): a cleaned
/// batch keeps its offset range but may hold fewer records, or none.
pub fn validate_stored(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let h = whole(batch)?;
    if h.last_offset_delta < 0 || h.record_count < 0 || h.record_count as i64 > h.last_offset_delta as i64 + 1 {
        return Err(BatchError::Invalid(format!(
            "record count {} exceeds the offset range of last offset delta {}",
            h.record_count, h.last_offset_delta
        )));
    }
    check_crc(batch, h)
}

fn whole(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let h = BatchHeader::parse(batch)?;
    if h.size() != batch.len() {
        return Err(BatchError::Truncated);
    }
    Ok(h)
}

fn check_crc(batch: &[u8], h: BatchHeader) -> Result<BatchHeader, BatchError> {
    let mut b = Bytes::copy_from_slice(batch);
    let infos = RecordBatchDecoder::decode_batch_info(&mut b).map_err(|e| BatchError::Invalid(e.to_string()))?;
    if infos.len() != 1 {
        return Err(BatchError::Invalid("not exactly one batch".into()));
    }
    Ok(h)
}

/// Split a produce payload into batch byte ranges; anything that is not a
/// sequence of whole v2 batches is an error.
pub fn split(records: &[u8]) -> Result<Vec<std::ops::Range<usize>>, BatchError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        if rest.len() < HEADER_LEN {
            return Err(BatchError::Truncated);
        }
        let h = BatchHeader::parse(rest)?;
        let end = pos.checked_add(h.size()).ok_or(BatchError::Truncated)?;
        if end > records.len() {
            return Err(BatchError::Truncated);
        }
        out.push(pos..end);
        pos = end;
    }
    Ok(out)
}

/// The CRC-32C a batch carries (bytes 17..21) and whether it matches the
/// bytes from the attributes on; `batch` must hold the whole batch.
pub fn crc(batch: &[u8]) -> (u32, bool) {
    let stored = u32::from_be_bytes([batch[17], batch[18], batch[19], batch[20]]);
    (stored, crc32c::crc32c(&batch[21..]) == stored)
}

pub fn set_base_offset(batch: &mut [u8], offset: i64) {
    batch[0..8].copy_from_slice(&offset.to_be_bytes());
}

pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// The attributes bit that says the batch carries LogAppendTime.
const TIMESTAMP_TYPE_BIT: u8 = 0x08;

/// Stamp a batch with the broker's append time, as Kafka's
/// DefaultRecordBatch.setMaxTimestamp(LOG_APPEND_TIME, now): the
/// timestamp-type bit in the attributes, maxTimestamp = `now_ms`, and the
/// CRC-32C (over attributes to the end) recomputed. Record timestamps stay
/// as sent; readers take the batch's for every record of such a batch.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    batch[22] |= TIMESTAMP_TYPE_BIT;
    batch[35..43].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// A batch of `n` small records (offsets from 0, timestamps from 1000),
/// for tests.
pub fn sample_batch(n: usize, compression: kafka_protocol::records::Compression) -> Vec<u8> {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1000 + i as i64,
                key: None,
                value: Some(Bytes::from(format!("value-{i}"))),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, records.iter(), &RecordEncodeOptions { version: 2, compression })
            .expect("encode");
        buf.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{Compression, TimestampType};

    #[test]
    fn validates_and_rewrites_offsets() {
        let mut b = sample_batch(3, Compression::None);
        let h = validate(&b).expect("valid");
        assert_eq!(h.record_count, 3);
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 7);
        let h = validate(&b).expect("still valid after in-place rewrite");
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.last_offset(), 44);
        assert_eq!(h.partition_leader_epoch, 7);
    }

    #[test]
    fn log_append_time_sets_the_bit_the_max_timestamp_and_a_valid_crc() {
        use kafka_protocol::records::RecordBatchDecoder;
        for compression in [Compression::None, Compression::Lz4] {
            let mut b = sample_batch(3, compression);
            set_log_append_time(&mut b, 1_700_000_000_123);
            let h = validate(&b).expect("the CRC still checks");
            assert_eq!(h.max_timestamp, 1_700_000_000_123);
            // kafka-protocol's decoder sees LogAppendTime on every record.
            // (It keeps the records' own timestamps; Kafka's clients and
            // librdkafka take maxTimestamp, which tests/conformance.rs
            // checks with kcat.)
            let mut buf = Bytes::from(b);
            let set = RecordBatchDecoder::decode(&mut buf).expect("decodes");
            assert!(set.records.iter().all(|r| r.timestamp_type == TimestampType::LogAppend), "{compression:?}");
        }
    }

    #[test]
    fn corrupt_crc_rejected() {
        let mut b = sample_batch(2, Compression::None);
        let n = b.len();
        b[n - 1] ^= 0xff;
        assert!(matches!(validate(&b), Err(BatchError::Invalid(_))));
    }

    #[test]
    fn split_rejects_garbage() {
        assert!(split(&[0u8; 10]).is_err());
        let mut two = sample_batch(1, Compression::None);
        two.extend(sample_batch(2, Compression::None));
        assert_eq!(split(&two).expect("two batches").len(), 2);
        two.push(0);
        assert!(split(&two).is_err());
    }
}
