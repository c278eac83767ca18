//! A partition's log: ordered segments, the log end offset (LEO), the log
//! start offset, the leader epoch cache, and the operations replication will
//! need later (truncate_to, read up to a bound).

pub mod batch;
pub mod checkpoint;
pub mod manager;
pub mod segment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};
use batch::BatchHeader;
use checkpoint::LeaderEpochCache;
use segment::Segment;

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub index_interval_bytes: u64,
}

pub struct Log {
    pub dir: PathBuf,
    pub topic: String,
    pub partition: i32,
    pub config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    pub log_start_offset: i64,
    /// Offsets below this are known flushed to disk.
    pub recovery_point: i64,
    pub epochs: LeaderEpochCache,
}

/// What a read found.
pub struct ReadResult {
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("offset {offset} out of range [{start}, {end}]")]
    OutOfRange { offset: i64, start: i64, end: i64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// `<topic>-<partition>` -> (topic, partition); topics may contain '-'.
pub fn parse_dir_name(name: &str) -> Option<(String, i32)> {
    let (t, p) = name.rsplit_once('-')?;
    let p: i32 = p.parse().ok()?;
    if t.is_empty() || p < 0 {
        return None;
    }
    Some((t.to_string(), p))
}

impl Log {
    /// Open (or create) the log in `dir`. `recover_from`: offset from which
    /// segments are rescanned (the recovery point after an unclean stop);
    /// `None` trusts everything but the active segment.
    pub fn open(
        dir: &Path,
        topic: &str,
        partition: i32,
        config: LogConfig,
        recover_from: Option<i64>,
        log_start_checkpoint: Option<i64>,
    ) -> Result<Log, StorageError> {
        std::fs::create_dir_all(dir).at(dir)?;
        let mut bases: Vec<i64> = Vec::new();
        for entry in std::fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(b) = stem.parse::<i64>() {
                    bases.push(b);
                }
            } else if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        bases.sort_unstable();
        let mut segments = BTreeMap::new();
        let n = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let last = i + 1 == n;
            let next_base_le = recover_from.map(|r| base >= r).unwrap_or(false);
            // The active segment is always rescanned: it is where a crash
            // leaves a torn write.
            let recover = last || next_base_le;
            let seg = Segment::open(dir, base, config.index_interval_bytes, recover)?;
            segments.insert(base, seg);
        }
        if segments.is_empty() {
            let start = log_start_checkpoint.unwrap_or(0).max(0);
            segments.insert(start, Segment::create(dir, start, config.index_interval_bytes)?);
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let mut log = Log {
            dir: dir.to_path_buf(),
            topic: topic.to_string(),
            partition,
            config,
            segments,
            log_start_offset: log_start_checkpoint.unwrap_or(first_base).max(first_base),
            recovery_point: 0,
            epochs: LeaderEpochCache::load(dir),
        };
        let leo = log.log_end_offset();
        if log.log_start_offset > leo {
            log.log_start_offset = leo;
        }
        log.recovery_point = leo;
        if log.epochs.truncate_from_end(leo + 1) {
            log.epochs.save(dir)?;
        }
        Ok(log)
    }

    pub fn log_end_offset(&self) -> i64 {
        self.segments.values().next_back().map(|s| s.next_offset).unwrap_or(0)
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    fn active(&mut self) -> Result<&mut Segment, StorageError> {
        let leo = self.log_end_offset();
        if self.segments.is_empty() {
            self.segments.insert(leo, Segment::create(&self.dir, leo, self.config.index_interval_bytes)?);
        }
        self.segments
            .values_mut()
            .next_back()
            .ok_or_else(|| StorageError::Corrupt { path: self.dir.clone(), reason: "no segment".into() })
    }

    /// Append validated batches, assigning offsets from the LEO and stamping
    /// the leader epoch in place. Returns (first offset, last offset).
    pub fn append_as_leader(
        &mut self,
        batches: &mut [u8],
        ranges: &[std::ops::Range<usize>],
        leader_epoch: i32,
    ) -> Result<(i64, i64), StorageError> {
        let first = self.log_end_offset();
        if self.epochs.assign(leader_epoch, first) {
            self.epochs.save(&self.dir)?;
        }
        let mut next = first;
        for r in ranges {
            let b = &mut batches[r.clone()];
            batch::set_base_offset(b, next);
            batch::set_partition_leader_epoch(b, leader_epoch);
            let h = BatchHeader::parse(b)
                .map_err(|e| StorageError::Corrupt { path: self.dir.clone(), reason: e.to_string() })?;
            self.maybe_roll(b.len() as u64)?;
            self.active()?.append(&h, b)?;
            next = h.last_offset() + 1;
        }
        Ok((first, next - 1))
    }

    fn maybe_roll(&mut self, incoming: u64) -> Result<(), StorageError> {
        let seg_bytes = self.config.segment_bytes;
        let (size, next) = {
            let a = self.active()?;
            (a.size, a.next_offset)
        };
        if size > 0 && size + incoming > seg_bytes {
            // Kafka flushes the old segment when it rolls.
            if let Some(s) = self.segments.values().next_back() {
                s.flush()?;
            }
            self.recovery_point = next;
            tracing::debug!(topic = %self.topic, partition = self.partition, base = next, "rolling segment");
            let seg = Segment::create(&self.dir, next, self.config.index_interval_bytes)?;
            self.segments.insert(next, seg);
        }
        Ok(())
    }

    /// Read whole batches starting at the batch holding `offset`, ending
    /// before `max_offset` (the high watermark for consumers, the LEO for
    /// followers). At most `max_bytes`, except that the first batch is
    /// always returned whole so a large batch cannot stall a consumer.
    pub fn read(&self, offset: i64, max_bytes: usize, max_offset: i64) -> Result<ReadResult, ReadError> {
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Err(ReadError::OutOfRange { offset, start: self.log_start_offset, end: leo });
        }
        let mut out = Vec::new();
        if offset >= max_offset {
            return Ok(ReadResult { bytes: out });
        }
        let Some((_, seg)) = self.segments.range(..=offset).next_back().or_else(|| self.segments.iter().next()) else {
            return Ok(ReadResult { bytes: out });
        };
        let path = seg.log_path();
        let mut segs = self.segments.range(seg.base_offset..).map(|(_, s)| s);
        let mut cur = segs.next();
        let mut pos = match cur.map(|s| s.find_position(offset)).transpose().at(&path)?.flatten() {
            Some((p, _)) => p,
            None => {
                // `offset` sits past this segment's end: start of the next one.
                cur = segs.next();
                0
            }
        };
        while let Some(seg) = cur {
            let chunk_len = (max_bytes.saturating_sub(out.len())).max(batch::HEADER_LEN);
            let data = seg.read_at(pos, chunk_len).at(&seg.log_path())?;
            let mut used = 0usize;
            while used + batch::HEADER_LEN <= data.len() {
                let Ok(h) = BatchHeader::parse(&data[used..]) else { break };
                if h.base_offset >= max_offset {
                    return Ok(ReadResult { bytes: out });
                }
                if used + h.size() > data.len() {
                    if out.is_empty() && used == 0 {
                        // First batch bigger than max_bytes: return it whole.
                        let whole = seg.read_at(pos, h.size()).at(&seg.log_path())?;
                        out.extend_from_slice(&whole);
                    }
                    return Ok(ReadResult { bytes: out });
                }
                out.extend_from_slice(&data[used..used + h.size()]);
                used += h.size();
            }
            if out.len() >= max_bytes || pos + (used as u64) < seg.size {
                return Ok(ReadResult { bytes: out });
            }
            cur = segs.next();
            pos = 0;
        }
        Ok(ReadResult { bytes: out })
    }

    /// Offset and timestamp of the first batch whose max timestamp is >= ts
    /// (batch granularity; the caller refines inside the batch).
    pub fn batch_for_timestamp(&self, ts: i64) -> Result<Option<(BatchHeader, Vec<u8>)>, StorageError> {
        for seg in self.segments.values() {
            if seg.max_timestamp < ts {
                continue;
            }
            let path = seg.log_path();
            if let Some((pos, h)) = seg.find_by_timestamp(ts).at(&path)? {
                if h.last_offset() < self.log_start_offset {
                    continue;
                }
                let bytes = seg.read_at(pos, h.size()).at(&path)?;
                return Ok(Some((h, bytes)));
            }
        }
        Ok(None)
    }

    /// Remove every batch at or above `offset` (a follower diverged from a
    /// new leader). Whole segments above it are deleted.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let above: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for b in above {
            if let Some(s) = self.segments.remove(&b) {
                s.delete_files();
            }
        }
        if let Some((_, seg)) = self.segments.range_mut(..=offset).next_back() {
            seg.truncate_to(offset)?;
        } else {
            let start = offset.max(0);
            self.segments.insert(start, Segment::create(&self.dir, start, self.config.index_interval_bytes)?);
            self.log_start_offset = start;
        }
        if self.epochs.truncate_from_end(offset) {
            self.epochs.save(&self.dir)?;
        }
        self.recovery_point = self.recovery_point.min(self.log_end_offset());
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), StorageError> {
        if let Some(s) = self.segments.values().next_back() {
            s.flush()?;
        }
        self.recovery_point = self.log_end_offset();
        Ok(())
    }

    /// Apply retention.ms and retention.bytes to closed segments (never the
    /// active one). Returns how many segments were deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, StorageError> {
        let mut deleted = 0;
        let mut total = self.size_bytes() as i64;
        loop {
            if self.segments.len() <= 1 {
                break;
            }
            let Some((base, seg)) = self.segments.iter().next() else { break };
            let seg_ts = if seg.max_timestamp >= 0 { seg.max_timestamp } else { seg.modified_ms };
            let by_time = self.config.retention_ms >= 0 && now_ms - seg_ts > self.config.retention_ms;
            let by_size = self.config.retention_bytes >= 0 && total - seg.size as i64 >= self.config.retention_bytes;
            if !(by_time || by_size) {
                break;
            }
            let base = *base;
            if let Some(seg) = self.segments.remove(&base) {
                total -= seg.size as i64;
                tracing::info!(topic = %self.topic, partition = self.partition, base, by_time, by_size,
                    "deleting segment by retention");
                seg.delete_files();
                deleted += 1;
            }
            if let Some(next) = self.segments.keys().next() {
                self.log_start_offset = self.log_start_offset.max(*next);
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::Compression;

    fn cfg(seg: u64) -> LogConfig {
        LogConfig { segment_bytes: seg, retention_ms: -1, retention_bytes: -1, index_interval_bytes: 100 }
    }

    fn append(log: &mut Log, n: usize) -> (i64, i64) {
        let mut b = batch::tests::sample_batch(n, Compression::None);
        let ranges = batch::split(&b).expect("split");
        log.append_as_leader(&mut b, &ranges, 0).expect("append")
    }

    #[test]
    fn append_read_roll_recover() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("t-0");
        let mut log = Log::open(&dir, "t", 0, cfg(300), None, None).expect("open");
        for i in 0..20 {
            assert_eq!(append(&mut log, 2), (i * 2, i * 2 + 1));
        }
        assert_eq!(log.log_end_offset(), 40);
        assert!(log.segments.len() > 1, "rolled");
        let r = log.read(13, 1 << 20, 40).expect("read");
        let first = BatchHeader::parse(&r.bytes).expect("header");
        assert_eq!(first.base_offset, 12);
        let all = batch::split(&r.bytes).expect("whole batches");
        assert_eq!(all.len(), 14);
        // HW bound
        let r = log.read(0, 1 << 20, 10).expect("read");
        assert_eq!(batch::split(&r.bytes).expect("split").len(), 5);
        drop(log);
        // Torn tail: append garbage to the active segment.
        let mut last = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().map(|e| e == "log").unwrap_or(false))
            .collect::<Vec<_>>();
        last.sort();
        let active = last.last().expect("a segment").clone();
        let mut bytes = std::fs::read(&active).expect("read");
        let good = bytes.len();
        bytes.extend_from_slice(&batch::tests::sample_batch(3, Compression::None)[..30]);
        std::fs::write(&active, &bytes).expect("write");
        let mut log = Log::open(&dir, "t", 0, cfg(300), Some(0), None).expect("reopen");
        assert_eq!(log.log_end_offset(), 40);
        assert_eq!(std::fs::metadata(&active).expect("meta").len() as usize, good);
        assert_eq!(append(&mut log, 1), (40, 40));
        log.truncate_to(21).expect("truncate");
        assert_eq!(log.log_end_offset(), 22, "batch 20..21 kept whole");
        assert!(matches!(log.read(50, 100, 100), Err(ReadError::OutOfRange { .. })));
    }
}
