//! kafka-consumer-perf-test: consume --messages records in a group and
//! print ConsumerPerformance's CSV-like summary (or periodic lines with
//! --show-detailed-stats).

use std::time::{Duration, Instant};

use crate::client::{now_ms, Cluster};
use crate::console_consumer::ConsumerSettings;
use crate::error::{usage, Result};
use crate::fetcher::{Fetcher, Tp, EARLIEST, LATEST};
use crate::group::{self, Member};
use crate::opts::{self, flag, val, Opt};

const SPECS: &[Opt] = &[
    val("bootstrap-server", "server to connect to", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to."),
    val("broker-list", "broker-list", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  The broker list string in the form HOST1:PORT1,HOST2:PORT2."),
    val("topic", "topic", "REQUIRED: The topic to consume from."),
    val("group", "gid", "The group id to consume on. (default: perf-consumer-<random>)"),
    val("fetch-size", "size", "The amount of data to fetch in a single request. (default: 1048576)"),
    flag("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message."),
    val("socket-buffer-size", "size", "The size of the tcp RECV size. (default: 2097152)"),
    val("threads", "count", "DEPRECATED AND IGNORED: Number of processing threads. (default: 10)"),
    val("num-fetch-threads", "count", "DEPRECATED AND IGNORED: Number of fetcher threads. (default: 1)"),
    val("consumer.config", "config file", "Consumer config properties file."),
    flag("print-metrics", "Print out the metrics."),
    flag("show-detailed-stats", "If set, stats are reported for each reporting interval as configured by reporting-interval"),
    val("timeout", "milliseconds", "The maximum allowed time in milliseconds between returned records. (default: 10000)"),
    val("messages", "count", "REQUIRED: The number of messages to send or consume"),
    val("reporting-interval", "interval_ms", "Interval in milliseconds at which to print progress info. (default: 5000)"),
    val("date-format", "date format", "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options. (default: yyyy-MM-dd HH:mm:ss:SSS)"),
    flag("hide-header", "If set, skips printing the header for the stats "),
    flag("version", "Display Kafka version."),
];

/// `yyyy-MM-dd HH:mm:ss:SSS` (UTC); other SimpleDateFormat patterns get the same letters substituted.
fn format_time(ms: i64, pattern: &str) -> String {
    let secs = ms.div_euclid(1000);
    let (d, s) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, mo, dd) = crate::console_producer::civil_from_days(d);
    pattern
        .replace("yyyy", &format!("{y:04}"))
        .replace("MM", &format!("{mo:02}"))
        .replace("dd", &format!("{dd:02}"))
        .replace("HH", &format!("{:02}", s / 3600))
        .replace("mm", &format!("{:02}", (s / 60) % 60))
        .replace("ss", &format!("{:02}", s % 60))
        .replace("SSS", &format!("{:03}", ms.rem_euclid(1000)))
}

struct Stats {
    bytes: u64,
    msgs: u64,
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) =
        opts::parse_or_help("This tool helps in performance test for the full zookeeper consumer", SPECS, args)?
    else {
        return Ok(0);
    };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let Some(bs) = p.get("bootstrap-server").or(p.get("broker-list")).map(str::to_string) else {
        return usage("Missing required argument \"[bootstrap-server]\"");
    };
    let topic = p.req("topic")?.to_string();
    let Some(messages) = p.parse_num::<u64>("messages")? else {
        return usage("Missing required argument \"[messages]\"");
    };
    let timeout = Duration::from_millis(p.num_or("timeout", 10_000u64)?);
    let interval = Duration::from_millis(p.num_or("reporting-interval", 5000u64)?.max(1));
    let fetch_size: i32 = p.num_or("fetch-size", 1_048_576i32)?;
    let date_fmt = p.get("date-format").unwrap_or("yyyy-MM-dd HH:mm:ss:SSS").to_string();
    let detailed = p.has("show-detailed-stats");
    let mut props = Vec::new();
    if let Some(f) = p.get("consumer.config") {
        props.extend(opts::read_properties(f)?);
    }
    let settings = ConsumerSettings { props };
    let group_id = p
        .get("group")
        .map(str::to_string)
        .or(settings.get("group.id").map(str::to_string))
        .unwrap_or_else(|| format!("perf-consumer-{}", now_ms() % 100_000));
    let reset = if p.has("from-latest") { LATEST } else { EARLIEST };

    if !p.has("hide-header") {
        if detailed {
            println!("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
        } else {
            println!("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
        }
    }
    let request_timeout = Duration::from_millis(settings.num("request.timeout.ms", 30_000)?);
    let start_ms = now_ms();
    let start = Instant::now();
    let cl = Cluster::connect(&bs, "perf-consumer-client", request_timeout).await?;
    let mut f = Fetcher::new(cl);
    f.reset = reset;
    f.partition_max_bytes = fetch_size;
    let mut m = Member::new(&group_id, settings.num("session.timeout.ms", 45_000)? as i32, 300_000, 3000);
    let topics = vec![topic.clone()];
    m.join(&mut f.cl, &topics, Duration::from_secs(300)).await?;
    let joined = start.elapsed();
    let tps: Vec<Tp> = m.assignment.clone();
    let mut positions = if tps.is_empty() {
        Default::default()
    } else {
        group::fetch_offsets(&mut f.cl, &group_id, Some(&tps)).await?
    };
    let missing: Vec<Tp> = tps.iter().filter(|tp| !positions.contains_key(*tp)).cloned().collect();
    if !missing.is_empty() {
        positions.extend(f.list_offsets(&missing, reset).await?);
    }
    f.positions = positions;

    let mut total = Stats { bytes: 0, msgs: 0 };
    let (mut last_report, mut last_bytes, mut last_msgs) = (Instant::now(), 0u64, 0u64);
    let mut last_consumed = Instant::now();
    let mut consumed_offsets = std::collections::BTreeMap::new();
    while total.msgs < messages && last_consumed.elapsed() <= timeout {
        for fe in f.poll().await? {
            for r in &fe.records {
                if total.msgs >= messages {
                    break;
                }
                total.msgs += 1;
                total.bytes +=
                    r.key.as_ref().map_or(0, |k| k.len() as u64) + r.value.as_ref().map_or(0, |v| v.len() as u64);
                consumed_offsets.insert((fe.topic.clone(), fe.partition), r.offset + 1);
                last_consumed = Instant::now();
            }
        }
        if detailed && last_report.elapsed() >= interval {
            let el = last_report.elapsed().as_secs_f64() * 1000.0;
            let (db, dm) = (total.bytes - last_bytes, total.msgs - last_msgs);
            println!(
                "{}, 0, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
                format_time(now_ms(), &date_fmt),
                mb(total.bytes),
                1000.0 * mb(db) / el,
                total.msgs,
                1000.0 * dm as f64 / el,
                0,
                el as u64,
                1000.0 * mb(db) / el,
                1000.0 * dm as f64 / el
            );
            (last_report, last_bytes, last_msgs) = (Instant::now(), total.bytes, total.msgs);
        }
        let _ = m.heartbeat(&mut f.cl).await;
    }
    let end_ms = now_ms();
    if total.msgs < messages {
        println!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.",
            timeout.as_millis()
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), m.commit(&mut f.cl, &consumed_offsets)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), m.leave(&mut f.cl)).await;
    if !detailed {
        let elapsed = ((end_ms - start_ms).max(1)) as f64 / 1000.0;
        let fetch_ms = ((end_ms - start_ms) - joined.as_millis() as i64).max(0);
        let fetch_s = (fetch_ms.max(1)) as f64 / 1000.0;
        println!(
            "{}, {}, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
            format_time(start_ms, &date_fmt),
            format_time(end_ms, &date_fmt),
            mb(total.bytes),
            mb(total.bytes) / elapsed,
            total.msgs,
            total.msgs as f64 / elapsed,
            joined.as_millis(),
            fetch_ms,
            mb(total.bytes) / fetch_s,
            total.msgs as f64 / fetch_s
        );
    }
    Ok(0)
}
