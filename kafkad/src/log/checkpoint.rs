//! Kafka's small text files: offset checkpoints
//! (`0\n<count>\n<topic> <partition> <offset>`), `leader-epoch-checkpoint`
//! (`0\n<count>\n<epoch> <start offset>`), `partition.metadata` and
//! `meta.properties`. Every write goes temp file -> fsync -> rename so a
//! crash leaves either the old or the new file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, StorageError};

pub fn write_atomic(path: &Path, content: &str) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).at(&tmp)?;
        f.write_all(content.as_bytes()).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    std::fs::rename(&tmp, path).at(path)?;
    if let Some(dir) = path.parent() {
        // Persist the rename itself.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub fn write_offsets(path: &Path, entries: &BTreeMap<(String, i32), i64>) -> Result<(), StorageError> {
    let mut s = format!("0\n{}\n", entries.len());
    for ((t, p), o) in entries {
        s.push_str(&format!("{t} {p} {o}\n"));
    }
    write_atomic(path, &s)
}

/// Missing file -> empty; a malformed file is reported, not trusted.
pub fn read_offsets(path: &Path) -> Result<BTreeMap<(String, i32), i64>, StorageError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let corrupt = |reason: &str| StorageError::Corrupt { path: path.to_path_buf(), reason: reason.to_string() };
    // Kafka's CheckpointFile creates its files empty and reads them so.
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return Err(corrupt("unknown version"));
    }
    let count: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| corrupt("bad count"))?;
    let mut out = BTreeMap::new();
    for line in lines.take(count) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [t, p, o] = parts[..] else {
            return Err(corrupt("bad entry"));
        };
        let p: i32 = p.parse().map_err(|_| corrupt("bad partition"))?;
        let o: i64 = o.parse().map_err(|_| corrupt("bad offset"))?;
        out.insert((t.to_string(), p), o);
    }
    Ok(out)
}

/// The leader epoch cache: (epoch, first offset written in that epoch).
#[derive(Debug, Default, Clone)]
pub struct LeaderEpochCache {
    pub entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    pub const FILE: &'static str = "leader-epoch-checkpoint";

    pub fn load(dir: &Path) -> LeaderEpochCache {
        let text = std::fs::read_to_string(dir.join(Self::FILE)).unwrap_or_default();
        let mut lines = text.lines().skip(2);
        let mut entries = Vec::new();
        for line in lines.by_ref() {
            let mut it = line.split_whitespace();
            if let (Some(Ok(e)), Some(Ok(o))) = (it.next().map(str::parse::<i32>), it.next().map(str::parse::<i64>)) {
                entries.push((e, o));
            }
        }
        LeaderEpochCache { entries }
    }

    pub fn save(&self, dir: &Path) -> Result<(), StorageError> {
        let mut s = format!("0\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            s.push_str(&format!("{e} {o}\n"));
        }
        write_atomic(&dir.join(Self::FILE), &s)
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Record that `epoch` starts at `start`; older or equal epochs are
    /// ignored. Returns true when the cache changed.
    pub fn assign(&mut self, epoch: i32, start: i64) -> bool {
        if epoch < 0 || self.latest_epoch().map(|l| epoch <= l).unwrap_or(false) {
            return false;
        }
        self.entries.push((epoch, start));
        true
    }

    /// The log now starts at `offset` (Kafka's truncateFromStart): epochs
    /// that start at or before it go, but the last of them stays, starting
    /// at `offset`. Returns true when the cache changed.
    pub fn truncate_from_start(&mut self, offset: i64) -> bool {
        let gone = self.entries.iter().take_while(|(_, o)| *o <= offset).count();
        if gone == 0 {
            return false;
        }
        let (epoch, start) = self.entries[gone - 1];
        if gone == 1 && start == offset {
            return false;
        }
        self.entries.drain(..gone);
        self.entries.insert(0, (epoch, offset));
        true
    }

    /// Forget epochs that start at or after `offset` (log truncated there).
    pub fn truncate_from_end(&mut self, offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(_, o)| *o < offset);
        before != self.entries.len()
    }

    /// End offset of `epoch` for OffsetForLeaderEpoch, as Kafka's
    /// LeaderEpochFileCache.endOffsetFor: the latest epoch ends at the LEO;
    /// an older one ends where the next higher epoch starts (reported as
    /// the largest known epoch <= the request, or the request itself when
    /// it predates the cache); an epoch above the latest is unknown.
    pub fn end_offset_for(&self, epoch: i32, leo: i64) -> Option<(i32, i64)> {
        if epoch < 0 {
            return None;
        }
        if self.latest_epoch() == Some(epoch) {
            return Some((epoch, leo));
        }
        let higher = self.entries.iter().find(|(e, _)| *e > epoch)?;
        let floor = self.entries.iter().rev().find(|(e, _)| *e <= epoch);
        Some((floor.map(|f| f.0).unwrap_or(epoch), higher.1))
    }
}

pub fn write_partition_metadata(dir: &Path, topic_id: &str) -> Result<(), StorageError> {
    // As Kafka's PartitionMetadataFile writes it: no newline at the end.
    write_atomic(&dir.join("partition.metadata"), &format!("version: 0\ntopic_id: {topic_id}"))
}

pub fn read_partition_metadata(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("partition.metadata")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("topic_id:")).map(|s| s.trim().to_string())
}

pub fn read_properties(path: &Path) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let m = shared::ConfigMap::from_properties(&text);
    Some(m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_roundtrip() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("recovery-point-offset-checkpoint");
        let mut m = BTreeMap::new();
        m.insert(("t".to_string(), 0), 5);
        m.insert(("u".to_string(), 3), 7);
        write_offsets(&p, &m).expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "0\n2\nt 0 5\nu 3 7\n");
        assert_eq!(read_offsets(&p).expect("read"), m);
    }

    #[test]
    fn epoch_cache() {
        let mut c = LeaderEpochCache::default();
        assert!(c.assign(0, 0));
        assert!(!c.assign(0, 5));
        assert!(c.assign(2, 10));
        assert_eq!(c.end_offset_for(0, 20), Some((0, 10)));
        assert_eq!(c.end_offset_for(1, 20), Some((0, 10)));
        assert_eq!(c.end_offset_for(2, 20), Some((2, 20)));
        assert_eq!(c.end_offset_for(3, 20), None);
        assert!(c.truncate_from_end(10));
        assert_eq!(c.latest_epoch(), Some(0));
    }
}

#[cfg(test)]
mod epoch_tests {
    use super::LeaderEpochCache;

    /// Kafka's truncateFromStart: entries at or before the new start go,
    /// the last of them moved to it.
    #[test]
    fn truncate_from_start_moves_the_first_epoch() {
        let mut c = LeaderEpochCache { entries: vec![(0, 0), (2, 5), (3, 9)] };
        assert!(c.truncate_from_start(1));
        assert_eq!(c.entries, vec![(0, 1), (2, 5), (3, 9)]);
        assert!(c.truncate_from_start(7));
        assert_eq!(c.entries, vec![(2, 7), (3, 9)]);
        assert!(!c.truncate_from_start(7));
        assert!(c.truncate_from_start(9));
        assert_eq!(c.entries, vec![(3, 9)]);
        assert!(!c.truncate_from_start(3));
        assert!(!LeaderEpochCache::default().truncate_from_start(4));
    }
}
