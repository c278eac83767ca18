//! ZooKeeper citizenship: Kafka's znode layout under the optional chroot,
//! /cluster/id, broker registration, topic creation/deletion requests and
//! producer id blocks. The controller and the metadata sync loop live in
//! the submodules.

pub mod controller;
pub mod election;
pub mod reassign;
pub mod reconcile;
pub mod sync;
pub mod watch;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error as ZkErr, Stat};

use crate::error::BrokerError;
use crate::metadata;

const PERSISTENT_PATHS: &[&str] = &[
    "/consumers",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/admin/delete_topics",
    "/isr_change_notification",
    "/latest_producer_id_block",
    "/log_dir_event_notification",
    "/config/topics",
    "/config/clients",
    "/config/users",
    "/config/brokers",
    "/config/ips",
];

/// Kafka's znodes: open ACLs, and no data (null) where Kafka writes none.
pub fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all()).with_null_data()
}

pub fn ephemeral() -> CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all()).with_null_data()
}

pub struct Zk {
    /// Replaced wholesale when the session expires (`reconnect`).
    client: std::sync::RwLock<Client>,
    connect: String,
    session_timeout_ms: u64,
    connection_timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTopicError {
    #[error("topic already exists")]
    Exists,
    #[error("zookeeper: {0}")]
    Zk(#[from] ZkErr),
}

/// The ZooKeeper session a broker last registered with, kept in its first
/// log dir (beside `.lock`), so that after a crash the next run can tell
/// its own stale /brokers/ids/N from another broker's.
const SESSION_FILE: &str = "zookeeper-session";

/// Where the session is recorded: the first log dir.
pub fn session_dir(cfg: &crate::config::BrokerConfig) -> std::path::PathBuf {
    cfg.log_dirs.first().cloned().unwrap_or_else(|| "/tmp/kafka-logs".into())
}

pub fn read_recorded_session(log_dir: &std::path::Path) -> Option<i64> {
    let text = std::fs::read_to_string(log_dir.join(SESSION_FILE)).ok()?;
    // Written as the unsigned hex ZooKeeper prints (ids are negative for
    // server ids of 128 and up).
    u64::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok().map(|v| v as i64)
}

/// Record `session` (write a temp file, then rename it into place).
pub fn record_session(log_dir: &std::path::Path, session: i64) {
    let tmp = log_dir.join(format!("{SESSION_FILE}.tmp"));
    let done = std::fs::write(&tmp, format!("0x{session:x}\n"))
        .and_then(|()| std::fs::rename(&tmp, log_dir.join(SESSION_FILE)));
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot record the zookeeper session in the log dir");
    }
}

/// `h1:2181,h2:2181/kafka1` -> ("h1:2181,h2:2181", Some("/kafka1")).
pub fn split_chroot(connect: &str) -> (String, Option<String>) {
    match connect.find('/') {
        Some(i) if connect[i..].len() > 1 => {
            (connect[..i].to_string(), Some(connect[i..].trim_end_matches('/').to_string()))
        }
        Some(i) => (connect[..i].to_string(), None),
        None => (connect.to_string(), None),
    }
}

impl Zk {
    /// Connect, creating the chroot first when it is missing (as Kafka's
    /// KafkaZkClient does), then scope the session to it.
    pub async fn connect(
        connect: &str,
        session_timeout_ms: u64,
        connection_timeout_ms: u64,
    ) -> Result<Zk, BrokerError> {
        let client = Self::new_session(connect, session_timeout_ms, connection_timeout_ms).await?;
        Ok(Zk {
            client: std::sync::RwLock::new(client),
            connect: connect.to_string(),
            session_timeout_ms,
            connection_timeout_ms,
        })
    }

    /// The current session's client (cheap to clone).
    pub fn client(&self) -> Client {
        match self.client.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Open a new session after the old one expired, as Kafka's
    /// KafkaZkClient does, and make it current.
    pub async fn reconnect(&self) -> Result<(), BrokerError> {
        let c = Self::new_session(&self.connect, self.session_timeout_ms, self.connection_timeout_ms).await?;
        match self.client.write() {
            Ok(mut g) => *g = c,
            Err(p) => *p.into_inner() = c,
        }
        Ok(())
    }

    async fn new_session(
        connect: &str,
        session_timeout_ms: u64,
        connection_timeout_ms: u64,
    ) -> Result<Client, BrokerError> {
        let (hosts, chroot) = split_chroot(connect);
        let connector = || {
            Client::connector()
                .with_session_timeout(Duration::from_millis(session_timeout_ms))
                .with_connection_timeout(Duration::from_millis(connection_timeout_ms))
        };
        // zookeeper.connection.timeout.ms bounds the whole connect, as
        // Kafka's ZooKeeperClient.waitUntilConnected does.
        let client =
            tokio::time::timeout(Duration::from_millis(connection_timeout_ms.max(1)), connector().connect(&hosts))
                .await
                .map_err(|_| {
                    BrokerError::Fatal(format!(
                        "Timed out waiting for connection while in state: CONNECTING (zookeeper.connect {hosts})"
                    ))
                })?
                .map_err(|e| BrokerError::zk(format!("connect {hosts}"), e))?;
        let client = match chroot {
            None => client,
            Some(root) => {
                match client.mkdir(&root, &persistent()).await {
                    Ok(()) | Err(ZkErr::NodeExists) => {}
                    Err(e) => return Err(BrokerError::zk(format!("create chroot {root}"), e)),
                }
                client.chroot(root.clone()).map_err(|_| BrokerError::Fatal(format!("invalid chroot {root}")))?
            }
        };
        Ok(client)
    }

    pub async fn ensure_paths(&self) -> Result<(), BrokerError> {
        for p in PERSISTENT_PATHS {
            match self.client().mkdir(p, &persistent()).await {
                Ok(()) | Err(ZkErr::NodeExists) => {}
                Err(e) => return Err(BrokerError::zk(format!("create {p}"), e)),
            }
        }
        // Kafka 3.9's controller enables feature versioning: /feature with
        // no finalized features, status enabled.
        match self.client().create("/feature", br#"{"features":{},"version":2,"status":1}"#, &persistent()).await {
            Ok(_) | Err(ZkErr::NodeExists) => {}
            Err(e) => return Err(BrokerError::zk("create /feature", e)),
        }
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, ZkErr> {
        match self.client().get_data(path).await {
            Ok(x) => Ok(Some(x)),
            Err(ZkErr::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn children(&self, path: &str) -> Result<Vec<String>, ZkErr> {
        match self.client().list_children(path).await {
            Ok(c) => Ok(c),
            Err(ZkErr::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// /cluster/id: read it, or create it with a fresh id.
    pub async fn cluster_id(&self) -> Result<String, BrokerError> {
        loop {
            if let Some((data, _)) =
                self.get("/cluster/id").await.map_err(|e| BrokerError::zk("read /cluster/id", e))?
            {
                let v: Value = serde_json::from_slice(&data)
                    .map_err(|e| BrokerError::Fatal(format!("/cluster/id is not JSON: {e}")))?;
                return v
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| BrokerError::Fatal("/cluster/id has no id".into()));
            }
            let id = metadata::uuid_to_kafka(&metadata::random_kafka_uuid());
            let body = json!({"version": "1", "id": id}).to_string();
            let _ = self.client().mkdir("/cluster", &persistent()).await;
            match self.client().create("/cluster/id", body.as_bytes(), &persistent()).await {
                Ok(_) => return Ok(id),
                Err(ZkErr::NodeExists) => continue,
                Err(e) => return Err(BrokerError::zk("create /cluster/id", e)),
            }
        }
    }

    /// Create the ephemeral /brokers/ids/N; returns the broker epoch (czxid).
    /// A node left by a previous incarnation of this broker (a session not
    /// yet expired) is removed when its owner cannot be alive: when
    /// `stale_is_ours` (the embedded ZooKeeper restarted with us), or when
    /// it is `previous_session`, the session our log dir recorded (we hold
    /// the log dir's lock, so that incarnation is gone). Any other owner is
    /// waited out until the session timeout has passed.
    pub async fn register_broker(
        &self,
        id: i32,
        data: &[u8],
        stale_is_ours: bool,
        previous_session: Option<i64>,
        session_timeout_ms: u64,
    ) -> Result<i64, BrokerError> {
        let path = format!("/brokers/ids/{id}");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(session_timeout_ms * 2 + 5000);
        loop {
            // As Kafka's checkedEphemeralCreate: created empty and its data
            // set in one multi, so the znode's dataVersion is 1.
            let client = self.client();
            let mut multi = client.new_multi_writer();
            multi.add_create(&path, &[], &ephemeral()).map_err(|e| BrokerError::zk(format!("create {path}"), e))?;
            multi.add_set_data(&path, data, Some(0)).map_err(|e| BrokerError::zk(format!("create {path}"), e))?;
            match multi.commit().await.map_err(ZkErr::from) {
                Ok(results) => {
                    let czxid = results.iter().find_map(|r| match r {
                        zookeeper_client::MultiWriteResult::SetData { stat } => Some(stat.czxid),
                        _ => None,
                    });
                    if let Some(czxid) = czxid {
                        return Ok(czxid);
                    }
                    continue;
                }
                Err(ZkErr::NodeExists) => {}
                Err(e) => return Err(BrokerError::zk(format!("create {path}"), e)),
            }
            let Some((_, stat)) = self.get(&path).await.map_err(|e| BrokerError::zk(format!("read {path}"), e))? else {
                continue;
            };
            if stat.ephemeral_owner == self.client().session_id().0 {
                return Ok(stat.czxid);
            }
            if stale_is_ours || previous_session == Some(stat.ephemeral_owner) {
                tracing::warn!(
                    path,
                    session = format_args!("0x{:x}", stat.ephemeral_owner),
                    "removing registration left by this broker's previous run"
                );
                let _ = self.client().delete(&path, Some(stat.version)).await;
                continue;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(BrokerError::Fatal(format!(
                    "{path} exists and is owned by another session: is broker.id {id} used twice?"
                )));
            }
            tracing::warn!(path, "broker id registered by another session; waiting for it to expire");
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }

    /// Write a new topic the way `kafka-topics --zookeeper` and the admin
    /// client path in Kafka do: config first, then the assignment (the
    /// controller watches the latter).
    pub async fn create_topic(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        topic_id: &uuid::Uuid,
        config: &BTreeMap<String, String>,
    ) -> Result<(), CreateTopicError> {
        let tpath = format!("/brokers/topics/{name}");
        if self.client().check_stat(&tpath).await?.is_some() {
            return Err(CreateTopicError::Exists);
        }
        let cpath = format!("/config/topics/{name}");
        let cdata = metadata::config_json(config);
        match self.client().create(&cpath, &cdata, &persistent()).await {
            Ok(_) => {}
            Err(ZkErr::NodeExists) => {
                self.client().set_data(&cpath, &cdata, None).await?;
            }
            Err(e) => return Err(e.into()),
        }
        let zn = metadata::TopicZnode::new(assignment.clone(), *topic_id);
        match self.client().create(&tpath, &zn.to_json(), &persistent()).await {
            Ok(_) => Ok(()),
            Err(ZkErr::NodeExists) => Err(CreateTopicError::Exists),
            Err(e) => Err(e.into()),
        }
    }

    /// An entity's dynamic config (/config/<type>/<name>); empty if none.
    pub async fn entity_config(&self, entity_type: &str, name: &str) -> Result<BTreeMap<String, String>, ZkErr> {
        Ok(self
            .get(&format!("/config/{entity_type}/{name}"))
            .await?
            .map(|(d, _)| metadata::parse_config(&d))
            .unwrap_or_default())
    }

    /// Write an entity's whole dynamic config, then announce it with a
    /// /config/changes/config_change_ sequential node (version 2), which
    /// every broker watches, as Kafka's AdminZkClient.changeConfigs does.
    pub async fn set_entity_config(
        &self,
        entity_type: &str,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), ZkErr> {
        let path = format!("/config/{entity_type}/{name}");
        let data = metadata::config_json(config);
        match self.client().set_data(&path, &data, None).await {
            Ok(_) => {}
            Err(ZkErr::NoNode) => match self.client().create(&path, &data, &persistent()).await {
                Ok(_) => {}
                Err(ZkErr::NodeExists) => {
                    self.client().set_data(&path, &data, None).await?;
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
        let note = json!({"version": 2, "entity_path": format!("{entity_type}/{name}")}).to_string();
        let seq = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
        self.client().create("/config/changes/config_change_", note.as_bytes(), &seq).await?;
        Ok(())
    }

    /// Replace a topic znode, conditional on the version read with it.
    pub async fn set_topic_znode(&self, name: &str, zn: &metadata::TopicZnode, version: i32) -> Result<(), ZkErr> {
        let path = format!("/brokers/topics/{name}");
        self.client().set_data(&path, &zn.to_json(), Some(version)).await?;
        Ok(())
    }

    /// Replace a partition's state znode if it is still at `version` (a
    /// leader's ISR change, as ZooKeeper-mode leaders wrote it). Returns
    /// the new zkVersion.
    pub async fn set_partition_state(
        &self,
        topic: &str,
        partition: i32,
        body: &[u8],
        version: i32,
    ) -> Result<i32, ZkErr> {
        let path = format!("/brokers/topics/{topic}/partitions/{partition}/state");
        Ok(self.client().set_data(&path, body, Some(version)).await?.version)
    }

    /// Ask the controller to delete a topic.
    pub async fn request_topic_deletion(&self, name: &str) -> Result<(), ZkErr> {
        match self.client().create(&format!("/admin/delete_topics/{name}"), b"", &persistent()).await {
            Ok(_) | Err(ZkErr::NodeExists) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Claim the next block of 1000 producer ids from
    /// /latest_producer_id_block with a conditional write.
    pub async fn next_producer_id_block(&self, broker_id: i32) -> Result<(i64, i64), ZkErr> {
        const BLOCK: i64 = 1000;
        loop {
            let current = self.get("/latest_producer_id_block").await?;
            let (start, version) = match &current {
                Some((data, stat)) if !data.is_empty() => {
                    let v: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
                    let end = v
                        .get("block_end")
                        .and_then(|x| x.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| x.as_i64()))
                        .unwrap_or(-1);
                    (end + 1, Some(stat.version))
                }
                Some((_, stat)) => (0, Some(stat.version)),
                None => (0, None),
            };
            let end = start + BLOCK - 1;
            let body = json!({"version": 1, "broker": broker_id, "block_start": start.to_string(), "block_end": end.to_string()})
                .to_string();
            let r = match version {
                Some(v) => {
                    self.client().set_data("/latest_producer_id_block", body.as_bytes(), Some(v)).await.map(|_| ())
                }
                None => {
                    self.client().create("/latest_producer_id_block", body.as_bytes(), &persistent()).await.map(|_| ())
                }
            };
            match r {
                Ok(()) => return Ok((start, end)),
                Err(ZkErr::BadVersion) | Err(ZkErr::NodeExists) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroot_split() {
        assert_eq!(split_chroot("h1:2181,h2:2181/kafka1"), ("h1:2181,h2:2181".into(), Some("/kafka1".into())));
        assert_eq!(split_chroot("h1:2181"), ("h1:2181".into(), None));
        assert_eq!(split_chroot("h1:2181/"), ("h1:2181".into(), None));
    }

    #[test]
    fn recorded_session_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_recorded_session(dir.path()), None);
        record_session(dir.path(), 0x1000_0a8c_2f3b_0001);
        assert_eq!(read_recorded_session(dir.path()), Some(0x1000_0a8c_2f3b_0001));
        record_session(dir.path(), -5);
        assert_eq!(read_recorded_session(dir.path()), Some(-5));
    }
}
