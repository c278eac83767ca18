//! Idempotent-producer state per partition, as Kafka's ProducerStateManager
//! keeps it: for each producer id its epoch and the metadata of its last
//! five batches (max.in.flight.requests.per.connection), used to answer
//! retried batches with their original offsets and to reject gaps.
//!
//! Persistence follows Kafka: `<20-digit offset>.snapshot` files written
//! at segment roll and at clean shutdown (format version 1, CRC-32C over
//! the entries; one entry per producer holding its last batch). On open
//! the newest snapshot not beyond the log end is loaded and the log after
//! it is replayed, which also rebuilds the state after an unclean stop.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use kafka_protocol::ResponseError;

use super::batch::BatchHeader;
use crate::error::{IoContext, StorageError};

/// Batches remembered per producer (Kafka's NUM_BATCHES_TO_RETAIN).
pub const BATCHES_TO_RETAIN: usize = 5;
const SNAPSHOT_SUFFIX: &str = ".snapshot";
const SNAPSHOT_VERSION: i16 = 1;
/// int64 pid, int16 epoch, int32 last seq, int64 last offset, int32 offset
/// delta, int64 timestamp, int32 coordinator epoch, int64 txn first offset.
const ENTRY_LEN: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
    pub coordinator_epoch: i32,
}

/// Outcome of validating a client batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Append,
    /// A retry of one of the last five batches: answer with its offsets.
    Duplicate {
        first_offset: i64,
        last_offset: i64,
    },
}

#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq as i64 == last_seq as i64 + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

impl ProducerStateManager {
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Producer id -> last offset of its last batch, for the cleaner, which
    /// keeps that batch so the producer's sequence survives compaction.
    pub fn last_offsets(&self) -> HashMap<i64, i64> {
        self.producers.iter().filter_map(|(id, e)| e.batches.back().map(|b| (*id, b.last_offset))).collect()
    }

    /// Validate client batches in order, as Kafka's
    /// analyzeAndValidateProducerState + ProducerAppendInfo do for
    /// AppendOrigin.Client: duplicate first, then epoch, then sequence.
    /// A duplicate is only reported for a single-batch append (Produce v3+
    /// carries exactly one batch per partition).
    pub fn check(&self, headers: &[BatchHeader]) -> Result<Check, ResponseError> {
        // Working view so several batches of one producer chain correctly.
        let mut pending: HashMap<i64, (i16, i32)> = HashMap::new();
        for h in headers {
            if h.producer_id < 0 {
                continue;
            }
            let current = self.producers.get(&h.producer_id);
            if let (Some(e), [_]) = (current, headers) {
                if h.producer_epoch == e.epoch {
                    if let Some(b) =
                        e.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
                    {
                        return Ok(Check::Duplicate { first_offset: b.first_offset, last_offset: b.last_offset });
                    }
                }
            }
            let (epoch, last_seq) = match pending.get(&h.producer_id) {
                Some(&(ep, seq)) => (ep, seq),
                None => match current {
                    Some(e) => (e.epoch, e.batches.back().map(|b| b.last_seq).unwrap_or(-1)),
                    // Unknown producer (new, or its state expired with the
                    // log): any sequence is accepted.
                    None => (-1, -1),
                },
            };
            if h.producer_epoch < epoch {
                return Err(ResponseError::InvalidProducerEpoch);
            }
            if h.base_sequence >= 0 {
                if h.producer_epoch != epoch {
                    if h.base_sequence != 0 && epoch >= 0 {
                        return Err(ResponseError::OutOfOrderSequenceNumber);
                    }
                } else if epoch >= 0 && !in_sequence(last_seq, h.base_sequence) {
                    return Err(ResponseError::OutOfOrderSequenceNumber);
                }
            }
            pending.insert(h.producer_id, (h.producer_epoch, h.last_sequence()));
        }
        Ok(Check::Append)
    }

    /// Record a batch written at `first_offset` (leader append or replay).
    pub fn update(&mut self, h: &BatchHeader, first_offset: i64) {
        if h.producer_id < 0 {
            return;
        }
        let last_offset = first_offset + h.last_offset_delta.max(0) as i64;
        let e = self.producers.entry(h.producer_id).or_insert_with(|| ProducerEntry {
            epoch: h.producer_epoch,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
        });
        if h.producer_epoch != e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        if h.base_sequence >= 0 {
            e.batches.push_back(BatchMetadata {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                first_offset,
                last_offset,
                timestamp: h.max_timestamp,
            });
            while e.batches.len() > BATCHES_TO_RETAIN {
                e.batches.pop_front();
            }
        }
    }

    /// Forget producers whose last batch is below the log start (Kafka's
    /// isProducerRetained): retention removed their records.
    pub fn retain_from(&mut self, log_start_offset: i64) {
        self.producers.retain(|_, e| e.batches.back().map(|b| b.last_offset >= log_start_offset).unwrap_or(true));
    }

    /// Kafka's removeExpiredProducers: forget producers whose last batch
    /// timestamp is `expiration_ms` or more in the past. Returns how many.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            let last = e.batches.back().map(|b| b.timestamp).unwrap_or(i64::MIN);
            now_ms.saturating_sub(last) < expiration_ms
        });
        before - self.producers.len()
    }

    pub fn clear(&mut self) {
        self.producers.clear();
    }

    /// Kafka's snapshot encoding.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut entries = Vec::with_capacity(4 + self.producers.len() * ENTRY_LEN);
        entries.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        for id in ids {
            let e = &self.producers[id];
            let last = e.batches.back();
            entries.extend_from_slice(&id.to_be_bytes());
            entries.extend_from_slice(&e.epoch.to_be_bytes());
            entries.extend_from_slice(&last.map(|b| b.last_seq).unwrap_or(-1).to_be_bytes());
            entries.extend_from_slice(&last.map(|b| b.last_offset).unwrap_or(-1).to_be_bytes());
            let delta = last.map(|b| (b.last_offset - b.first_offset) as i32).unwrap_or(0);
            entries.extend_from_slice(&delta.to_be_bytes());
            entries.extend_from_slice(&last.map(|b| b.timestamp).unwrap_or(-1).to_be_bytes());
            entries.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            entries.extend_from_slice(&(-1i64).to_be_bytes()); // no transactions
        }
        let mut out = Vec::with_capacity(6 + entries.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&entries).to_be_bytes());
        out.extend_from_slice(&entries);
        out
    }

    /// Parse a snapshot; `None` when it is corrupt or of another version.
    pub fn decode_snapshot(data: &[u8]) -> Option<ProducerStateManager> {
        let version = i16::from_be_bytes(data.get(0..2)?.try_into().ok()?);
        let crc = u32::from_be_bytes(data.get(2..6)?.try_into().ok()?);
        let entries = data.get(6..)?;
        if version != SNAPSHOT_VERSION || crc32c::crc32c(entries) != crc {
            return None;
        }
        let count = i32::from_be_bytes(entries.get(0..4)?.try_into().ok()?);
        let count = usize::try_from(count).ok()?;
        if entries.len() != 4 + count.checked_mul(ENTRY_LEN)? {
            return None;
        }
        let mut producers = HashMap::with_capacity(count);
        for i in 0..count {
            let e = &entries[4 + i * ENTRY_LEN..4 + (i + 1) * ENTRY_LEN];
            let i64_at = |o: usize| e.get(o..o + 8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
            let i32_at = |o: usize| e.get(o..o + 4).and_then(|b| b.try_into().ok()).map(i32::from_be_bytes);
            let pid = i64_at(0)?;
            let epoch = i16::from_be_bytes(e.get(8..10)?.try_into().ok()?);
            let last_seq = i32_at(10)?;
            let last_offset = i64_at(14)?;
            let delta = i32_at(22)?;
            let timestamp = i64_at(26)?;
            let coordinator_epoch = i32_at(34)?;
            let mut batches = VecDeque::new();
            if last_offset >= 0 && last_seq >= 0 {
                batches.push_back(BatchMetadata {
                    first_seq: last_seq.wrapping_sub(delta),
                    last_seq,
                    first_offset: last_offset - delta as i64,
                    last_offset,
                    timestamp,
                });
            }
            producers.insert(pid, ProducerEntry { epoch, batches, coordinator_epoch });
        }
        Some(ProducerStateManager { producers })
    }

    /// Write `<offset>.snapshot` (temp file, fsync, rename).
    pub fn write_snapshot(&self, dir: &Path, offset: i64) -> Result<(), StorageError> {
        let path = snapshot_path(dir, offset);
        let tmp = path.with_extension("snapshot.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).at(&tmp)?;
            f.write_all(&self.encode_snapshot()).at(&tmp)?;
            f.sync_all().at(&tmp)?;
        }
        std::fs::rename(&tmp, &path).at(&path)?;
        Ok(())
    }

    /// Load the newest valid snapshot at or below `log_end_offset`,
    /// deleting snapshots beyond it (left by a truncated log) and corrupt
    /// ones. Returns the state and the offset replay must start from.
    pub fn load(dir: &Path, log_end_offset: i64) -> (ProducerStateManager, Option<i64>) {
        let mut snaps = list_snapshots(dir);
        snaps.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        for (offset, path) in snaps {
            if offset > log_end_offset {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            match std::fs::read(&path).ok().and_then(|d| Self::decode_snapshot(&d)) {
                Some(s) => return (s, Some(offset)),
                None => {
                    tracing::warn!(path = %path.display(), "corrupt producer snapshot deleted");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        (ProducerStateManager::default(), None)
    }
}

pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}{SNAPSHOT_SUFFIX}"))
}

pub fn list_snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let off = name.strip_suffix(SNAPSHOT_SUFFIX)?.parse::<i64>().ok()?;
            Some((off, e.path()))
        })
        .collect()
}

/// Kafka deletes snapshots older than the first segment when retention
/// removes segments; the newest one is always kept.
pub fn delete_snapshots_before(dir: &Path, offset: i64) {
    let mut snaps = list_snapshots(dir);
    snaps.sort_unstable_by_key(|s| s.0);
    let newest = snaps.last().map(|s| s.0);
    for (o, p) in snaps {
        if o < offset && Some(o) != newest {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, n: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            attributes: 0,
            last_offset_delta: n - 1,
            first_timestamp: 0,
            max_timestamp: 7,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: n,
        }
    }

    #[test]
    fn sequence_rules_and_duplicates() {
        let mut s = ProducerStateManager::default();
        assert_eq!(s.check(&[header(1, 0, 5, 2)]), Ok(Check::Append), "unknown producer: any sequence");
        s.update(&header(1, 0, 0, 2), 10);
        assert_eq!(s.check(&[header(1, 0, 3, 1)]), Err(ResponseError::OutOfOrderSequenceNumber), "gap");
        assert_eq!(s.check(&[header(1, 0, 0, 2)]), Ok(Check::Duplicate { first_offset: 10, last_offset: 11 }));
        assert_eq!(s.check(&[header(1, 0, 2, 1)]), Ok(Check::Append));
        assert_eq!(s.check(&[header(1, 1, 0, 1)]), Ok(Check::Append), "new epoch restarts at 0");
        assert_eq!(s.check(&[header(1, 1, 4, 1)]), Err(ResponseError::OutOfOrderSequenceNumber));
        s.update(&header(1, 1, 0, 1), 12);
        assert_eq!(s.check(&[header(1, 0, 2, 1)]), Err(ResponseError::InvalidProducerEpoch));
        // Two batches of one producer in one request chain.
        assert_eq!(s.check(&[header(1, 1, 1, 1), header(1, 1, 2, 1)]), Ok(Check::Append));
        assert_eq!(s.check(&[header(1, 1, 1, 1), header(1, 1, 3, 1)]), Err(ResponseError::OutOfOrderSequenceNumber));
    }

    #[test]
    fn idle_producers_expire() {
        let mut s = ProducerStateManager::default();
        s.update(&header(1, 0, 0, 1), 0); // max_timestamp 7
        let mut fresh = header(2, 0, 0, 1);
        fresh.max_timestamp = 1_000;
        s.update(&fresh, 1);
        assert_eq!(s.remove_expired(1_006, 1_000), 0);
        assert_eq!(s.remove_expired(1_007, 1_000), 1);
        assert!(s.entry(1).is_none() && s.entry(2).is_some());
        // Forgotten: any sequence is accepted again, as for a new producer.
        assert_eq!(s.check(&[header(1, 0, 9, 1)]), Ok(Check::Append));
    }

    #[test]
    fn snapshot_roundtrip_keeps_last_batch() {
        let mut s = ProducerStateManager::default();
        for i in 0..7 {
            s.update(&header(9, 2, i * 3, 3), 100 + i as i64 * 3);
        }
        let back = ProducerStateManager::decode_snapshot(&s.encode_snapshot()).expect("decode");
        let e = back.entry(9).expect("entry");
        assert_eq!(e.epoch, 2);
        assert_eq!(
            e.batches.iter().copied().collect::<Vec<_>>(),
            vec![BatchMetadata { first_seq: 18, last_seq: 20, first_offset: 118, last_offset: 120, timestamp: 7 }]
        );
        let mut bad = s.encode_snapshot();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(ProducerStateManager::decode_snapshot(&bad).is_none(), "CRC checked");
        assert!(ProducerStateManager::decode_snapshot(&[0, 1]).is_none());
    }

    proptest::proptest! {
        /// Snapshot files are read back after crashes: any bytes must
        /// decode or be rejected, never panic.
        #[test]
        fn arbitrary_snapshot_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = ProducerStateManager::decode_snapshot(&data);
        }
    }
}
