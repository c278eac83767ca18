//! Broker configuration in Kafka's own key names (server.properties).
//!
//! Precedence, lowest first: the file, `KAFKA_*` environment variables in the
//! Confluent-image convention, then `--override k=v` on the command line, the
//! same order `kafka-server-start.sh` and the Confluent images apply.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shared::{ConfigError, ConfigMap};

/// Keys Kafka accepts that have no meaning for this broker (JVM thread pools,
/// socket buffers, the transaction log); accepted so stock files load.
const IGNORED_KEYS: &[&str] = &[
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "queued.max.requests",
    "jmx.port",
    "compression.type",
    "log.message.format.version",
    "inter.broker.protocol.version",
    "zookeeper.set.acl",
    "confluent.support.metrics.enable",
    "confluent.metrics.reporter.bootstrap.servers",
    "metric.reporters",
    "host.name",
    "port",
];

/// Prefixes of ignored key families.
const IGNORED_PREFIXES: &[&str] = &["transaction.state.log.", "confluent.", "metrics.", "ssl.", "sasl."];

/// Environment variables of the Confluent images that configure the JVM or
/// the image itself, not the broker.
pub const ENV_SKIP: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JMX_PORT",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_DEBUG",
    "KAFKA_LOG_DIR",
];

const KNOWN_KEYS: &[&str] = &[
    "metrics.port",
    "producer.id.expiration.ms",
    "producer.id.expiration.check.interval.ms",
    "broker.id",
    "broker.rack",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "security.inter.broker.protocol",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.retention.check.interval.ms",
    "log.roll.ms",
    "log.roll.hours",
    "log.cleanup.policy",
    "log.cleaner.enable",
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.dedupe.buffer.load.factor",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
    "zookeeper.connect",
    "embedded.zookeeper.port",
    "zookeeper.connection.timeout.ms",
    "zookeeper.session.timeout.ms",
    "offsets.topic.replication.factor",
    "offsets.topic.num.partitions",
    "group.initial.rebalance.delay.ms",
    "socket.request.max.bytes",
    "message.max.bytes",
    "delete.topic.enable",
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "max.connections",
    "max.incremental.fetch.session.cache.slots",
    "log.index.interval.bytes",
    "replica.high.watermark.checkpoint.interval.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "replica.lag.time.max.ms",
    "replica.fetch.max.bytes",
    "replica.fetch.wait.max.ms",
    "replica.fetch.min.bytes",
    "replica.fetch.response.max.bytes",
    "replica.fetch.backoff.ms",
    "replica.socket.timeout.ms",
    "auto.leader.rebalance.enable",
    "leader.imbalance.per.broker.percentage",
    "leader.imbalance.check.interval.seconds",
];

/// Follower fetching and ISR upkeep (Kafka's replica.* keys and defaults).
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// A follower that has not caught up for this long leaves the ISR.
    pub lag_time_max_ms: u64,
    pub fetch_max_bytes: i32,
    pub fetch_wait_max_ms: i32,
    pub fetch_min_bytes: i32,
    pub fetch_response_max_bytes: i32,
    pub fetch_backoff_ms: u64,
    pub socket_timeout_ms: u64,
}

impl ReplicaConfig {
    fn from_map(map: &ConfigMap) -> Result<ReplicaConfig, ConfigError> {
        let c = ReplicaConfig {
            lag_time_max_ms: map.parse_or("replica.lag.time.max.ms", 30_000)?,
            fetch_max_bytes: map.parse_or("replica.fetch.max.bytes", 1_048_576)?,
            fetch_wait_max_ms: map.parse_or("replica.fetch.wait.max.ms", 500)?,
            fetch_min_bytes: map.parse_or("replica.fetch.min.bytes", 1)?,
            fetch_response_max_bytes: map.parse_or("replica.fetch.response.max.bytes", 10_485_760)?,
            fetch_backoff_ms: map.parse_or("replica.fetch.backoff.ms", 1000)?,
            socket_timeout_ms: map.parse_or("replica.socket.timeout.ms", 30_000)?,
        };
        // Kafka's own constraint: a fetch must come back before the socket
        // times out.
        if c.socket_timeout_ms < c.fetch_wait_max_ms.max(0) as u64 {
            return Err(map.bad("replica.socket.timeout.ms", "must be at least replica.fetch.wait.max.ms"));
        }
        if c.lag_time_max_ms == 0 {
            return Err(map.bad("replica.lag.time.max.ms", "must be positive"));
        }
        Ok(c)
    }
}

/// The log cleaner (Kafka's log.cleaner.* broker keys; one cleaner thread).
/// The per-topic defaults (min.cleanable.ratio, delete.retention.ms, the
/// compaction lags) reach logs through the topic config synonyms.
#[derive(Debug, Clone)]
pub struct CleanerConfig {
    pub enable: bool,
    /// Pause between passes that found nothing to clean.
    pub backoff_ms: u64,
    pub dedupe_buffer_size: u64,
    pub dedupe_load_factor: f64,
}

impl CleanerConfig {
    fn from_map(map: &ConfigMap) -> Result<CleanerConfig, ConfigError> {
        let c = CleanerConfig {
            enable: map.bool_or("log.cleaner.enable", true)?,
            backoff_ms: map.parse_or("log.cleaner.backoff.ms", 15_000)?,
            dedupe_buffer_size: map.parse_or("log.cleaner.dedupe.buffer.size", 134_217_728)?,
            dedupe_load_factor: map.parse_or("log.cleaner.dedupe.buffer.load.factor", 0.9)?,
        };
        if !(c.dedupe_load_factor > 0.0 && c.dedupe_load_factor <= 1.0) {
            return Err(map.bad("log.cleaner.dedupe.buffer.load.factor", "must be in (0, 1]"));
        }
        Ok(c)
    }

    /// Keys the offset map may hold: Kafka's SkimpyOffsetMap slots (16-byte
    /// MD5 + 8-byte offset per entry) times the load factor.
    pub fn max_map_entries(&self) -> usize {
        ((self.dedupe_buffer_size / 24) as f64 * self.dedupe_load_factor).max(1.0) as usize
    }
}

/// One socket the broker binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// An address handed to clients in Metadata for one listener name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub broker_id: i32,
    pub rack: Option<String>,
    pub listeners: Vec<Listener>,
    pub advertised: Vec<Endpoint>,
    pub protocol_map: BTreeMap<String, String>,
    pub inter_broker_listener: String,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub segment_bytes: u64,
    /// log.roll.ms / log.roll.hours (default 168 h).
    pub segment_ms: i64,
    pub retention_check_interval_ms: u64,
    /// log.flush.interval.messages: fsync once this many messages are
    /// unflushed (Kafka's default: never, leave it to the OS).
    pub flush_interval_messages: i64,
    /// log.flush.interval.ms (falls back to log.flush.scheduler.interval.ms).
    pub flush_interval_ms: i64,
    /// log.flush.scheduler.interval.ms: how often flush.ms is checked.
    pub flush_scheduler_interval_ms: i64,
    pub index_interval_bytes: u64,
    pub hw_checkpoint_interval_ms: u64,
    /// Prometheus /metrics HTTP port (metrics.port, KAFKA_METRICS_PORT);
    /// None = off.
    pub metrics_port: Option<u16>,
    /// Idle idempotent producers are forgotten after this long.
    pub producer_id_expiration_ms: i64,
    pub producer_id_expiration_check_interval_ms: u64,
    /// `None` starts an embedded zookeeperd on 127.0.0.1:`embedded_zk_port`.
    pub zookeeper_connect: Option<String>,
    pub embedded_zk_port: u16,
    pub zk_connection_timeout_ms: u64,
    pub zk_session_timeout_ms: u64,
    pub offsets_topic_replication_factor: i16,
    pub offsets_topic_num_partitions: i32,
    pub group_initial_rebalance_delay_ms: u64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub socket_request_max_bytes: i32,
    pub message_max_bytes: i32,
    pub delete_topic_enable: bool,
    pub min_insync_replicas: i32,
    pub unclean_leader_election: bool,
    /// The controller moves leadership back to preferred replicas.
    pub auto_leader_rebalance: bool,
    pub leader_imbalance_per_broker_percentage: u32,
    pub leader_imbalance_check_interval_seconds: u64,
    pub max_connections: usize,
    pub replica: ReplicaConfig,
    /// Incremental fetch sessions (KIP-227) kept at once; 0 turns them off.
    pub max_incremental_fetch_session_cache_slots: usize,
    pub cleaner: CleanerConfig,
    /// Keys present but not understood, for a warning at startup.
    pub unknown_keys: Vec<String>,
    pub ignored_keys: Vec<String>,
    /// Every key as given (file, env, overrides), for DescribeConfigs'
    /// STATIC_BROKER_CONFIG source.
    pub props: BTreeMap<String, String>,
}

impl BrokerConfig {
    pub fn from_map(map: &ConfigMap) -> Result<BrokerConfig, ConfigError> {
        let mut unknown_keys = Vec::new();
        let mut ignored_keys = Vec::new();
        for (k, _) in map.iter() {
            if KNOWN_KEYS.contains(&k) {
                continue;
            }
            if IGNORED_KEYS.contains(&k) || IGNORED_PREFIXES.iter().any(|p| k.starts_with(p)) {
                ignored_keys.push(k.to_string());
            } else {
                unknown_keys.push(k.to_string());
            }
        }

        let broker_id: i32 = map.parse_or("broker.id", 0)?;
        if broker_id < 0 {
            // Kafka would generate an id from /brokers/seqid; one fixed id
            // per host is what every deployment here uses.
            return Err(map.bad("broker.id", "must be >= 0 (generated broker ids are not supported)"));
        }

        let protocol_map = match map.get("listener.security.protocol.map") {
            Some(v) => parse_protocol_map(v).map_err(|r| map.bad("listener.security.protocol.map", r))?,
            None => ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
                .iter()
                .map(|p| (p.to_string(), p.to_string()))
                .collect(),
        };

        let advertised_raw = map.get("advertised.listeners").map(str::to_string);
        let listeners_raw = match (map.get("listeners"), &advertised_raw) {
            (Some(v), _) => v.to_string(),
            // The Confluent images derive listeners from the advertised ones
            // by binding every interface.
            (None, Some(adv)) => parse_listener_list(adv)
                .map_err(|r| map.bad("advertised.listeners", r))?
                .into_iter()
                .map(|l| format!("{}://0.0.0.0:{}", l.name, l.port))
                .collect::<Vec<_>>()
                .join(","),
            (None, None) => "PLAINTEXT://:9092".to_string(),
        };
        let listeners = parse_listener_list(&listeners_raw).map_err(|r| map.bad("listeners", r))?;
        if listeners.is_empty() {
            return Err(map.bad("listeners", "no listener given"));
        }
        for l in &listeners {
            match protocol_map.get(&l.name).map(String::as_str) {
                Some("PLAINTEXT") => {}
                Some(other) => {
                    return Err(map.bad(
                        "listeners",
                        format!("listener {} uses security protocol {other}; only PLAINTEXT is supported", l.name),
                    ))
                }
                None => {
                    return Err(map.bad(
                        "listener.security.protocol.map",
                        format!("no security protocol for listener {}", l.name),
                    ))
                }
            }
        }
        let advertised = match advertised_raw {
            Some(v) => {
                let adv = parse_listener_list(&v).map_err(|r| map.bad("advertised.listeners", r))?;
                for a in &adv {
                    if !listeners.iter().any(|l| l.name == a.name) {
                        return Err(map.bad(
                            "advertised.listeners",
                            format!("advertised listener {} is not among listeners", a.name),
                        ));
                    }
                }
                adv.into_iter().map(|l| Endpoint { name: l.name, host: l.host, port: l.port }).collect()
            }
            None => Vec::new(),
        };

        let inter_broker_listener = match map.get("inter.broker.listener.name") {
            Some(v) => v.trim().to_string(),
            None => listeners[0].name.clone(),
        };
        if !listeners.iter().any(|l| l.name == inter_broker_listener) {
            return Err(map.bad("inter.broker.listener.name", "not among listeners"));
        }

        let dirs_raw = map.get("log.dirs").or_else(|| map.get("log.dir")).unwrap_or("/tmp/kafka-logs").to_string();
        let log_dirs: Vec<PathBuf> =
            dirs_raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        if log_dirs.is_empty() {
            return Err(map.bad("log.dirs", "no directory given"));
        }

        // Kafka's precedence: ms, then minutes, then hours (default 168).
        let retention_ms = if let Some(ms) = map.parse::<i64>("log.retention.ms")? {
            ms
        } else if let Some(m) = map.parse::<i64>("log.retention.minutes")? {
            m.saturating_mul(60_000)
        } else {
            map.parse_or::<i64>("log.retention.hours", 168)?.saturating_mul(3_600_000)
        };

        let segment_bytes: u64 = map.parse_or("log.segment.bytes", 1_073_741_824)?;
        if segment_bytes < 14 {
            return Err(map.bad("log.segment.bytes", "must be at least 14"));
        }
        let segment_ms = if let Some(ms) = map.parse::<i64>("log.roll.ms")? {
            ms
        } else {
            map.parse_or::<i64>("log.roll.hours", 168)?.saturating_mul(3_600_000)
        };
        if segment_ms < 1 {
            return Err(map.bad("log.roll.ms", "must be at least 1"));
        }
        let offsets_topic_num_partitions: i32 = map.parse_or("offsets.topic.num.partitions", 50)?;
        if offsets_topic_num_partitions < 1 {
            return Err(map.bad("offsets.topic.num.partitions", "must be at least 1"));
        }
        let socket_request_max_bytes: i32 = map.parse_or("socket.request.max.bytes", 104_857_600)?;
        if socket_request_max_bytes <= 0 {
            return Err(map.bad("socket.request.max.bytes", "must be positive"));
        }
        let num_partitions: i32 = map.parse_or("num.partitions", 1)?;
        if num_partitions < 1 {
            return Err(map.bad("num.partitions", "must be at least 1"));
        }
        let default_replication_factor: i16 = map.parse_or("default.replication.factor", 1)?;
        if default_replication_factor < 1 {
            return Err(map.bad("default.replication.factor", "must be at least 1"));
        }

        let zookeeper_connect = map.get("zookeeper.connect").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());

        Ok(BrokerConfig {
            broker_id,
            rack: map.get("broker.rack").map(str::to_string),
            listeners,
            advertised,
            protocol_map,
            inter_broker_listener,
            log_dirs,
            num_partitions,
            default_replication_factor,
            auto_create_topics: map.bool_or("auto.create.topics.enable", true)?,
            retention_ms,
            retention_bytes: map.parse_or("log.retention.bytes", -1)?,
            segment_bytes,
            segment_ms,
            retention_check_interval_ms: map.parse_or("log.retention.check.interval.ms", 300_000)?,
            flush_interval_messages: map.parse_or("log.flush.interval.messages", i64::MAX)?.max(1),
            flush_interval_ms: match map.parse::<i64>("log.flush.interval.ms")? {
                Some(v) => v.max(0),
                None => map.parse_or("log.flush.scheduler.interval.ms", i64::MAX)?.max(0),
            },
            flush_scheduler_interval_ms: map.parse_or("log.flush.scheduler.interval.ms", i64::MAX)?.max(1),
            index_interval_bytes: map.parse_or("log.index.interval.bytes", 4096)?,
            hw_checkpoint_interval_ms: map.parse_or("replica.high.watermark.checkpoint.interval.ms", 5000)?,
            metrics_port: map.parse("metrics.port")?,
            producer_id_expiration_ms: map.parse_or("producer.id.expiration.ms", 86_400_000)?,
            producer_id_expiration_check_interval_ms: map
                .parse_or("producer.id.expiration.check.interval.ms", 600_000)?,
            zookeeper_connect,
            embedded_zk_port: map.parse_or("embedded.zookeeper.port", 2181)?,
            zk_connection_timeout_ms: map
                .parse_or("zookeeper.connection.timeout.ms", map.parse_or("zookeeper.session.timeout.ms", 18_000)?)?,
            zk_session_timeout_ms: map.parse_or("zookeeper.session.timeout.ms", 18_000)?,
            offsets_topic_replication_factor: map.parse_or("offsets.topic.replication.factor", 3)?,
            offsets_topic_num_partitions,
            group_initial_rebalance_delay_ms: map.parse_or("group.initial.rebalance.delay.ms", 3000)?,
            group_min_session_timeout_ms: map.parse_or("group.min.session.timeout.ms", 6000)?,
            group_max_session_timeout_ms: map.parse_or("group.max.session.timeout.ms", 1_800_000)?,
            socket_request_max_bytes,
            message_max_bytes: map.parse_or("message.max.bytes", 1_048_588)?,
            delete_topic_enable: map.bool_or("delete.topic.enable", true)?,
            min_insync_replicas: map.parse_or("min.insync.replicas", 1)?,
            unclean_leader_election: map.bool_or("unclean.leader.election.enable", false)?,
            auto_leader_rebalance: map.bool_or("auto.leader.rebalance.enable", true)?,
            leader_imbalance_per_broker_percentage: map.parse_or("leader.imbalance.per.broker.percentage", 10)?,
            leader_imbalance_check_interval_seconds: map
                .parse_or::<u64>("leader.imbalance.check.interval.seconds", 300)?
                .max(1),
            max_connections: map.parse_or("max.connections", 10_000)?,
            replica: ReplicaConfig::from_map(map)?,
            max_incremental_fetch_session_cache_slots: map
                .parse_or("max.incremental.fetch.session.cache.slots", 1000)?,
            cleaner: CleanerConfig::from_map(map)?,
            unknown_keys,
            ignored_keys,
            props: map.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        })
    }

    /// The address clients should use for `listener`; the bound port fills in
    /// a configured port of 0.
    pub fn advertised_for(&self, listener: &str, bound_port: u16) -> Endpoint {
        if let Some(a) = self.advertised.iter().find(|a| a.name == listener) {
            let port = if a.port == 0 { bound_port } else { a.port };
            let host = if a.host.is_empty() { local_hostname() } else { a.host.clone() };
            return Endpoint { name: a.name.clone(), host, port };
        }
        let l = self.listeners.iter().find(|l| l.name == listener);
        let host = match l.map(|l| l.host.as_str()) {
            // Kafka advertises the canonical host name for wildcard binds.
            None | Some("") | Some("0.0.0.0") | Some("::") => local_hostname(),
            Some(h) => h.to_string(),
        };
        Endpoint { name: listener.to_string(), host, port: bound_port }
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn parse_protocol_map(v: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, proto) = part.split_once(':').ok_or_else(|| format!("entry {part:?} is not NAME:PROTOCOL"))?;
        out.insert(name.trim().to_ascii_uppercase(), proto.trim().to_ascii_uppercase());
    }
    Ok(out)
}

/// `NAME://host:port,...`; an empty host means every interface; IPv6 hosts
/// come in brackets.
pub fn parse_listener_list(v: &str) -> Result<Vec<Listener>, String> {
    let mut out: Vec<Listener> = Vec::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = part.split_once("://").ok_or_else(|| format!("{part:?} is not NAME://host:port"))?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("{part:?} has no port"))?;
        let port: u16 = port.parse().map_err(|_| format!("{part:?} has a bad port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name = name.to_ascii_uppercase();
        if out.iter().any(|l| l.name == name) {
            return Err(format!("listener name {name} appears twice"));
        }
        out.push(Listener { name, host, port });
    }
    Ok(out)
}

/// Build the map from a file, the environment and overrides.
pub fn load(
    file: Option<&std::path::Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[(String, String)],
) -> Result<ConfigMap, ConfigError> {
    let mut map = match file {
        Some(p) => ConfigMap::load(p)?,
        None => ConfigMap::new(),
    };
    map.overlay_env("KAFKA_", env, ENV_SKIP);
    for (k, v) in overrides {
        map.set(k.clone(), v.clone());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_two_listeners() {
        let mut m = ConfigMap::new();
        m.overlay_env(
            "KAFKA_",
            vec![
                ("KAFKA_BROKER_ID".into(), "1".into()),
                (
                    "KAFKA_ADVERTISED_LISTENERS".into(),
                    "PLAINTEXT://broker:29092,PLAINTEXT_HOST://localhost:9092".into(),
                ),
                ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".into(), "PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT".into()),
                ("KAFKA_HEAP_OPTS".into(), "-Xmx1G".into()),
            ],
            ENV_SKIP,
        );
        let c = BrokerConfig::from_map(&m).expect("valid");
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.listeners[1].port, 9092);
        assert_eq!(c.listeners[1].host, "0.0.0.0");
        assert_eq!(c.advertised_for("PLAINTEXT_HOST", 9092).host, "localhost");
        assert_eq!(c.advertised_for("PLAINTEXT", 29092).host, "broker");
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
    }

    #[test]
    fn book_properties() {
        let m = ConfigMap::from_properties(
            "broker.id=2\nlisteners=PLAINTEXT://0.0.0.0:9092\nnum.network.threads=4\n\
             log.retention.hours=72\ndefault.replication.factor = 3\nbogus.key=1\n",
        );
        let c = BrokerConfig::from_map(&m).expect("valid");
        assert_eq!(c.broker_id, 2);
        assert_eq!(c.retention_ms, 72 * 3_600_000);
        assert_eq!(c.default_replication_factor, 3);
        assert_eq!(c.unknown_keys, vec!["bogus.key".to_string()]);
        assert_eq!(c.ignored_keys, vec!["num.network.threads".to_string()]);
    }

    #[test]
    fn bad_value_names_key() {
        let m = ConfigMap::from_properties("num.partitions=x\n");
        let e = BrokerConfig::from_map(&m).unwrap_err().to_string();
        assert!(e.contains("num.partitions"), "{e}");
        let m = ConfigMap::from_properties("listeners=PLAINTEXT//x:1\n");
        let e = BrokerConfig::from_map(&m).unwrap_err().to_string();
        assert!(e.contains("listeners"), "{e}");
    }

    #[test]
    fn metrics_port_from_key_or_env() {
        let m = ConfigMap::from_properties("metrics.port=9404\nmetrics.num.samples=2\n");
        let c = BrokerConfig::from_map(&m).expect("valid");
        assert_eq!(c.metrics_port, Some(9404));
        assert!(c.unknown_keys.is_empty() && c.ignored_keys == vec!["metrics.num.samples".to_string()]);
        let mut m = ConfigMap::new();
        m.overlay_env("KAFKA_", vec![("KAFKA_METRICS_PORT".into(), "9405".into())], ENV_SKIP);
        assert_eq!(BrokerConfig::from_map(&m).expect("valid").metrics_port, Some(9405));
        assert_eq!(BrokerConfig::from_map(&ConfigMap::new()).expect("valid").metrics_port, None, "off by default");
        let e = BrokerConfig::from_map(&ConfigMap::from_properties("metrics.port=x\n")).unwrap_err().to_string();
        assert!(e.contains("metrics.port"), "{e}");
    }
}
