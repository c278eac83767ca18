//! Committed offsets. Persisted as a JSON file in the first log dir
//! (`kafkad-consumer-offsets.json`, temp+fsync+rename per commit), not in
//! the __consumer_offsets topic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ms: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    /// group -> "topic/partition" -> offset
    groups: BTreeMap<String, BTreeMap<String, Committed>>,
}

pub struct OffsetStore {
    path: PathBuf,
    data: Mutex<Stored>,
}

fn key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

impl OffsetStore {
    pub fn open(path: PathBuf) -> OffsetStore {
        let data =
            std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Stored>(&b).ok()).unwrap_or_default();
        OffsetStore { path, data: Mutex::new(data) }
    }

    pub fn commit(
        &self,
        group: &str,
        entries: Vec<(String, i32, Committed)>,
    ) -> Result<(), crate::error::StorageError> {
        let Ok(mut d) = self.data.lock() else { return Ok(()) };
        let g = d.groups.entry(group.to_string()).or_default();
        for (t, p, c) in entries {
            g.insert(key(&t, p), c);
        }
        let text = serde_json::to_string(&*d).unwrap_or_default();
        crate::log::checkpoint::write_atomic(&self.path, &text)
    }

    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<Committed> {
        self.data.lock().ok()?.groups.get(group)?.get(&key(topic, partition)).cloned()
    }

    /// Every (topic, partition, offset) of a group.
    pub fn all(&self, group: &str) -> Vec<(String, i32, Committed)> {
        let Ok(d) = self.data.lock() else { return Vec::new() };
        let Some(g) = d.groups.get(group) else { return Vec::new() };
        g.iter()
            .filter_map(|(k, c)| {
                let (t, p) = k.rsplit_once('/')?;
                Some((t.to_string(), p.parse().ok()?, c.clone()))
            })
            .collect()
    }

    pub fn groups(&self) -> Vec<String> {
        self.data.lock().map(|d| d.groups.keys().cloned().collect()).unwrap_or_default()
    }

    /// Drop a deleted topic's offsets from every group.
    pub fn forget_topic(&self, topic: &str) {
        if let Ok(mut d) = self.data.lock() {
            let prefix = format!("{topic}/");
            for g in d.groups.values_mut() {
                g.retain(|k, _| !k.starts_with(&prefix));
            }
        }
    }
}
