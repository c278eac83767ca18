//! The records inside a v2 batch, as the cleaner needs them: decompressed
//! with the batch's codec (kafka-protocol's compressors), parsed just far
//! enough to see offset, timestamp, key and whether there is a value, and
//! re-encoded into a batch that keeps the original header fields. A kept
//! record's key, value and headers are copied byte for byte, so duplicate
//! header keys survive; only its timestamp delta is re-encoded.

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use crate::log::batch::{BatchError, BatchHeader, CODEC_MASK, DELETE_HORIZON_FLAG, HEADER_LEN, LOG_OVERHEAD};

const LOG_APPEND_TIME: i16 = 1 << 3;

/// One record of a batch; `body` runs from the key length to the record end.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub has_value: bool,
    attributes: u8,
    offset_delta: i32,
    body: &'a [u8],
}

fn bad(what: &str) -> BatchError {
    BatchError::Invalid(format!("record {what}"))
}

fn varlong(b: &[u8], pos: &mut usize) -> Result<i64, BatchError> {
    let mut raw: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*pos).ok_or_else(|| bad("varint truncated"))?;
        *pos += 1;
        raw |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err(bad("varint too long"))
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A length-prefixed field: None for length -1.
fn field<'a>(b: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>, BatchError> {
    let len = varlong(b, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let end = pos.checked_add(len as usize).filter(|e| *e <= b.len()).ok_or_else(|| bad("field overruns"))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(Some(s))
}

fn codec(h: &BatchHeader) -> i16 {
    h.attributes & CODEC_MASK
}

/// The batch's records section, decompressed.
pub fn decompress(h: &BatchHeader, batch: &[u8]) -> Result<Bytes, BatchError> {
    let mut src = Bytes::copy_from_slice(batch.get(HEADER_LEN..).ok_or(BatchError::Truncated)?);
    let take = |b: &mut Bytes| Ok(b.split_off(0));
    let out = match codec(h) {
        0 => return Ok(src),
        1 => <Gzip as Decompressor<Bytes>>::decompress(&mut src, take),
        2 => <Snappy as Decompressor<Bytes>>::decompress(&mut src, take),
        3 => <Lz4 as Decompressor<Bytes>>::decompress(&mut src, take),
        4 => <Zstd as Decompressor<Bytes>>::decompress(&mut src, take),
        c => return Err(BatchError::Invalid(format!("unknown compression codec {c}"))),
    };
    out.map_err(|e| BatchError::Invalid(format!("cannot decompress: {e}")))
}

/// Parse the `record_count` records of decompressed `data`.
pub fn parse<'a>(h: &BatchHeader, data: &'a [u8]) -> Result<Vec<RawRecord<'a>>, BatchError> {
    let mut out = Vec::with_capacity(h.record_count.max(0) as usize);
    let mut pos = 0usize;
    for _ in 0..h.record_count.max(0) {
        let len = varlong(data, &mut pos)?;
        let end = (len >= 0)
            .then(|| pos.checked_add(len as usize))
            .flatten()
            .filter(|e| *e <= data.len())
            .ok_or_else(|| bad("length overruns the batch"))?;
        let rec = &data[pos..end];
        let mut p = 0usize;
        let attributes = *rec.first().ok_or_else(|| bad("empty"))?;
        p += 1;
        let ts_delta = varlong(rec, &mut p)?;
        let offset_delta = varlong(rec, &mut p)? as i32;
        let body = &rec[p..];
        let key = field(rec, &mut p)?;
        let has_value = field(rec, &mut p)?.is_some();
        // With LogAppendTime every record carries the batch's time.
        let timestamp =
            if h.attributes & LOG_APPEND_TIME != 0 { h.max_timestamp } else { h.first_timestamp + ts_delta };
        out.push(RawRecord {
            offset: h.base_offset + offset_delta as i64,
            timestamp,
            key,
            has_value,
            attributes,
            offset_delta,
            body,
        });
        pos = end;
    }
    Ok(out)
}

fn header(h: &BatchHeader, attributes: i16, first_ts: i64, max_ts: i64, count: i32, records: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + records.len());
    b.extend_from_slice(&h.base_offset.to_be_bytes());
    b.extend_from_slice(&((HEADER_LEN - LOG_OVERHEAD + records.len()) as i32).to_be_bytes());
    b.extend_from_slice(&h.partition_leader_epoch.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&h.last_offset_delta.to_be_bytes());
    b.extend_from_slice(&first_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&h.producer_id.to_be_bytes());
    b.extend_from_slice(&h.producer_epoch.to_be_bytes());
    b.extend_from_slice(&h.base_sequence.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Rebuild `h`'s batch around `kept` (non-empty, in offset order) as
/// Kafka's MemoryRecordsBuilder does for the cleaner: same base offset,
/// last offset delta, leader epoch, producer id/epoch/base sequence and
/// codec; first timestamp is the delete horizon when one is set, else the
/// first kept record's; max timestamp is recomputed (kept for
/// LogAppendTime).
pub fn rebuild(h: &BatchHeader, kept: &[RawRecord], delete_horizon: Option<i64>) -> Result<Vec<u8>, BatchError> {
    let first_ts = delete_horizon.or(kept.first().map(|r| r.timestamp)).unwrap_or(-1);
    let max_ts = if h.attributes & LOG_APPEND_TIME != 0 {
        h.max_timestamp
    } else {
        kept.iter().map(|r| r.timestamp).max().unwrap_or(-1)
    };
    let mut raw = Vec::new();
    let mut rec = Vec::new();
    for r in kept {
        rec.clear();
        rec.push(r.attributes);
        put_varlong(&mut rec, r.timestamp - first_ts);
        put_varlong(&mut rec, r.offset_delta as i64);
        rec.extend_from_slice(r.body);
        put_varlong(&mut raw, rec.len() as i64);
        raw.extend_from_slice(&rec);
    }
    let mut out = BytesMut::new();
    let copy = |b: &mut BytesMut| {
        b.extend_from_slice(&raw);
        Ok(())
    };
    let done = match codec(h) {
        0 => copy(&mut out),
        1 => <Gzip as Compressor<BytesMut>>::compress(&mut out, copy),
        2 => <Snappy as Compressor<BytesMut>>::compress(&mut out, copy),
        3 => <Lz4 as Compressor<BytesMut>>::compress(&mut out, copy),
        4 => <Zstd as Compressor<BytesMut>>::compress(&mut out, copy),
        c => return Err(BatchError::Invalid(format!("unknown compression codec {c}"))),
    };
    done.map_err(|e| BatchError::Invalid(format!("cannot compress: {e}")))?;
    let mut attributes = h.attributes & !DELETE_HORIZON_FLAG;
    if delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_FLAG;
    }
    Ok(header(h, attributes, first_ts, max_ts, kept.len() as i32, &out))
}

/// Kafka's writeEmptyHeader: a batch with no records that keeps the offset
/// range and producer fields (uncompressed, both timestamps the old max).
pub fn empty(h: &BatchHeader) -> Vec<u8> {
    let attributes = h.attributes & !(CODEC_MASK | DELETE_HORIZON_FLAG);
    header(h, attributes, h.max_timestamp, h.max_timestamp, 0, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_roundtrip() {
        for v in [0i64, 1, -1, 63, -64, 64, 300, -300, i32::MAX as i64, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            let mut p = 0;
            assert_eq!(varlong(&b, &mut p).expect("decode"), v);
            assert_eq!(p, b.len());
        }
        assert!(varlong(&[0x80], &mut 0).is_err(), "truncated");
    }
}
