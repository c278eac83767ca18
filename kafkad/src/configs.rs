//! Topic and broker configuration as DescribeConfigs reports it: Kafka
//! 3.x's topic config names, their broker synonyms and defaults, value
//! sources, and validation for Alter/IncrementalAlterConfigs.

use std::collections::BTreeMap;

/// DescribeConfigs ConfigSource ids.
pub mod source {
    pub const TOPIC_CONFIG: i8 = 1;
    pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// DescribeConfigs ConfigType ids (v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
}

pub struct TopicDef {
    pub name: &'static str,
    pub ty: Type,
    pub default: &'static str,
    /// Broker keys whose value becomes the topic default, in priority order,
    /// with the factor that converts them to the topic's unit.
    pub synonyms: &'static [(&'static str, i64)],
    /// (min, max) for numbers; allowed words for strings/lists.
    pub check: Check,
}

pub enum Check {
    None,
    AtLeast(f64),
    /// ConfigDef.Range.between.
    Between(f64, f64),
    OneOf(&'static [&'static str]),
}

const LMAX: &str = "9223372036854775807";

/// Kafka 3.8's topic-level configs (TopicConfig / LogConfig).
pub const TOPIC_CONFIGS: &[TopicDef] = &[
    td("cleanup.policy", Type::List, "delete", &[("log.cleanup.policy", 1)], Check::OneOf(&["compact", "delete"])),
    // KIP-390's levels (Kafka 3.8): gzip 1..9 or -1, lz4 1..17, zstd
    // -131072..22.
    td("compression.gzip.level", Type::Int, "-1", &[("compression.gzip.level", 1)], Check::Between(-1.0, 9.0)),
    td("compression.lz4.level", Type::Int, "9", &[("compression.lz4.level", 1)], Check::Between(1.0, 17.0)),
    td(
        "compression.type",
        Type::String,
        "producer",
        &[("compression.type", 1)],
        Check::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    ),
    td("compression.zstd.level", Type::Int, "3", &[("compression.zstd.level", 1)], Check::Between(-131072.0, 22.0)),
    td("delete.retention.ms", Type::Long, "86400000", &[("log.cleaner.delete.retention.ms", 1)], Check::AtLeast(0.0)),
    td("file.delete.delay.ms", Type::Long, "60000", &[("log.segment.delete.delay.ms", 1)], Check::AtLeast(0.0)),
    td("flush.messages", Type::Long, LMAX, &[("log.flush.interval.messages", 1)], Check::AtLeast(1.0)),
    td("flush.ms", Type::Long, LMAX, &[("log.flush.interval.ms", 1)], Check::AtLeast(0.0)),
    td("follower.replication.throttled.replicas", Type::List, "", &[], Check::None),
    td("index.interval.bytes", Type::Int, "4096", &[("log.index.interval.bytes", 1)], Check::AtLeast(0.0)),
    td("leader.replication.throttled.replicas", Type::List, "", &[], Check::None),
    td("local.retention.bytes", Type::Long, "-2", &[("log.local.retention.bytes", 1)], Check::AtLeast(-2.0)),
    td("local.retention.ms", Type::Long, "-2", &[("log.local.retention.ms", 1)], Check::AtLeast(-2.0)),
    td("max.compaction.lag.ms", Type::Long, LMAX, &[("log.cleaner.max.compaction.lag.ms", 1)], Check::AtLeast(1.0)),
    td("max.message.bytes", Type::Int, "1048588", &[("message.max.bytes", 1)], Check::AtLeast(0.0)),
    td(
        "message.downconversion.enable",
        Type::Boolean,
        "true",
        &[("log.message.downconversion.enable", 1)],
        Check::None,
    ),
    td("message.format.version", Type::String, "3.0-IV1", &[("log.message.format.version", 1)], Check::None),
    td(
        "message.timestamp.after.max.ms",
        Type::Long,
        LMAX,
        &[("log.message.timestamp.after.max.ms", 1)],
        Check::AtLeast(0.0),
    ),
    td(
        "message.timestamp.before.max.ms",
        Type::Long,
        LMAX,
        &[("log.message.timestamp.before.max.ms", 1)],
        Check::AtLeast(0.0),
    ),
    td(
        "message.timestamp.difference.max.ms",
        Type::Long,
        LMAX,
        &[("log.message.timestamp.difference.max.ms", 1)],
        Check::AtLeast(0.0),
    ),
    td(
        "message.timestamp.type",
        Type::String,
        "CreateTime",
        &[("log.message.timestamp.type", 1)],
        Check::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    td(
        "min.cleanable.dirty.ratio",
        Type::Double,
        "0.5",
        &[("log.cleaner.min.cleanable.ratio", 1)],
        Check::AtLeast(0.0),
    ),
    td("min.compaction.lag.ms", Type::Long, "0", &[("log.cleaner.min.compaction.lag.ms", 1)], Check::AtLeast(0.0)),
    td("min.insync.replicas", Type::Int, "1", &[("min.insync.replicas", 1)], Check::AtLeast(1.0)),
    td("preallocate", Type::Boolean, "false", &[("log.preallocate", 1)], Check::None),
    td("remote.log.copy.disable", Type::Boolean, "false", &[], Check::None),
    td("remote.log.delete.on.disable", Type::Boolean, "false", &[], Check::None),
    td("remote.storage.enable", Type::Boolean, "false", &[], Check::None),
    td("retention.bytes", Type::Long, "-1", &[("log.retention.bytes", 1)], Check::None),
    td(
        "retention.ms",
        Type::Long,
        "604800000",
        &[("log.retention.ms", 1), ("log.retention.minutes", 60_000), ("log.retention.hours", 3_600_000)],
        Check::AtLeast(-1.0),
    ),
    td("segment.bytes", Type::Int, "1073741824", &[("log.segment.bytes", 1)], Check::AtLeast(14.0)),
    td("segment.index.bytes", Type::Int, "10485760", &[("log.index.size.max.bytes", 1)], Check::AtLeast(4.0)),
    td(
        "segment.jitter.ms",
        Type::Long,
        "0",
        &[("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", 3_600_000)],
        Check::AtLeast(0.0),
    ),
    td(
        "segment.ms",
        Type::Long,
        "604800000",
        &[("log.roll.ms", 1), ("log.roll.hours", 3_600_000)],
        Check::AtLeast(1.0),
    ),
    td("unclean.leader.election.enable", Type::Boolean, "false", &[("unclean.leader.election.enable", 1)], Check::None),
];

const fn td(
    name: &'static str,
    ty: Type,
    default: &'static str,
    synonyms: &'static [(&'static str, i64)],
    check: Check,
) -> TopicDef {
    TopicDef { name, ty, default, synonyms, check }
}

pub fn topic_def(name: &str) -> Option<&'static TopicDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Broker-level defaults for keys that are synonyms but have no entry of
/// their own in BROKER_CONFIGS below (Kafka: `log.retention.hours` = 168).
fn broker_default(key: &str) -> Option<&'static str> {
    BROKER_CONFIGS.iter().find(|b| b.0 == key).and_then(|b| b.2)
}

/// Broker configs reported by DescribeConfigs for a BROKER resource:
/// (name, type, Kafka's default (None = null), dynamically updatable).
pub const BROKER_CONFIGS: &[(&str, Type, Option<&str>, bool)] = &[
    ("advertised.listeners", Type::String, None, true),
    ("auto.create.topics.enable", Type::Boolean, Some("true"), false),
    ("broker.id", Type::Int, Some("-1"), false),
    ("broker.rack", Type::String, None, false),
    ("compression.gzip.level", Type::Int, Some("-1"), true),
    ("compression.lz4.level", Type::Int, Some("9"), true),
    ("compression.type", Type::String, Some("producer"), true),
    ("compression.zstd.level", Type::Int, Some("3"), true),
    ("default.replication.factor", Type::Int, Some("1"), false),
    ("delete.topic.enable", Type::Boolean, Some("true"), false),
    // Replication throttles: stored and described as Kafka does; kafkad's
    // replica fetchers do not throttle.
    ("follower.replication.throttled.rate", Type::Long, Some(LMAX), true),
    ("group.initial.rebalance.delay.ms", Type::Int, Some("3000"), false),
    ("group.max.session.timeout.ms", Type::Int, Some("1800000"), false),
    ("group.min.session.timeout.ms", Type::Int, Some("6000"), false),
    ("inter.broker.listener.name", Type::String, None, false),
    ("leader.replication.throttled.rate", Type::Long, Some(LMAX), true),
    (
        "listener.security.protocol.map",
        Type::String,
        Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
        true,
    ),
    ("listeners", Type::String, Some("PLAINTEXT://:9092"), true),
    ("log.cleaner.delete.retention.ms", Type::Long, Some("86400000"), true),
    ("log.cleaner.max.compaction.lag.ms", Type::Long, Some(LMAX), true),
    ("log.cleaner.min.cleanable.ratio", Type::Double, Some("0.5"), true),
    ("log.cleaner.min.compaction.lag.ms", Type::Long, Some("0"), true),
    ("log.cleanup.policy", Type::List, Some("delete"), true),
    ("log.dir", Type::String, Some("/tmp/kafka-logs"), false),
    ("log.dirs", Type::String, None, false),
    ("log.flush.interval.messages", Type::Long, Some(LMAX), true),
    ("log.flush.interval.ms", Type::Long, None, true),
    ("log.index.interval.bytes", Type::Int, Some("4096"), true),
    ("log.index.size.max.bytes", Type::Int, Some("10485760"), true),
    ("log.local.retention.bytes", Type::Long, Some("-2"), true),
    ("log.local.retention.ms", Type::Long, Some("-2"), true),
    ("log.message.downconversion.enable", Type::Boolean, Some("true"), true),
    ("log.message.format.version", Type::String, Some("3.0-IV1"), false),
    ("log.message.timestamp.after.max.ms", Type::Long, Some(LMAX), true),
    ("log.message.timestamp.before.max.ms", Type::Long, Some(LMAX), true),
    ("log.message.timestamp.difference.max.ms", Type::Long, Some(LMAX), true),
    ("log.message.timestamp.type", Type::String, Some("CreateTime"), true),
    ("log.preallocate", Type::Boolean, Some("false"), true),
    ("log.retention.bytes", Type::Long, Some("-1"), true),
    ("log.retention.check.interval.ms", Type::Long, Some("300000"), false),
    ("log.retention.hours", Type::Int, Some("168"), false),
    ("log.retention.minutes", Type::Int, None, false),
    ("log.retention.ms", Type::Long, None, true),
    ("log.roll.hours", Type::Int, Some("168"), false),
    ("log.roll.jitter.hours", Type::Int, Some("0"), false),
    ("log.roll.jitter.ms", Type::Long, None, true),
    ("log.roll.ms", Type::Long, None, true),
    ("log.segment.bytes", Type::Int, Some("1073741824"), true),
    ("log.segment.delete.delay.ms", Type::Long, Some("60000"), true),
    ("max.incremental.fetch.session.cache.slots", Type::Int, Some("1000"), false),
    ("message.max.bytes", Type::Int, Some("1048588"), true),
    ("min.insync.replicas", Type::Int, Some("1"), true),
    ("num.partitions", Type::Int, Some("1"), false),
    ("offsets.topic.num.partitions", Type::Int, Some("50"), false),
    ("offsets.topic.replication.factor", Type::Short, Some("3"), false),
    ("replica.alter.log.dirs.io.max.bytes.per.second", Type::Long, Some(LMAX), true),
    ("socket.request.max.bytes", Type::Int, Some("104857600"), false),
    ("unclean.leader.election.enable", Type::Boolean, Some("false"), true),
    ("zookeeper.connect", Type::String, None, false),
    ("zookeeper.connection.timeout.ms", Type::Int, None, false),
    ("zookeeper.session.timeout.ms", Type::Int, Some("18000"), false),
];

impl Type {
    /// Kafka's ConfigType id for the wire.
    pub fn id(self) -> i8 {
        self as i8
    }
}

/// One described entry, with synonyms in Kafka's order (most specific
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub ty: Type,
    pub read_only: bool,
    pub synonyms: Vec<(String, Option<String>, i8)>,
}

/// Describe one topic config as Kafka's ConfigHelper does. The value is
/// the effective one: the override, else the broker's (dynamic, then
/// static) setting of any synonym, else Kafka's default. The synonyms are
/// gathered map by map (dynamic, static, defaults) and then cut to start at
/// the primary broker key (`log.retention.ms` for `retention.ms`), so a
/// broker that sets only `log.retention.hours` still reports `retention.ms`
/// as DEFAULT_CONFIG with no synonyms, and `kafka-topics --describe` does
/// not list it, while `log.segment.bytes` makes `segment.bytes` a
/// STATIC_BROKER_CONFIG that it does list.
pub fn describe_topic_entry(
    def: &TopicDef,
    overrides: &BTreeMap<String, String>,
    dynamic_broker: &BTreeMap<String, String>,
    static_props: &BTreeMap<String, String>,
) -> Entry {
    let mut broker: Vec<(String, Option<String>, i8)> = Vec::new();
    for (map, src) in [(dynamic_broker, source::DYNAMIC_BROKER_CONFIG), (static_props, source::STATIC_BROKER_CONFIG)] {
        for (key, _) in def.synonyms {
            if let Some(v) = map.get(*key) {
                broker.push((key.to_string(), Some(v.clone()), src));
            }
        }
    }
    for (key, _) in def.synonyms {
        if let Some(d) = broker_default(key) {
            broker.push((key.to_string(), Some(d.to_string()), source::DEFAULT_CONFIG));
        }
    }
    // The effective value comes from the most specific setting found.
    let value = match (overrides.get(def.name), broker.first()) {
        (Some(v), _) => Some(v.clone()),
        (None, Some((k, v, _))) => {
            let factor = def.synonyms.iter().find(|(n, _)| n == k).map(|(_, f)| *f).unwrap_or(1);
            match (v, factor) {
                (Some(v), f) if f != 1 => v.trim().parse::<i64>().map(|n| n.saturating_mul(f).to_string()).ok(),
                (v, _) => v.clone(),
            }
        }
        (None, None) => Some(def.default.to_string()),
    };
    let primary = def.synonyms.first().map(|(k, _)| *k);
    let from = broker.iter().position(|(k, _, _)| Some(k.as_str()) == primary).unwrap_or(broker.len());
    let mut synonyms: Vec<(String, Option<String>, i8)> = Vec::new();
    if let Some(v) = overrides.get(def.name) {
        synonyms.push((def.name.to_string(), Some(v.clone()), source::TOPIC_CONFIG));
    }
    synonyms.extend(broker.into_iter().skip(from));
    let src = synonyms.first().map(|(_, _, s)| *s).unwrap_or(source::DEFAULT_CONFIG);
    Entry { name: def.name.to_string(), value, source: src, ty: def.ty, read_only: false, synonyms }
}

/// The effective topic config (overrides over broker values over defaults).
pub fn effective_topic_config(
    overrides: &BTreeMap<String, String>,
    dynamic_broker: &BTreeMap<String, String>,
    static_props: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    TOPIC_CONFIGS
        .iter()
        .filter_map(|d| {
            let e = describe_topic_entry(d, overrides, dynamic_broker, static_props);
            e.value.map(|v| (e.name, v))
        })
        .collect()
}

pub fn describe_broker(static_props: &BTreeMap<String, String>, dynamic: &BTreeMap<String, String>) -> Vec<Entry> {
    BROKER_CONFIGS
        .iter()
        .map(|(name, ty, default, dynamic_ok)| {
            let mut synonyms = Vec::new();
            if let Some(v) = dynamic.get(*name) {
                synonyms.push((name.to_string(), Some(v.clone()), source::DYNAMIC_BROKER_CONFIG));
            }
            if let Some(v) = static_props.get(*name) {
                synonyms.push((name.to_string(), Some(v.clone()), source::STATIC_BROKER_CONFIG));
            }
            if let Some(d) = default {
                synonyms.push((name.to_string(), Some(d.to_string()), source::DEFAULT_CONFIG));
            }
            let (value, src) = match synonyms.first() {
                Some((_, v, s)) => (v.clone(), *s),
                None => (None, source::DEFAULT_CONFIG),
            };
            Entry { name: name.to_string(), value, source: src, ty: *ty, read_only: !dynamic_ok, synonyms }
        })
        .collect()
}

/// Why a topic config value is rejected (Kafka's INVALID_CONFIG text).
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
    let Some(def) = topic_def(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let bad = |why: &str| Err(format!("Invalid value {value} for configuration {name}: {why}"));
    let v = value.trim();
    let num: Option<f64> = match def.ty {
        Type::Int => match v.parse::<i32>() {
            Ok(n) => Some(n as f64),
            Err(_) => return bad("Not a number of type INT"),
        },
        Type::Long => match v.parse::<i64>() {
            Ok(n) => Some(n as f64),
            Err(_) => return bad("Not a number of type LONG"),
        },
        Type::Double => match v.parse::<f64>() {
            Ok(n) => Some(n),
            Err(_) => return bad("Not a number of type DOUBLE"),
        },
        Type::Boolean => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return bad("Expected value to be either true or false");
            }
            None
        }
        _ => None,
    };
    match (&def.check, num) {
        // ConfigDef.Range reports the parsed number, not the raw text.
        (Check::AtLeast(min) | Check::Between(min, _), Some(n)) if n < *min => {
            let shown = if def.ty == Type::Double { n.to_string() } else { (n as i64).to_string() };
            Err(format!("Invalid value {shown} for configuration {name}: Value must be at least {min}"))
        }
        (Check::Between(_, max), Some(n)) if n > *max => {
            let shown = if def.ty == Type::Double { n.to_string() } else { (n as i64).to_string() };
            Err(format!("Invalid value {shown} for configuration {name}: Value must be no more than {max}"))
        }
        (Check::OneOf(words), _) => {
            let items: Vec<&str> = if def.ty == Type::List {
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
            } else {
                vec![v]
            };
            // ValidList names the first offending item, not the whole list.
            match items.iter().find(|i| !words.contains(i)) {
                Some(item) => Err(format!(
                    "Invalid value {item} for configuration {name}: String must be one of: {}",
                    words.join(", ")
                )),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Kafka's LogConfig.validate for a new topic's overrides: every name
/// known (validateNames), every value parsed and in range, then the
/// cross-field rule of validateValues (min.compaction.lag.ms at most
/// max.compaction.lag.ms, with defaults for what is unset). The text is
/// what Kafka returns with INVALID_CONFIG.
pub fn validate_new_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(unknown) = configs.keys().find(|k| topic_def(k).is_none()) {
        return Err(format!("Unknown topic config name: {unknown}"));
    }
    for (k, v) in configs {
        validate_topic_config(k, v)?;
    }
    let lag = |key: &str| {
        let v = configs.get(key).map(String::as_str).or_else(|| topic_def(key).map(|d| d.default));
        v.and_then(|v| v.trim().parse::<i64>().ok())
    };
    if let (Some(min), Some(max)) = (lag("min.compaction.lag.ms"), lag("max.compaction.lag.ms")) {
        if min > max {
            return Err(format!(
                "conflict topic config setting min.compaction.lag.ms ({min}) > max.compaction.lag.ms ({max})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_from_broker_hours_keeps_the_value_but_reads_as_default() {
        let mut props = BTreeMap::new();
        props.insert("log.retention.hours".to_string(), "72".to_string());
        let def = topic_def("retention.ms").expect("def");
        // Kafka cuts synonyms to start at log.retention.ms, which is unset.
        let e = describe_topic_entry(def, &BTreeMap::new(), &BTreeMap::new(), &props);
        assert_eq!(e.value.as_deref(), Some("259200000"));
        assert_eq!(e.source, source::DEFAULT_CONFIG);
        assert!(e.synonyms.is_empty(), "{:?}", e.synonyms);
        // log.retention.ms itself is the primary key: static, listed first.
        props.insert("log.retention.ms".to_string(), "5000".to_string());
        let e = describe_topic_entry(def, &BTreeMap::new(), &BTreeMap::new(), &props);
        assert_eq!((e.value.as_deref(), e.source), (Some("5000"), source::STATIC_BROKER_CONFIG));
        assert_eq!(e.synonyms[0], ("log.retention.ms".into(), Some("5000".into()), source::STATIC_BROKER_CONFIG));
        assert_eq!(e.synonyms[1], ("log.retention.hours".into(), Some("72".into()), source::STATIC_BROKER_CONFIG));
        // segment.bytes from log.segment.bytes is a listed static config.
        let mut p2 = BTreeMap::new();
        p2.insert("log.segment.bytes".to_string(), "1073741824".to_string());
        let e = describe_topic_entry(topic_def("segment.bytes").expect("def"), &BTreeMap::new(), &BTreeMap::new(), &p2);
        assert_eq!((e.value.as_deref(), e.source), (Some("1073741824"), source::STATIC_BROKER_CONFIG));
        let props = {
            let mut p = BTreeMap::new();
            p.insert("log.retention.hours".to_string(), "72".to_string());
            p
        };
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "1000".to_string());
        let e = describe_topic_entry(def, &o, &BTreeMap::new(), &props);
        assert_eq!((e.value.as_deref(), e.source), (Some("1000"), source::TOPIC_CONFIG));
        let e = describe_topic_entry(def, &BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new());
        assert_eq!((e.value.as_deref(), e.source), (Some("604800000"), source::DEFAULT_CONFIG));
    }

    #[test]
    fn validation() {
        assert!(validate_topic_config("retention.ms", "0").is_ok());
        assert!(validate_topic_config("retention.ms", "-2").is_err());
        assert!(validate_topic_config("retention.ms", "x").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "bogus").is_err());
        assert!(validate_topic_config("no.such", "1").is_err());
    }
}
