//! kafka-console-consumer: print records of a topic (group or assigned mode).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use kafka_protocol::records::{Record, TimestampType};

use crate::client::Cluster;
use crate::error::{usage, Result, ToolError};
use crate::fetcher::{Fetcher, Tp, EARLIEST, LATEST};
use crate::group::{self, Member};
use crate::opts::{self, flag, val, Opt, Parsed};

pub const SPECS: &[Opt] = &[
    val("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to."),
    val("topic", "String: topic", "The topic to consume on."),
    val("include", "String: Java regex (String)", "Regular expression specifying list of topics to include for consumption."),
    val("whitelist", "String: Java regex (String)", "DEPRECATED, use --include instead; ignored if --include specified."),
    val("partition", "Integer: partition", "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified."),
    val("offset", "String: consume offset", "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end (default: latest)"),
    val("consumer-property", "String: consumer_prop", "A mechanism to pass user-defined properties in the form key=value to the consumer."),
    val("consumer.config", "String: config file", "Consumer config properties file. Note that --consumer-property takes precedence over this config."),
    val("formatter", "String: class", "The name of a class to use for formatting kafka messages for display. (default: kafka.tools.DefaultMessageFormatter)"),
    val("formatter-config", "String: config file", "Config properties file to initialize the message formatter. Note that --property takes precedence over this config."),
    val("property", "String: prop", "The properties to initialize the message formatter. Default properties include: print.timestamp=true|false, print.key=true|false, print.offset=true|false, print.partition=true|false, print.headers=true|false, print.value=true|false, key.separator=<key.separator>, line.separator=<line.separator>, headers.separator=<line.separator>, null.literal=<null.literal>"),
    flag("from-beginning", "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message."),
    val("max-messages", "Integer: num_messages", "The maximum number of messages to consume before exiting. If not set, consumption is continual."),
    val("timeout-ms", "Integer: timeout_ms", "If specified, exit if no message is available for consumption for the specified interval."),
    flag("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt."),
    val("key-deserializer", "String: deserializer for key", "Ignored: keys are printed as their bytes."),
    val("value-deserializer", "String: deserializer for values", "Ignored: values are printed as their bytes."),
    flag("enable-systest-events", "Log lifecycle events of the consumer in addition to logging consumed messages."),
    val("isolation-level", "String", "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages. (default: read_uncommitted)"),
    val("group", "String: consumer group id", "The consumer group id of the consumer."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to read data from Kafka topics and outputs it to standard output.";

/// DefaultMessageFormatter.
pub struct Formatter {
    pub print_timestamp: bool,
    pub print_key: bool,
    pub print_offset: bool,
    pub print_partition: bool,
    pub print_headers: bool,
    pub print_value: bool,
    pub key_sep: Vec<u8>,
    pub line_sep: Vec<u8>,
    pub headers_sep: Vec<u8>,
    pub null_literal: Vec<u8>,
    pub noop: bool,
}

impl Formatter {
    pub fn new(props: &[(String, String)], class: Option<&str>) -> Result<Formatter> {
        let get = |k: &str| props.iter().rev().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
        let b = |k: &str, d: bool| get(k).map(|v| v.trim().eq_ignore_ascii_case("true")).unwrap_or(d);
        let unescape = |s: String| s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").into_bytes();
        let noop = match class {
            None => false,
            Some(c) if c.ends_with("DefaultMessageFormatter") || c.ends_with("LoggingMessageFormatter") => false,
            Some(c) if c.ends_with("TransactionLogMessageFormatter") || c.ends_with("OffsetsMessageFormatter") => false,
            Some(c) if c.ends_with("NoOpMessageFormatter") => true,
            Some(c) => return Err(ToolError::Msg(format!("java.lang.ClassNotFoundException: {c}"))),
        };
        let kv = class
            .is_some_and(|c| c.ends_with("TransactionLogMessageFormatter") || c.ends_with("OffsetsMessageFormatter"));
        Ok(Formatter {
            print_timestamp: b("print.timestamp", false),
            print_key: b("print.key", kv),
            print_offset: b("print.offset", false),
            print_partition: b("print.partition", false),
            print_headers: b("print.headers", false),
            print_value: b("print.value", true),
            key_sep: get("key.separator").map(unescape).unwrap_or_else(|| {
                if kv {
                    b"::".to_vec()
                } else {
                    b"\t".to_vec()
                }
            }),
            line_sep: get("line.separator").map(unescape).unwrap_or_else(|| b"\n".to_vec()),
            headers_sep: get("headers.separator").map(unescape).unwrap_or_else(|| b",".to_vec()),
            null_literal: get("null.literal").map(String::into_bytes).unwrap_or_else(|| b"null".to_vec()),
            noop,
        })
    }

    pub fn write(&self, out: &mut impl Write, partition: i32, r: &Record) -> std::io::Result<()> {
        if self.noop {
            return Ok(());
        }
        let (ts, pa, of, he, ke, va) = (
            self.print_timestamp,
            self.print_partition,
            self.print_offset,
            self.print_headers,
            self.print_key,
            self.print_value,
        );
        let sep = |out: &mut dyn Write, more: bool| if more { out.write_all(&self.key_sep) } else { Ok(()) };
        if ts {
            let kind = match r.timestamp_type {
                TimestampType::Creation => "CreateTime",
                TimestampType::LogAppend => "LogAppendTime",
            };
            if r.timestamp < 0 {
                write!(out, "NO_TIMESTAMP")?;
            } else {
                write!(out, "{kind}:{}", r.timestamp)?;
            }
            sep(out, pa || of || he || ke || va)?;
        }
        if pa {
            write!(out, "Partition:{partition}")?;
            sep(out, of || he || ke || va)?;
        }
        if of {
            write!(out, "Offset:{}", r.offset)?;
            sep(out, he || ke || va)?;
        }
        if he {
            if r.headers.is_empty() {
                write!(out, "NO_HEADERS")?;
            }
            for (i, (k, v)) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(&self.headers_sep)?;
                }
                write!(out, "{}:", k.as_str())?;
                out.write_all(v.as_deref().unwrap_or(&self.null_literal))?;
            }
            sep(out, ke || va)?;
        }
        if ke {
            out.write_all(r.key.as_deref().unwrap_or(&self.null_literal))?;
            sep(out, va)?;
        }
        if va {
            out.write_all(r.value.as_deref().unwrap_or(&self.null_literal))?;
            out.write_all(&self.line_sep)?;
        }
        Ok(())
    }
}

/// Java-regex subset for --include: alternation `a|b`, `.*`, `*`, literal dots as `\.`.
pub fn include_matches(pattern: &str, topic: &str) -> bool {
    pattern.split('|').any(|alt| {
        let alt = alt.trim().trim_start_matches('(').trim_end_matches(')').replace("\\.", ".");
        crate::topics::topic_matches(&alt, topic)
    })
}

pub struct ConsumerSettings {
    pub props: Vec<(String, String)>,
}

impl ConsumerSettings {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.props.iter().rev().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str())
    }
    pub fn num(&self, k: &str, d: u64) -> Result<u64> {
        match self.get(k) {
            None => Ok(d),
            Some(v) => {
                v.trim().parse().map_err(|_| ToolError::Usage(format!("Invalid value {v} for configuration {k}")))
            }
        }
    }
}

fn check_args(p: &Parsed) -> Result<()> {
    let topic_like = ["topic", "include", "whitelist"].iter().filter(|o| p.has(o)).count();
    if topic_like == 0 || (p.has("topic") && topic_like > 1) {
        return usage("Exactly one of topic/include is required.");
    }
    if p.has("partition") && !p.has("topic") {
        return usage("The topic is required when partition is specified.");
    }
    if p.has("offset") && !p.has("partition") {
        return usage("The partition is required when offset is specified.");
    }
    if p.has("offset") && p.has("from-beginning") {
        return usage("Options from-beginning and offset cannot be specified together.");
    }
    if p.has("group") && p.has("partition") {
        return usage("Options group and partition cannot be specified together.");
    }
    if !p.has("bootstrap-server") {
        return usage("Missing required argument \"[bootstrap-server]\"");
    }
    Ok(())
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    check_args(&p)?;
    let mut props = Vec::new();
    if let Some(f) = p.get("consumer.config") {
        props.extend(opts::read_properties(f)?);
    }
    props.extend(opts::key_values(&p.all("consumer-property"))?);
    let settings = ConsumerSettings { props };
    let mut fprops = Vec::new();
    if let Some(f) = p.get("formatter-config") {
        fprops.extend(opts::read_properties(f)?);
    }
    fprops.extend(opts::key_values(&p.all("property"))?);
    let formatter = Formatter::new(&fprops, p.get("formatter"))?;
    let max_messages: i64 = p.num_or("max-messages", -1)?;
    let timeout_ms: Option<u64> = p.parse_num("timeout-ms")?;
    let offset_opt = match p.get("offset") {
        None => None,
        Some("earliest") => Some(EARLIEST),
        Some("latest") => Some(LATEST),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return usage(format!("The provided offset value '{s}' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.")),
        },
    };
    let reset = if p.has("from-beginning") {
        EARLIEST
    } else {
        match settings.get("auto.offset.reset") {
            Some("earliest") => EARLIEST,
            Some("none") => 0,
            _ => LATEST,
        }
    };
    let isolation = match p.get("isolation-level").or(settings.get("isolation.level")) {
        Some("read_committed") => 1,
        _ => 0,
    };
    let group_id = p.get("group").map(str::to_string).or(settings.get("group.id").map(str::to_string));
    let group_given = group_id.is_some();
    let auto_commit = match settings.get("enable.auto.commit") {
        Some(v) => v.trim().eq_ignore_ascii_case("true"),
        None => group_given,
    };
    let bs = p.req("bootstrap-server")?.to_string();
    let request_timeout = Duration::from_millis(settings.num("request.timeout.ms", 30_000)?);
    let client_id = settings.get("client.id").unwrap_or("console-consumer").to_string();
    let cl = Cluster::connect(&bs, &client_id, request_timeout).await?;
    let mut f = Fetcher::new(cl);
    f.isolation = isolation;
    f.reset = reset;
    f.max_wait_ms = settings.num("fetch.max.wait.ms", 500)? as i32;
    f.partition_max_bytes = settings.num("max.partition.fetch.bytes", 1_048_576)? as i32;

    let mut member: Option<Member> = None;
    let mut topics: Vec<String> = Vec::new();
    if let Some(part) = p.parse_num::<i32>("partition")? {
        let tp: Tp = (p.req("topic")?.to_string(), part);
        let start = match offset_opt.unwrap_or(reset) {
            o if o >= 0 => o,
            o => *f.list_offsets(std::slice::from_ref(&tp), o).await?.get(&tp).unwrap_or(&0),
        };
        f.positions.insert(tp, start);
    } else {
        let group = group_id.unwrap_or_else(|| format!("console-consumer-{}", crate::client::now_ms() % 100_000));
        topics = match p.get("topic") {
            Some(t) => vec![t.to_string()],
            None => {
                let pat = p.get("include").or(p.get("whitelist")).unwrap_or_default().to_string();
                let exclude_internal = settings.get("exclude.internal.topics").map(|v| v != "false").unwrap_or(true);
                let md = f.cl.metadata(None, false).await?;
                crate::admin::topic_names(&md, exclude_internal)
                    .into_iter()
                    .filter(|t| include_matches(&pat, t))
                    .collect()
            }
        };
        if p.has("topic") {
            // Subscribing to a missing topic auto-creates it, as the Java consumer's metadata request does.
            let _ = f.cl.metadata(Some(&topics), true).await;
        }
        let session = settings.num("session.timeout.ms", 45_000)? as i32;
        let rebalance = settings.num("max.poll.interval.ms", 300_000)? as i32;
        let hb = settings.num("heartbeat.interval.ms", 3000)?;
        member = Some(Member::new(&group, session, rebalance, hb));
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count: i64 = 0;
    let mut last_msg = Instant::now();
    let commit_every = Duration::from_millis(settings.num("auto.commit.interval.ms", 5000)?);
    let mut last_commit = Instant::now();
    let mut need_join = member.is_some();
    let mut stop = Box::pin(shutdown_signal());
    let mut timed_out = false;
    let mut consumed: BTreeMap<Tp, i64> = BTreeMap::new();
    let result: Result<()> = async {
        'outer: loop {
            if need_join {
                if let Some(m) = member.as_mut() {
                    let join_timeout = Duration::from_millis(m.rebalance_timeout_ms as u64);
                    tokio::select! {
                        r = m.join(&mut f.cl, &topics, join_timeout) => r?,
                        _ = &mut stop => break 'outer,
                    }
                    f.positions.clear();
                    let tps = m.assignment.clone();
                    let committed = if tps.is_empty() { BTreeMap::new() } else { group::fetch_offsets(&mut f.cl, &m.group, Some(&tps)).await? };
                    let missing: Vec<Tp> = tps.iter().filter(|tp| !committed.contains_key(*tp)).cloned().collect();
                    let mut start = committed;
                    if !missing.is_empty() {
                        if reset == 0 {
                            return Err(ToolError::Msg("org.apache.kafka.clients.consumer.NoOffsetForPartitionException: Undefined offset with no reset policy for partitions".into()));
                        }
                        start.extend(f.list_offsets(&missing, reset).await?);
                    }
                    f.positions.extend(start);
                }
                need_join = false;
            }
            let batch = tokio::select! {
                r = f.poll() => r?,
                _ = &mut stop => break 'outer,
            };
            for fe in batch {
                for r in &fe.records {
                    if max_messages >= 0 && count >= max_messages {
                        break;
                    }
                    if let Err(e) = formatter.write(&mut out, fe.partition, r) {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            break 'outer;
                        }
                        return Err(e.into());
                    }
                    count += 1;
                    last_msg = Instant::now();
                    // Only what was printed counts as consumed (and is committed).
                    consumed.insert((fe.topic.clone(), fe.partition), r.offset + 1);
                }
            }
            let _ = out.flush();
            if max_messages >= 0 && count >= max_messages {
                break;
            }
            if let Some(t) = timeout_ms {
                if last_msg.elapsed() >= Duration::from_millis(t) {
                    timed_out = true;
                    break;
                }
            }
            if let Some(m) = member.as_mut() {
                if m.heartbeat(&mut f.cl).await? {
                    if auto_commit {
                        let _ = m.commit(&mut f.cl, &consumed).await;
                    }
                    consumed.clear();
                    need_join = true;
                }
                if auto_commit && last_commit.elapsed() >= commit_every && !consumed.is_empty() {
                    m.commit(&mut f.cl, &consumed).await?;
                    last_commit = Instant::now();
                }
            }
        }
        Ok(())
    }
    .await;
    let _ = out.flush();
    drop(out);
    if timed_out {
        eprintln!("[{}] ERROR Error processing message, terminating consumer process:  (kafka.tools.ConsoleConsumer$)\norg.apache.kafka.common.errors.TimeoutException", crate::console_producer::chrono_like_now());
    }
    if let Some(m) = member.as_mut() {
        if auto_commit && !m.member_id.is_empty() && !consumed.is_empty() {
            let _ = m.commit(&mut f.cl, &consumed).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), m.leave(&mut f.cl)).await;
    }
    eprintln!("Processed a total of {count} messages");
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!(
                "[{}] ERROR Error processing message, terminating consumer process: {e}",
                crate::console_producer::chrono_like_now()
            );
            Ok(1)
        }
    }
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
