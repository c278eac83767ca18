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
        if !self.snap_trigger.due(self.txns_since_snapshot, self.log_bytes_since_snapshot) || self.fuzzy.is_some() {
            return;
        }
        self.txns_since_snapshot = 0;
        self.log_bytes_since_snapshot = 0;
        self.snap_trigger.reroll();
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

/// When the next periodic snapshot is due, as Apache's
/// SyncRequestProcessor decides: past half of snapCount txns (or half of
/// snapSizeLimitInKb of log) plus a random share of the other half, drawn
/// anew after each snapshot, so the members of an ensemble do not all
/// snapshot at the same moment.
#[derive(Debug)]
pub struct SnapTrigger {
    count: u64,
    size: u64,
    roll: u64,
    size_roll: u64,
    rng: u64,
}

impl SnapTrigger {
    pub fn new(count: u64, size: u64) -> SnapTrigger {
        use std::hash::{BuildHasher, Hasher};
        // A seed that differs per process: std's per-instance hasher keys.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id() as u64);
        SnapTrigger::seeded(count, size, h.finish())
    }

    pub fn seeded(count: u64, size: u64, seed: u64) -> SnapTrigger {
        // splitmix64 of the seed, so that close seeds start far apart.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let mut t = SnapTrigger { count, size, roll: 0, size_roll: 0, rng: (z ^ (z >> 31)) | 1 };
        t.reroll();
        t
    }

    /// xorshift64*: enough to spread snapshots, no crate needed.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn reroll(&mut self) {
        let half = (self.count / 2).max(1);
        self.roll = self.next() % half;
        self.size_roll = if self.size >= 2 { self.next() % (self.size / 2) } else { 0 };
    }

    pub fn due(&self, txns: u64, log_bytes: u64) -> bool {
        txns > self.count / 2 + self.roll || (self.size > 0 && log_bytes > self.size / 2 + self.size_roll)
    }
}

#[cfg(test)]
mod tests {
    use super::SnapTrigger;

    #[test]
    fn due_between_half_and_all_of_snap_count_and_spread() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let t = SnapTrigger::seeded(1000, 0, seed);
            let first = (0..=1000).find(|n| t.due(*n, 0)).expect("due by snapCount");
            assert!((501..=1000).contains(&first), "{first}");
            seen.insert(first);
        }
        assert!(seen.len() > 48, "members would snapshot together: {seen:?}");
        // The log's size counts too, and 0 turns that off.
        let t = SnapTrigger::seeded(1_000_000, 4096, 7);
        assert!(!t.due(0, 2048) && t.due(0, 4096));
        assert!(!SnapTrigger::seeded(1_000_000, 0, 7).due(0, u64::MAX));
        // Apache's minimum snapCount of 2 snapshots after every other txn at most.
        let t = SnapTrigger::seeded(2, 0, 3);
        assert!(!t.due(1, 0) && t.due(2, 0));
    }
}
