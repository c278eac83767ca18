//! The broker's view of the cluster, rebuilt from ZooKeeper, and the JSON
//! payloads of Kafka's znodes (see kafka-zk-mode.md for the layout).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub endpoints: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub replicas: Vec<i32>,
    /// -1 when the partition has no state yet or no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub controller_epoch: i32,
    /// zkVersion of the state znode, for conditional updates.
    pub zk_version: i32,
    /// An ongoing reassignment's replicas being added and removed.
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionInfo>,
    pub config: BTreeMap<String, String>,
    /// A delete marker exists in /admin/delete_topics.
    pub deleting: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub controller_id: i32,
    pub topics: BTreeMap<String, TopicInfo>,
}

/// Kafka's Uuid.toString: URL-safe base64 without padding (22 chars).
pub fn uuid_to_kafka(id: &Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub fn uuid_from_kafka(s: &str) -> Option<Uuid> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
    Uuid::from_slice(&b).ok()
}

/// A random id that, like Kafka's Uuid.randomUuid, never prints with a
/// leading '-' (command-line tools would take it for a flag).
pub fn random_kafka_uuid() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        if !uuid_to_kafka(&id).starts_with('-') {
            return id;
        }
    }
}

/// /brokers/ids/N, version 5 (Kafka's BrokerIdZNode). The top-level
/// host/port are the first PLAINTEXT endpoint (null/-1 without one) for
/// pre-listener clients; the protocol map covers the advertised listeners.
pub fn broker_json(
    id_rack: Option<&str>,
    endpoints: &[BrokerEndpoint],
    protocol_map: &BTreeMap<String, String>,
    now_ms: i64,
) -> Vec<u8> {
    let protocol = |e: &BrokerEndpoint| protocol_map.get(&e.listener).cloned().unwrap_or_else(|| e.listener.clone());
    let plaintext = endpoints.iter().find(|e| protocol(e) == "PLAINTEXT");
    let map: serde_json::Map<String, Value> =
        endpoints.iter().map(|e| (e.listener.clone(), Value::String(protocol(e)))).collect();
    // In the order Kafka's BrokerIdZNode writes (its Scala map's order).
    let mut v = json!({
        "features": {},
        "listener_security_protocol_map": map,
        "endpoints": endpoints.iter().map(|e| format!("{}://{}:{}", e.listener, e.host, e.port)).collect::<Vec<_>>(),
        "jmx_port": -1,
        "port": plaintext.map(|e| e.port as i64).unwrap_or(-1),
        "host": plaintext.map(|e| Value::String(e.host.clone())).unwrap_or(Value::Null),
        "version": 5,
        "timestamp": now_ms.to_string(),
    });
    if let (Some(rack), Some(obj)) = (id_rack, v.as_object_mut()) {
        obj.insert("rack".into(), Value::String(rack.to_string()));
    }
    v.to_string().into_bytes()
}

pub fn parse_broker(id: i32, data: &[u8]) -> Option<BrokerInfo> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let mut endpoints = Vec::new();
    if let Some(eps) = v.get("endpoints").and_then(Value::as_array) {
        for e in eps.iter().filter_map(Value::as_str) {
            let Some((name, rest)) = e.split_once("://") else { continue };
            let Some((host, port)) = rest.rsplit_once(':') else { continue };
            let Ok(port) = port.parse() else { continue };
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            endpoints.push(BrokerEndpoint { listener: name.to_string(), host, port });
        }
    }
    if endpoints.is_empty() {
        // Version 1-era registrations carry only host/port.
        let host = v.get("host")?.as_str()?.to_string();
        let port = v.get("port")?.as_i64()? as u16;
        endpoints.push(BrokerEndpoint { listener: "PLAINTEXT".into(), host, port });
    }
    let rack = v.get("rack").and_then(Value::as_str).map(str::to_string);
    Some(BrokerInfo { id, endpoints, rack })
}

/// /brokers/topics/T (Kafka's TopicZNode, version 3): the replica
/// assignment, the replicas being added and removed by an ongoing
/// reassignment (KIP-455), and the topic id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicZnode {
    pub partitions: BTreeMap<i32, Vec<i32>>,
    pub adding: BTreeMap<i32, Vec<i32>>,
    pub removing: BTreeMap<i32, Vec<i32>>,
    /// Older versions have none; the controller adds one.
    pub topic_id: Option<Uuid>,
}

fn partition_map(v: Option<&Value>) -> Option<BTreeMap<i32, Vec<i32>>> {
    let mut out = BTreeMap::new();
    let Some(obj) = v.and_then(Value::as_object) else { return Some(out) };
    for (p, r) in obj {
        let p: i32 = p.parse().ok()?;
        out.insert(p, r.as_array()?.iter().filter_map(|x| x.as_i64().map(|x| x as i32)).collect());
    }
    Some(out)
}

fn partition_json(m: &BTreeMap<i32, Vec<i32>>) -> Value {
    Value::Object(m.iter().map(|(p, r)| (p.to_string(), json!(r))).collect())
}

impl TopicZnode {
    pub fn new(partitions: BTreeMap<i32, Vec<i32>>, topic_id: Uuid) -> TopicZnode {
        TopicZnode { partitions, topic_id: Some(topic_id), ..Default::default() }
    }

    pub fn parse(data: &[u8]) -> Option<TopicZnode> {
        let v: Value = serde_json::from_slice(data).ok()?;
        v.get("partitions")?.as_object()?;
        Some(TopicZnode {
            partitions: partition_map(v.get("partitions"))?,
            adding: partition_map(v.get("adding_replicas"))?,
            removing: partition_map(v.get("removing_replicas"))?,
            topic_id: v.get("topic_id").and_then(Value::as_str).and_then(uuid_from_kafka),
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        // In the order Kafka's TopicZNode writes (its Scala map's order).
        let mut v = serde_json::Map::new();
        v.insert("partitions".into(), partition_json(&self.partitions));
        if let Some(id) = &self.topic_id {
            v.insert("topic_id".into(), json!(uuid_to_kafka(id)));
        }
        v.insert("adding_replicas".into(), partition_json(&self.adding));
        v.insert("removing_replicas".into(), partition_json(&self.removing));
        v.insert("version".into(), json!(3));
        Value::Object(v).to_string().into_bytes()
    }

    /// A reassignment of partition `p` is under way.
    pub fn reassigning(&self, p: i32) -> bool {
        self.adding.get(&p).is_some_and(|a| !a.is_empty()) || self.removing.get(&p).is_some_and(|r| !r.is_empty())
    }
}

pub fn partition_state_json(leader: i32, leader_epoch: i32, isr: &[i32], controller_epoch: i32) -> Vec<u8> {
    json!({
        "controller_epoch": controller_epoch,
        "leader": leader,
        "version": 1,
        "leader_epoch": leader_epoch,
        "isr": isr,
    })
    .to_string()
    .into_bytes()
}

/// (leader, leader_epoch, isr, controller_epoch)
pub fn parse_partition_state(data: &[u8]) -> Option<(i32, i32, Vec<i32>, i32)> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let leader = v.get("leader")?.as_i64()? as i32;
    let epoch = v.get("leader_epoch")?.as_i64()? as i32;
    let isr = v.get("isr")?.as_array()?.iter().filter_map(|x| x.as_i64().map(|x| x as i32)).collect();
    let ce = v.get("controller_epoch").and_then(Value::as_i64).unwrap_or(0) as i32;
    Some((leader, epoch, isr, ce))
}

pub fn config_json(config: &BTreeMap<String, String>) -> Vec<u8> {
    json!({"version": 1, "config": config}).to_string().into_bytes()
}

pub fn parse_config(data: &[u8]) -> BTreeMap<String, String> {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return BTreeMap::new();
    };
    let Some(obj) = v.get("config").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    obj.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_roundtrip_and_shape() {
        let id = random_kafka_uuid();
        let s = uuid_to_kafka(&id);
        assert_eq!(s.len(), 22);
        assert_eq!(uuid_from_kafka(&s), Some(id));
    }

    #[test]
    fn znode_payloads() {
        let mut a = BTreeMap::new();
        a.insert(0, vec![1, 2]);
        let id = random_kafka_uuid();
        let mut zn = TopicZnode::new(a.clone(), id);
        zn.adding.insert(0, vec![3]);
        zn.removing.insert(0, vec![1]);
        let back = TopicZnode::parse(&zn.to_json()).expect("parse");
        assert_eq!(back, zn);
        assert!(back.reassigning(0) && !back.reassigning(1));
        // Kafka 2.x wrote no topic_id and no reassignment fields.
        let old = TopicZnode::parse(br#"{"version":1,"partitions":{"0":[1,2]}}"#).expect("v1");
        assert_eq!((old.partitions, old.topic_id, old.adding.len()), (a, None, 0));
        let (l, e, isr, ce) = parse_partition_state(&partition_state_json(1, 3, &[1, 2], 4)).expect("state");
        assert_eq!((l, e, isr, ce), (1, 3, vec![1, 2], 4));
        let b = parse_broker(
            1,
            br#"{"version":5,"host":"h","port":9092,"endpoints":["PLAINTEXT://h:9092","PLAINTEXT_HOST://localhost:29092"],"jmx_port":-1}"#,
        )
        .expect("broker");
        assert_eq!(b.endpoints.len(), 2);
        assert_eq!(b.endpoints[1].port, 29092);
        let mut c = BTreeMap::new();
        c.insert("retention.ms".to_string(), "1000".to_string());
        assert_eq!(parse_config(&config_json(&c)), c);
    }
}
