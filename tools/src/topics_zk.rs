//! kafka-topics --zookeeper: the Kafka 2.x behaviour of writing the topic's
//! znodes directly (/config/topics/T, then /brokers/topics/T); the
//! controller's watch on /brokers/topics makes the topic live.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{usage, Result, ToolError};
use crate::opts::{self, Parsed};
use crate::topics::{self, Filters, PartDesc, TopicDesc};
use crate::zk::Zk;

pub fn validate_topic_name(t: &str) -> Result<()> {
    if t.is_empty() {
        return usage("Topic name is illegal, it can't be empty");
    }
    if t == "." || t == ".." {
        return usage("Topic name cannot be \".\" or \"..\"");
    }
    if t.len() > 249 {
        return usage(format!("Topic name is illegal, it can't be longer than 249 characters, topic name: {t}"));
    }
    if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        return usage(format!(
            "Topic name \"{t}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

fn seed() -> usize {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() as usize).unwrap_or(7)
}

/// Kafka's rack-unaware replica placement (AdminUtils.assignReplicasToBrokers).
pub fn assign_replicas(brokers: &[i32], partitions: i32, rf: i32, start_partition: i32) -> Result<Vec<Vec<i32>>> {
    let n = brokers.len();
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    let s = seed();
    let (partitions, first) = (partitions.max(0) as usize, start_partition.max(0) as usize);
    shared::replica_assignment::assign(&sorted, partitions, rf.max(0) as usize, s, s / 7, first)
        .ok_or_else(|| ToolError::Msg(format!("Replication factor: {rf} larger than available brokers: {n}.")))
}

fn ids(v: &Value) -> Vec<i32> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_i64()).map(|x| x as i32).collect()).unwrap_or_default()
}

/// partition -> replicas of /brokers/topics/T.
async fn assignment(zk: &Zk, t: &str) -> Result<Option<(Value, BTreeMap<i32, Vec<i32>>)>> {
    let Some(v) = zk.get_json(&format!("/brokers/topics/{t}")).await? else { return Ok(None) };
    let parts = v
        .get("partitions")
        .and_then(|p| p.as_object())
        .map(|m| m.iter().filter_map(|(k, r)| k.parse::<i32>().ok().map(|k| (k, ids(r)))).collect())
        .unwrap_or_default();
    Ok(Some((v, parts)))
}

pub async fn run(p: &Parsed, connect: &str) -> Result<i32> {
    let zk = Zk::connect(connect, Duration::from_secs(30)).await?;
    match run_inner(p, &zk).await {
        Ok(c) => Ok(c),
        Err(e @ ToolError::Usage(_)) => Err(e),
        Err(e) => Err(ToolError::Msg(format!("Error while executing topic command : {e}"))),
    }
}

async fn run_inner(p: &Parsed, zk: &Zk) -> Result<i32> {
    let topic = p.get("topic");
    if p.has("create") {
        let t = topic.unwrap_or_default();
        let assignment = match p.get("replica-assignment") {
            Some(s) => topics::parse_assignment(s)?,
            None => {
                let Some(parts) = p.parse_num::<i32>("partitions")? else {
                    return usage("Missing required argument \"[partitions]\"");
                };
                let Some(rf) = p.parse_num::<i32>("replication-factor")? else {
                    return usage("Missing required argument \"[replication-factor]\"");
                };
                let brokers = zk.broker_ids().await?;
                assign_replicas(&brokers, parts, rf, 0)?
            }
        };
        if zk.exists(&format!("/brokers/topics/{t}")).await? {
            if p.has("if-not-exists") {
                return Ok(0);
            }
            return Err(ToolError::Msg(format!("Topic '{t}' already exists.")));
        }
        let configs: serde_json::Map<String, Value> =
            opts::key_values(&p.all("config"))?.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let cfg = json!({"version": 1, "config": configs});
        zk.upsert(&format!("/config/topics/{t}"), cfg.to_string().as_bytes()).await?;
        let parts: serde_json::Map<String, Value> =
            assignment.iter().enumerate().map(|(i, r)| (i.to_string(), json!(r))).collect();
        let id = crate::admin::uuid_text(&uuid::Uuid::new_v4());
        let body =
            json!({"version": 3, "partitions": parts, "adding_replicas": {}, "removing_replicas": {}, "topic_id": id});
        if !zk.create(&format!("/brokers/topics/{t}"), body.to_string().as_bytes()).await? {
            return Err(ToolError::Msg(format!("Topic '{t}' already exists.")));
        }
        println!("Created topic {t}.");
        return Ok(0);
    }
    let all = {
        let mut v = zk.children("/brokers/topics").await?;
        if p.has("exclude-internal") {
            v.retain(|t| t != "__consumer_offsets" && t != "__transaction_state");
        }
        v
    };
    let deleting: BTreeSet<String> = zk.children("/admin/delete_topics").await?.into_iter().collect();
    let selected = topics::select(&all, topic);
    if p.has("list") {
        for t in selected {
            if deleting.contains(&t) {
                println!("{t} - marked for deletion");
            } else {
                println!("{t}");
            }
        }
        return Ok(0);
    }
    topics::ensure_exists(&selected, topic, p)?;
    if p.has("describe") {
        let live: BTreeSet<i32> = zk.broker_ids().await?.into_iter().collect();
        let f = Filters {
            under_replicated: p.has("under-replicated-partitions"),
            unavailable: p.has("unavailable-partitions"),
            with_overrides: p.has("topics-with-overrides"),
            live,
        };
        for t in &selected {
            let Some((raw, parts)) = assignment(zk, t).await? else { continue };
            let mut pd = Vec::new();
            for (part, replicas) in parts {
                let st = zk.get_json(&format!("/brokers/topics/{t}/partitions/{part}/state")).await?;
                let (leader, isr) = match st {
                    Some(s) => (
                        s.get("leader").and_then(|l| l.as_i64()).map(|l| l as i32),
                        ids(s.get("isr").unwrap_or(&Value::Null)),
                    ),
                    None => (None, Vec::new()),
                };
                pd.push(PartDesc { partition: part, leader, replicas, isr });
            }
            let configs = zk
                .entity_config("topics", t)
                .await?
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect();
            let id = raw.get("topic_id").and_then(|i| i.as_str()).map(str::to_string);
            let d =
                TopicDesc { name: t.clone(), id, configs, partitions: pd, marked_for_deletion: deleting.contains(t) };
            topics::print_description(&d, &f);
        }
        return Ok(0);
    }
    if p.has("delete") {
        for t in &selected {
            if t.starts_with("__") && (t == "__consumer_offsets" || t == "__transaction_state") {
                return Err(ToolError::Msg(format!(
                    "Topic {t} is a kafka internal topic and is not allowed to be marked for deletion."
                )));
            }
            if !zk.create(&format!("/admin/delete_topics/{t}"), b"").await? {
                println!("Topic {t} is already marked for deletion.");
                continue;
            }
            println!("Topic {t} is marked for deletion.");
            println!("Note: This will have no impact if delete.topic.enable is not set to true.");
        }
        return Ok(0);
    }
    // --alter
    for t in &selected {
        if p.has("config") || p.has("delete-config") {
            let mut cfg = zk.entity_config("topics", t).await?;
            for (k, v) in opts::key_values(&p.all("config"))? {
                cfg.insert(k, Value::String(v));
            }
            for k in p.list("delete-config") {
                cfg.remove(&k);
            }
            zk.set_entity_config("topics", t, &cfg).await?;
            println!("WARNING: Altering topic configuration from this script has been deprecated and may be removed in future releases.");
            println!("         Going forward, please use kafka-configs.sh for this functionality");
            println!("Updated config for topic {t}.");
        }
        if let Some(n) = p.parse_num::<i32>("partitions")? {
            let Some((mut raw, parts)) = assignment(zk, t).await? else { continue };
            let cur = parts.len() as i32;
            if n <= cur {
                return Err(ToolError::Msg(format!("The number of partitions for a topic can only be increased. Topic {t} currently has {cur} partitions, {n} would not be an increase.")));
            }
            let rf = parts.values().next().map(|r| r.len() as i32).unwrap_or(1);
            let added = match p.get("replica-assignment") {
                Some(s) => topics::parse_assignment(s)?.into_iter().skip(cur as usize).collect(),
                None => assign_replicas(&zk.broker_ids().await?, n - cur, rf, cur)?,
            };
            if let Some(m) = raw.get_mut("partitions").and_then(|m| m.as_object_mut()) {
                for (i, r) in added.into_iter().enumerate() {
                    m.insert((cur as usize + i).to_string(), json!(r));
                }
            }
            zk.client
                .set_data(&format!("/brokers/topics/{t}"), raw.to_string().as_bytes(), None)
                .await
                .map_err(|e| ToolError::ZooKeeper(e.to_string()))?;
            println!("WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected");
            println!("Adding partitions succeeded!");
        }
    }
    Ok(0)
}
