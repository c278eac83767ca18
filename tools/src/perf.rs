//! kafka-producer-perf-test.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt};
use crate::pipeline::{Done, Pipeline};
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
    let mut st = Stats::new()?;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut pipe = Pipeline::new(&mut prod, &topic).await?;
    let mut batch: Vec<Rec> = Vec::new();
    while sent < n {
        // One batch of up to batch.size bytes (only what the throttle allows).
        let mut allowed = n - sent;
        if throughput > 0.0 {
            let due = (start.elapsed().as_secs_f64() * throughput) as u64 + 1;
            allowed = allowed.min(due.saturating_sub(sent));
            if allowed == 0 {
                // Idle until the next record is due: collect what completed,
                // so latencies are not inflated by lazily read responses.
                for d in pipe.flush().await? {
                    st.record(&d);
                }
                let wait = Duration::from_secs_f64((1.0 / throughput).min(0.05));
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        batch.clear();
        let mut size = 61usize;
        while (batch.len() as u64) < allowed && (batch.is_empty() || size < batch_bytes) {
            let v = payloads[(sent as usize + batch.len()) % payloads.len()].clone();
            size += v.len() + 8;
            batch.push(Rec { value: Some(v), ..Default::default() });
        }
        let part = pipe.prod.choose(None, parts, true);
        sent += batch.len() as u64;
        let b: u64 = batch.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64)).sum();
        st.bytes += b;
        st.win_bytes += b;
        for d in pipe.submit(part, &batch, Instant::now()).await? {
            st.record(&d);
        }
        st.window();
    }
    for d in pipe.flush().await? {
        st.record(&d);
    }
    let failed = st.failed;
    let (hist, bytes, total_lat, max_lat) = (st.hist, st.bytes, st.total_lat, st.max_lat);
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

/// Running totals and the 5-second progress lines.
struct Stats {
    hist: Histogram<u64>,
    bytes: u64,
    total_lat: u64,
    max_lat: u64,
    failed: bool,
    win_start: Instant,
    win_n: u64,
    win_bytes: u64,
    win_lat: u64,
    win_max: u64,
}

impl Stats {
    fn new() -> Result<Stats> {
        Ok(Stats {
            hist: Histogram::<u64>::new(3).map_err(|e| ToolError::Msg(e.to_string()))?,
            bytes: 0,
            total_lat: 0,
            max_lat: 0,
            failed: false,
            win_start: Instant::now(),
            win_n: 0,
            win_bytes: 0,
            win_lat: 0,
            win_max: 0,
        })
    }

    fn record(&mut self, d: &Done) {
        if let Some(e) = &d.error {
            eprintln!("org.apache.kafka.common.KafkaException: {e}");
            self.failed = true;
        }
        let count = d.count as u64;
        let lat = d.started.elapsed().as_millis() as u64;
        let _ = self.hist.record_n(lat, count);
        self.total_lat += lat * count;
        self.max_lat = self.max_lat.max(lat);
        self.win_n += count;
        self.win_lat += lat * count;
        self.win_max = self.win_max.max(lat);
    }

    fn window(&mut self) {
        if self.win_start.elapsed() < Duration::from_secs(5) {
            return;
        }
        let secs = self.win_start.elapsed().as_secs_f64();
        println!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.win_n,
            self.win_n as f64 / secs,
            self.win_bytes as f64 / secs / 1024.0 / 1024.0,
            self.win_lat as f64 / self.win_n.max(1) as f64,
            self.win_max as f64
        );
        (self.win_start, self.win_n, self.win_bytes, self.win_lat, self.win_max) = (Instant::now(), 0, 0, 0, 0);
    }
}
