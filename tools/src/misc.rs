//! Small admin tools: kafka-broker-api-versions, kafka-get-offsets,
//! kafka-delete-records, kafka-log-dirs.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DescribeLogDirsRequest};
use serde_json::json;

use crate::client::{tn, Cluster, Conn};
use crate::error::{usage, Result, ToolError};
use crate::fetcher::{Fetcher, Tp};
use crate::opts::{self, flag, val, Opt};

fn bootstrap(p: &opts::Parsed) -> Result<String> {
    p.get("bootstrap-server")
        .or(p.get("broker-list"))
        .map(str::to_string)
        .ok_or_else(|| ToolError::Usage("Missing required argument \"[bootstrap-server]\"".into()))
}

const API_SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server(s) to use for bootstrapping", "REQUIRED: The server to connect to."),
    val(
        "command-config",
        "String: command config property file",
        "A property file containing configs to be passed to Admin Client.",
    ),
    flag("version", "Display Kafka version."),
];

/// Kafka's ApiKeys display names.
fn api_display(k: ApiKey) -> String {
    let dbg = format!("{k:?}");
    match k {
        ApiKey::Produce => "Produce".into(),
        _ => dbg,
    }
}

pub async fn run_api_versions(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help("This tool helps to retrieve broker version information.", API_SPECS, args)?
    else {
        return Ok(0);
    };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let bs = bootstrap(&p)?;
    let mut cl = Cluster::connect(&bs, "adminclient-1", Duration::from_secs(30)).await?;
    let brokers: Vec<_> = cl.brokers.values().cloned().collect();
    for b in brokers {
        let conn: &mut Conn = cl.broker(b.id).await?;
        let mut keys: Vec<(i16, (i16, i16))> = conn.versions.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort();
        println!("{}:{} (id: {} rack: {}) -> (", b.host, b.port, b.id, b.rack.clone().unwrap_or_else(|| "null".into()));
        let n = keys.len();
        for (i, (k, (lo, hi))) in keys.into_iter().enumerate() {
            let name = ApiKey::try_from(k).map(api_display).unwrap_or_else(|_| format!("UNKNOWN({k})"));
            let ours = ApiKey::try_from(k).map(|a| a.valid_versions().max).unwrap_or(-1);
            let usable = if ours < 0 { "UNKNOWN".to_string() } else { ours.min(hi).to_string() };
            println!("\t{name}({k}): {lo} to {hi} [usable: {usable}]{}", if i + 1 < n { "," } else { "" });
        }
        println!(")");
    }
    Ok(0)
}

const OFFSET_SPECS: &[Opt] = &[
    val("bootstrap-server", "String: HOST1:PORT1,...", "REQUIRED. The server(s) to connect to in the form HOST1:PORT1,HOST2:PORT2."),
    val("broker-list", "String: HOST1:PORT1,...", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified."),
    val("topic-partitions", "String: topic1:1,topic2:0-3", "Comma separated list of topic-partition patterns to get the offsets for."),
    val("topic", "String: topic", "The topic to get the offsets for. It also accepts a regular expression. If not present, all authorized topics are queried."),
    val("partitions", "String: partition ids", "Comma separated list of partition ids to get the offsets for."),
    val("time", "String: <timestamp> / -1 or latest / -2 or earliest / -3 or max-timestamp", "Timestamp of the offsets before that. (default: latest)"),
    val("command-config", "String: config file", "Property file containing configs to be passed to Consumer Client."),
    flag("exclude-internal-topics", "By default, internal topics are included. If specified, internal topics are excluded."),
];

pub async fn run_get_offsets(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help("An interactive shell for getting topic-partition offsets.", OFFSET_SPECS, args)?
    else {
        return Ok(0);
    };
    let bs = bootstrap(&p)?;
    let time: i64 = match p.get("time").unwrap_or("-1") {
        "latest" => -1,
        "earliest" => -2,
        "max-timestamp" => -3,
        s => s.trim().parse().map_err(|_| ToolError::Usage(format!("Malformed time argument {s}. Please use -1 or latest / -2 or earliest / -3 or max-timestamp, or a specified long format timestamp")))?,
    };
    let cl = Cluster::connect(&bs, "GetOffsetShell", Duration::from_secs(30)).await?;
    let mut f = Fetcher::new(cl);
    let md = f.cl.metadata(None, false).await?;
    let parts_filter: Option<Vec<i32>> =
        p.get("partitions").map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let mut tps: Vec<Tp> = Vec::new();
    for t in &md.topics {
        let Some(name) = t.name.as_ref().map(|n| n.to_string()) else { continue };
        if p.has("exclude-internal-topics") && t.is_internal {
            continue;
        }
        if let Some(pat) = p.get("topic") {
            if !crate::console_consumer::include_matches(pat, &name) {
                continue;
            }
        }
        for pp in &t.partitions {
            if let Some(spec) = p.get("topic-partitions") {
                let hit = spec.split(',').any(|s| {
                    let (tpat, ppat) = s.split_once(':').unwrap_or((s, ""));
                    let pok = ppat.is_empty()
                        || match ppat.split_once('-') {
                            Some((a, b)) => {
                                let a: i32 = a.parse().unwrap_or(0);
                                let b: i32 = b.parse().unwrap_or(i32::MAX);
                                (a..=b).contains(&pp.partition_index)
                            }
                            None => ppat.parse::<i32>().ok() == Some(pp.partition_index),
                        };
                    (tpat.is_empty() || crate::console_consumer::include_matches(tpat, &name)) && pok
                });
                if !hit {
                    continue;
                }
            }
            if parts_filter.as_ref().is_some_and(|f| !f.contains(&pp.partition_index)) {
                continue;
            }
            tps.push((name.clone(), pp.partition_index));
        }
    }
    tps.sort();
    let offsets = if tps.is_empty() { BTreeMap::new() } else { f.list_offsets(&tps, time).await? };
    for (tp, o) in offsets {
        if o >= 0 {
            println!("{}:{}:{o}", tp.0, tp.1);
        }
    }
    Ok(0)
}

const DELETE_SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server(s) to use for bootstrapping", "REQUIRED: The server to connect to."),
    val("offset-json-file", "String: Offset json file path", "REQUIRED: The JSON file with offset per partition. The format to use is:\n{\"partitions\":\n  [{\"topic\": \"foo\", \"partition\": 1, \"offset\": 1}],\n \"version\":1\n}"),
    val("command-config", "String: command config property file path", "A property file containing configs to be passed to Admin Client."),
];

pub async fn run_delete_records(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(
        "This tool helps to delete records of the given partitions down to the specified offset.",
        DELETE_SPECS,
        args,
    )?
    else {
        return Ok(0);
    };
    let bs = bootstrap(&p)?;
    let file = p.req("offset-json-file")?;
    let text = std::fs::read_to_string(file).map_err(|e| ToolError::Msg(format!("Cannot read {file}: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ToolError::Msg(format!("The input string is not a valid JSON: {e}")))?;
    let mut want: BTreeMap<Tp, i64> = BTreeMap::new();
    for e in v
        .get("partitions")
        .and_then(|x| x.as_array())
        .ok_or_else(|| ToolError::Msg("Missing partitions field".into()))?
    {
        let t = e.get("topic").and_then(|x| x.as_str()).ok_or_else(|| ToolError::Msg("Missing topic field".into()))?;
        let pp = e
            .get("partition")
            .and_then(|x| x.as_i64())
            .ok_or_else(|| ToolError::Msg("Missing partition field".into()))?;
        let o =
            e.get("offset").and_then(|x| x.as_i64()).ok_or_else(|| ToolError::Msg("Missing offset field".into()))?;
        if want.insert((t.to_string(), pp as i32), o).is_some() {
            return Err(ToolError::Msg(format!("Offset json file contains duplicate topic partitions: {t}-{pp}")));
        }
    }
    let mut cl = Cluster::connect(&bs, "adminclient-1", Duration::from_secs(30)).await?;
    let topics: Vec<String> = want.keys().map(|k| k.0.clone()).collect();
    let md = cl.metadata(Some(&topics), false).await?;
    println!("Executing records delete operation");
    println!("Records delete operation completed:");
    let mut by_leader: BTreeMap<i32, Vec<(Tp, i64)>> = BTreeMap::new();
    for (tp, o) in &want {
        let l = crate::client::leaders(&md, &tp.0).and_then(|m| m.get(&tp.1).copied()).unwrap_or(-1);
        by_leader.entry(l).or_default().push((tp.clone(), *o));
    }
    let mut failed = false;
    for (leader, items) in by_leader {
        if leader < 0 {
            for (tp, _) in items {
                println!("partition: {}-{}\terror: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.", tp.0, tp.1);
                failed = true;
            }
            continue;
        }
        let mut m: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        for ((t, pp), o) in &items {
            m.entry(t.clone()).or_default().push((*pp, *o));
        }
        let mut req = DeleteRecordsRequest::default();
        req.timeout_ms = 30_000;
        req.topics = m
            .into_iter()
            .map(|(t, ps)| {
                let mut x = DeleteRecordsTopic::default();
                x.name = tn(&t);
                x.partitions = ps
                    .into_iter()
                    .map(|(pp, o)| {
                        let mut y = DeleteRecordsPartition::default();
                        y.partition_index = pp;
                        y.offset = o;
                        y
                    })
                    .collect();
                x
            })
            .collect();
        let conn = cl.broker(leader).await?;
        let v = conn.version::<DeleteRecordsRequest>(2)?;
        let resp = conn.call(&req, v).await?;
        for t in resp.topics {
            for r in t.partitions {
                if r.error_code == 0 {
                    println!(
                        "partition: {}-{}\tlow_watermark: {}",
                        t.name.as_str(),
                        r.partition_index,
                        r.low_watermark
                    );
                } else {
                    failed = true;
                    println!(
                        "partition: {}-{}\terror: {}",
                        t.name.as_str(),
                        r.partition_index,
                        ToolError::kafka(r.error_code, "DeleteRecords")
                    );
                }
            }
        }
    }
    Ok(i32::from(failed))
}

const LOGDIR_SPECS: &[Opt] = &[
    val("bootstrap-server", "String: The server(s) to use for bootstrapping", "REQUIRED: the server(s) to use for bootstrapping"),
    val("command-config", "String: Admin client property file", "Property file containing configs to be passed to Admin Client."),
    flag("describe", "Describe the specified log directories on the specified brokers."),
    val("broker-list", "String: Broker list", "The list of brokers to be queried in the form \"0,1,2\". All brokers in the cluster will be queried if no broker list is specified"),
    val("topic-list", "String: Topic list", "The list of topics to be queried in the form \"topic1,topic2,topic3\". All topics will be queried if no topic list is specified (default: )"),
];

pub async fn run_log_dirs(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(
        "This tool helps to query log directory usage on the specified brokers.",
        LOGDIR_SPECS,
        args,
    )?
    else {
        return Ok(0);
    };
    if !p.has("describe") {
        return usage("Missing required argument \"[describe]\"");
    }
    let bs = p.req("bootstrap-server")?.to_string();
    let mut cl = Cluster::connect(&bs, "adminclient-1", Duration::from_secs(30)).await?;
    let brokers: Vec<i32> = match p.get("broker-list") {
        Some(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        None => cl.brokers.keys().copied().collect(),
    };
    let topics: Vec<String> = p.list("topic-list");
    println!("Querying brokers for log directories information");
    let mut out = Vec::new();
    for b in &brokers {
        let conn = cl.broker(*b).await?;
        let v = conn.version::<DescribeLogDirsRequest>(4)?;
        let resp = conn.call(&DescribeLogDirsRequest::default(), v).await?;
        let dirs: Vec<serde_json::Value> = resp
            .results
            .iter()
            .map(|d| {
                let parts: Vec<serde_json::Value> = d
                    .topics
                    .iter()
                    .filter(|t| topics.is_empty() || topics.contains(&t.name.to_string()))
                    .flat_map(|t| {
                        t.partitions.iter().map(move |pp| {
                            json!({"partition": format!("{}-{}", t.name.as_str(), pp.partition_index), "size": pp.partition_size, "offsetLag": pp.offset_lag, "isFuture": pp.is_future_key})
                        })
                    })
                    .collect();
                let err = if d.error_code == 0 { serde_json::Value::Null } else { json!(ToolError::kafka(d.error_code, "").to_string()) };
                json!({"logDir": d.log_dir.as_str(), "error": err, "partitions": parts})
            })
            .collect();
        out.push(json!({"broker": b, "logDirs": dirs}));
    }
    println!(
        "Received log directory information from brokers {}",
        brokers.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")
    );
    println!("{}", json!({"version": 1, "brokers": out}));
    Ok(0)
}
