//! Command-line behaviour that needs no tutorial: one-line errors with a
//! non-zero status, --help, unreachable brokers, zookeeper-shell, the
//! producer perf test, consumer-group resets.

mod common;

use std::time::Duration;

use common::Home;

const T: Duration = Duration::from_secs(90);

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_flags_give_one_line_and_non_zero() {
    let h = Home::new(0);
    for (line, msg) in [
        ("bin/kafka-topics.sh --bootstrap-server localhost:1 --frobnicate", "frobnicate is not a recognized option"),
        ("bin/kafka-topics.sh --bootstrap-server localhost:1", "Command must include exactly one action: --list, --describe, --create, --alter or --delete"),
        ("bin/kafka-topics.sh --list", "One of the required --bootstrap-server or --zookeeper arguments must be specified"),
        ("bin/kafka-console-producer.sh --bootstrap-server localhost:1", "Missing required argument \"[topic]\""),
        ("bin/kafka-console-consumer.sh --bootstrap-server localhost:1", "Exactly one of topic/include is required."),
        ("bin/kafka-console-consumer.sh --bootstrap-server localhost:1 --topic t --offset 3", "The partition is required when offset is specified."),
        ("bin/kafka-topics.sh --bootstrap-server localhost:1 --create --topic t --partitions x", "Cannot parse argument 'x' of option partitions"),
        ("bin/kafka-dump-log.sh", "Missing required argument \"[files]\""),
        ("bin/kafka-configs.sh --bootstrap-server localhost:1 --describe --entity-type widgets", "Invalid entity type widgets, the entity type must be one of topics, clients, users, brokers, broker-loggers, ips with the --bootstrap-server argument"),
    ] {
        let o = h.run(line, "", T);
        assert_eq!(o.status.code(), Some(1), "{line}: {}", err(&o));
        assert_eq!(err(&o).trim_end(), msg, "{line}");
        assert_eq!(err(&o).lines().count(), 1, "{line}");
    }
}

#[test]
fn unreachable_broker_fails_within_the_connect_timeout() {
    let h = Home::new(0);
    let port = common::free_port();
    let started = std::time::Instant::now();
    let o = h.run(&format!("bin/kafka-topics.sh --bootstrap-server 127.0.0.1:{port} --list"), "", T);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).starts_with(&format!(
            "Error while executing topic command : Could not connect to any bootstrap server (127.0.0.1:{port})"
        )),
        "{}",
        err(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let o = h.run(&format!("bin/kafka-console-consumer.sh --bootstrap-server 127.0.0.1:{port} --topic x"), "", T);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
}

#[test]
fn help_lists_every_option() {
    let h = Home::new(0);
    let out = h.ok("bin/kafka-topics.sh --help", "");
    for opt in [
        "--bootstrap-server",
        "--zookeeper",
        "--create",
        "--describe",
        "--list",
        "--alter",
        "--delete",
        "--topic",
        "--partitions",
        "--replication-factor",
        "--replica-assignment",
        "--config",
        "--if-exists",
        "--if-not-exists",
        "--under-replicated-partitions",
        "--unavailable-partitions",
        "--version",
    ] {
        assert!(out.lines().any(|l| l.starts_with(opt)), "{opt} missing from help:\n{out}");
    }
    let out = h.ok("bin/kafka-console-consumer.sh --help", "");
    for opt in [
        "--group",
        "--partition",
        "--offset",
        "--max-messages",
        "--timeout-ms",
        "--isolation-level",
        "--property",
        "--formatter",
        "--include",
    ] {
        assert!(out.lines().any(|l| l.starts_with(opt)), "{opt} missing from help:\n{out}");
    }
}

#[test]
fn shell_perf_test_and_group_reset() {
    let mut h = Home::new(1);
    h.start_stack();

    // zookeeper-shell.sh HOST:PORT ls /brokers/ids
    let out = h.ok("bin/zookeeper-shell.sh localhost:2181 ls /brokers/ids", "");
    assert_eq!(out.lines().last(), Some("[0]"), "{out}");

    // The perf test's summary line.
    let out = h.ok("bin/kafka-producer-perf-test.sh --topic perf --num-records 2000 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=1", "");
    let last = out.lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("2000 records sent, ") && last.contains(" records/sec (") && last.ends_with(" ms 99.9th."),
        "{out}"
    );
    let offs = h.ok("bin/kafka-get-offsets.sh --bootstrap-server localhost:9092 --topic perf", "");
    assert_eq!(offs, "perf:0:2000\n");

    // A group reads 10, then is reset to offset 1500 and to -shift.
    h.ok("bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic perf --group g --from-beginning --max-messages 10", "");
    let out = h.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --group g --reset-offsets --topic perf --to-offset 1500 --execute", "");
    assert_eq!(
        out,
        format!(
            "\n{:<30} {:<30} {:<10} {:<15}\n{:<30} {:<30} {:<10} {:<15}\n",
            "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET", "g", "perf", 0, 1500
        )
    );
    let d = h.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --group g --describe", "");
    let row = d.lines().last().unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..6], &["g", "perf", "0", "1500", "2000", "500"], "{d}");
    let out = h.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --group g --reset-offsets --topic perf --shift-by -100 --dry-run", "");
    assert!(out.contains("1400"), "{out}");
}

/// Kafka's ZooKeeper-mode tools close their session on exit, so none is
/// left for the server to expire when its timeout (30 s) runs out.
#[test]
fn zookeeper_tools_close_their_sessions() {
    let mut h = Home::new(0);
    let props = h.path("config/zookeeper.properties");
    let text = std::fs::read_to_string(&props).expect("zookeeper.properties");
    std::fs::write(&props, format!("{text}4lw.commands.whitelist=*\n")).expect("write");
    h.start_stack();
    let port = h.zk_port;
    let sessions = || -> Option<u64> {
        let mntr = system_tests::four_letter(port, "mntr").ok()?;
        mntr.lines().find_map(|l| l.strip_prefix("zk_global_sessions\t")).and_then(|n| n.trim().parse().ok())
    };
    for line in [
        "bin/kafka-topics.sh --zookeeper localhost:2181 --list",
        "bin/kafka-topics.sh --zookeeper localhost:2181 --describe",
        "bin/kafka-configs.sh --zookeeper localhost:2181 --describe --entity-type topics",
        "bin/zookeeper-shell.sh localhost:2181 ls /",
    ] {
        let o = h.run(line, "", T);
        assert!(o.status.success(), "{line}: {}", err(&o));
        // Far less than the session timeout: the tool closed its session.
        common::wait_for(&format!("no session left after `{line}`"), Duration::from_secs(5), || {
            (sessions() == Some(0)).then_some(())
        });
    }
}
