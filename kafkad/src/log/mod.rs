//! A partition's log: ordered segments, the log end offset (LEO), the log
//! start offset, the leader epoch cache, and the operations replication will
//! need later (truncate_to, read up to a bound).

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod config;
mod follower;
pub mod manager;
pub mod producer_state;
pub mod segment;
mod swap;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};
use batch::BatchHeader;
use checkpoint::LeaderEpochCache;
pub use config::LogConfig;
use segment::Segment;

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
    /// Idempotent-producer state (see producer_state).
    pub producers: producer_state::ProducerStateManager,
    /// Wall clock of the last fsync, for flush.ms.
    pub last_flush_ms: i64,
    /// Lowest offset the log was truncated to since the cleaner last looked
    /// (it aborts a swap and lowers its checkpoint, Kafka's
    /// maybeTruncateCheckpoint).
    pub truncated_to: Option<i64>,
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
        // A clean interrupted by a crash: finish or discard it first.
        let swapped = swap::recover_leftovers(dir)?;
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
            let recover = last || next_base_le || swapped.contains(&base);
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
            producers: Default::default(),
            last_flush_ms: crate::now_ms(),
            truncated_to: None,
        };
        let leo = log.log_end_offset();
        if log.log_start_offset > leo {
            log.log_start_offset = leo;
        }
        log.recovery_point = leo;
        if log.epochs.truncate_from_end(leo + 1) {
            log.epochs.save(dir)?;
        }
        log.load_producer_state()?;
        log.settle_indexes()?;
        Ok(log)
    }

    /// Kafka's index sizing: the active segment's indexes preallocated to
    /// segment.index.bytes, every other segment's cut to its entries.
    pub fn settle_indexes(&mut self) -> Result<(), StorageError> {
        let max = self.config.max_index_bytes;
        let n = self.segments.len();
        for (i, seg) in self.segments.values_mut().enumerate() {
            if i + 1 == n {
                seg.preallocate_indexes(max)?;
            } else {
                seg.deactivate()?;
            }
        }
        Ok(())
    }

    /// Every segment's indexes final and cut to their entries (a clean
    /// close).
    pub fn trim_indexes(&mut self) -> Result<(), StorageError> {
        self.segments.values_mut().try_for_each(Segment::deactivate)
    }

    pub fn first_segment_base(&self) -> i64 {
        self.segments.keys().next().copied().unwrap_or(0)
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
    /// the leader epoch in place (and, for LogAppendTime topics, the append
    /// time). Returns (first offset, last offset, the log append time or -1).
    pub fn append_as_leader(
        &mut self,
        batches: &mut [u8],
        ranges: &[std::ops::Range<usize>],
        leader_epoch: i32,
    ) -> Result<(i64, i64, i64), StorageError> {
        let first = self.log_end_offset();
        let append_time = if self.config.log_append_time { crate::now_ms() } else { -1 };
        if self.epochs.assign(leader_epoch, first) {
            self.epochs.save(&self.dir)?;
        }
        let mut next = first;
        for r in ranges {
            let b = &mut batches[r.clone()];
            batch::set_base_offset(b, next);
            batch::set_partition_leader_epoch(b, leader_epoch);
            if append_time >= 0 {
                batch::set_log_append_time(b, append_time);
            }
            let h = BatchHeader::parse(b)
                .map_err(|e| StorageError::Corrupt { path: self.dir.clone(), reason: e.to_string() })?;
            self.maybe_roll(b.len() as u64, h.max_timestamp)?;
            self.active()?.append(&h, b)?;
            // Per batch, so a roll between batches snapshots exactly the
            // batches below it.
            if !h.is_control() {
                self.producers.update(&h, h.base_offset);
            }
            next = h.last_offset() + 1;
        }
        // Kafka's flush policy: fsync once flush.messages are unflushed
        // (by default never: the OS writes back, replication protects).
        if self.log_end_offset() - self.recovery_point >= self.config.flush_messages {
            self.flush()?;
        }
        Ok((first, next - 1, append_time))
    }

    fn maybe_roll(&mut self, incoming: u64, batch_max_ts: i64) -> Result<(), StorageError> {
        let seg_bytes = self.config.segment_bytes;
        let (size, next, waited) = {
            let a = self.active()?;
            (a.size, a.next_offset, a.time_waited_for_roll(crate::now_ms(), batch_max_ts))
        };
        let by_time = size > 0 && waited > self.config.segment_ms;
        if size > 0 && (size + incoming > seg_bytes || by_time) {
            // Kafka flushes the old segment when it rolls.
            if let Some(s) = self.segments.values().next_back() {
                s.flush()?;
            }
            self.recovery_point = next;
            tracing::debug!(topic = %self.topic, partition = self.partition, base = next, "rolling segment");
            let seg = Segment::create(&self.dir, next, self.config.index_interval_bytes)?;
            self.segments.insert(next, seg);
            self.settle_indexes()?;
            self.take_producer_snapshot()?;
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
            let start = out.len();
            seg.read_into(pos, chunk_len, &mut out).at(&seg.log_path())?;
            let read = out.len() - start;
            // Keep the whole batches of what was read.
            let mut used = 0usize;
            while used + batch::HEADER_LEN <= read {
                let Ok(h) = BatchHeader::parse(&out[start + used..]) else { break };
                if h.base_offset >= max_offset {
                    out.truncate(start + used);
                    return Ok(ReadResult { bytes: out });
                }
                if used + h.size() > read {
                    out.truncate(start + used);
                    if out.is_empty() {
                        // First batch bigger than max_bytes: return it whole.
                        seg.read_into(pos, h.size(), &mut out).at(&seg.log_path())?;
                    }
                    return Ok(ReadResult { bytes: out });
                }
                used += h.size();
            }
            out.truncate(start + used);
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
        self.truncated_to = Some(self.truncated_to.map_or(offset, |t| t.min(offset)));
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
        self.settle_indexes()?;
        self.recovery_point = self.recovery_point.min(self.log_end_offset());
        self.load_producer_state()?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), StorageError> {
        if let Some(s) = self.segments.values().next_back() {
            s.flush()?;
        }
        self.recovery_point = self.log_end_offset();
        self.last_flush_ms = crate::now_ms();
        Ok(())
    }

    /// flush.ms: fsync if there is unflushed data and the last flush is
    /// older than flush.ms (Kafka's periodic flushDirtyLogs). True if it
    /// flushed.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<bool, StorageError> {
        let unflushed = self.log_end_offset() > self.recovery_point;
        if unflushed && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms {
            self.flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Start a new empty active segment at the LEO (Kafka's roll()).
    pub fn roll(&mut self) -> Result<(), StorageError> {
        let leo = self.log_end_offset();
        if self.segments.contains_key(&leo) {
            return Ok(());
        }
        if let Some(s) = self.segments.values().next_back() {
            s.flush()?;
        }
        self.recovery_point = leo;
        let seg = Segment::create(&self.dir, leo, self.config.index_interval_bytes)?;
        self.segments.insert(leo, seg);
        self.settle_indexes()?;
        self.take_producer_snapshot()?;
        Ok(())
    }

    /// Kafka's takeSnapshot: `<LEO>.snapshot`, unless the newest snapshot
    /// is already there (nothing appended since).
    pub fn take_producer_snapshot(&mut self) -> Result<(), StorageError> {
        let leo = self.log_end_offset();
        let newest = producer_state::list_snapshots(&self.dir).into_iter().map(|s| s.0).max();
        if leo == 0 || newest.map(|n| n >= leo).unwrap_or(false) {
            return Ok(());
        }
        self.producers.write_snapshot(&self.dir, leo)
    }

    /// Load the newest snapshot not beyond the log end, then replay the
    /// batches after it; this is also the rebuild after an unclean stop.
    fn load_producer_state(&mut self) -> Result<(), StorageError> {
        let leo = self.log_end_offset();
        let (mut state, from) = producer_state::ProducerStateManager::load(&self.dir, leo);
        let start = from.unwrap_or(self.log_start_offset).max(self.log_start_offset);
        let mut offset = start;
        while offset < leo {
            let r = match self.read(offset, 1 << 20, leo) {
                Ok(r) => r,
                Err(ReadError::Storage(e)) => return Err(e),
                Err(ReadError::OutOfRange { .. }) => break,
            };
            let mut pos = 0usize;
            let before = offset;
            while let Some(Ok(h)) = r.bytes.get(pos..).map(BatchHeader::parse) {
                if h.size() == 0 || pos.saturating_add(h.size()) > r.bytes.len() {
                    break;
                }
                // A batch the snapshot already covers is not counted twice.
                if h.last_offset() >= start && !h.is_control() {
                    state.update(&h, h.base_offset);
                }
                offset = offset.max(h.last_offset() + 1);
                pos += h.size();
            }
            if offset == before {
                break;
            }
        }
        state.retain_from(self.log_start_offset);
        if !state.is_empty() {
            tracing::debug!(topic = %self.topic, partition = self.partition, producers = state.len(), from = start, "producer state loaded");
        }
        self.producers = state;
        Ok(())
    }

    /// Raise the log start offset (DeleteRecords); segments wholly below
    /// it go at the next retention pass, as in Kafka.
    pub fn advance_log_start(&mut self, offset: i64) -> bool {
        if offset > self.log_start_offset && offset <= self.log_end_offset() {
            self.log_start_offset = offset;
            self.epochs_from_start();
            return true;
        }
        false
    }

    /// The leader epoch cache follows the log start (Kafka moves the first
    /// epoch's start with it); a failed save is retried at the next change.
    fn epochs_from_start(&mut self) {
        if self.epochs.truncate_from_start(self.log_start_offset) {
            if let Err(e) = self.epochs.save(&self.dir) {
                tracing::warn!(topic = %self.topic, partition = self.partition, error = %e, "cannot save leader epochs");
            }
        }
    }

    /// Kafka's deleteOldSegments: by retention.ms, then retention.bytes
    /// (both only with cleanup.policy=delete), then segments wholly below
    /// the log start offset. A segment goes only when the high watermark
    /// has passed it; when every segment goes, a new empty one is rolled
    /// first so the log keeps its end offset. Returns segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64, high_watermark: i64) -> Result<usize, StorageError> {
        let mut deleted = 0;
        if self.config.delete_enabled && self.config.retention_ms >= 0 {
            let ms = self.config.retention_ms;
            deleted +=
                self.delete_while(high_watermark, "retention.ms", |seg, _| now_ms - seg.largest_timestamp() > ms)?;
        }
        if self.config.delete_enabled && self.config.retention_bytes >= 0 {
            let mut diff = self.size_bytes() as i64 - self.config.retention_bytes;
            deleted += self.delete_while(high_watermark, "retention.bytes", |seg, _| {
                if diff - seg.size as i64 >= 0 {
                    diff -= seg.size as i64;
                    true
                } else {
                    false
                }
            })?;
        }
        let start = self.log_start_offset;
        deleted +=
            self.delete_while(high_watermark, "log start offset", |_, next| next.map(|n| n <= start).unwrap_or(false))?;
        Ok(deleted)
    }

    fn delete_while(
        &mut self,
        high_watermark: i64,
        reason: &str,
        mut pred: impl FnMut(&Segment, Option<i64>) -> bool,
    ) -> Result<usize, StorageError> {
        let leo = self.log_end_offset();
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            let Some(seg) = self.segments.get(base) else { break };
            let next = bases.get(i + 1).copied();
            let last_and_empty = next.is_none() && seg.size == 0;
            if pred(seg, next) && !last_and_empty && high_watermark >= next.unwrap_or(leo) {
                doomed.push(*base);
            } else {
                break;
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        if doomed.len() == self.segments.len() {
            self.roll()?;
        }
        for base in &doomed {
            if let Some(seg) = self.segments.remove(base) {
                tracing::info!(topic = %self.topic, partition = self.partition, base, reason, "deleting segment");
                seg.delete_files();
            }
        }
        if let Some(first) = self.segments.keys().next() {
            self.log_start_offset = self.log_start_offset.max(*first);
            producer_state::delete_snapshots_before(&self.dir, *first);
        }
        self.epochs_from_start();
        self.producers.retain_from(self.log_start_offset);
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests;
