//! kafka-reassign-partitions through the KIP-455 APIs (Kafka 2.4+):
//! --execute, --verify, --cancel and --list with AlterPartitionReassignments
//! and ListPartitionReassignments on the controller, and the throttle
//! settings Kafka's tool writes and clears with IncrementalAlterConfigs.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use kafka_protocol::messages::{AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest};

use crate::admin::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::client::{tn, Cluster};
use crate::error::{Result, ToolError};
use crate::opts::Parsed;
use crate::reassign::{current_replicas, read_json_file, reassignment_targets, verify_status};
use crate::reassign_zk::current_assignment_text;

type Targets = BTreeMap<(String, i32), Vec<i32>>;

/// (topic, partition) -> (replicas, adding, removing) of ongoing moves.
type Ongoing = BTreeMap<(String, i32), (Vec<i32>, Vec<i32>, Vec<i32>)>;

const BROKER_THROTTLES: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
const TOPIC_THROTTLES: [&str; 2] = ["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"];

const EXISTING: &str = "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.";

fn ids(r: &[i32]) -> String {
    r.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn tp_names<'a>(ps: impl Iterator<Item = &'a (String, i32)>) -> String {
    ps.map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>().join(",")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

async fn ongoing(cl: &mut Cluster) -> Result<Ongoing> {
    let conn = cl.controller().await?;
    let v = conn.version::<ListPartitionReassignmentsRequest>(0)?;
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = 30_000;
    req.topics = None;
    let resp = conn.call(&req, v).await?;
    crate::error::check(resp.error_code, || "ListPartitionReassignments".into())?;
    let v = |b: &[BrokerId]| b.iter().map(|x| x.0).collect::<Vec<_>>();
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            out.insert(
                (t.name.0.to_string(), p.partition_index),
                (v(&p.replicas), v(&p.adding_replicas), v(&p.removing_replicas)),
            );
        }
    }
    Ok(out)
}

/// Start (Some) or cancel (None) moves; Kafka's per-partition error lines.
async fn alter(cl: &mut Cluster, moves: &BTreeMap<(String, i32), Option<Vec<i32>>>) -> Result<Vec<String>> {
    let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for ((t, p), r) in moves {
        let mut rp = ReassignablePartition::default();
        rp.partition_index = *p;
        rp.replicas = r.as_ref().map(|r| r.iter().map(|b| BrokerId(*b)).collect());
        by_topic.entry(t).or_default().push(rp);
    }
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = 30_000;
    req.topics = by_topic
        .into_iter()
        .map(|(t, partitions)| {
            let mut rt = ReassignableTopic::default();
            rt.name = tn(t);
            rt.partitions = partitions;
            rt
        })
        .collect();
    let conn = cl.controller().await?;
    let v = conn.version::<AlterPartitionReassignmentsRequest>(0)?;
    let resp = conn.call(&req, v).await?;
    if resp.error_code != 0 {
        let m = resp.error_message.as_ref().map(|m| m.to_string());
        return Err(ToolError::Msg(m.unwrap_or_else(|| ToolError::kafka(resp.error_code, "").to_string())));
    }
    let mut errors = Vec::new();
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                let m = p.error_message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                errors.push(format!("{}-{}: {m}", t.name.as_str(), p.partition_index));
            }
        }
    }
    Ok(errors)
}

/// Set (Some) or delete (None) configs on brokers or topics in one request.
async fn set_configs(cl: &mut Cluster, kind: i8, names: &[String], configs: &[(&str, Option<String>)]) -> Result<()> {
    let ops: Vec<crate::admin::ConfigOp> =
        configs.iter().map(|(k, v)| (k.to_string(), if v.is_some() { 0 } else { 1 }, v.clone())).collect();
    let resources: Vec<(i8, String, Vec<crate::admin::ConfigOp>)> =
        names.iter().map(|n| (kind, n.clone(), ops.clone())).collect();
    let conn = cl.any().await?;
    for (name, code, _) in crate::admin::incremental_alter(conn, &resources).await? {
        if code != 0 {
            return Err(ToolError::kafka(code, format!("IncrementalAlterConfigs for {name}")));
        }
    }
    Ok(())
}

/// Kafka's clearAllThrottles: every live broker plus the targets' brokers,
/// and every topic of the file.
async fn clear_throttles(cl: &mut Cluster, targets: &Targets) -> Result<()> {
    let mut brokers: BTreeSet<i32> = cl.brokers.keys().copied().collect();
    brokers.extend(targets.values().flatten());
    println!(
        "Clearing broker-level throttles on broker{} {}",
        plural(brokers.len()),
        ids(&brokers.iter().copied().collect::<Vec<_>>())
    );
    let names: Vec<String> = brokers.iter().map(i32::to_string).collect();
    let dels: Vec<(&str, Option<String>)> = BROKER_THROTTLES.iter().map(|k| (*k, None)).collect();
    set_configs(cl, RESOURCE_BROKER, &names, &dels).await?;
    let topics: Vec<String> = targets.keys().map(|(t, _)| t.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    println!("Clearing topic-level throttles on topic{} {}", plural(topics.len()), topics.join(","));
    let dels: Vec<(&str, Option<String>)> = TOPIC_THROTTLES.iter().map(|k| (*k, None)).collect();
    set_configs(cl, RESOURCE_TOPIC, &topics, &dels).await
}

/// Kafka's throttles for a move: leaders throttled on the source replicas,
/// followers on the new ones, and the rate on every broker involved.
async fn set_throttles(cl: &mut Cluster, cur: &Targets, targets: &Targets, rate: i64) -> Result<()> {
    let mut leader: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut follower: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut brokers = BTreeSet::new();
    for ((t, p), want) in targets {
        let src = cur.get(&(t.clone(), *p)).cloned().unwrap_or_default();
        for s in &src {
            leader.entry(t).or_default().insert(format!("{p}:{s}"));
            brokers.insert(*s);
        }
        for d in want.iter().filter(|d| !src.contains(d)) {
            follower.entry(t).or_default().insert(format!("{p}:{d}"));
            brokers.insert(*d);
        }
    }
    for t in leader.keys().chain(follower.keys()).collect::<BTreeSet<_>>() {
        let join =
            |m: &BTreeMap<&str, BTreeSet<String>>| m.get(t).map(|s| s.iter().cloned().collect::<Vec<_>>().join(","));
        let mut cfg = vec![("leader.replication.throttled.replicas", join(&leader))];
        cfg.push(("follower.replication.throttled.replicas", join(&follower)));
        let cfg: Vec<(&str, Option<String>)> = cfg.into_iter().filter(|(_, v)| v.is_some()).collect();
        set_configs(cl, RESOURCE_TOPIC, &[t.to_string()], &cfg).await?;
    }
    let names: Vec<String> = brokers.iter().map(i32::to_string).collect();
    let r = Some(rate.to_string());
    set_configs(
        cl,
        RESOURCE_BROKER,
        &names,
        &[("leader.replication.throttled.rate", r.clone()), ("follower.replication.throttled.rate", r)],
    )
    .await?;
    println!("The inter-broker throttle limit was set to {rate} B/s");
    Ok(())
}

pub async fn run(cl: &mut Cluster, p: &Parsed, action: &str) -> Result<()> {
    if action == "list" {
        let cur = ongoing(cl).await?;
        if cur.is_empty() {
            println!("No partition reassignments found.");
        } else {
            println!("Current partition reassignments:");
            for ((t, n), (r, a, d)) in &cur {
                let add = if a.is_empty() { String::new() } else { format!(" adding: {}.", ids(a)) };
                let rem = if d.is_empty() { String::new() } else { format!(" removing: {}.", ids(d)) };
                println!("{t}-{n}: replicas: {}.{add}{rem}", ids(r));
            }
        }
        return Ok(());
    }
    let targets = reassignment_targets(&read_json_file(p.req("reassignment-json-file")?)?)?;
    let topics: Vec<String> = targets.keys().map(|(t, _)| t.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    match action {
        "execute" => {
            if targets.is_empty() {
                return Err(ToolError::Msg("Error: Partition reassignment list cannot be empty".into()));
            }
            if !p.has("additional") && !ongoing(cl).await?.is_empty() {
                return Err(ToolError::Msg(EXISTING.into()));
            }
            if let Some(b) = targets.values().flatten().find(|b| !cl.brokers.contains_key(b)) {
                return Err(ToolError::Msg(format!("Error: Unknown broker id {b}")));
            }
            let cur: Targets =
                current_replicas(cl, &topics).await?.into_iter().filter(|(k, _)| targets.contains_key(k)).collect();
            println!("{}", current_assignment_text(&cur));
            let throttle: i64 = p.num_or("throttle", -1i64)?;
            if throttle >= 0 {
                println!("Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.");
                set_throttles(cl, &cur, &targets, throttle).await?;
            }
            let moves = targets.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
            let errors = alter(cl, &moves).await?;
            if !errors.is_empty() {
                return Err(ToolError::Msg(format!("Error reassigning partition(s):\n{}", errors.join("\n"))));
            }
            println!(
                "Successfully started partition reassignment{} for {}",
                plural(targets.len()),
                tp_names(targets.keys())
            );
            Ok(())
        }
        "verify" => {
            let cur_moves = ongoing(cl).await?;
            let cur = current_replicas(cl, &topics).await.unwrap_or_default();
            println!("{}", verify_status(&targets, |tp| cur_moves.contains_key(tp), &cur));
            // Kafka then prints the (here empty) log-dir move states.
            println!();
            if cur_moves.is_empty() && !p.has("preserve-throttles") {
                clear_throttles(cl, &targets).await?;
            }
            Ok(())
        }
        _ => {
            // cancel
            let cur_moves = ongoing(cl).await?;
            let active: BTreeMap<(String, i32), Option<Vec<i32>>> =
                targets.keys().filter(|k| cur_moves.contains_key(*k)).map(|k| (k.clone(), None)).collect();
            if active.is_empty() {
                println!("None of the specified partition reassignments are active.");
            } else {
                let errors = alter(cl, &active).await?;
                if !errors.is_empty() {
                    return Err(ToolError::Msg(format!(
                        "Error cancelling partition reassignment{} for:\n{}",
                        plural(errors.len()),
                        errors.join("\n")
                    )));
                }
                println!(
                    "Successfully cancelled partition reassignment{} for: {}",
                    plural(active.len()),
                    tp_names(active.keys())
                );
            }
            println!("None of the specified partition moves are active.");
            if !p.has("preserve-throttles") {
                clear_throttles(cl, &targets).await?;
            }
            Ok(())
        }
    }
}
