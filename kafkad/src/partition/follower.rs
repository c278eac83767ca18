//! The follower's side of replication: take the leader's batches as they
//! are, follow its high watermark and log start, and truncate where the
//! logs diverge.

use super::Partition;
use crate::error::StorageError;

fn poisoned() -> StorageError {
    StorageError::Corrupt { path: Default::default(), reason: "poisoned log lock".into() }
}

impl Partition {
    /// Append batches fetched from the leader; returns the new LEO.
    pub fn append_as_follower(&self, records: &[u8]) -> Result<i64, StorageError> {
        let mut log = self.log.lock().map_err(|_| poisoned())?;
        log.append_as_follower(records)?;
        Ok(log.log_end_offset())
    }

    /// The follower's HW: the leader's, but never past our own LEO.
    pub fn update_follower_hw(&self, leader_hw: i64) -> bool {
        let hw = leader_hw.min(self.log_end_offset());
        self.hw.send_if_modified(|cur| {
            let changed = *cur != hw;
            *cur = hw;
            changed
        })
    }

    /// Follow the leader's log start offset (retention, DeleteRecords).
    pub fn update_follower_log_start(&self, leader_log_start: i64) {
        if let Ok(mut log) = self.log.lock() {
            log.advance_log_start(leader_log_start);
        }
    }

    /// Drop everything at or above `offset` (diverged from the leader).
    pub fn truncate_to(&self, offset: i64) -> Result<(), StorageError> {
        let mut log = self.log.lock().map_err(|_| poisoned())?;
        if offset < log.log_end_offset() {
            tracing::info!(topic = %self.topic, partition = self.index, from = log.log_end_offset(), to = offset, "truncating log");
            log.truncate_to(offset)?;
        }
        drop(log);
        self.hw.send_if_modified(|cur| {
            let changed = *cur > offset;
            *cur = (*cur).min(offset);
            changed
        });
        Ok(())
    }

    /// Our whole log is below the leader's log start: start over there.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), StorageError> {
        let mut log = self.log.lock().map_err(|_| poisoned())?;
        tracing::info!(topic = %self.topic, partition = self.index, offset, "log behind the leader's log start; restarting it there");
        log.truncate_fully_and_start_at(offset)?;
        drop(log);
        self.hw.send_replace(offset);
        Ok(())
    }

    /// (latest epoch in our leader-epoch cache, LEO), for truncation.
    pub fn latest_epoch_and_leo(&self) -> (Option<i32>, i64) {
        match self.log.lock() {
            Ok(l) => (l.epochs.latest_epoch(), l.log_end_offset()),
            Err(_) => (None, -1),
        }
    }

    /// Our end offset for `epoch` (Kafka's follower-side endOffsetFor).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<i64> {
        let l = self.log.lock().ok()?;
        l.epochs.end_offset_for(epoch, l.log_end_offset()).map(|(_, o)| o)
    }
}
