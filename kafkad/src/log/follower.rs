//! Appends on a follower: the leader's batches go to disk as they are,
//! offsets and leader epochs included (no rewrite), so both logs hold the
//! same bytes.

use super::batch::{self, BatchHeader};
use super::segment::Segment;
use super::Log;
use crate::error::StorageError;

impl Log {
    /// Append the whole batches of a fetch response. A trailing partial
    /// batch (cut by the fetch size) is left for the next fetch; batches
    /// below the LEO are skipped; a batch straddling the LEO or a bad CRC
    /// is an error and nothing after it is written. A gap is fine: the
    /// leader's log may have been compacted (Kafka only refuses a first
    /// offset below the LEO). Returns the number of batches written.
    pub fn append_as_follower(&mut self, records: &[u8]) -> Result<usize, StorageError> {
        let corrupt = |dir: &std::path::Path, reason: String| StorageError::Corrupt { path: dir.to_path_buf(), reason };
        let mut pos = 0usize;
        let mut written = 0usize;
        while pos + batch::HEADER_LEN <= records.len() {
            let h = BatchHeader::parse(&records[pos..]).map_err(|e| corrupt(&self.dir, e.to_string()))?;
            let end = pos.saturating_add(h.size());
            if h.size() < batch::HEADER_LEN || end > records.len() {
                break;
            }
            let bytes = &records[pos..end];
            pos = end;
            let leo = self.log_end_offset();
            if h.last_offset() < leo {
                continue;
            }
            if h.base_offset < leo {
                return Err(corrupt(
                    &self.dir,
                    format!("leader batch at offset {} overlaps the log end {leo}", h.base_offset),
                ));
            }
            batch::validate_stored(bytes)
                .map_err(|e| corrupt(&self.dir, format!("batch at {}: {e}", h.base_offset)))?;
            if self.epochs.assign(h.partition_leader_epoch, h.base_offset) {
                self.epochs.save(&self.dir)?;
            }
            self.maybe_roll(bytes.len() as u64, h.max_timestamp)?;
            self.active()?.append(&h, bytes)?;
            if !h.is_control() {
                self.producers.update(&h, h.base_offset);
            }
            written += 1;
        }
        if written > 0 && self.log_end_offset() - self.recovery_point >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(written)
    }

    /// Drop every segment and start empty at `offset` (the leader's log
    /// start is past our end).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), StorageError> {
        self.truncated_to = Some(self.truncated_to.map_or(offset, |t| t.min(offset)));
        for (_, s) in std::mem::take(&mut self.segments) {
            s.delete_files();
        }
        self.segments.insert(offset, Segment::create(&self.dir, offset, self.config.index_interval_bytes)?);
        self.settle_indexes()?;
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.epochs.entries.clear();
        self.epochs.save(&self.dir)?;
        self.producers.clear();
        for (_, path) in super::producer_state::list_snapshots(&self.dir) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}
