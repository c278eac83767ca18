//! One log segment: `<base>.log` of raw batches plus its sparse `.index`
//! (4-byte relative offset, 4-byte position) and `.timeindex` (8-byte
//! timestamp, 4-byte relative offset), both big-endian as Kafka writes them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};
use crate::log::batch::{self, BatchHeader, HEADER_LEN};

/// Suffix of a segment the cleaner is still writing.
pub const CLEANED: &str = ".cleaned";
/// Suffix of a cleaned segment committed to replace the old ones.
pub const SWAP: &str = ".swap";

pub fn file_name(base: i64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

pub struct Segment {
    pub base_offset: i64,
    pub dir: PathBuf,
    /// "" for a live segment, ".cleaned" while the cleaner writes one.
    suffix: &'static str,
    log: File,
    index_file: File,
    time_file: File,
    /// (relative offset, position) in offset order.
    index: Vec<(u32, u32)>,
    /// (max timestamp so far, relative offset).
    time_index: Vec<(i64, u32)>,
    pub size: u64,
    /// Last offset of the batch holding `max_timestamp` (Kafka's
    /// shallowOffsetOfMaxTimestampSoFar), -1 with no batch.
    offset_of_max_timestamp: i64,
    /// Offset after the last batch in this segment.
    pub next_offset: i64,
    pub max_timestamp: i64,
    /// Max timestamp of the first batch (-1: none yet), for segment.ms.
    pub first_batch_timestamp: i64,
    /// When this process created the segment (ms).
    created_ms: i64,
    bytes_since_index: u64,
    index_interval: u64,
    /// When the segment file was created/last modified (ms), for retention
    /// of segments without timestamps.
    pub modified_ms: i64,
    /// The index files are longer than their entries: the active segment's
    /// are preallocated to segment.index.bytes, as Kafka's are, and
    /// trimmed when it stops being active.
    preallocated: bool,
}

impl Segment {
    pub fn log_path(&self) -> PathBuf {
        self.path("log")
    }

    /// `<base>.<ext>` plus the suffix ("" for a live segment).
    pub fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}{}", file_name(self.base_offset, ext), self.suffix))
    }

    pub fn create(dir: &Path, base_offset: i64, index_interval: u64) -> Result<Segment, StorageError> {
        Self::open_files(dir, base_offset, index_interval, "")
    }

    /// A fresh `<base>.log.cleaned` (and indexes) for the cleaner to fill;
    /// leftovers of an earlier attempt are discarded.
    pub fn create_cleaned(dir: &Path, base_offset: i64, index_interval: u64) -> Result<Segment, StorageError> {
        for ext in ["log", "index", "timeindex"] {
            let p = dir.join(format!("{}{}", file_name(base_offset, ext), CLEANED));
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StorageError::io(p, e)),
                _ => {}
            }
        }
        Self::open_files(dir, base_offset, index_interval, CLEANED)
    }

    fn open_files(
        dir: &Path,
        base_offset: i64,
        index_interval: u64,
        suffix: &'static str,
    ) -> Result<Segment, StorageError> {
        // Index entries are written at their place (the files may be
        // preallocated), so only the log is opened for appending.
        let open = |ext: &str, append: bool| -> Result<(File, PathBuf), StorageError> {
            let p = dir.join(format!("{}{suffix}", file_name(base_offset, ext)));
            let mut o = OpenOptions::new();
            o.read(true).create(true);
            if append {
                o.append(true);
            } else {
                o.write(true);
            }
            Ok((o.open(&p).at(&p)?, p))
        };
        let (log, log_path) = open("log", true)?;
        let (index_file, _) = open("index", false)?;
        let (time_file, _) = open("timeindex", false)?;
        let size = log.metadata().at(&log_path)?.len();
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            suffix,
            log,
            index_file,
            time_file,
            index: Vec::new(),
            time_index: Vec::new(),
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: -1,
            created_ms: crate::now_ms(),
            bytes_since_index: 0,
            index_interval: index_interval.max(1),
            modified_ms: crate::now_ms(),
            preallocated: false,
        })
    }

    /// Open an existing segment. With `recover`, every batch is re-read and
    /// CRC-checked, a torn or corrupt tail is cut off and both indexes are
    /// rebuilt; otherwise the index files on disk are trusted.
    pub fn open(dir: &Path, base_offset: i64, index_interval: u64, recover: bool) -> Result<Segment, StorageError> {
        let mut seg = Self::open_files(dir, base_offset, index_interval, "")?;
        if let Ok(meta) = seg.log.metadata() {
            if let Ok(m) = meta.modified() {
                if let Ok(d) = m.duration_since(std::time::UNIX_EPOCH) {
                    seg.modified_ms = d.as_millis() as i64;
                }
            }
        }
        let loaded = !recover && seg.load_indexes();
        if !loaded {
            seg.recover()?;
        }
        if let Ok(Some(h)) = seg.header_at(0) {
            seg.first_batch_timestamp = h.max_timestamp;
        }
        Ok(seg)
    }

    /// Trust the on-disk indexes; find next_offset from the last batch the
    /// index points near. Returns false when the files look unusable.
    fn load_indexes(&mut self) -> bool {
        let read_all = |f: &File| -> Option<Vec<u8>> {
            let len = f.metadata().ok()?.len() as usize;
            let mut buf = vec![0u8; len];
            f.read_exact_at(&mut buf, 0).ok()?;
            Some(buf)
        };
        let (Some(idx), Some(tidx)) = (read_all(&self.index_file), read_all(&self.time_file)) else {
            return false;
        };
        if idx.len() % 8 != 0 || tidx.len() % 12 != 0 {
            return false;
        }
        // A preallocated file's unused tail reads as zero entries. No real
        // entry is all zero: the first is written after index.interval.bytes
        // of log, so at a position and relative offset above 0.
        self.index = idx
            .chunks_exact(8)
            .map(|c| (u32::from_be_bytes([c[0], c[1], c[2], c[3]]), u32::from_be_bytes([c[4], c[5], c[6], c[7]])))
            .take_while(|e| *e != (0, 0))
            .collect();
        self.time_index = tidx
            .chunks_exact(12)
            .map(|c| {
                let mut t = [0u8; 8];
                t.copy_from_slice(&c[0..8]);
                (i64::from_be_bytes(t), u32::from_be_bytes([c[8], c[9], c[10], c[11]]))
            })
            .take_while(|e| *e != (0, 0))
            .collect();
        self.preallocated = idx.len() > self.index.len() * 8 || tidx.len() > self.time_index.len() * 12;
        if self.index.iter().any(|(_, pos)| *pos as u64 >= self.size.max(1)) {
            return false;
        }
        // Walk from the last indexed position to the end to find the LEO.
        let start = self.index.last().map(|e| e.1 as u64).unwrap_or(0);
        let mut pos = start;
        let mut next = self.base_offset;
        while pos < self.size {
            match self.header_at(pos) {
                Ok(Some(h)) => {
                    next = h.last_offset() + 1;
                    self.note_timestamp(&h);
                    pos += h.size() as u64;
                }
                _ => return false,
            }
        }
        if pos != self.size {
            return false;
        }
        self.next_offset = next;
        // Kafka's loadLargestTimestamp: the time index's last entry, unless
        // a batch after it is later.
        if let Some((ts, rel)) = self.time_index.last() {
            if *ts > self.max_timestamp {
                self.max_timestamp = *ts;
                self.offset_of_max_timestamp = self.base_offset + *rel as i64;
            }
        }
        self.bytes_since_index = self.size - start;
        true
    }

    /// Rescan the whole segment: keep the valid prefix, rebuild indexes.
    fn recover(&mut self) -> Result<(), StorageError> {
        self.index.clear();
        self.time_index.clear();
        self.bytes_since_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        let mut pos: u64 = 0;
        let mut buf = Vec::new();
        let mut expected = self.base_offset;
        loop {
            if pos + HEADER_LEN as u64 > self.size {
                break;
            }
            let Ok(Some(h)) = self.header_at(pos) else { break };
            let end = pos + h.size() as u64;
            if end > self.size || h.base_offset < expected {
                break;
            }
            buf.resize(h.size(), 0);
            if self.log.read_exact_at(&mut buf, pos).is_err() {
                break;
            }
            if batch::validate_stored(&buf).is_err() {
                break;
            }
            self.note_timestamp(&h);
            self.maybe_index(&h, pos as u32);
            self.bytes_since_index += h.size() as u64;
            self.next_offset = h.last_offset() + 1;
            expected = self.next_offset;
            pos = end;
        }
        let path = self.log_path();
        if pos < self.size {
            tracing::warn!(segment = %path.display(), valid_bytes = pos, file_bytes = self.size,
                "truncating invalid or torn tail found during recovery");
            self.log.set_len(pos).at(&path)?;
            self.size = pos;
        }
        self.rewrite_index_files()
    }

    fn rewrite_index_files(&mut self) -> Result<(), StorageError> {
        let mut idx = Vec::with_capacity(self.index.len() * 8);
        for (rel, pos) in &self.index {
            idx.extend_from_slice(&rel.to_be_bytes());
            idx.extend_from_slice(&pos.to_be_bytes());
        }
        let mut tidx = Vec::with_capacity(self.time_index.len() * 12);
        for (ts, rel) in &self.time_index {
            tidx.extend_from_slice(&ts.to_be_bytes());
            tidx.extend_from_slice(&rel.to_be_bytes());
        }
        let ip = self.path("index");
        self.index_file.set_len(0).at(&ip)?;
        self.index_file.write_all_at(&idx, 0).at(&ip)?;
        let tp = self.path("timeindex");
        self.time_file.set_len(0).at(&tp)?;
        self.time_file.write_all_at(&tidx, 0).at(&tp)?;
        self.preallocated = false;
        Ok(())
    }

    /// Make room for `max_bytes` of each index (rounded down to whole
    /// entries), as Kafka sizes the active segment's indexes; the files
    /// stay sparse.
    pub fn preallocate_indexes(&mut self, max_bytes: u64) -> Result<(), StorageError> {
        let (idx, tidx) = self.index_bytes();
        let (want_idx, want_tidx) = (max_bytes / 8 * 8, max_bytes / 12 * 12);
        if want_idx > idx {
            let ip = self.path("index");
            self.index_file.set_len(want_idx).at(&ip)?;
            self.preallocated = true;
        }
        if want_tidx > tidx {
            let tp = self.path("timeindex");
            self.time_file.set_len(want_tidx).at(&tp)?;
            self.preallocated = true;
        }
        Ok(())
    }

    /// Cut the index files to their entries (the segment is no longer the
    /// active one, or the log closes), as Kafka's trimToValidSize.
    pub fn trim_indexes(&mut self) -> Result<(), StorageError> {
        if !self.preallocated {
            return Ok(());
        }
        let (idx, tidx) = self.index_bytes();
        let ip = self.path("index");
        self.index_file.set_len(idx).at(&ip)?;
        let tp = self.path("timeindex");
        self.time_file.set_len(tidx).at(&tp)?;
        self.preallocated = false;
        Ok(())
    }

    /// Add sparse index entries before a batch at `pos`, every
    /// index.interval.bytes of log, as Kafka's LogSegment.append does.
    /// A batch's timestamp counts towards the segment's largest.
    fn note_timestamp(&mut self, h: &BatchHeader) {
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
    }

    /// Kafka's LogSegment.append: once more than index.interval.bytes of
    /// log went by, the batch at `pos` is indexed by its last offset, and
    /// the time index gets the largest timestamp so far with the offset of
    /// its batch (if it grew). Call after `note_timestamp`.
    fn maybe_index(&mut self, h: &BatchHeader, pos: u32) -> Option<([u8; 8], Option<[u8; 12]>)> {
        if self.bytes_since_index <= self.index_interval {
            return None;
        }
        let rel = (h.last_offset() - self.base_offset) as u32;
        self.index.push((rel, pos));
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&rel.to_be_bytes());
        e[4..].copy_from_slice(&pos.to_be_bytes());
        self.bytes_since_index = 0;
        Some((e, self.maybe_time_entry()))
    }

    /// Kafka's timeIndex.maybeAppend(maxTimestampSoFar, its offset): a new
    /// entry only when the largest timestamp grew.
    fn maybe_time_entry(&mut self) -> Option<[u8; 12]> {
        let ts = self.max_timestamp;
        if ts < 0 || self.time_index.last().is_some_and(|l| ts <= l.0) {
            return None;
        }
        let trel = (self.offset_of_max_timestamp - self.base_offset) as u32;
        self.time_index.push((ts, trel));
        let mut t = [0u8; 12];
        t[..8].copy_from_slice(&ts.to_be_bytes());
        t[8..].copy_from_slice(&trel.to_be_bytes());
        Some(t)
    }

    /// The segment stops being active (rolled past, or the log closes):
    /// the time index ends with the largest timestamp (Kafka's
    /// onBecomeInactiveSegment and close), and both indexes are cut to
    /// their entries.
    pub fn deactivate(&mut self) -> Result<(), StorageError> {
        if let Some(t) = self.maybe_time_entry() {
            let at = self.index_bytes().1 - 12;
            let tp = self.path("timeindex");
            self.time_file.write_all_at(&t, at).at(&tp)?;
        }
        self.trim_indexes()
    }

    /// Kafka's timeWaitedForRoll: incoming batch time minus the first
    /// batch's time, or wall time since creation when the segment has no
    /// timestamped batch.
    pub fn time_waited_for_roll(&self, now_ms: i64, batch_ts: i64) -> i64 {
        if self.first_batch_timestamp >= 0 {
            batch_ts - self.first_batch_timestamp
        } else {
            now_ms - self.created_ms
        }
    }

    /// Kafka's largestTimestamp: the max record timestamp, else the file's
    /// last modification time.
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            self.modified_ms
        }
    }

    /// Append one batch whose offsets are already assigned.
    pub fn append(&mut self, h: &BatchHeader, bytes: &[u8]) -> Result<(), StorageError> {
        if self.size == 0 {
            self.first_batch_timestamp = h.max_timestamp;
        }
        let pos = self.size as u32;
        self.note_timestamp(h);
        if let Some((e, t)) = self.maybe_index(h, pos) {
            let (idx, tidx) = self.index_bytes();
            let ip = self.path("index");
            self.index_file.write_all_at(&e, idx - 8).at(&ip)?;
            if let Some(t) = t {
                let tp = self.path("timeindex");
                self.time_file.write_all_at(&t, tidx - 12).at(&tp)?;
            }
        }
        let path = self.log_path();
        self.log.write_all(bytes).at(&path)?;
        self.size += bytes.len() as u64;
        self.bytes_since_index += bytes.len() as u64;
        self.next_offset = h.last_offset() + 1;
        self.modified_ms = crate::now_ms();
        Ok(())
    }

    pub fn header_at(&self, pos: u64) -> std::io::Result<Option<BatchHeader>> {
        if pos + HEADER_LEN as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.log.read_exact_at(&mut buf, pos)?;
        Ok(BatchHeader::parse(&buf).ok())
    }

    /// Position of the first batch whose last offset is >= `offset`.
    pub fn find_position(&self, offset: i64) -> std::io::Result<Option<(u64, BatchHeader)>> {
        let rel = (offset - self.base_offset).max(0);
        let start = match self.index.partition_point(|(r, _)| (*r as i64) <= rel) {
            0 => 0,
            i => self.index[i - 1].1 as u64,
        };
        let mut pos = start;
        while let Some(h) = self.header_at(pos)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.size() as u64;
        }
        Ok(None)
    }

    /// First position of a batch containing a record with timestamp >= ts.
    pub fn find_by_timestamp(&self, ts: i64) -> std::io::Result<Option<(u64, BatchHeader)>> {
        let start_rel = match self.time_index.partition_point(|(t, _)| *t < ts) {
            0 => 0,
            i => self.time_index[i - 1].1 as i64,
        };
        let (mut pos, _) = match self.find_position(self.base_offset + start_rel)? {
            Some(x) => x,
            None => return Ok(None),
        };
        while let Some(h) = self.header_at(pos)? {
            if h.max_timestamp >= ts {
                return Ok(Some((pos, h)));
            }
            pos += h.size() as u64;
        }
        Ok(None)
    }

    /// Append up to `len` bytes from `pos` to `out` (one copy, from the page
    /// cache straight into the response buffer).
    pub fn read_into(&self, pos: u64, len: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
        let len = len.min(self.size.saturating_sub(pos) as usize);
        let start = out.len();
        out.resize(start + len, 0);
        if let Err(e) = self.log.read_exact_at(&mut out[start..], pos) {
            out.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    pub fn read_at(&self, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let len = len.min(self.size.saturating_sub(pos) as usize);
        let mut buf = vec![0u8; len];
        self.log.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }

    /// Drop everything at and above `offset` (used by truncate_to).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        let path = self.log_path();
        let pos = match self.find_position(offset).at(&path)? {
            Some((pos, h)) if h.base_offset >= offset => pos,
            // A batch straddling `offset` cannot be split; keep it whole as
            // Kafka does (truncation points are batch boundaries).
            Some((pos, h)) => pos + h.size() as u64,
            None => {
                self.next_offset = self.next_offset.max(offset);
                return Ok(());
            }
        };
        self.log.set_len(pos).at(&path)?;
        self.size = pos;
        self.recover()?;
        // Truncating into an offset gap a compacted log has: the end is
        // still `offset`, as Kafka's updateLogEndOffset(targetOffset).
        self.next_offset = self.next_offset.max(offset);
        Ok(())
    }

    pub fn flush(&self) -> Result<(), StorageError> {
        self.log.sync_data().at(&self.log_path())?;
        let _ = self.index_file.sync_data();
        let _ = self.time_file.sync_data();
        Ok(())
    }

    pub fn delete_files(self) {
        for ext in ["log", "index", "timeindex"] {
            let _ = std::fs::remove_file(self.path(ext));
        }
    }

    /// Bytes of the offset and time index (the cleaner's grouping limit).
    pub fn index_bytes(&self) -> (u64, u64) {
        (self.index.len() as u64 * 8, self.time_index.len() as u64 * 12)
    }

    /// Give the .log file (and `modified_ms`) a last-modified time, as
    /// Kafka carries the replaced segments' time over to a cleaned one.
    pub fn set_modified(&mut self, ms: i64) -> Result<(), StorageError> {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        self.log.set_modified(t).at(&self.log_path())?;
        self.modified_ms = ms;
        Ok(())
    }
}
