//! Cleaning one log (Kafka's Cleaner): the key -> latest offset map over
//! the dirty section, then every segment from the start up to the map's
//! end recopied group by group into `.cleaned` segments, each swapped in
//! under the log lock. Segment files are read outside the lock: inactive
//! segments never change, and the swap re-checks that the log still holds
//! what was read.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::records::{self, RawRecord};
use crate::error::{IoContext, StorageError};
use crate::log::batch::{BatchError, BatchHeader, HEADER_LEN};
use crate::log::manager::SharedLog;
use crate::log::segment::{file_name, Segment};
use crate::log::swap::SegmentId;

/// Bytes read from a segment file at a time.
const CHUNK: usize = 1 << 20;

/// What the cleaner needs of one segment, copied under the log lock.
#[derive(Debug, Clone)]
pub struct SegInfo {
    pub id: SegmentId,
    pub modified_ms: i64,
    pub largest_timestamp: i64,
    pub first_batch_timestamp: i64,
    pub index_bytes: (u64, u64),
}

impl SegInfo {
    pub fn of(s: &Segment) -> SegInfo {
        SegInfo {
            id: SegmentId::of(s),
            modified_ms: s.modified_ms,
            largest_timestamp: s.largest_timestamp(),
            first_batch_timestamp: s.first_batch_timestamp,
            index_bytes: s.index_bytes(),
        }
    }
}

/// One log to clean and the bounds Kafka's cleanableOffsets gave it.
pub struct Plan {
    pub dir: PathBuf,
    pub name: String,
    /// Every segment but the active one, in offset order.
    pub segments: Vec<SegInfo>,
    pub first_dirty: i64,
    /// Segment-aligned end of what may be cleaned this round.
    pub first_uncleanable: i64,
    pub segment_bytes: u64,
    pub max_index_bytes: u64,
    pub index_interval: u64,
    pub delete_retention_ms: i64,
    /// Producer id -> last offset of its last batch (Kafka's
    /// lastRecordsOfActiveProducers): that batch is never dropped.
    pub producer_last: HashMap<i64, i64>,
}

/// Key -> offset of its latest record (Kafka's OffsetMap, with whole keys
/// instead of MD5 digests), capped like log.cleaner.dedupe.buffer.size.
pub struct OffsetMap {
    map: HashMap<Box<[u8]>, i64>,
    pub latest_offset: i64,
    max_entries: usize,
}

impl OffsetMap {
    pub fn new(max_entries: usize) -> OffsetMap {
        OffsetMap { map: HashMap::new(), latest_offset: -1, max_entries: max_entries.max(1) }
    }

    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Totals for the log line Kafka prints after a clean.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_written: u64,
    pub keyless_dropped: u64,
}

fn segment_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(file_name(base, "log"))
}

fn corrupt(path: &Path, e: BatchError) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), reason: e.to_string() }
}

/// Call `f` on each batch of the first `size` bytes of a segment file, in
/// order, until it returns false.
fn for_each_batch(
    path: &Path,
    size: u64,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let file = File::open(path).at(path)?;
    let mut pos = 0u64;
    while pos + HEADER_LEN as u64 <= size {
        let mut buf = vec![0u8; ((size - pos) as usize).min(CHUNK)];
        file.read_exact_at(&mut buf, pos).at(path)?;
        let mut used = 0usize;
        while used + HEADER_LEN <= buf.len() {
            let h = BatchHeader::parse(&buf[used..]).map_err(|e| corrupt(path, e))?;
            if used + h.size() > buf.len() {
                break;
            }
            if !f(&h, &buf[used..used + h.size()])? {
                return Ok(());
            }
            used += h.size();
        }
        if used == 0 {
            // One batch larger than a chunk.
            let h = BatchHeader::parse(&buf).map_err(|e| corrupt(path, e))?;
            if pos + h.size() as u64 > size {
                return Err(corrupt(path, BatchError::Truncated));
            }
            let mut big = vec![0u8; h.size()];
            file.read_exact_at(&mut big, pos).at(path)?;
            if !f(&h, &big)? {
                return Ok(());
            }
            used = h.size();
        }
        pos += used as u64;
    }
    Ok(())
}

/// Segments overlapping [from, to): Kafka's logSegments(from, to).
pub fn overlapping(segs: &[SegInfo], from: i64, to: i64) -> &[SegInfo] {
    let start = segs.partition_point(|s| s.id.base <= from).saturating_sub(1);
    let end = segs.partition_point(|s| s.id.base < to);
    &segs[start.min(end)..end]
}

/// Kafka's buildOffsetMap: the dirty segments' keys from `plan.first_dirty`
/// until the uncleanable offset or until the map is full.
pub fn build_offset_map(plan: &Plan, map: &mut OffsetMap, stop: &AtomicBool) -> Result<bool, StorageError> {
    let start = plan.first_dirty;
    let dirty = overlapping(&plan.segments, start, plan.first_uncleanable);
    for (i, seg) in dirty.iter().enumerate() {
        let next_start = dirty.get(i + 1).map(|s| s.id.base).unwrap_or(plan.first_uncleanable);
        let path = segment_path(&plan.dir, seg.id.base);
        let mut full = false;
        for_each_batch(&path, seg.id.size, |h, bytes| {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            if !h.is_control() && h.last_offset() >= start {
                let data = records::decompress(h, bytes).map_err(|e| corrupt(&path, e))?;
                for r in records::parse(h, &data).map_err(|e| corrupt(&path, e))? {
                    let Some(key) = r.key.filter(|_| r.offset >= start) else { continue };
                    if map.map.len() >= map.max_entries {
                        full = true;
                        return Ok(false);
                    }
                    map.map.insert(key.into(), r.offset);
                }
            }
            if h.last_offset() >= start {
                map.latest_offset = map.latest_offset.max(h.last_offset());
            }
            Ok(true)
        })?;
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if full {
            tracing::debug!(log = %plan.name, base = seg.id.base, "offset map full; segment partially mapped");
            break;
        }
        // An offset gap at the segment's end is covered too.
        map.latest_offset = map.latest_offset.max(next_start - 1);
    }
    Ok(true)
}

/// Kafka's groupSegmentsBySize: consecutive segments whose log and index
/// sizes each stay within the limits, and whose offsets fit a relative
/// index entry, become one cleaned segment.
pub fn group_by_size(segs: &[SegInfo], max_size: u64, max_index: u64, first_uncleanable: i64) -> Vec<Vec<SegInfo>> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let mut group = vec![segs[i].clone()];
        let (mut size, mut idx, mut tidx) = (segs[i].id.size, segs[i].index_bytes.0, segs[i].index_bytes.1);
        i += 1;
        while let Some(s) = segs.get(i) {
            let last_offset = segs.get(i + 1).map(|n| n.id.base).unwrap_or(first_uncleanable) - 1;
            let fits = size + s.id.size <= max_size
                && idx + s.index_bytes.0 <= max_index
                && tidx + s.index_bytes.1 <= max_index
                && (s.id.size == 0 || last_offset - group[group.len() - 1].id.base <= i32::MAX as i64);
            if !fits {
                break;
            }
            size += s.id.size;
            idx += s.index_bytes.0;
            tidx += s.index_bytes.1;
            group.push(s.clone());
            i += 1;
        }
        groups.push(group);
    }
    groups
}

/// The record filter of one cleaning round.
pub struct Filter<'a> {
    pub map: &'a OffsetMap,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    pub producer_last: &'a HashMap<i64, i64>,
    /// A batch ending right before this is kept even when emptied, so the
    /// log does not lose its last offset.
    pub upper_bound: i64,
}

/// What becomes of one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Original,
    Rewritten(Vec<u8>),
    Dropped,
}

impl Filter<'_> {
    /// Kafka's shouldRetainRecord: past the map, or the key's latest record
    /// and either a value or a tombstone whose delete horizon has not come.
    fn retain(&self, h: &BatchHeader, r: &RawRecord, stats: &mut Stats) -> bool {
        if r.offset > self.map.latest_offset {
            return true;
        }
        let Some(key) = r.key else {
            stats.keyless_dropped += 1;
            return false;
        };
        let latest = self.map.get(key).map(|o| r.offset >= o).unwrap_or(true);
        let keep_delete = !h.has_delete_horizon() || self.now_ms < h.first_timestamp;
        latest && (r.has_value || keep_delete)
    }

    /// Kafka's filterTo for one batch, with LogCleaner's batch retention.
    pub fn apply(&self, h: &BatchHeader, bytes: &[u8], stats: &mut Stats) -> Result<Outcome, BatchError> {
        stats.bytes_read += bytes.len() as u64;
        if h.is_control() {
            // kafkad writes no transaction markers; keep any as they are.
            stats.bytes_written += bytes.len() as u64;
            return Ok(Outcome::Original);
        }
        let last_of_producer = h.producer_id >= 0 && self.producer_last.get(&h.producer_id) == Some(&h.last_offset());
        let retain_empty = last_of_producer || h.last_offset() + 1 == self.upper_bound;
        let data = records::decompress(h, bytes)?;
        let all = records::parse(h, &data)?;
        stats.records_read += all.len() as u64;
        let kept: Vec<RawRecord> = all.iter().filter(|r| self.retain(h, r, stats)).copied().collect();
        stats.records_written += kept.len() as u64;
        let tombstones = kept.iter().any(|r| !r.has_value);
        // KIP-534: the first clean that keeps a tombstone stamps the batch
        // with now + delete.retention.ms; later cleans drop it after that.
        let set_horizon = tombstones && !h.has_delete_horizon();
        let out = if kept.is_empty() {
            if !retain_empty {
                return Ok(Outcome::Dropped);
            }
            Outcome::Rewritten(records::empty(h))
        } else if kept.len() == all.len() && !set_horizon {
            Outcome::Original
        } else {
            let horizon = if set_horizon {
                Some(self.now_ms.saturating_add(self.delete_retention_ms))
            } else {
                h.has_delete_horizon().then_some(h.first_timestamp)
            };
            Outcome::Rewritten(records::rebuild(h, &kept, horizon)?)
        };
        stats.bytes_written += match &out {
            Outcome::Rewritten(b) => b.len() as u64,
            _ => bytes.len() as u64,
        };
        Ok(out)
    }
}

/// Recopy one group into a `.cleaned` segment (flushed, with the last old
/// segment's modification time). None if stopped.
pub fn clean_group(
    plan: &Plan,
    group: &[SegInfo],
    filter: &Filter,
    stats: &mut Stats,
    stop: &AtomicBool,
) -> Result<Option<Segment>, StorageError> {
    let base = group[0].id.base;
    let mut dest = Segment::create_cleaned(&plan.dir, base, plan.index_interval)?;
    for seg in group {
        let path = segment_path(&plan.dir, seg.id.base);
        for_each_batch(&path, seg.id.size, |h, bytes| {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            match filter.apply(h, bytes, stats).map_err(|e| corrupt(&path, e))? {
                Outcome::Original => dest.append(h, bytes)?,
                Outcome::Rewritten(b) => {
                    let nh = BatchHeader::parse(&b).map_err(|e| corrupt(&path, e))?;
                    dest.append(&nh, &b)?;
                }
                Outcome::Dropped => {}
            }
            Ok(true)
        })?;
    }
    if stop.load(Ordering::Relaxed) {
        let _ = std::fs::remove_file(dest.path("log"));
        let _ = std::fs::remove_file(dest.path("index"));
        let _ = std::fs::remove_file(dest.path("timeindex"));
        return Ok(None);
    }
    dest.flush()?;
    if let Some(last) = group.last() {
        dest.set_modified(last.modified_ms)?;
    }
    Ok(Some(dest))
}

/// Clean `log` per `plan`: Kafka's doClean. Returns the new checkpoint (the
/// end of the mapped dirty section), or None if stopped or the log changed
/// under the cleaner.
pub fn clean_log(
    log: &SharedLog,
    plan: &Plan,
    now_ms: i64,
    max_map_entries: usize,
    stop: &AtomicBool,
) -> Result<Option<(i64, Stats)>, StorageError> {
    let mut map = OffsetMap::new(max_map_entries);
    if !build_offset_map(plan, &mut map, stop)? {
        return Ok(None);
    }
    let end = map.latest_offset + 1;
    let filter = Filter {
        map: &map,
        now_ms,
        delete_retention_ms: plan.delete_retention_ms,
        producer_last: &plan.producer_last,
        upper_bound: plan.first_uncleanable,
    };
    let mut stats = Stats::default();
    let to_clean = overlapping(&plan.segments, i64::MIN, end);
    for group in group_by_size(to_clean, plan.segment_bytes, plan.max_index_bytes, plan.first_uncleanable) {
        let Some(cleaned) = clean_group(plan, &group, &filter, &mut stats, stop)? else {
            return Ok(None);
        };
        let ids: Vec<SegmentId> = group.iter().map(|s| s.id).collect();
        let mut g = log
            .lock()
            .map_err(|_| StorageError::Corrupt { path: plan.dir.clone(), reason: "log lock poisoned".into() })?;
        if stop.load(Ordering::Relaxed) || !g.replace_segments(cleaned, &ids)? {
            drop(g);
            for ext in ["log", "index", "timeindex"] {
                let _ = std::fs::remove_file(plan.dir.join(format!("{}.cleaned", file_name(ids[0].base, ext))));
            }
            tracing::info!(log = %plan.name, "log changed while it was cleaned; cleaning aborted");
            return Ok(None);
        }
        let bases: Vec<i64> = ids.iter().map(|i| i.base).collect();
        tracing::debug!(log = %plan.name, ?bases, "swapped in a cleaned segment");
    }
    Ok(Some((end, stats)))
}
