//! `kafka-tools`: Kafka's command-line tools in one binary. The tool is
//! picked by argv[0] (`kafka-topics.sh` -> kafka-topics, as a symlink or a
//! copy) or by the first argument (`kafka-tools kafka-topics --list ...`).

mod admin;
mod argparse;
mod client;
mod configs;
mod console_consumer;
mod console_producer;
mod consumer_groups;
mod dump_log;
mod election;
mod error;
mod fetcher;
mod group;
mod group_reset;
mod misc;
mod opts;
mod perf;
mod perf_consumer;
mod pipeline;
mod producer;
mod reassign;
mod reassign_api;
mod reassign_zk;
mod topics;
mod topics_zk;
mod verifiable;
mod verifiable_consumer;
mod zk;
mod zkshell;

use error::{Result, ToolError};

/// What `--version` prints: the Kafka release whose tools these mirror.
pub const KAFKA_VERSION_LINE: &str = concat!("3.8.0 (Commit:kafka-tools-rs-", env!("CARGO_PKG_VERSION"), ")");

type Tool = fn(Vec<String>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32>>>>;

macro_rules! tool {
    ($f:path) => {
        |a: Vec<String>| Box::pin(async move { $f(&a).await })
    };
}

const TOOLS: &[(&str, Tool)] = &[
    ("kafka-topics", tool!(topics::run)),
    ("kafka-console-producer", tool!(console_producer::run)),
    ("kafka-console-consumer", tool!(console_consumer::run)),
    ("kafka-consumer-groups", tool!(consumer_groups::run)),
    ("kafka-configs", tool!(configs::run)),
    ("kafka-dump-log", tool!(dump_log::run)),
    ("kafka-reassign-partitions", tool!(reassign::run_reassign)),
    ("kafka-leader-election", tool!(election::run_election)),
    ("kafka-preferred-replica-election", tool!(election::run_preferred)),
    ("kafka-verifiable-producer", tool!(verifiable::run_producer)),
    ("kafka-verifiable-consumer", tool!(verifiable_consumer::run)),
    ("kafka-producer-perf-test", tool!(perf::run_producer)),
    ("kafka-consumer-perf-test", tool!(perf_consumer::run)),
    ("kafka-broker-api-versions", tool!(misc::run_api_versions)),
    ("kafka-get-offsets", tool!(misc::run_get_offsets)),
    ("kafka-run-class-get-offsets", tool!(misc::run_get_offsets)),
    ("kafka-delete-records", tool!(misc::run_delete_records)),
    ("kafka-log-dirs", tool!(misc::run_log_dirs)),
    ("zookeeper-shell", tool!(zkshell::run)),
];

fn tool_name(s: &str) -> String {
    let base = std::path::Path::new(s).file_name().map(|b| b.to_string_lossy().to_string()).unwrap_or_default();
    base.strip_suffix(".sh").unwrap_or(&base).to_string()
}

fn usage() -> String {
    let mut s = String::from("usage: kafka-tools <tool> [options]   (or invoke as <tool>.sh)\ntools:\n");
    for (n, _) in TOOLS {
        s.push_str(&format!("  {n}\n"));
    }
    s
}

fn main() {
    // A closed stdout (`| head`) ends the tool quietly, as Java's PrintStream
    // does; any other panic still prints one line.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        eprintln!("internal error: {msg}");
        std::process::exit(1);
    }));
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = tool_name(args.first().map(String::as_str).unwrap_or(""));
    let mut name = argv0.clone();
    let mut rest: Vec<String> = args.split_off(1.min(args.len()));
    if !TOOLS.iter().any(|(n, _)| *n == name) {
        match rest.first() {
            Some(first) if TOOLS.iter().any(|(n, _)| *n == tool_name(first)) => {
                name = tool_name(first);
                rest.remove(0);
            }
            Some(h) if h == "--help" || h == "-h" => {
                print!("{}", usage());
                return;
            }
            _ => {
                eprint!("{}", usage());
                std::process::exit(1);
            }
        }
    }
    let Some((_, f)) = TOOLS.iter().find(|(n, _)| *n == name) else { unreachable!("checked above") };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match rt.block_on(f(rest)) {
        Ok(c) => c,
        Err(ToolError::Reported(c)) => c,
        Err(e) => {
            report(&e);
            1
        }
    };
    // The tool's ZooKeeper clients are dropped now: let their sessions
    // close. Other background tasks (stdin readers) must not keep the
    // process alive.
    rt.block_on(zk::close_sessions());
    drop(rt);
    std::process::exit(code);
}

fn report(e: &ToolError) {
    let line = e.to_string();
    let line = line.lines().collect::<Vec<_>>().join(" ");
    eprintln!("{line}");
}
