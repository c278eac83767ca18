//! kafka-leader-election (and the older kafka-preferred-replica-election):
//! the ElectLeaders API when the broker advertises it, else Kafka's
//! "Error while making request" with the UnsupportedVersionException.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest};
use serde_json::Value;

use crate::client::{tn, Cluster};
use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt};

const SPECS: &[Opt] = &[
    val("bootstrap-server", "host:port", "A hostname and port for the broker to connect to, in the form host:port. Multiple comma separated URLs can be given. REQUIRED."),
    val("admin.config", "config file", "Configuration properties files to pass to the admin client"),
    val("path-to-json-file", "Path to JSON file", "The JSON file with the list of partition for which leader elections should be performed."),
    val("topic", "topic name", "Name of topic for which to perform an election. Not allowed if --path-to-json-file or --all-topic-partitions is specified."),
    val("partition", "partition id", "Partition id for which to perform an election. REQUIRED if --topic is specified."),
    flag("all-topic-partitions", "Perform election on all of the eligible topic partitions based on the type of election (see the --election-type flag). Not allowed if --topic or --path-to-json-file is specified."),
    val("election-type", "election type", "Type of election to attempt. Possible values are \"preferred\" for preferred leader election or \"unclean\" for unclean leader election."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool attempts to elect a new leader for a set of topic partitions.";

pub async fn run_election(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let Some(bs) = p.get("bootstrap-server") else { return usage("Missing required option(s): bootstrap-server") };
    let Some(et) = p.get("election-type") else { return usage("Missing required option(s): election-type") };
    let (etype, ename): (i8, &str) = match et.trim().to_ascii_lowercase().as_str() {
        "preferred" => (0, "PREFERRED"),
        "unclean" => (1, "UNCLEAN"),
        _ => return usage(format!("Cannot parse argument '{et}' of option election-type")),
    };
    let scopes = ["all-topic-partitions", "topic", "path-to-json-file"].iter().filter(|o| p.has(o)).count();
    if scopes != 1 {
        return usage(
            "One and only one of the following options is required: all-topic-partitions, topic, path-to-json-file",
        );
    }
    if p.has("topic") && !p.has("partition") {
        return usage("Missing required option(s): partition");
    }
    let wanted: Option<BTreeMap<String, Vec<i32>>> = if let Some(t) = p.get("topic") {
        Some(BTreeMap::from([(t.to_string(), vec![p.num_or("partition", 0i32)?])]))
    } else if let Some(f) = p.get("path-to-json-file") {
        let text =
            std::fs::read_to_string(f).map_err(|e| ToolError::Msg(format!("Error while making request: {f}: {e}")))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| ToolError::Msg(format!("Error while making request: {e}")))?;
        let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for e in v.get("partitions").and_then(Value::as_array).cloned().unwrap_or_default() {
            if let (Some(t), Some(n)) =
                (e.get("topic").and_then(Value::as_str), e.get("partition").and_then(Value::as_i64))
            {
                m.entry(t.to_string()).or_default().push(n as i32);
            }
        }
        Some(m)
    } else {
        None
    };
    let mut cl = Cluster::connect(bs, "leader-election-tool", Duration::from_secs(30)).await?;
    let conn = cl.controller().await?;
    if !conn.supports(ApiKey::ElectLeaders)
        || (etype == 1 && conn.versions.get(&(ApiKey::ElectLeaders as i16)).is_some_and(|v| v.1 < 1))
    {
        println!("Error while making request");
        eprintln!("java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support ELECT_LEADERS");
        return Ok(1);
    }
    let v = conn.version::<ElectLeadersRequest>(2)?;
    let mut req = ElectLeadersRequest::default();
    req.election_type = etype;
    req.timeout_ms = 30_000;
    req.topic_partitions = wanted.map(|m| {
        m.into_iter()
            .map(|(t, ps)| {
                let mut tp = TopicPartitions::default();
                tp.topic = tn(&t);
                tp.partitions = ps;
                tp
            })
            .collect()
    });
    let resp = conn.call(&req, v).await?;
    if resp.error_code != 0 {
        println!("Error while making request");
        eprintln!("{}", ToolError::kafka(resp.error_code, "ElectLeaders"));
        return Ok(1);
    }
    let (mut ok, mut noop, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for t in &resp.replica_election_results {
        for r in &t.partition_result {
            let name = format!("{}-{}", t.topic.as_str(), r.partition_id);
            match r.error_code {
                0 => ok.push(name),
                84 => noop.push(name),
                c => failed.push((
                    name,
                    ToolError::kafka(c, "election").to_string(),
                    r.error_message.as_ref().map(|m| m.to_string()),
                )),
            }
        }
    }
    if !ok.is_empty() {
        println!("Successfully completed leader election ({ename}) for partitions {}", ok.join(", "));
    }
    if !noop.is_empty() {
        println!("Valid replica already elected for partitions {}", noop.join(", "));
    }
    if !failed.is_empty() {
        println!("Error completing leader election ({ename}) for partition: ");
        for (n, e, m) in &failed {
            println!("{n}: {}", m.clone().unwrap_or_else(|| e.clone()));
        }
        println!("Error while making request");
        eprintln!("kafka.common.AdminCommandFailedException: {} replica(s) could not be elected", failed.len());
        return Ok(1);
    }
    Ok(0)
}

/// kafka-preferred-replica-election (Kafka 2.x): a preferred election over
/// the JSON file's partitions, or over all partitions without one.
pub async fn run_preferred(args: &[String]) -> Result<i32> {
    let mut a: Vec<String> = args.to_vec();
    if !a.iter().any(|x| x == "--help" || x == "-h" || x == "--version") {
        a.extend(["--election-type".to_string(), "preferred".to_string()]);
        if !a.iter().any(|x| x.starts_with("--path-to-json-file")) {
            a.push("--all-topic-partitions".into());
        }
    }
    run_election(&a).await
}
