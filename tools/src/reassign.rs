//! kafka-reassign-partitions: --generate (Kafka's current/proposed JSON),
//! --execute/--verify/--cancel/--list through the partition-reassignment
//! APIs when the broker advertises them, else (with --zookeeper) through
//! /admin/reassign_partitions as ZooKeeper-mode Kafka did, else Kafka's
//! UnsupportedVersionException error.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use serde_json::Value;

use crate::client::Cluster;
use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt, Parsed};
use crate::zk::Zk;

const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: Server(s) to use for bootstrapping", "REQUIRED: the server(s) to use for bootstrapping."),
    val("command-config", "String: Admin client property file", "Property file containing configs to be passed to Admin Client."),
    val("zookeeper", "String: urls", "ZooKeeper connection string, used when the broker has no partition-reassignment API (kafka-tools extension; removed from Kafka in 3.0)."),
    flag("generate", "Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it."),
    flag("execute", "Kick off the reassignment as specified by the --reassignment-json-file option."),
    flag("verify", "Verify if the reassignment completed as specified by the --reassignment-json-file option. If there is a throttle engaged for the replicas specified, and the rebalance has completed, the throttle will be removed"),
    flag("cancel", "Cancel an active reassignment."),
    flag("list", "List all active partition reassignments."),
    val("reassignment-json-file", "String: manual assignment json file path", "The JSON file with the partition reassignment configuration."),
    val("topics-to-move-json-file", "String: topics to reassign json file path", "Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option."),
    val("broker-list", "String: brokerlist", "The list of brokers to which the partitions need to be reassigned in the form \"0,1,2\". This is required if --topics-to-move-json-file is used to generate reassignment configuration"),
    flag("disable-rack-aware", "Disable rack aware replica assignment"),
    val("throttle", "Long: throttle", "The movement of partitions between brokers will be throttled to this value (bytes/sec). (default: -1)"),
    val("replica-alter-log-dirs-throttle", "Long: replicaAlterLogDirsThrottle", "The movement of replicas between log directories on the same broker will be throttled to this value (bytes/sec). (default: -1)"),
    val("timeout", "Long: timeout", "The maximum time in ms to wait for log directory replica assignment to begin. (default: 10000)"),
    flag("additional", "Execute this reassignment in addition to any other ongoing ones."),
    flag("preserve-throttles", "Do not modify broker or topic throttles."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to move topic partitions between replicas.";

/// `{"version":1,"partitions":[{"topic":..,"partition":..,"replicas":[..],"log_dirs":["any",..]}]}`
pub fn reassignment_json(a: &BTreeMap<(String, i32), Vec<i32>>) -> String {
    let parts: Vec<String> = a
        .iter()
        .map(|((t, p), r)| {
            let reps: Vec<String> = r.iter().map(i32::to_string).collect();
            let dirs: Vec<&str> = r.iter().map(|_| "\"any\"").collect();
            format!(
                "{{\"topic\":{},\"partition\":{p},\"replicas\":[{}],\"log_dirs\":[{}]}}",
                Value::String(t.clone()),
                reps.join(","),
                dirs.join(",")
            )
        })
        .collect();
    format!("{{\"version\":1,\"partitions\":[{}]}}", parts.join(","))
}

pub fn read_json_file(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ToolError::Msg(format!("Error: {path} (No such file or directory) ({e})")))?;
    serde_json::from_str(&text).map_err(|e| ToolError::Msg(format!("Error: Unable to parse {path}: {e}")))
}

fn topics_to_move(v: &Value) -> Result<Vec<String>> {
    let Some(ts) = v.get("topics").and_then(Value::as_array) else {
        return Err(ToolError::Msg("Error: Unable to parse topics-to-move JSON: missing 'topics'".into()));
    };
    let names: Vec<String> =
        ts.iter().filter_map(|t| t.get("topic").and_then(Value::as_str)).map(str::to_string).collect();
    let uniq: BTreeSet<&String> = names.iter().collect();
    if uniq.len() != names.len() {
        return Err(ToolError::Msg(format!("Error: List of topics to reassign contains duplicate entries: {names:?}")));
    }
    Ok(names)
}

/// (topic, partition) -> target replicas of a --reassignment-json-file.
pub fn reassignment_targets(v: &Value) -> Result<BTreeMap<(String, i32), Vec<i32>>> {
    let Some(ps) = v.get("partitions").and_then(Value::as_array) else {
        return Err(ToolError::Msg("Error: Partition reassignment data file is empty".into()));
    };
    let mut out = BTreeMap::new();
    for p in ps {
        let (Some(t), Some(n), Some(r)) = (
            p.get("topic").and_then(Value::as_str),
            p.get("partition").and_then(Value::as_i64),
            p.get("replicas").and_then(Value::as_array),
        ) else {
            return Err(ToolError::Msg(format!("Error: Invalid partition reassignment entry {p}")));
        };
        out.insert((t.to_string(), n as i32), r.iter().filter_map(Value::as_i64).map(|x| x as i32).collect());
    }
    Ok(out)
}

/// Kafka's --verify status lines: still in progress while `moving` says so,
/// else completed, or the replica set it has instead.
pub fn verify_status(
    targets: &BTreeMap<(String, i32), Vec<i32>>,
    moving: impl Fn(&(String, i32)) -> bool,
    cur: &BTreeMap<(String, i32), Vec<i32>>,
) -> String {
    let ids = |r: &[i32]| r.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let mut out = String::from("Status of partition reassignment:");
    for (tp, want) in targets {
        let name = format!("{}-{}", tp.0, tp.1);
        let have = cur.get(tp).cloned().unwrap_or_default();
        out.push('\n');
        out.push_str(&if moving(tp) {
            format!("Reassignment of partition {name} is still in progress.")
        } else if &have == want {
            format!("Reassignment of partition {name} is completed.")
        } else {
            format!(
                "There is no active reassignment of partition {name}, but replica set is {} rather than {}.",
                ids(&have),
                ids(want)
            )
        });
    }
    out
}

pub async fn current_replicas(cl: &mut Cluster, topics: &[String]) -> Result<BTreeMap<(String, i32), Vec<i32>>> {
    let md = cl.metadata(Some(topics), false).await?;
    let mut out = BTreeMap::new();
    for t in &md.topics {
        let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
        if t.error_code == 3 {
            return Err(ToolError::Msg(format!(
                "Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic {name} not found."
            )));
        }
        for p in &t.partitions {
            out.insert((name.clone(), p.partition_index), p.replica_nodes.iter().map(|b| b.0).collect());
        }
    }
    Ok(out)
}

fn unsupported(api: &str) -> ToolError {
    ToolError::Msg(format!(
        "Error: org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support {api}"
    ))
}

fn check_args(p: &Parsed) -> Result<&'static str> {
    let actions: Vec<&str> =
        ["generate", "execute", "verify", "cancel", "list"].into_iter().filter(|a| p.has(a)).collect();
    if actions.len() != 1 {
        return usage("Command must include exactly one action: --execute, --verify, --generate, --cancel, or --list");
    }
    if !p.has("bootstrap-server") && !p.has("zookeeper") {
        return usage("Please specify --bootstrap-server");
    }
    let a = actions[0];
    if a == "generate" {
        for r in ["topics-to-move-json-file", "broker-list"] {
            if !p.has(r) {
                return usage(format!("Missing required argument \"[{r}]\""));
            }
        }
    } else if a != "list" && !p.has("reassignment-json-file") {
        return usage("Missing required argument \"[reassignment-json-file]\"");
    }
    Ok(a)
}

pub async fn run_reassign(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let action = check_args(&p)?;
    match run_action(&p, action).await {
        Ok(()) => Ok(0),
        // Kafka prints failures on stdout, status 1.
        Err(ToolError::Usage(u)) => Err(ToolError::Usage(u)),
        Err(e) => {
            println!("{e}");
            Ok(1)
        }
    }
}

async fn run_action(p: &Parsed, action: &str) -> Result<()> {
    let timeout = Duration::from_millis(30_000);
    let bs = p.get("bootstrap-server").unwrap_or_default().to_string();
    let zk_connect = p.get("zookeeper").map(str::to_string);
    // Without --bootstrap-server (old ZooKeeper-style invocations) the
    // broker list comes from /brokers/ids.
    let mut cl = if bs.is_empty() {
        let zk = Zk::connect(zk_connect.as_deref().unwrap_or_default(), timeout).await?;
        let ids = zk.broker_ids().await?;
        let mut boot = Vec::new();
        for id in ids {
            if let Some(v) = zk.get_json(&format!("/brokers/ids/{id}")).await? {
                if let (Some(h), Some(port)) =
                    (v.get("host").and_then(Value::as_str), v.get("port").and_then(Value::as_i64))
                {
                    boot.push(format!("{h}:{port}"));
                }
            }
        }
        Cluster::connect(&boot.join(","), "reassign-partitions-tool", timeout).await?
    } else {
        Cluster::connect(&bs, "reassign-partitions-tool", timeout).await?
    };
    match action {
        "generate" => {
            let topics = topics_to_move(&read_json_file(p.req("topics-to-move-json-file")?)?)?;
            let mut brokers = Vec::new();
            for b in p.req("broker-list")?.split(',') {
                let id = b.trim().parse::<i32>().map_err(|_| {
                    ToolError::Msg(format!(
                        "Error: java.lang.NumberFormatException: For input string: \"{}\"",
                        b.trim()
                    ))
                })?;
                if brokers.contains(&id) {
                    return Err(ToolError::Msg(format!("Error: Broker list contains duplicate entries: [{id}]")));
                }
                brokers.push(id);
            }
            let cur = current_replicas(&mut cl, &topics).await?;
            let live: Vec<i32> = brokers.iter().copied().filter(|b| cl.brokers.contains_key(b)).collect();
            let mut proposed = BTreeMap::new();
            for t in &topics {
                let parts: Vec<(&(String, i32), &Vec<i32>)> = cur.iter().filter(|((tt, _), _)| tt == t).collect();
                let rf = parts.first().map(|(_, r)| r.len()).unwrap_or(1) as i32;
                let a = crate::topics_zk::assign_replicas(&live, parts.len() as i32, rf, 0)
                    .map_err(|e| ToolError::Msg(format!("Error: {e}")))?;
                for (i, r) in a.into_iter().enumerate() {
                    proposed.insert((t.clone(), i as i32), r);
                }
            }
            println!("Current partition replica assignment\n{}\n", reassignment_json(&cur));
            println!("Proposed partition reassignment configuration\n{}", reassignment_json(&proposed));
            Ok(())
        }
        "execute" | "verify" | "cancel" | "list" => {
            if cl.any().await?.supports(ApiKey::AlterPartitionReassignments) {
                return crate::reassign_api::run(&mut cl, p, action).await;
            }
            // Kafka's tool lists ongoing reassignments first for every one of these actions.
            let Some(zc) = zk_connect else { return Err(unsupported("LIST_PARTITION_REASSIGNMENTS")) };
            let zk = Zk::connect(&zc, timeout).await?;
            crate::reassign_zk::run(&zk, &mut cl, p, action).await
        }
        _ => usage("Unsupported action."),
    }
}
