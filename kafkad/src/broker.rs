//! The broker's shared state and its lifecycle: ZooKeeper session and
//! registration, log manager, the partitions this broker hosts, the cluster
//! metadata cache and the background tasks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{watch, Notify};

use crate::config::BrokerConfig;
use crate::group::GroupCoordinator;
use crate::log::manager::LogManager;
use crate::log::LogConfig;
use crate::metadata::{BrokerEndpoint, ClusterMetadata, TopicInfo};
use crate::partition::Partition;
use crate::zk::Zk;

pub type PartitionKey = (String, i32);

pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub zk: Zk,
    pub logs: LogManager,
    pub partitions: RwLock<HashMap<PartitionKey, Arc<Partition>>>,
    pub metadata: watch::Sender<Arc<ClusterMetadata>>,
    /// Bumped whenever any high watermark moves; long-polling fetches wait
    /// on it.
    pub data_version: watch::Sender<u64>,
    /// Wakes the metadata sync loop (after our own ZooKeeper writes).
    pub refresh: Notify,
    /// Wakes the controller loop.
    pub controller_kick: Notify,
    pub is_controller: AtomicBool,
    /// Our controller epoch while we are the controller (fences the writes
    /// of ElectLeaders and AlterPartitionReassignments).
    controller_epoch: std::sync::Mutex<Option<crate::zk::controller::Epoch>>,
    /// Next producer id and the end of the claimed block.
    pub producer_ids: tokio::sync::Mutex<(i64, i64)>,
    pub groups: Arc<GroupCoordinator>,
    /// Advertised endpoint per listener name (bound ports filled in).
    pub endpoints: Vec<BrokerEndpoint>,
    pub embedded_zk: bool,
    /// Dynamic broker config from /config/brokers/<default> overlaid with
    /// /config/brokers/<id>.
    pub dynamic_config: RwLock<BTreeMap<String, String>>,
    pub metrics: crate::metrics::Metrics,
    /// Incremental fetch sessions (KIP-227).
    pub fetch_sessions: crate::fetch_session::FetchSessions,
}

impl Broker {
    pub fn new(
        config: BrokerConfig,
        cluster_id: String,
        zk: Zk,
        logs: LogManager,
        endpoints: Vec<BrokerEndpoint>,
        embedded_zk: bool,
    ) -> Broker {
        let groups = GroupCoordinator::new(&config);
        let fetch_sessions = crate::fetch_session::FetchSessions::new(config.max_incremental_fetch_session_cache_slots);
        Broker {
            config,
            cluster_id,
            zk,
            logs,
            partitions: RwLock::new(HashMap::new()),
            metadata: watch::channel(Arc::new(ClusterMetadata { controller_id: -1, ..Default::default() })).0,
            data_version: watch::channel(0).0,
            refresh: Notify::new(),
            controller_kick: Notify::new(),
            is_controller: AtomicBool::new(false),
            controller_epoch: std::sync::Mutex::new(None),
            producer_ids: tokio::sync::Mutex::new((0, -1)),
            groups,
            endpoints,
            embedded_zk,
            dynamic_config: RwLock::new(BTreeMap::new()),
            metrics: crate::metrics::Metrics::new(),
            fetch_sessions,
        }
    }

    pub fn id(&self) -> i32 {
        self.config.broker_id
    }

    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.metadata.borrow().clone()
    }

    pub fn is_controller(&self) -> bool {
        self.is_controller.load(Ordering::SeqCst)
    }

    pub fn controller_epoch(&self) -> Option<crate::zk::controller::Epoch> {
        self.controller_epoch.lock().ok().and_then(|e| *e)
    }

    pub fn set_controller_epoch(&self, e: Option<crate::zk::controller::Epoch>) {
        if let Ok(mut g) = self.controller_epoch.lock() {
            *g = e;
        }
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.partitions.read().ok()?.get(&(topic.to_string(), index)).cloned()
    }

    /// The error for a partition this broker does not hold: NOT_LEADER when
    /// the cluster knows the partition (it lives elsewhere), else
    /// UNKNOWN_TOPIC_OR_PARTITION.
    pub fn missing_partition_error(&self, topic: &str, index: i32) -> kafka_protocol::ResponseError {
        let known = self.metadata().topics.get(topic).map(|t| t.partitions.contains_key(&index)).unwrap_or(false);
        if known {
            kafka_protocol::ResponseError::NotLeaderOrFollower
        } else {
            kafka_protocol::ResponseError::UnknownTopicOrPartition
        }
    }

    /// Wake every long-polling fetch: leadership moved, so a fetch may
    /// now have an error to answer (a partition's own data moves wake
    /// only its fetches: `Partition::notify_data`).
    pub fn notify_data(&self) {
        self.data_version.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn dynamic_broker_config(&self) -> BTreeMap<String, String> {
        self.dynamic_config.read().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn set_dynamic_broker_config(&self, c: BTreeMap<String, String>) {
        if let Ok(mut m) = self.dynamic_config.write() {
            *m = c;
        }
    }

    /// A topic's effective config: its overrides over the broker's dynamic
    /// and static values over Kafka's defaults.
    pub fn effective_topic_config(&self, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        crate::configs::effective_topic_config(overrides, &self.dynamic_broker_config(), &self.config.props)
    }

    pub fn log_config_for(&self, topic_config: &BTreeMap<String, String>) -> LogConfig {
        LogConfig::from_topic(&self.effective_topic_config(topic_config), &self.logs.default_config)
    }

    /// Publish new metadata and make the local replicas match it: create
    /// logs for partitions assigned here, apply leadership, delete logs of
    /// topics that are gone.
    /// Returns the topics gone since the last metadata (deleted, or
    /// recreated under a new id).
    pub fn apply_metadata(&self, new: ClusterMetadata) -> Vec<String> {
        let me = self.id();
        let deleted: Vec<String> = self
            .metadata()
            .topics
            .values()
            .filter(|t| new.topics.get(&t.name).map(|n| n.topic_id) != Some(t.topic_id))
            .map(|t| t.name.clone())
            .collect();
        let mut wanted: HashMap<PartitionKey, (&TopicInfo, i32)> = HashMap::new();
        for t in new.topics.values() {
            for (p, info) in &t.partitions {
                if info.replicas.contains(&me) {
                    wanted.insert((t.name.clone(), *p), (t, *p));
                }
            }
        }
        let existing: Vec<(PartitionKey, Arc<Partition>)> =
            self.partitions.read().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        // Topics deleted (or recreated with a new id) lose their local logs.
        for (key, part) in &existing {
            let keep = wanted.get(key).map(|(t, _)| t.topic_id == part.topic_id).unwrap_or(false);
            if !keep {
                if let Ok(mut m) = self.partitions.write() {
                    m.remove(key);
                }
                if let Err(e) = self.logs.delete(&key.0, key.1) {
                    tracing::error!(topic = %key.0, partition = key.1, error = %e, "cannot delete log");
                }
            }
        }
        let mut became_leader = false;
        for (key, (topic, p)) in wanted {
            let Some(info) = topic.partitions.get(&p) else { continue };
            let part = match self.partition(&key.0, p) {
                Some(x) => x,
                None => {
                    let id = crate::metadata::uuid_to_kafka(&topic.topic_id);
                    let log = match self.logs.get_or_create(&key.0, p, &id, self.log_config_for(&topic.config)) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(topic = %key.0, partition = p, error = %e, "cannot open log");
                            continue;
                        }
                    };
                    let hw = self.logs.hw_checkpoint.get(&key).copied().unwrap_or(0);
                    let part = Arc::new(Partition::new(&key.0, p, topic.topic_id, me, log, hw));
                    if let Ok(mut m) = self.partitions.write() {
                        m.insert(key.clone(), part.clone());
                    }
                    part
                }
            };
            if let Ok(mut l) = part.log.lock() {
                l.config = self.log_config_for(&topic.config);
            }
            if info.leader >= 0 {
                let epoch = part.leader_epoch();
                let newly = part.apply_state(info);
                if part.leader_epoch() != epoch {
                    // Its fetches may have an error to answer now.
                    part.notify_data();
                }
                became_leader |= newly;
                if key.0 == crate::group::offsets::OFFSETS_TOPIC {
                    if newly {
                        // Kafka loads a group partition when it becomes its
                        // leader; commits wait for it (LOAD_IN_PROGRESS).
                        self.load_offsets_partition(p);
                    } else if info.leader != me {
                        self.groups.offsets.unload(p, topic.partitions.len() as i32);
                    }
                }
            }
        }
        self.metadata.send_replace(Arc::new(new));
        if became_leader {
            self.notify_data();
        }
        deleted
    }

    /// Current HW of every local partition, for the replication-offset
    /// checkpoint.
    pub fn high_watermarks(&self) -> BTreeMap<PartitionKey, i64> {
        self.partitions
            .read()
            .map(|m| m.iter().map(|(k, p)| (k.clone(), p.high_watermark())).collect())
            .unwrap_or_default()
    }

    /// Create a topic in ZooKeeper with a round-robin replica assignment over
    /// the live brokers (Kafka's rack-unaware assignment, simplified).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        config: &BTreeMap<String, String>,
    ) -> Result<uuid::Uuid, kafka_protocol::ResponseError> {
        use kafka_protocol::ResponseError as E;
        if let Err(reason) = validate_topic_name(name) {
            tracing::debug!(name, reason, "invalid topic name");
            return Err(E::InvalidTopicException);
        }
        if partitions < 1 {
            return Err(E::InvalidPartitions);
        }
        let live: Vec<i32> = self.metadata().brokers.keys().copied().collect();
        if replication_factor < 1 || replication_factor as usize > live.len() {
            return Err(E::InvalidReplicationFactor);
        }
        // Kafka's placement; its random start comes from the name here, so
        // a topic recreated lands where it was.
        let start = name.bytes().map(|b| b as usize).sum::<usize>();
        let placed =
            shared::replica_assignment::assign(&live, partitions as usize, replication_factor as usize, start, 0, 0)
                .ok_or(E::InvalidReplicationFactor)?;
        let assignment: BTreeMap<i32, Vec<i32>> = (0..).zip(placed).collect();
        self.create_topic_with(name, &assignment, config).await
    }

    /// Create a topic with a given replica assignment (CreateTopics with
    /// assignments, kafka-topics --replica-assignment).
    pub async fn create_topic_with(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        config: &BTreeMap<String, String>,
    ) -> Result<uuid::Uuid, kafka_protocol::ResponseError> {
        use kafka_protocol::ResponseError as E;
        if validate_topic_name(name).is_err() {
            return Err(E::InvalidTopicException);
        }
        let id = crate::metadata::random_kafka_uuid();
        match self.zk.create_topic(name, assignment, &id, config).await {
            Ok(()) => {
                tracing::info!(topic = name, partitions = assignment.len(), "created topic in zookeeper");
                self.controller_kick.notify_one();
                self.refresh.notify_one();
                Ok(id)
            }
            Err(crate::zk::CreateTopicError::Exists) => Err(E::TopicAlreadyExists),
            Err(e) => {
                tracing::error!(topic = name, error = %e, "cannot create topic");
                Err(E::UnknownServerError)
            }
        }
    }

    /// Wait until `pred` holds on the metadata, or the deadline passes.
    pub async fn wait_metadata(&self, timeout_ms: i64, pred: impl Fn(&ClusterMetadata) -> bool) -> bool {
        let mut rx = self.metadata.subscribe();
        let deadline =
            tokio::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.clamp(0, 60_000) as u64);
        loop {
            if pred(&rx.borrow_and_update()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return pred(&rx.borrow()),
            }
        }
    }

    /// Next producer id, claiming a new block from ZooKeeper when the
    /// current one is used up.
    pub async fn next_producer_id(&self) -> Result<i64, zookeeper_client::Error> {
        let mut g = self.producer_ids.lock().await;
        if g.0 > g.1 {
            let (s, e) = self.zk.next_producer_id_block(self.id()).await?;
            *g = (s, e);
        }
        let id = g.0;
        g.0 += 1;
        Ok(id)
    }
}

/// Kafka's topic name rules: 1..=249 chars of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name == "." || name == ".." {
        return Err("empty or dot name");
    }
    if name.len() > 249 {
        return Err("longer than 249 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return Err("illegal character");
    }
    Ok(())
}
