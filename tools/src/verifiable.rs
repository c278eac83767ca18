//! kafka-verifiable-producer: increasing integers to a topic, one JSON line
//! per event on stdout (Kafka's VerifiableProducer events and field order).
//! Shares `Event` with kafka-verifiable-consumer.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::argparse::Spec;
use crate::client::now_ms;
use crate::error::{Result, ToolError};
use crate::opts::{self, val, Opt};
use crate::producer::{parse_acks, Producer, ProducerConfig, Rec};

/// A record the verifiable producer sends: optional key, value.
type KeyValue = (Option<String>, String);

/// One JSON event line: `{"timestamp":..,"name":..,<fields in order>}`.
pub struct Event(String);

impl Event {
    pub fn new(name: &str) -> Event {
        Event(format!("{{\"timestamp\":{},\"name\":\"{name}\"", now_ms()))
    }
    pub fn raw(mut self, k: &str, json: &str) -> Event {
        self.0.push_str(&format!(",\"{k}\":{json}"));
        self
    }
    pub fn num(self, k: &str, v: impl std::fmt::Display) -> Event {
        let s = v.to_string();
        self.raw(k, &s)
    }
    pub fn str(self, k: &str, v: Option<&str>) -> Event {
        let s = match v {
            Some(v) => serde_json::Value::String(v.to_string()).to_string(),
            None => "null".into(),
        };
        self.raw(k, &s)
    }
    pub fn line(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

const SPECS: &[Opt] = &[
    val("topic", "TOPIC", "Produce messages to this topic."),
    val("max-messages", "MAX-MESSAGES", "Produce this many messages. If -1, produce messages until the process is killed externally."),
    val("throughput", "THROUGHPUT", "If set >= 0, throttle maximum message throughput to *approximately* THROUGHPUT messages/sec."),
    val("acks", "ACKS", "Acks required on each produced message. See Kafka docs on acks for details."),
    val("producer.config", "CONFIG-FILE", "Producer config properties file."),
    val("message-create-time", "CREATE-TIME", "Send messages with creation time starting at the arguments value, in milliseconds since epoch"),
    val("value-prefix", "VALUE-PREFIX", "If specified, each produced value will have this prefix with a dot separator"),
    val("repeating-keys", "REPEATING-KEYS", "If specified, each produced record will have a key starting at 0 increment by 1 up to the number specified (exclusive), then the key is set to 0 again"),
    val("bootstrap-server", "HOST1:PORT1[,HOST2:PORT2[...]]", "REQUIRED: The server(s) to connect to. Comma-separated list of Kafka brokers in the form HOST1:PORT1,HOST2:PORT2,..."),
    val("broker-list", "HOST1:PORT1[,HOST2:PORT2[...]]", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  Comma-separated list of Kafka brokers in the form HOST1:PORT1,HOST2:PORT2,..."),
];

pub const PRODUCER_SPEC: Spec<'static> = Spec {
    prog: "verifiable-producer",
    description: "This tool produces increasing integers to the specified topic and prints JSON metadata to stdout on each \"send\" request, making externally visible which messages have been acked and which have not.",
    opts: SPECS,
    required: &["topic"],
    one_of: &["bootstrap-server", "broker-list"],
};

fn error_class(e: &ToolError) -> String {
    match e {
        ToolError::Kafka { err, .. } => {
            let name: String = format!("{err:?}")
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                        None => String::new(),
                    }
                })
                .collect();
            format!("class org.apache.kafka.common.errors.{name}Exception")
        }
        ToolError::Timeout(_) => "class org.apache.kafka.common.errors.TimeoutException".into(),
        _ => "class org.apache.kafka.common.errors.NetworkException".into(),
    }
}

pub async fn run_producer(args: &[String]) -> Result<i32> {
    let spec = &PRODUCER_SPEC;
    let Some(p) = spec.parse(args)? else { return Ok(0) };
    let topic = p.req("topic")?.to_string();
    let max: i64 = spec.int(&p, "max-messages", -1i64)?;
    let throughput: i64 = spec.int(&p, "throughput", -1i64)?;
    let acks_s = p.get("acks").unwrap_or("-1").to_string();
    if !["0", "1", "-1"].contains(&acks_s.trim()) {
        eprintln!("{}", spec.usage());
        eprintln!("verifiable-producer: error: argument --acks: invalid choice: '{acks_s}' (choose from {{0,1,-1}})");
        return Ok(1);
    }
    let value_prefix: Option<i64> = match p.get("value-prefix") {
        Some(_) => Some(spec.int(&p, "value-prefix", 0i64)?),
        None => None,
    };
    let repeating: Option<i64> = match p.get("repeating-keys") {
        Some(_) => Some(spec.int(&p, "repeating-keys", 0i64)?.max(1)),
        None => None,
    };
    let mut create_time: Option<i64> = match spec.int(&p, "message-create-time", -1i64)? {
        -1 => None,
        t => Some(t),
    };
    let bs = p.get("bootstrap-server").or(p.get("broker-list")).unwrap_or_default().to_string();
    // acks from --acks and no retries, unless --producer.config says
    // otherwise: Kafka's tool puts the file's properties over its own.
    let mut props = vec![("acks".to_string(), acks_s.trim().to_string()), ("retries".to_string(), "0".to_string())];
    if let Some(f) = p.get("producer.config") {
        props.extend(opts::read_properties(f)?);
    }
    let mut cfg = ProducerConfig { client_id: "producer-1".into(), acks: parse_acks(&acks_s)?, ..Default::default() };
    cfg.apply(&props)?;
    cfg.idempotent = false;

    let start_ms = now_ms();
    let start = Instant::now();
    println!("{}", Event::new("startup_complete").line());
    let mut prod = Producer::connect(&bs, cfg).await?;
    let parts = prod.partitions(&topic).await?.len();
    let total = if max < 0 { u64::MAX } else { max as u64 };
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut key_counter = 0i64;
    let mut stop = Box::pin(crate::console_consumer::shutdown_signal());
    let mut interrupted = false;
    while sent < total && !interrupted {
        // As many records as the throttle allows now, up to one batch.
        let mut n = (total - sent).min(500);
        if throughput >= 0 {
            let due = (start.elapsed().as_secs_f64() * throughput as f64) as u64 + 1;
            n = n.min(due.saturating_sub(sent));
            if n == 0 {
                let wait = Duration::from_secs_f64(1.0 / (throughput.max(1) as f64)).min(Duration::from_millis(100));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut stop => interrupted = true,
                }
                continue;
            }
        }
        let mut by_part: Vec<(i32, Vec<KeyValue>)> = Vec::new();
        let sticky = prod.choose(None, parts, true);
        for i in 0..n {
            let v = sent + i;
            let value = match value_prefix {
                Some(px) => format!("{px}.{v}"),
                None => v.to_string(),
            };
            let key = repeating.map(|r| {
                let k = key_counter;
                key_counter = (key_counter + 1) % r;
                k.to_string()
            });
            let part = match &key {
                Some(k) => prod.choose(Some(k.as_bytes()), parts, false),
                None => sticky,
            };
            match by_part.iter_mut().find(|(p, _)| *p == part) {
                Some((_, v)) => v.push((key, value)),
                None => by_part.push((part, vec![(key, value)])),
            }
        }
        sent += n;
        let ts = create_time;
        if let Some(t) = ts {
            create_time = Some(t + (now_ms() - start_ms));
        }
        let batches: Vec<(i32, Vec<Rec>)> = by_part
            .iter()
            .map(|(p, kvs)| {
                let recs = kvs
                    .iter()
                    .map(|(k, v)| Rec {
                        key: k.as_ref().map(|k| Bytes::from(k.clone())),
                        value: Some(Bytes::from(v.clone())),
                        timestamp: ts,
                        ..Default::default()
                    })
                    .collect();
                (*p, recs)
            })
            .collect();
        let acks = tokio::select! {
            r = prod.send(&topic, batches) => r,
            _ = &mut stop => { interrupted = true; continue; }
        };
        let mut out = String::new();
        match acks {
            Ok(acks) => {
                for a in acks {
                    let Some((_, kvs)) = by_part.iter().find(|(p, _)| *p == a.partition) else { continue };
                    for (i, (k, v)) in kvs.iter().enumerate() {
                        let ev = match &a.error {
                            None => {
                                acked += 1;
                                let off = if a.base_offset >= 0 { a.base_offset + i as i64 } else { -1 };
                                Event::new("producer_send_success")
                                    .str("key", k.as_deref())
                                    .str("value", Some(v))
                                    .str("topic", Some(&topic))
                                    .num("partition", a.partition)
                                    .num("offset", off)
                            }
                            Some(e) => send_error(k, v, &topic, e),
                        };
                        out.push_str(&ev.line());
                        out.push('\n');
                    }
                }
            }
            Err(e) => {
                for (_, kvs) in &by_part {
                    for (k, v) in kvs {
                        out.push_str(&send_error(k, v, &topic, &e).line());
                        out.push('\n');
                    }
                }
            }
        }
        print!("{out}");
    }
    println!("{}", Event::new("shutdown_complete").line());
    let el = (now_ms() - start_ms).max(1) as f64;
    println!(
        "{}",
        Event::new("tool_data")
            .num("sent", sent)
            .num("acked", acked)
            .num("target_throughput", throughput)
            .num("avg_throughput", java_double(acked as f64 * 1000.0 / el))
            .line()
    );
    Ok(0)
}

/// Java's Double.toString for ordinary magnitudes: always a fraction part.
fn java_double(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

fn send_error(k: &Option<String>, v: &str, topic: &str, e: &ToolError) -> Event {
    Event::new("producer_send_error")
        .str("key", k.as_deref())
        .str("value", Some(v))
        .str("topic", Some(topic))
        .str("exception", Some(&error_class(e)))
        .str("message", Some(&e.to_string()))
}
