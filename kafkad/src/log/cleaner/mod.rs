//! Kafka's log cleaner (log compaction) for logs whose cleanup.policy has
//! "compact": keep the latest record per key, drop tombstones once
//! delete.retention.ms has passed since their first clean.
//!
//! One cleaner (log.cleaner.threads=1) picks, per pass, the compacted log
//! with the highest dirty ratio above min.cleanable.dirty.ratio (or one
//! whose dirty records passed max.compaction.lag.ms), as LogCleanerManager
//! does; `cleaner-offset-checkpoint` in each log dir records where each
//! log's dirty section begins. The log lock is held only to read segment
//! metadata and for each swap (see clean.rs).

pub mod clean;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

use crate::error::StorageError;
use crate::log::checkpoint::{read_offsets, write_offsets};
use crate::log::manager::SharedLog;
use crate::log::Log;
use clean::{Plan, SegInfo};

pub const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

type Key = (String, i32);

/// Kafka's LogToClean: the dirty section's bounds and sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cleanable {
    pub first_dirty: i64,
    pub first_uncleanable: i64,
    pub clean_bytes: u64,
    pub cleanable_bytes: u64,
    /// Dirty records older than max.compaction.lag.ms.
    pub need_now: bool,
    /// The checkpoint was invalid and is reset to `first_dirty`.
    pub reset: bool,
}

impl Cleanable {
    pub fn ratio(&self) -> f64 {
        let total = self.clean_bytes + self.cleanable_bytes;
        if total == 0 {
            0.0
        } else {
            self.cleanable_bytes as f64 / total as f64
        }
    }
}

/// Kafka's cleanableOffsets + calculateCleanableBytes + maxCompactionDelay
/// for one log at `now_ms`, bounded by the high watermark.
pub fn cleanable(log: &Log, checkpoint: Option<i64>, high_watermark: i64, now_ms: i64) -> Cleanable {
    let start = log.log_start_offset;
    let leo = log.log_end_offset();
    let (first_dirty, reset) = match checkpoint {
        Some(c) if c < start || c > leo => (start, true),
        Some(c) => (c, false),
        None => (start, false),
    };
    let segs: Vec<SegInfo> = log.segments.values().map(SegInfo::of).collect();
    let active_base = segs.last().map(|s| s.id.base).unwrap_or(leo);
    let inactive = &segs[..segs.len().saturating_sub(1)];
    let dirty = if first_dirty > active_base { &[] } else { clean::overlapping(inactive, first_dirty, active_base) };
    // Never past the high watermark nor into the active segment, nor into
    // a segment younger than min.compaction.lag.ms.
    let mut bound = high_watermark.min(active_base);
    let lag = log.config.min_compaction_lag_ms.max(0);
    if lag > 0 {
        if let Some(s) = dirty.iter().find(|s| s.largest_timestamp > now_ms - lag) {
            bound = bound.min(s.id.base);
        }
    }
    let bound = bound.max(first_dirty);
    // Only whole segments: the one holding the bound is not cleaned.
    let first_uncleanable = if bound >= active_base {
        active_base
    } else {
        clean::overlapping(inactive, bound, active_base).first().map(|s| s.id.base).unwrap_or(active_base)
    };
    let bytes_in = |from: i64, to: i64| -> u64 { clean::overlapping(&segs, from, to).iter().map(|s| s.id.size).sum() };
    let clean_bytes = bytes_in(i64::MIN, first_dirty);
    let cleanable_bytes = bytes_in(first_dirty.min(first_uncleanable), first_uncleanable);
    let max_lag = log.config.max_compaction_lag_ms.max(0);
    let earliest = dirty.iter().map(|s| s.first_batch_timestamp).filter(|t| *t > 0).min().unwrap_or(i64::MAX);
    let need_now = earliest < now_ms.saturating_sub(max_lag);
    Cleanable { first_dirty, first_uncleanable, clean_bytes, cleanable_bytes, need_now, reset }
}

/// The cleaner's state between passes.
pub struct LogCleaner {
    /// Per log dir, its `cleaner-offset-checkpoint` entries.
    checkpoints: BTreeMap<PathBuf, BTreeMap<Key, i64>>,
    /// Logs whose cleaning failed (Kafka's uncleanable partitions), until
    /// they are deleted.
    uncleanable: Vec<Weak<Mutex<Log>>>,
    max_map_entries: usize,
    /// Set at shutdown; a clean in progress gives up at the next batch.
    pub stop: Arc<AtomicBool>,
}

fn log_dir_of(log: &Log) -> PathBuf {
    log.dir.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl LogCleaner {
    pub fn new(dirs: &[PathBuf], max_map_entries: usize) -> LogCleaner {
        let mut checkpoints = BTreeMap::new();
        for d in dirs {
            let entries = read_offsets(&d.join(CHECKPOINT_FILE)).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring an unreadable {CHECKPOINT_FILE}");
                BTreeMap::new()
            });
            checkpoints.insert(d.clone(), entries);
        }
        LogCleaner { checkpoints, uncleanable: Vec::new(), max_map_entries, stop: Arc::default() }
    }

    pub fn checkpoint(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = (topic.to_string(), partition);
        self.checkpoints.values().find_map(|m| m.get(&key).copied())
    }

    /// Record a log's new dirty start and rewrite its dir's checkpoint file,
    /// leaving out logs no longer on disk.
    fn set_checkpoint(&mut self, log_dir: &Path, key: Key, offset: i64) -> Result<(), StorageError> {
        let m = self.checkpoints.entry(log_dir.to_path_buf()).or_default();
        m.insert(key, offset);
        m.retain(|(t, p), _| log_dir.join(format!("{t}-{p}")).is_dir());
        write_offsets(&log_dir.join(CHECKPOINT_FILE), m)
    }

    /// One pass of Kafka's cleanFilthiestLog over `logs` (each with its high
    /// watermark): clean the dirtiest compacted log that qualifies. Returns
    /// whether a log was cleaned.
    pub fn clean_filthiest(&mut self, logs: &[(SharedLog, i64)], now_ms: i64) -> Result<bool, StorageError> {
        let mut best: Option<(f64, &SharedLog, Plan)> = None;
        self.uncleanable.retain(|w| w.strong_count() > 0);
        for (shared, hw) in logs {
            if self.uncleanable.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared))) {
                continue;
            }
            let Ok(mut g) = shared.lock() else { continue };
            if !g.config.compact {
                continue;
            }
            let key = (g.topic.clone(), g.partition);
            let dir = log_dir_of(&g);
            let mut checkpoint = self.checkpoint(&key.0, key.1);
            if let Some(t) = g.truncated_to.take() {
                if checkpoint.map(|c| c > t).unwrap_or(false) {
                    checkpoint = Some(t);
                    self.set_checkpoint(&dir, key.clone(), t)?;
                }
            }
            let c = cleanable(&g, checkpoint, *hw, now_ms);
            if c.reset {
                // With compact,delete retention moves the start past it all
                // the time: Kafka does not warn then.
                if !g.config.delete_enabled {
                    tracing::warn!(topic = %key.0, partition = key.1, checkpoint = ?checkpoint,
                        reset_to = c.first_dirty, "cleaner checkpoint outside the log; resetting it to the log start");
                }
                self.set_checkpoint(&dir, key.clone(), c.first_dirty)?;
            }
            let qualifies = (c.need_now && c.cleanable_bytes > 0) || c.ratio() > g.config.min_cleanable_ratio;
            if c.clean_bytes + c.cleanable_bytes == 0 || !qualifies {
                continue;
            }
            if best.as_ref().map(|b| c.ratio() > b.0).unwrap_or(true) {
                let active = g.segments.len().saturating_sub(1);
                let plan = Plan {
                    dir: g.dir.clone(),
                    name: format!("{}-{}", g.topic, g.partition),
                    segments: g.segments.values().take(active).map(SegInfo::of).collect(),
                    first_dirty: c.first_dirty,
                    first_uncleanable: c.first_uncleanable,
                    segment_bytes: g.config.segment_bytes,
                    max_index_bytes: g.config.max_index_bytes,
                    index_interval: g.config.index_interval_bytes,
                    delete_retention_ms: g.config.delete_retention_ms,
                    producer_last: g.producers.last_offsets(),
                };
                best = Some((c.ratio(), shared, plan));
            }
        }
        let Some((ratio, shared, plan)) = best else { return Ok(false) };
        let started = std::time::Instant::now();
        let (first_dirty, first_uncleanable) = (plan.first_dirty, plan.first_uncleanable);
        tracing::info!(log = %plan.name, ratio, first_dirty, first_uncleanable, "beginning cleaning of log");
        let key = parse_name(&plan.name);
        match clean::clean_log(shared, &plan, now_ms, self.max_map_entries, &self.stop) {
            Ok(Some((end, s))) => {
                if let Some(dir) = plan.dir.parent() {
                    self.set_checkpoint(dir, key, end)?;
                }
                tracing::info!(log = %plan.name, from = plan.first_dirty, to = end,
                    bytes_read = s.bytes_read, bytes_written = s.bytes_written, records_read = s.records_read,
                    records_written = s.records_written, keyless_dropped = s.keyless_dropped,
                    ms = started.elapsed().as_millis() as u64, "cleaned log");
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                tracing::warn!(log = %plan.name, error = %e, "cleaning failed; the log is marked uncleanable");
                self.uncleanable.push(Arc::downgrade(shared));
                Ok(false)
            }
        }
    }
}

fn parse_name(name: &str) -> Key {
    crate::log::parse_dir_name(name).unwrap_or_else(|| (name.to_string(), 0))
}
