//! kafka-producer-perf-test (kafka-consumer-perf-test is not implemented yet).

use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt};
use crate::producer::{Producer, ProducerConfig, Rec};

const SPECS: &[Opt] = &[
    val("topic", "TOPIC", "produce records to this topic"),
    val("num-records", "NUM-RECORDS", "number of messages to produce"),
    val("record-size", "RECORD-SIZE", "message size in bytes. Note that you must provide exactly one of --record-size or --payload-file."),
    val("payload-file", "PAYLOAD-FILE", "file to read the message payloads from (one payload per line, delimiter --payload-delimiter)"),
    val("payload-delimiter", "PAYLOAD-DELIMITER", "delimiter of --payload-file (default: \\n)"),
    val("throughput", "THROUGHPUT", "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling."),
    val("producer-props", "PROP-NAME=PROP-VALUE", "kafka producer related configuration properties like bootstrap.servers,client.id etc. (several may follow)"),
    val("producer.config", "CONFIG-FILE", "producer config properties file."),
    flag("print-metrics", "print out metrics at the end of the test (ignored)."),
    val("transactional-id", "TRANSACTIONAL-ID", "not supported"),
    val("transaction-duration-ms", "DURATION", "not supported"),
];

pub async fn run_producer(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help("This tool is used to verify the producer performance.", SPECS, args)? else {
        return Ok(0);
    };
    let topic = p.get("topic").ok_or_else(|| ToolError::Usage("argument --topic is required".into()))?.to_string();
    let n: u64 =
        p.parse_num("num-records")?.ok_or_else(|| ToolError::Usage("argument --num-records is required".into()))?;
    let throughput: f64 =
        p.parse_num("throughput")?.ok_or_else(|| ToolError::Usage("argument --throughput is required".into()))?;
    let mut props = Vec::new();
    if let Some(f) = p.get("producer.config") {
        props.extend(opts::read_properties(f)?);
    }
    let mut kv: Vec<String> = p.all("producer-props");
    kv.extend(p.positional.iter().filter(|a| a.contains('=')).cloned());
    props.extend(opts::key_values(&kv)?);
    let Some(bs) = props.iter().rev().find(|(k, _)| k == "bootstrap.servers").map(|(_, v)| v.clone()) else {
        return usage("Either --producer-props or --producer.config must be specified with bootstrap.servers.");
    };
    let payloads: Vec<Bytes> = match (p.parse_num::<usize>("record-size")?, p.get("payload-file")) {
        (Some(sz), None) => {
            let mut seed = 0x2545_f491u32;
            vec![Bytes::from(
                (0..sz)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        b'A' + (seed % 26) as u8
                    })
                    .collect::<Vec<u8>>(),
            )]
        }
        (None, Some(f)) => {
            let d = p.get("payload-delimiter").unwrap_or("\n").replace("\\n", "\n");
            let text = std::fs::read_to_string(f).map_err(|e| ToolError::Msg(format!("Cannot read {f}: {e}")))?;
            let v: Vec<Bytes> =
                text.split(d.as_str()).filter(|s| !s.is_empty()).map(|s| Bytes::from(s.to_string())).collect();
            if v.is_empty() {
                return Err(ToolError::Msg(format!("File does not contain any payloads: {f}")));
            }
            println!("Reading payloads from: {f}");
            println!("Number of messages read: {}", v.len());
            v
        }
        _ => return usage("Exactly one of --record-size or --payload-file must be specified"),
    };
    let mut cfg =
        ProducerConfig { client_id: "perf-producer-client".into(), linger_ms: 0, acks: -1, ..Default::default() };
    let explicit_idem = props.iter().any(|(k, _)| k == "enable.idempotence");
    cfg.apply(&props)?;
    if !explicit_idem {
        cfg.idempotent = cfg.acks == -1 && cfg.retries > 0;
    }
    let batch_bytes = cfg.batch_size;
    let mut prod = Producer::connect(&bs, cfg).await?;
    let parts = prod.partitions(&topic).await?.len();
    let mut hist = Histogram::<u64>::new(3).map_err(|e| ToolError::Msg(e.to_string()))?;
    let start = Instant::now();
    let (mut sent, mut bytes) = (0u64, 0u64);
    let (mut win_start, mut win_n, mut win_bytes, mut win_lat, mut win_max) = (Instant::now(), 0u64, 0u64, 0u64, 0u64);
    let (mut total_lat, mut max_lat) = (0u64, 0u64);
    let mut failed = false;
    while sent < n {
        let mut batch = Vec::new();
        let mut size = 0usize;
        while sent + (batch.len() as u64) < n && size < batch_bytes {
            let v = payloads[(sent as usize + batch.len()) % payloads.len()].clone();
            size += v.len() + 16;
            batch.push(Rec { value: Some(v), ..Default::default() });
        }
        let part = prod.choose(None, parts, true);
        let t0 = Instant::now();
        let count = batch.len() as u64;
        let b: u64 = batch.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64)).sum();
        for ack in prod.send(&topic, vec![(part, batch)]).await? {
            if let Some(e) = ack.error {
                eprintln!("org.apache.kafka.common.KafkaException: {e}");
                failed = true;
            }
        }
        let lat = t0.elapsed().as_millis() as u64;
        let _ = hist.record_n(lat, count);
        sent += count;
        bytes += b;
        win_n += count;
        win_bytes += b;
        win_lat += lat * count;
        win_max = win_max.max(lat);
        total_lat += lat * count;
        max_lat = max_lat.max(lat);
        if win_start.elapsed() >= Duration::from_secs(5) {
            let secs = win_start.elapsed().as_secs_f64();
            println!(
                "{win_n} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
                win_n as f64 / secs,
                win_bytes as f64 / secs / 1024.0 / 1024.0,
                win_lat as f64 / win_n.max(1) as f64,
                win_max as f64
            );
            (win_start, win_n, win_bytes, win_lat, win_max) = (Instant::now(), 0, 0, 0, 0);
        }
        if throughput > 0.0 {
            let due = Duration::from_secs_f64(sent as f64 / throughput);
            let el = start.elapsed();
            if due > el {
                tokio::time::sleep(due - el).await;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{sent} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        sent as f64 / secs,
        bytes as f64 / secs / 1024.0 / 1024.0,
        total_lat as f64 / sent.max(1) as f64,
        max_lat as f64,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.95),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999)
    );
    Ok(i32::from(failed))
}

pub async fn run_consumer(_args: &[String]) -> Result<i32> {
    Err(ToolError::Msg("kafka-consumer-perf-test: not implemented yet in kafka-tools".into()))
}
