//! kafka-verifiable-consumer: consumes one topic in a group and prints
//! Kafka's VerifiableConsumer events as JSON lines (startup_complete,
//! partitions_assigned/revoked, records_consumed, record_data with
//! --verbose, offsets_committed when auto-commit is off, shutdown_complete).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::argparse::Spec;
use crate::client::Cluster;
use crate::console_consumer::{shutdown_signal, ConsumerSettings};
use crate::error::{Result, ToolError};
use crate::fetcher::{Fetcher, Tp, EARLIEST, LATEST};
use crate::group::{self, Member};
use crate::opts::{self, flag, val, Opt};
use crate::verifiable::Event;

const SPECS: &[Opt] = &[
    val("bootstrap-server", "HOST1:PORT1[,HOST2:PORT2[...]]", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. Comma-separated list of Kafka brokers in the form HOST1:PORT1,HOST2:PORT2,..."),
    val("broker-list", "HOST1:PORT1[,HOST2:PORT2[...]]", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  Comma-separated list of Kafka brokers in the form HOST1:PORT1,HOST2:PORT2,..."),
    val("topic", "TOPIC", "Consumes messages from this topic."),
    val("group-protocol", "GROUP_PROTOCOL", "Group protocol (must be one of CLASSIC, CONSUMER)"),
    val("group-remote-assignor", "GROUP_REMOTE_ASSIGNOR", "Group remote assignor; only used if the group protocol is CONSUMER"),
    val("group-id", "GROUP_ID", "The groupId shared among members of the consumer group"),
    val("group-instance-id", "GROUP_INSTANCE_ID", "A unique identifier of the consumer instance"),
    val("max-messages", "MAX-MESSAGES", "Consume this many messages. If -1 (the default), the consumer will consume until the process is killed externally"),
    val("session-timeout", "TIMEOUT_MS", "Set the consumer's session timeout"),
    flag("verbose", "Enable to log individual consumed records"),
    flag("enable-autocommit", "Enable offset auto-commit on consumer"),
    val("reset-policy", "RESETPOLICY", "Set reset policy (must be either 'earliest', 'latest', or 'none'"),
    val("assignment-strategy", "ASSIGNMENTSTRATEGY", "Set assignment strategy (e.g. org.apache.kafka.clients.consumer.RoundRobinAssignor)"),
    val("consumer.config", "CONFIG_FILE", "Consumer config properties file (config options shared with command line parameters will be overridden)."),
];

const SPEC: Spec<'static> = Spec {
    prog: "verifiable-consumer",
    description: "This tool consumes messages from a specific topic and emits consumer events (e.g. group rebalances, received messages, and offsets committed) as JSON objects to STDOUT.",
    opts: SPECS,
    required: &["topic", "group-id"],
    one_of: &["bootstrap-server", "broker-list"],
};

fn tp_list(tps: &[Tp]) -> String {
    let items: Vec<String> = tps
        .iter()
        .map(|(t, p)| format!("{{\"topic\":{},\"partition\":{p}}}", serde_json::Value::String(t.clone())))
        .collect();
    format!("[{}]", items.join(","))
}

fn committed_event(offsets: &BTreeMap<Tp, i64>, err: Option<String>) -> String {
    let items: Vec<String> = offsets
        .iter()
        .map(|((t, p), o)| {
            format!("{{\"topic\":{},\"partition\":{p},\"offset\":{o}}}", serde_json::Value::String(t.clone()))
        })
        .collect();
    let mut ev = Event::new("offsets_committed").raw("offsets", &format!("[{}]", items.join(",")));
    if let Some(e) = &err {
        ev = ev.str("error", Some(e));
    }
    ev.raw("success", if err.is_none() { "true" } else { "false" }).line()
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = SPEC.parse(args)? else { return Ok(0) };
    let topic = p.req("topic")?.to_string();
    let group_id = p.req("group-id")?.to_string();
    let max: i64 = SPEC.int(&p, "max-messages", -1i64)?;
    let session: i32 = SPEC.int(&p, "session-timeout", 30_000i32)?;
    let verbose = p.has("verbose");
    let auto_commit = p.has("enable-autocommit");
    let reset = match p.get("reset-policy").unwrap_or("earliest") {
        "earliest" => EARLIEST,
        "latest" => LATEST,
        "none" => 0,
        o => {
            return Err(ToolError::Msg(format!(
                "org.apache.kafka.common.config.ConfigException: Invalid value {o} for configuration auto.offset.reset: Invalid value {o} for configuration auto.offset.reset"
            )))
        }
    };
    let mut props = Vec::new();
    if let Some(f) = p.get("consumer.config") {
        props.extend(opts::read_properties(f)?);
    }
    let settings = ConsumerSettings { props };
    let bs = p.get("bootstrap-server").or(p.get("broker-list")).unwrap_or_default().to_string();
    let request_timeout = Duration::from_millis(settings.num("request.timeout.ms", 30_000)?);
    let cl = Cluster::connect(&bs, "consumer-1", request_timeout).await?;
    let mut f = Fetcher::new(cl);
    f.reset = reset;
    let hb = settings.num("heartbeat.interval.ms", 3000)?.min(session.max(3) as u64 / 3);
    let mut m = Member::new(&group_id, session, settings.num("max.poll.interval.ms", 300_000)? as i32, hb);
    let topics = vec![topic.clone()];
    let _ = f.cl.metadata(Some(&topics), true).await;
    println!("{}", Event::new("startup_complete").line());

    let mut stop = Box::pin(shutdown_signal());
    let mut consumed: i64 = 0;
    let mut need_join = true;
    let mut assigned: Vec<Tp> = Vec::new();
    let mut pending_auto: BTreeMap<Tp, i64> = BTreeMap::new();
    let commit_every = Duration::from_millis(settings.num("auto.commit.interval.ms", 5000)?);
    let mut last_commit = Instant::now();
    let result: Result<()> = async {
        while max < 0 || consumed < max {
            if need_join {
                if !assigned.is_empty() {
                    println!("{}", Event::new("partitions_revoked").raw("partitions", &tp_list(&assigned)).line());
                }
                tokio::select! {
                    r = m.join(&mut f.cl, &topics, Duration::from_millis(300_000)) => r?,
                    _ = &mut stop => return Ok(()),
                }
                assigned = m.assignment.clone();
                println!("{}", Event::new("partitions_assigned").raw("partitions", &tp_list(&assigned)).line());
                f.positions.clear();
                let mut start =
                    if assigned.is_empty() { BTreeMap::new() } else { group::fetch_offsets(&mut f.cl, &group_id, Some(&assigned)).await? };
                let missing: Vec<Tp> = assigned.iter().filter(|tp| !start.contains_key(*tp)).cloned().collect();
                if !missing.is_empty() {
                    if reset == 0 {
                        return Err(ToolError::Msg("org.apache.kafka.clients.consumer.NoOffsetForPartitionException: Undefined offset with no reset policy for partitions".into()));
                    }
                    start.extend(f.list_offsets(&missing, reset).await?);
                }
                f.positions.extend(start);
                need_join = false;
            }
            let batch = tokio::select! {
                r = f.poll() => r?,
                _ = &mut stop => return Ok(()),
            };
            let total: usize = batch.iter().map(|b| b.records.len()).sum();
            if total > 0 {
                let mut offsets = BTreeMap::new();
                let mut summaries = Vec::new();
                for fe in &batch {
                    let mut recs = &fe.records[..];
                    if max >= 0 && consumed + recs.len() as i64 > max {
                        recs = &recs[..(max - consumed) as usize];
                    }
                    let (Some(first), Some(last)) = (recs.first(), recs.last()) else { continue };
                    offsets.insert((fe.topic.clone(), fe.partition), last.offset + 1);
                    summaries.push(format!(
                        "{{\"topic\":{},\"partition\":{},\"count\":{},\"minOffset\":{},\"maxOffset\":{}}}",
                        serde_json::Value::String(fe.topic.clone()),
                        fe.partition,
                        recs.len(),
                        first.offset,
                        last.offset
                    ));
                    if verbose {
                        for r in recs {
                            let s = |b: &Option<bytes::Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
                            println!(
                                "{}",
                                Event::new("record_data")
                                    .str("key", s(&r.key).as_deref())
                                    .str("value", s(&r.value).as_deref())
                                    .str("topic", Some(&fe.topic))
                                    .num("partition", fe.partition)
                                    .num("offset", r.offset)
                                    .line()
                            );
                        }
                    }
                    consumed += recs.len() as i64;
                    if max >= 0 && consumed >= max {
                        break;
                    }
                }
                println!(
                    "{}",
                    Event::new("records_consumed").num("count", total).raw("partitions", &format!("[{}]", summaries.join(","))).line()
                );
                if auto_commit {
                    pending_auto.extend(offsets);
                } else {
                    let r = m.commit(&mut f.cl, &offsets).await;
                    println!("{}", committed_event(&offsets, r.err().map(|e| e.to_string())));
                }
            }
            if m.heartbeat(&mut f.cl).await? {
                need_join = true;
            }
            if auto_commit && !pending_auto.is_empty() && last_commit.elapsed() >= commit_every {
                m.commit(&mut f.cl, &pending_auto).await?;
                pending_auto.clear();
                last_commit = Instant::now();
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        eprintln!("[{}] ERROR Error during processing, terminating consumer process:  (org.apache.kafka.tools.VerifiableConsumer)\n{e}", crate::console_producer::chrono_like_now());
    }
    if auto_commit && !pending_auto.is_empty() {
        let _ = tokio::time::timeout(Duration::from_secs(5), m.commit(&mut f.cl, &pending_auto)).await;
    }
    if !assigned.is_empty() {
        println!("{}", Event::new("partitions_revoked").raw("partitions", &tp_list(&assigned)).line());
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), m.leave(&mut f.cl)).await;
    println!("{}", Event::new("shutdown_complete").line());
    Ok(0)
}
