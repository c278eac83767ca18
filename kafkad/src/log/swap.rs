//! Swapping a cleaned segment in for the segments it replaces, crash-safe
//! by file names alone as Kafka's replaceSegments and LogLoader are:
//! `<base>.log.cleaned` (written outside the log lock; discarded at open)
//! -> `<base>.log.swap` (the commit point; finished at open) -> `<base>.log`.

use std::collections::BTreeSet;
use std::path::Path;

use super::batch::{BatchHeader, HEADER_LEN};
use super::segment::{file_name, Segment, CLEANED, SWAP};
use super::Log;
use crate::error::{IoContext, StorageError};

const EXTS: [&str; 3] = ["log", "index", "timeindex"];

/// What the cleaner read of a segment it is replacing; the swap goes ahead
/// only if the log still holds exactly that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentId {
    pub base: i64,
    pub size: u64,
    pub next_offset: i64,
}

impl SegmentId {
    pub fn of(seg: &Segment) -> SegmentId {
        SegmentId { base: seg.base_offset, size: seg.size, next_offset: seg.next_offset }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn rename(dir: &Path, base: i64, ext: &str, from: &str, to: &str) -> Result<(), StorageError> {
    let src = dir.join(format!("{}{from}", file_name(base, ext)));
    let dst = dir.join(format!("{}{to}", file_name(base, ext)));
    std::fs::rename(&src, &dst).at(&src)
}

fn remove_if_exists(p: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StorageError::io(p, e)),
        _ => Ok(()),
    }
}

impl Log {
    /// Replace the segments `old` by `cleaned` (already flushed). Under the
    /// log lock, so readers see either the old segments or the new one.
    /// Returns false, discarding `cleaned`, when the log changed since the
    /// cleaner read it (truncation, retention, deletion): Kafka aborts the
    /// cleaning of a log that is truncated under it.
    pub fn replace_segments(&mut self, cleaned: Segment, old: &[SegmentId]) -> Result<bool, StorageError> {
        let base = cleaned.base_offset;
        let unchanged = self.truncated_to.is_none()
            && old.first().map(|o| o.base) == Some(base)
            && old.iter().all(|o| self.segments.get(&o.base).map(SegmentId::of).as_ref() == Some(o));
        drop(cleaned);
        if !unchanged {
            for ext in EXTS {
                remove_if_exists(&self.dir.join(format!("{}{CLEANED}", file_name(base, ext))))?;
            }
            return Ok(false);
        }
        let dir = self.dir.clone();
        // The .log rename last: a .log.swap means every file is complete.
        for ext in ["index", "timeindex", "log"] {
            rename(&dir, base, ext, CLEANED, SWAP)?;
        }
        sync_dir(&dir);
        for o in old {
            if let Some(seg) = self.segments.remove(&o.base) {
                seg.delete_files();
            }
        }
        for ext in ["index", "timeindex", "log"] {
            rename(&dir, base, ext, SWAP, "")?;
        }
        sync_dir(&dir);
        let seg = Segment::open(&dir, base, self.config.index_interval_bytes, false)?;
        self.segments.insert(base, seg);
        Ok(true)
    }
}

/// Offset after the last whole batch of a segment file (its base if none).
fn next_offset_of(path: &Path, base: i64) -> Result<i64, StorageError> {
    let data = std::fs::read(path).at(path)?;
    let (mut pos, mut next) = (0usize, base);
    while pos + HEADER_LEN <= data.len() {
        let Ok(h) = BatchHeader::parse(&data[pos..]) else { break };
        if pos + h.size() > data.len() {
            break;
        }
        next = h.last_offset() + 1;
        pos += h.size();
    }
    Ok(next)
}

/// Kafka's LogLoader steps for an interrupted clean: delete `.cleaned` and
/// `.deleted` files; for `.log.swap` files, delete the segments whose base
/// lies in the swapped range [min base, max next offset) and rename the
/// swap logs into place. Swap indexes are dropped; the returned bases need
/// their indexes rebuilt.
pub(super) fn recover_leftovers(dir: &Path) -> Result<BTreeSet<i64>, StorageError> {
    let mut swaps = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name.ends_with(CLEANED) || name.ends_with(".deleted") {
            tracing::info!(file = %path.display(), "deleting the leftover of an interrupted clean");
            remove_if_exists(&path)?;
        } else if let Some(stem) = name.strip_suffix(SWAP) {
            match stem.strip_suffix(".log").map(str::parse::<i64>) {
                Some(Ok(base)) => swaps.push((base, next_offset_of(&path, base)?)),
                _ => remove_if_exists(&path)?,
            }
        }
    }
    let mut done = BTreeSet::new();
    let (Some(min), Some(max)) = (swaps.iter().map(|s| s.0).min(), swaps.iter().map(|s| s.1).max()) else {
        return Ok(done);
    };
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Some((stem, ext)) = name.split_once('.') else { continue };
        if EXTS.contains(&ext) && stem.parse::<i64>().map(|b| b >= min && b < max).unwrap_or(false) {
            tracing::info!(file = %path.display(), "deleting a segment file an interrupted clean had replaced");
            remove_if_exists(&path)?;
        }
    }
    for (base, _) in swaps {
        for ext in ["index", "timeindex"] {
            remove_if_exists(&dir.join(format!("{}{SWAP}", file_name(base, ext))))?;
        }
        rename(dir, base, "log", SWAP, "")?;
        tracing::info!(dir = %dir.display(), base, "finished an interrupted segment swap");
        done.insert(base);
    }
    sync_dir(dir);
    Ok(done)
}
