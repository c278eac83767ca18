//! The log dirs: `meta.properties`, `.lock`, the three offset checkpoint
//! files, `.kafka_cleanshutdown`, and every partition log found on disk.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{BrokerError, IoContext, StorageError};
use crate::log::checkpoint::{self, read_offsets, write_offsets};
use crate::log::{parse_dir_name, Log, LogConfig};

pub const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";
pub const RECOVERY_POINT: &str = "recovery-point-offset-checkpoint";
pub const REPLICATION_OFFSET: &str = "replication-offset-checkpoint";
pub const LOG_START_OFFSET: &str = "log-start-offset-checkpoint";

pub type SharedLog = Arc<Mutex<Log>>;

pub struct LogManager {
    pub dirs: Vec<PathBuf>,
    pub default_config: LogConfig,
    logs: Mutex<HashMap<(String, i32), SharedLog>>,
    /// High watermarks read at start, for partitions to resume from.
    pub hw_checkpoint: BTreeMap<(String, i32), i64>,
    _locks: Vec<std::fs::File>,
}

/// Lock `.lock` in a log dir so two brokers never share one.
fn lock_dir(dir: &Path) -> Result<std::fs::File, BrokerError> {
    let p = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| BrokerError::io(format!("open {}", p.display()), e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(_) => Err(BrokerError::Fatal(format!("log dir {} is locked by another process (.lock)", dir.display()))),
    }
}

impl LogManager {
    /// Open all dirs, check/write meta.properties, load every log (recovering
    /// after an unclean shutdown) and remove the clean-shutdown markers.
    pub fn open(
        dirs: &[PathBuf],
        config: LogConfig,
        broker_id: i32,
        cluster_id: &str,
    ) -> Result<LogManager, BrokerError> {
        let mut locks = Vec::new();
        let mut logs = HashMap::new();
        let mut hw_checkpoint = BTreeMap::new();
        for dir in dirs {
            std::fs::create_dir_all(dir)
                .map_err(|e| BrokerError::io(format!("create log dir {}", dir.display()), e))?;
            locks.push(lock_dir(dir)?);
            check_meta_properties(dir, broker_id, cluster_id)?;
            // Kafka's LogCleaner creates its checkpoint, empty, at start.
            let cleaner = dir.join(crate::log::cleaner::CHECKPOINT_FILE);
            if !cleaner.exists() {
                std::fs::write(&cleaner, b"")
                    .map_err(|e| BrokerError::io(format!("create {}", cleaner.display()), e))?;
            }
            let clean = dir.join(CLEAN_SHUTDOWN).exists();
            let recovery = read_offsets(&dir.join(RECOVERY_POINT)).unwrap_or_default();
            let starts = read_offsets(&dir.join(LOG_START_OFFSET)).unwrap_or_default();
            hw_checkpoint.extend(read_offsets(&dir.join(REPLICATION_OFFSET)).unwrap_or_default());
            // A log dir this broker never ran on has nothing to recover.
            let fresh = !dir.join(RECOVERY_POINT).exists();
            if !clean && !fresh {
                tracing::warn!(dir = %dir.display(), "no clean shutdown marker: recovering logs from their recovery points");
            }
            for entry in std::fs::read_dir(dir).map_err(|e| BrokerError::io(format!("list {}", dir.display()), e))? {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name().to_string_lossy().to_string();
                if !entry.path().is_dir() {
                    continue;
                }
                if name.ends_with("-delete") {
                    // A deletion interrupted by a crash: finish it.
                    let _ = std::fs::remove_dir_all(entry.path());
                    continue;
                }
                let Some((topic, partition)) = parse_dir_name(&name) else { continue };
                let key = (topic.clone(), partition);
                let recover_from = if clean { None } else { Some(recovery.get(&key).copied().unwrap_or(0)) };
                let log = Log::open(
                    &entry.path(),
                    &topic,
                    partition,
                    config.clone(),
                    recover_from,
                    starts.get(&key).copied(),
                )?;
                tracing::debug!(topic = %topic, partition, leo = log.log_end_offset(), "loaded log");
                logs.insert(key, Arc::new(Mutex::new(log)));
            }
            // The marker only describes the previous run.
            let _ = std::fs::remove_file(dir.join(CLEAN_SHUTDOWN));
        }
        Ok(LogManager {
            dirs: dirs.to_vec(),
            default_config: config,
            logs: Mutex::new(logs),
            hw_checkpoint,
            _locks: locks,
        })
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<SharedLog> {
        self.logs.lock().ok()?.get(&(topic.to_string(), partition)).cloned()
    }

    /// The log for a partition, created in the least-loaded dir if missing.
    pub fn get_or_create(
        &self,
        topic: &str,
        partition: i32,
        topic_id: &str,
        config: LogConfig,
    ) -> Result<SharedLog, StorageError> {
        let mut logs = self.logs.lock().map_err(|_| poisoned())?;
        let key = (topic.to_string(), partition);
        if let Some(l) = logs.get(&key) {
            if let Ok(mut g) = l.lock() {
                g.config = config;
                if checkpoint::read_partition_metadata(&g.dir).is_none() {
                    checkpoint::write_partition_metadata(&g.dir, topic_id)?;
                }
            }
            return Ok(l.clone());
        }
        let mut counts: Vec<(usize, &PathBuf)> = self
            .dirs
            .iter()
            .map(|d| (logs.values().filter(|l| l.lock().map(|g| g.dir.starts_with(d)).unwrap_or(false)).count(), d))
            .collect();
        counts.sort_by_key(|c| c.0);
        let base = counts.first().map(|c| c.1.clone()).unwrap_or_else(|| PathBuf::from("."));
        let dir = base.join(format!("{topic}-{partition}"));
        let log = Log::open(&dir, topic, partition, config, None, None)?;
        checkpoint::write_partition_metadata(&dir, topic_id)?;
        tracing::info!(topic, partition, dir = %dir.display(), "created log");
        let shared = Arc::new(Mutex::new(log));
        logs.insert(key, shared.clone());
        Ok(shared)
    }

    /// Delete a partition's log: rename to `<dir>.<id>-delete` (so a crash
    /// mid-delete is finished at next start), then remove it.
    pub fn delete(&self, topic: &str, partition: i32) -> Result<(), StorageError> {
        let removed = self.logs.lock().map_err(|_| poisoned())?.remove(&(topic.to_string(), partition));
        if let Some(log) = removed {
            let dir = log.lock().map_err(|_| poisoned())?.dir.clone();
            let name = format!(
                "{}.{}-delete",
                dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                uuid::Uuid::new_v4().simple()
            );
            let target = dir.with_file_name(name);
            std::fs::rename(&dir, &target).at(&dir)?;
            std::fs::remove_dir_all(&target).at(&target)?;
            tracing::info!(topic, partition, "deleted log");
        }
        Ok(())
    }

    pub fn all(&self) -> Vec<SharedLog> {
        self.logs.lock().map(|l| l.values().cloned().collect()).unwrap_or_default()
    }

    /// Write recovery-point, log-start-offset and (with `hws`) replication
    /// offset checkpoints for every dir.
    pub fn checkpoint(&self, hws: &BTreeMap<(String, i32), i64>) -> Result<(), StorageError> {
        for dir in &self.dirs {
            let mut rp = BTreeMap::new();
            let mut ls = BTreeMap::new();
            let mut hw = BTreeMap::new();
            for l in self.all() {
                let Ok(g) = l.lock() else { continue };
                if !g.dir.starts_with(dir) {
                    continue;
                }
                let key = (g.topic.clone(), g.partition);
                rp.insert(key.clone(), g.recovery_point);
                // As Kafka: only starts past the first segment's base.
                if g.log_start_offset > g.first_segment_base() {
                    ls.insert(key.clone(), g.log_start_offset);
                }
                if let Some(h) = hws.get(&key) {
                    hw.insert(key, *h);
                }
            }
            write_offsets(&dir.join(RECOVERY_POINT), &rp)?;
            write_offsets(&dir.join(LOG_START_OFFSET), &ls)?;
            write_offsets(&dir.join(REPLICATION_OFFSET), &hw)?;
        }
        Ok(())
    }

    /// Flush everything, write checkpoints and the clean shutdown markers.
    pub fn shutdown(&self, hws: &BTreeMap<(String, i32), i64>) -> Result<(), StorageError> {
        for l in self.all() {
            if let Ok(mut g) = l.lock() {
                g.flush()?;
                g.take_producer_snapshot()?;
                g.trim_indexes()?;
            }
        }
        self.checkpoint(hws)?;
        for dir in &self.dirs {
            let p = dir.join(CLEAN_SHUTDOWN);
            // Kafka 3.9 writes the broker epoch there (-1 in ZooKeeper mode).
            std::fs::write(&p, br#"{"version":0,"brokerEpoch":-1}"#).at(&p)?;
            // Kafka's FileLock.destroy: unlocked and removed.
            let _ = std::fs::remove_file(dir.join(".lock"));
        }
        Ok(())
    }
}

fn poisoned() -> StorageError {
    StorageError::Corrupt { path: PathBuf::from("<memory>"), reason: "lock poisoned".into() }
}

/// meta.properties must agree with this broker and cluster; write it if new.
fn check_meta_properties(dir: &Path, broker_id: i32, cluster_id: &str) -> Result<(), BrokerError> {
    let p = dir.join("meta.properties");
    if let Some(props) = checkpoint::read_properties(&p) {
        if let Some(id) = props.get("broker.id") {
            if id.trim() != broker_id.to_string() {
                return Err(BrokerError::Fatal(format!(
                    "{}: broker.id {} does not match configured broker.id {broker_id}",
                    p.display(),
                    id
                )));
            }
        }
        if let Some(c) = props.get("cluster.id") {
            if c.trim() != cluster_id {
                return Err(BrokerError::Fatal(format!(
                    "{}: cluster.id {} does not match the cluster id {cluster_id} in ZooKeeper",
                    p.display(),
                    c
                )));
            }
            return Ok(());
        }
    }
    // As Kafka's Properties.store writes it: an empty comment, the date,
    // then the keys.
    let text = format!("#\n#{}\nbroker.id={broker_id}\nversion=0\ncluster.id={cluster_id}\n", java_date_now());
    checkpoint::write_atomic(&p, &text).map_err(BrokerError::from)
}

/// Now as java.util.Date.toString prints it in UTC ("Fri Dec 04 23:30:00
/// UTC 2026"), the second comment line of a Java properties file.
fn java_date_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    java_date(secs as i64)
}

fn java_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {d:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn java_date_as_date_to_string_prints_it() {
        assert_eq!(super::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(super::java_date(1_796_427_000), "Fri Dec 04 23:30:00 UTC 2026");
        assert_eq!(super::java_date(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
