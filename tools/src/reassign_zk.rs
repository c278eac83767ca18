//! kafka-reassign-partitions against brokers without the reassignment
//! APIs: /admin/reassign_partitions in ZooKeeper, as Kafka 2.x wrote it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::Cluster;
use crate::error::{Result, ToolError};
use crate::opts::Parsed;
use crate::reassign::{current_replicas, read_json_file, reassignment_json, reassignment_targets, verify_status};
use crate::zk::Zk;

const NODE: &str = "/admin/reassign_partitions";

/// Kafka's text before an --execute: the rollback JSON.
pub fn current_assignment_text(cur: &BTreeMap<(String, i32), Vec<i32>>) -> String {
    format!(
        "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
        reassignment_json(cur)
    )
}

/// Partitions still listed in /admin/reassign_partitions.
async fn pending(zk: &Zk) -> Result<BTreeMap<(String, i32), Vec<i32>>> {
    let Some(v) = zk.get_json(NODE).await? else { return Ok(BTreeMap::new()) };
    reassignment_targets(&v)
}

fn tp_list(ps: &BTreeMap<(String, i32), Vec<i32>>) -> String {
    ps.keys().map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>().join(",")
}

fn ids(r: &[i32]) -> String {
    r.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

pub async fn run(zk: &Zk, cl: &mut Cluster, p: &Parsed, action: &str) -> Result<()> {
    match action {
        "list" => {
            let pend = pending(zk).await?;
            if pend.is_empty() {
                println!("No partition reassignments found.");
            } else {
                println!("Current partition reassignments:");
                for ((t, n), r) in &pend {
                    println!("{t}-{n}: replicas: {}. adding: . removing: .", ids(r));
                }
            }
            Ok(())
        }
        "cancel" => Err(ToolError::Msg(
            "Error: org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support ALTER_PARTITION_REASSIGNMENTS; a reassignment started through ZooKeeper cannot be cancelled".into(),
        )),
        "execute" => {
            let targets = reassignment_targets(&read_json_file(p.req("reassignment-json-file")?)?)?;
            if !pending(zk).await?.is_empty() && !p.has("additional") {
                return Err(ToolError::Msg("Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.".into()));
            }
            let unknown: Vec<i32> = targets.values().flatten().copied().filter(|b| !cl.brokers.contains_key(b)).collect();
            if !unknown.is_empty() {
                return Err(ToolError::Msg(format!(
                    "Error: org.apache.kafka.common.errors.BrokerNotAvailableException: Unknown broker id(s) {}",
                    ids(&unknown)
                )));
            }
            let topics: Vec<String> = targets.keys().map(|(t, _)| t.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let cur_all = current_replicas(cl, &topics).await?;
            let cur: BTreeMap<(String, i32), Vec<i32>> =
                cur_all.into_iter().filter(|(k, _)| targets.contains_key(k)).collect();
            if cur.len() != targets.len() {
                let missing: Vec<String> =
                    targets.keys().filter(|k| !cur.contains_key(*k)).map(|(t, n)| format!("{t}-{n}")).collect();
                return Err(ToolError::Msg(format!(
                    "Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Unable to find partition: {}",
                    missing.join(", ")
                )));
            }
            println!("{}", current_assignment_text(&cur));
            let mut all = pending(zk).await?;
            all.extend(targets.clone());
            let parts: Vec<Value> = all
                .iter()
                .map(|((t, n), r)| serde_json::json!({"topic": t, "partition": n, "replicas": r}))
                .collect();
            let body = serde_json::json!({"version": 1, "partitions": parts}).to_string();
            zk.upsert(NODE, body.as_bytes()).await?;
            println!(
                "Successfully started partition reassignment{} for {}",
                if targets.len() == 1 { "" } else { "s" },
                tp_list(&targets)
            );
            Ok(())
        }
        _ => {
            // verify
            let targets = reassignment_targets(&read_json_file(p.req("reassignment-json-file")?)?)?;
            let pend = pending(zk).await?;
            let topics: Vec<String> = targets.keys().map(|(t, _)| t.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let cur = current_replicas(cl, &topics).await.unwrap_or_default();
            println!("{}", verify_status(&targets, |tp| pend.contains_key(tp), &cur));
            Ok(())
        }
    }
}
