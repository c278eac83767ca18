//! Snapshots. The periodic one (every `snapCount` txns) is fuzzy, as
//! Apache's: the log rolls at once, the walk writes a bounded number of
//! nodes per turn of the core's loop so requests never wait behind a big
//! tree, and a thread of its own lays the file out and writes it. A
//! follower's snapshot during sync is taken whole, in order with its log.

use super::core::Core;
use crate::persist::LogCmd;
use crate::tree::snapshot::FuzzySnapshot;
use std::path::PathBuf;

/// Nodes written per turn of the loop: a few hundred microseconds.
const NODES_PER_STEP: usize = 2000;

impl Core {
    /// Start the periodic snapshot once `snapCount` txns were applied
    /// since the last one, unless the previous one is still being written
    /// (Apache: "Too busy to snap, skipping").
    pub(crate) fn maybe_start_snapshot(&mut self) {
        if self.txns_since_snapshot < self.config.snap_count.max(1) || self.fuzzy.is_some() {
            return;
        }
        self.txns_since_snapshot = 0;
        if self.snap_thread.as_ref().is_some_and(|t| !t.is_finished()) {
            tracing::warn!("too busy to snap, skipping");
            return;
        }
        if let Some(t) = self.snap_thread.take() {
            let _ = t.join();
        }
        // Later txns go to a new log, which recovery replays over the
        // snapshot named after the zxid applied now.
        let roll_at = self.last_logged() + 1;
        let _ = self.log.send(LogCmd::Roll { roll_at });
        let snap = FuzzySnapshot::start(&self.tree);
        tracing::debug!(zxid = format_args!("{:#x}", snap.zxid()), "snapshot started");
        self.fuzzy = Some(snap);
        self.snapshot_step();
    }

    /// Walk a little further; at the end hand the parts to a writer thread.
    pub(crate) fn snapshot_step(&mut self) {
        let Some(snap) = self.fuzzy.as_mut() else { return };
        if !snap.step(&self.tree, NODES_PER_STEP) {
            return;
        }
        let Some(snap) = self.fuzzy.take() else { return };
        let zxid = snap.zxid();
        let nodes = snap.written();
        let parts = snap.finish(&self.tree);
        let dir = self.config.data_dir.join("version-2");
        let log_dir = self.config.data_log_dir.join("version-2");
        let purge = (self.config.purge_interval > 0).then_some(self.config.snap_retain_count);
        let spawned = std::thread::Builder::new()
            .name("zk-snapshot".into())
            .spawn(move || write(dir, log_dir, zxid, nodes, parts, purge));
        match spawned {
            Ok(t) => self.snap_thread = Some(t),
            Err(e) => tracing::error!(error = %e, "cannot start the snapshot thread"),
        }
    }

    /// Drop a walk in progress and wait for a snapshot being written: the
    /// tree or the log is about to be replaced or cut back.
    pub(crate) fn abandon_snapshot(&mut self) {
        if self.fuzzy.take().is_some() {
            tracing::debug!("snapshot in progress abandoned");
        }
        if let Some(t) = self.snap_thread.take() {
            let _ = t.join();
        }
    }

    /// Snapshot the whole tree now, in order with the log: the writer
    /// rolls to a new log for what follows. A follower's sync takes one.
    pub(crate) fn take_snapshot(&mut self) {
        // This one supersedes a fuzzy one, which must not race it for the file.
        self.abandon_snapshot();
        let zxid = self.tree.last_zxid();
        let bytes = crate::tree::snapshot::encode(&self.tree);
        let roll_at = self.last_logged().max(zxid) + 1;
        let _ = self.log.send(LogCmd::Snapshot { zxid, roll_at, bytes });
        if self.config.purge_interval > 0 {
            let _ = self.log.send(LogCmd::Purge { retain: self.config.snap_retain_count });
        }
    }
}

fn write(
    dir: PathBuf,
    log_dir: PathBuf,
    zxid: i64,
    nodes: usize,
    parts: crate::tree::snapshot::SnapshotParts,
    purge: Option<usize>,
) {
    let bytes = parts.into_file();
    match crate::persist::write_snapshot(&dir, zxid, &bytes) {
        Ok(p) => tracing::info!(path = %p.display(), zxid = format_args!("0x{zxid:x}"), nodes, "snapshot written"),
        // The log still holds everything: a lost snapshot costs replay time.
        Err(e) => {
            tracing::error!(error = %e, "cannot write the snapshot");
            return;
        }
    }
    // With autopurge on, also trim right after each snapshot (not only
    // every purgeInterval hours) so disk use stays bounded.
    if let Some(retain) = purge {
        match crate::persist::purge(&dir, &log_dir, retain) {
            Ok(v) if !v.is_empty() => tracing::info!(removed = v.len(), "purged old snapshots and logs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purge after the snapshot failed"),
        }
    }
}
