//! kafka-console-producer: one record per stdin line.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, opt_val, val, Opt};
use crate::producer::{parse_acks, parse_compression, Producer, ProducerConfig, Rec};

pub const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server to connect to", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2."),
    val("broker-list", "String: broker-list", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  The broker list string in the form HOST1:PORT1,HOST2:PORT2."),
    val("topic", "String: topic", "REQUIRED: The topic id to produce messages to."),
    flag("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive."),
    opt_val("compression-codec", "String: compression-codec", "gzip", "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'. If specified without value, then it defaults to 'gzip'"),
    val("batch-size", "Integer: size", "Number of messages to send in a single batch if they are not being sent synchronously. (default: 16384)"),
    val("message-send-max-retries", "Integer", "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retries before the producer give up and drop this message. (default: 3)"),
    val("retry-backoff-ms", "Long", "Before each retry, the producer refreshes the metadata of relevant topics. (default: 100)"),
    val("timeout", "Long: timeout_ms", "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. (default: 1000)"),
    val("request-required-acks", "String: request required acks", "The required `acks` of the producer requests (default: -1)"),
    val("request-timeout-ms", "Integer: request timeout ms", "The ack timeout of the producer requests. Value must be non-negative and non-zero. (default: 1500)"),
    val("metadata-expiry-ms", "Long", "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes. (default: 300000)"),
    val("max-block-ms", "Long: max block on send", "The max time that the producer will block for during a send request. (default: 60000)"),
    val("max-memory-bytes", "Long: total memory in bytes", "The total memory used by the producer to buffer records waiting to be sent to the server. (default: 33554432)"),
    val("max-partition-memory-bytes", "Integer: memory in bytes per partition", "The buffer size allocated for a partition. (default: 16384)"),
    val("line-reader", "String: reader_class", "The class name of the class to use for reading lines from standard in. Only the default line reader is available."),
    val("socket-buffer-size", "Integer: size", "The size of the tcp RECV size. (default: 102400)"),
    val("property", "String: prop", "A mechanism to pass user-defined properties in the form key=value to the message reader: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, null.marker, ignore.error."),
    val("reader-config", "String: config file", "Config properties file for the message reader. Note that --property takes precedence over this config."),
    val("producer-property", "String: producer_prop", "A mechanism to pass user-defined properties in the form key=value to the producer."),
    val("producer.config", "String: config file", "Producer config properties file. Note that --producer-property takes precedence over this config."),
    flag("from-beginning", "A console-consumer option that tutorials also pass to the producer: accepted and ignored, with a warning."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to read data from standard input and publish it to Kafka.";

/// LineMessageReader's settings.
pub struct LineReader {
    parse_key: bool,
    key_sep: String,
    parse_headers: bool,
    headers_delim: String,
    headers_sep: String,
    headers_key_sep: String,
    null_marker: Option<String>,
    ignore_error: bool,
}

impl LineReader {
    pub fn new(props: &[(String, String)]) -> LineReader {
        let get = |k: &str| props.iter().rev().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
        let tru = |k: &str| get(k).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        LineReader {
            parse_key: tru("parse.key"),
            key_sep: get("key.separator").unwrap_or_else(|| "\t".into()),
            parse_headers: tru("parse.headers"),
            headers_delim: get("headers.delimiter").unwrap_or_else(|| "\t".into()),
            headers_sep: get("headers.separator").unwrap_or_else(|| ",".into()),
            headers_key_sep: get("headers.key.separator").unwrap_or_else(|| ":".into()),
            null_marker: get("null.marker"),
            ignore_error: tru("ignore.error"),
        }
    }

    fn bytes(&self, s: &str) -> Option<Bytes> {
        if self.null_marker.as_deref() == Some(s) {
            None
        } else {
            Some(Bytes::from(s.to_string()))
        }
    }

    pub fn parse(&self, line: &str, n: u64) -> Result<Rec> {
        let mut rest = line;
        let mut rec = Rec::default();
        if self.parse_headers {
            match rest.split_once(self.headers_delim.as_str()) {
                Some((h, r)) => {
                    for kv in h.split(self.headers_sep.as_str()).filter(|s| !s.is_empty()) {
                        let (k, v) = kv.split_once(self.headers_key_sep.as_str()).unwrap_or((kv, ""));
                        rec.headers.push((k.to_string(), self.bytes(v)));
                    }
                    rest = r;
                }
                None if !self.ignore_error => {
                    return Err(ToolError::Msg(format!("No headers delimiter found on line number {n}: '{line}'")))
                }
                None => {}
            }
        }
        if self.parse_key {
            match rest.split_once(self.key_sep.as_str()) {
                Some((k, v)) => {
                    rec.key = self.bytes(k);
                    rec.value = self.bytes(v);
                }
                None if self.ignore_error => rec.value = self.bytes(rest),
                None => return Err(ToolError::Msg(format!("No key separator found on line number {n}: '{line}'"))),
            }
        } else {
            rec.value = self.bytes(rest);
        }
        Ok(rec)
    }
}

/// Producer settings of the console producer: file, then properties, then
/// the dedicated options (applied when given or when the key is unset).
fn producer_config(p: &opts::Parsed) -> Result<ProducerConfig> {
    let mut props: Vec<(String, String)> = Vec::new();
    if let Some(f) = p.get("producer.config") {
        props.extend(opts::read_properties(f)?);
    }
    props.extend(opts::key_values(&p.all("producer-property"))?);
    let has = |props: &Vec<(String, String)>, k: &str| props.iter().any(|(kk, _)| kk == k);
    let merge = |props: &mut Vec<(String, String)>, key: &str, opt: &str, default: &str| {
        if let Some(v) = p.get(opt) {
            props.push((key.into(), v.into()));
        } else if !has(props, key) {
            props.push((key.into(), default.into()));
        }
    };
    merge(&mut props, "acks", "request-required-acks", "-1");
    merge(&mut props, "retries", "message-send-max-retries", "3");
    merge(&mut props, "retry.backoff.ms", "retry-backoff-ms", "100");
    merge(&mut props, "linger.ms", "timeout", "1000");
    merge(&mut props, "request.timeout.ms", "request-timeout-ms", "1500");
    merge(&mut props, "max.block.ms", "max-block-ms", "60000");
    merge(&mut props, "batch.size", "max-partition-memory-bytes", "16384");
    if let Some(c) = p.get("compression-codec") {
        parse_compression(c)?;
        props.push(("compression.type".into(), c.into()));
    }
    if p.has("sync") {
        props.push(("linger.ms".into(), "0".into()));
    }
    if !has(&props, "client.id") {
        props.push(("client.id".into(), "console-producer".into()));
    }
    let mut cfg = ProducerConfig::default();
    // Java 3.x: idempotence is on unless disabled or conflicting.
    let explicit = props.iter().rev().find(|(k, _)| k == "enable.idempotence").map(|(_, v)| v.clone());
    let acks = props.iter().rev().find(|(k, _)| k == "acks").map(|(_, v)| v.clone()).unwrap_or_default();
    let retries = props.iter().rev().find(|(k, _)| k == "retries").map(|(_, v)| v.clone()).unwrap_or_default();
    if explicit.is_none() {
        let ok = parse_acks(&acks).map(|a| a == -1).unwrap_or(false) && retries.trim() != "0";
        cfg.idempotent = ok;
    }
    cfg.apply(&props)?;
    Ok(cfg)
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let topic = p.req("topic")?.to_string();
    let Some(bs) = p.get("bootstrap-server").or(p.get("broker-list")).map(str::to_string) else {
        return usage("Missing required argument \"[bootstrap-server]\"");
    };
    if p.has("from-beginning") {
        eprintln!("WARNING: --from-beginning is a kafka-console-consumer option; the producer ignores it.");
    }
    for o in p.positional.iter() {
        if o.starts_with("--") {
            return usage(format!("{} is not a recognized option", o.trim_start_matches('-')));
        }
    }
    let mut reader_props = Vec::new();
    if let Some(f) = p.get("reader-config") {
        reader_props.extend(opts::read_properties(f)?);
    }
    reader_props.extend(opts::key_values(&p.all("property"))?);
    let reader = LineReader::new(&reader_props);
    let cfg = producer_config(&p)?;
    let sync = p.has("sync");
    let batch_bytes = p.num_or::<usize>("batch-size", 16384)?.max(1);
    let linger = Duration::from_millis(cfg.linger_ms);
    let mut producer = Producer::connect(&bs, cfg).await?;

    let (tx, mut rx) = mpsc::channel::<String>(1024);
    let tty = std::io::stdin().is_terminal();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            if tty {
                print!(">");
                let _ = std::io::stdout().flush();
            }
            let mut buf = Vec::new();
            match lock.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                        buf.pop();
                    }
                    if tx.blocking_send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut line_no = 0u64;
    let mut failed = false;
    let n = producer.partitions(&topic).await?.len();
    while let Some(first) = rx.recv().await {
        let mut lines = vec![first];
        if !sync {
            let deadline = Instant::now() + linger;
            let mut size = lines[0].len();
            while size < batch_bytes {
                match rx.try_recv() {
                    Ok(l) => {
                        size += l.len();
                        lines.push(l);
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        match tokio::time::timeout(deadline - now, rx.recv()).await {
                            Ok(Some(l)) => {
                                size += l.len();
                                lines.push(l);
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        let mut by_part: Vec<(i32, Vec<Rec>)> = Vec::new();
        let mut first_in_batch = true;
        for l in lines {
            line_no += 1;
            let rec = reader.parse(&l, line_no)?;
            let part = producer.choose(rec.key.as_deref(), n, first_in_batch);
            first_in_batch = false;
            match by_part.iter_mut().find(|(pp, _)| *pp == part) {
                Some((_, v)) => v.push(rec),
                None => by_part.push((part, vec![rec])),
            }
        }
        let sizes: Vec<(i32, Vec<usize>)> = by_part
            .iter()
            .map(|(p, v)| (*p, v.iter().map(|r| r.value.as_ref().map_or(0, |b| b.len())).collect()))
            .collect();
        for ack in producer.send(&topic, by_part).await? {
            if let Some(e) = ack.error {
                failed = true;
                let bytes =
                    sizes.iter().find(|(p, _)| *p == ack.partition).map(|(_, s)| s.iter().sum::<usize>()).unwrap_or(0);
                eprintln!(
                    "[{}] ERROR Error when sending message to topic {topic} with key: null, value: {bytes} bytes with error: {e} (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)",
                    chrono_like_now()
                );
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `2024-01-01 12:00:00,000`-style local-ish timestamp (UTC).
pub fn chrono_like_now() -> String {
    let ms = crate::client::now_ms();
    let secs = ms / 1000;
    let (d, s) = (secs / 86400, secs % 86400);
    let (y, m, dd) = civil_from_days(d);
    format!("{y:04}-{m:02}-{dd:02} {:02}:{:02}:{:02},{:03}", s / 3600, (s / 60) % 60, s % 60, ms % 1000)
}

/// Days since 1970-01-01 -> (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
