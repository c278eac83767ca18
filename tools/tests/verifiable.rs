//! kafka-verifiable-producer / kafka-verifiable-consumer JSON events and
//! kafka-consumer-perf-test output, against real zookeeperd + kafkad.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{wait_for, Home, Streaming};
use serde_json::Value;

const T: Duration = Duration::from_secs(90);

fn events(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"))).collect()
}

fn names(ev: &[Value]) -> Vec<String> {
    ev.iter().map(|e| e["name"].as_str().unwrap_or("?").to_string()).collect()
}

/// Seed 003's `kafka-verifiable-producer.sh topic3 --max-message3`: as with
/// Kafka's argparse4j parser, the stray positional makes the whole rest
/// "unrecognized arguments", after the usage line, with status 1.
#[test]
fn seed003_verifiable_producer_typo() {
    let h = Home::new(0);
    let o = h.run("bin/kafka-verifiable-producer.sh topic3 --max-message3", "", T);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("usage: verifiable-producer [-h] --topic TOPIC [--max-messages MAX-MESSAGES]"),
        "{err}"
    );
    assert_eq!(lines[1], "verifiable-producer: error: unrecognized arguments: 'topic3 --max-message3'");
    assert!(o.stdout.is_empty());
    // The intended line without a broker option: the connection group is required.
    let o = h.run("bin/kafka-verifiable-producer.sh --topic topic3 --max-messages 3", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().last(),
        Some("verifiable-producer: error: one of the arguments --bootstrap-server --broker-list is required")
    );
    let o = h.run("bin/kafka-verifiable-consumer.sh --bootstrap-server localhost:1 --topic t", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().last(),
        Some("verifiable-consumer: error: argument --group-id is required")
    );
}

#[test]
fn verifiable_producer_consumer_and_consumer_perf() {
    let mut h = Home::new(1);
    h.start_stack();
    h.ok("bin/kafka-topics.sh --create --topic topic3 --partitions 2 --bootstrap-server localhost:9092", "");

    // The seed's intent: --topic topic3 --max-messages N.
    let out = h.ok(
        "bin/kafka-verifiable-producer.sh --topic topic3 --max-messages 10 --repeating-keys 3 --acks 1 --bootstrap-server localhost:9092",
        "",
    );
    let ev = events(&out);
    let n = names(&ev);
    assert_eq!(n.first().map(String::as_str), Some("startup_complete"), "{out}");
    assert_eq!(&n[n.len() - 2..], ["shutdown_complete", "tool_data"], "{out}");
    let sends: Vec<&Value> = ev.iter().filter(|e| e["name"] == "producer_send_success").collect();
    assert_eq!(sends.len(), 10, "{out}");
    let mut values = BTreeSet::new();
    let mut per_part: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for s in &sends {
        assert_eq!(s["topic"], "topic3");
        values.insert(s["value"].as_str().expect("value").parse::<i64>().expect("int"));
        per_part
            .entry(s["partition"].as_i64().expect("partition"))
            .or_default()
            .push(s["offset"].as_i64().expect("offset"));
        assert!(s["timestamp"].as_i64().is_some());
    }
    assert_eq!(values, (0..10).collect());
    for offs in per_part.values() {
        assert_eq!(offs, &(0..offs.len() as i64).collect::<Vec<_>>(), "{out}");
    }
    let first_line = out.lines().find(|l| l.contains("producer_send_success")).unwrap_or_default();
    assert!(
        first_line.starts_with("{\"timestamp\":")
            && first_line.contains(
                ",\"name\":\"producer_send_success\",\"key\":\"0\",\"value\":\"0\",\"topic\":\"topic3\",\"partition\":"
            ),
        "{first_line}"
    );
    let td = ev.last().expect("tool_data");
    assert_eq!(
        (td["sent"].as_i64(), td["acked"].as_i64(), td["target_throughput"].as_i64()),
        (Some(10), Some(10), Some(-1))
    );
    assert!(td["avg_throughput"].as_f64().is_some_and(|x| x > 0.0), "{td}");

    // --producer.config goes over the tool's own acks (Kafka's puts the
    // file's properties last): with acks=0 no offset comes back.
    std::fs::write(h.path("acks0.properties"), "acks=0\n").expect("properties");
    h.ok("bin/kafka-topics.sh --create --topic acks0 --partitions 1 --bootstrap-server localhost:9092", "");
    let cmd = format!(
        "bin/kafka-verifiable-producer.sh --topic acks0 --max-messages 3 --acks -1 --producer.config {} \
         --bootstrap-server localhost:9092",
        h.path("acks0.properties").display()
    );
    let out = h.ok(&cmd, "");
    let offsets: Vec<i64> = events(&out)
        .iter()
        .filter(|e| e["name"] == "producer_send_success")
        .map(|e| e["offset"].as_i64().expect("offset"))
        .collect();
    assert_eq!(offsets, vec![-1, -1, -1], "{out}");

    // Offsets the producer reported are what the broker holds.
    let offs = h.ok("bin/kafka-get-offsets.sh --bootstrap-server localhost:9092 --topic topic3", "");
    let total: i64 = offs.lines().map(|l| l.rsplit(':').next().unwrap_or("0").parse::<i64>().unwrap_or(0)).sum();
    assert_eq!(total, 10, "{offs}");

    let out = h.ok("bin/kafka-verifiable-consumer.sh --bootstrap-server localhost:9092 --topic topic3 --group-id vg --max-messages 10 --verbose", "");
    let ev = events(&out);
    let n = names(&ev);
    assert_eq!(n.first().map(String::as_str), Some("startup_complete"), "{out}");
    assert_eq!(n.last().map(String::as_str), Some("shutdown_complete"), "{out}");
    let assigned = ev.iter().find(|e| e["name"] == "partitions_assigned").expect("partitions_assigned");
    let mut parts: Vec<i64> = assigned["partitions"]
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["partition"].as_i64().unwrap_or(-1))
        .collect();
    parts.sort();
    assert_eq!(parts, [0, 1], "{out}");
    let consumed: i64 = ev
        .iter()
        .filter(|e| e["name"] == "records_consumed")
        .flat_map(|e| e["partitions"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            assert_eq!(
                p["maxOffset"].as_i64().unwrap_or(-9) - p["minOffset"].as_i64().unwrap_or(0) + 1,
                p["count"].as_i64().unwrap_or(0),
                "{p}"
            );
            p["count"].as_i64().unwrap_or(0)
        })
        .sum();
    assert_eq!(consumed, 10, "{out}");
    assert_eq!(ev.iter().filter(|e| e["name"] == "record_data").count(), 10, "{out}");
    let commits: Vec<&Value> = ev.iter().filter(|e| e["name"] == "offsets_committed").collect();
    assert!(!commits.is_empty() && commits.iter().all(|c| c["success"] == true), "{out}");
    // The group's committed offsets are at the end of each partition.
    let d = h.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --group vg --describe", "");
    for row in d.lines().filter(|l| l.starts_with("vg ")) {
        let c: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(c[3], c[4], "{d}");
        assert_eq!(c[5], "0", "{d}");
    }

    // kafka-consumer-perf-test: header and one data line.
    let out = h.ok("bin/kafka-consumer-perf-test.sh --bootstrap-server localhost:9092 --topic topic3 --messages 10 --threads 4 --timeout 20000", "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec");
    let f: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(f.len(), 10, "{out}");
    assert_eq!(f[0].len(), "2024-01-01 00:00:00:000".len(), "{out}");
    assert_eq!(f[4], "10", "{out}");
    assert_eq!(f[2], "0.0000", "{out}"); // 10 one- or two-byte values
    for x in [3, 5, 8, 9] {
        assert!(f[x].parse::<f64>().is_ok(), "{out}");
    }
    // Too few records: the warning and what was read, after the timeout.
    let out = h.ok("bin/kafka-consumer-perf-test.sh --broker-list localhost:9092 --topic topic3 --messages 50 --timeout 1500 --hide-header", "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(
            "WARNING: Exiting before consuming the expected number of messages: timeout (1500 ms) exceeded."
        ),
        "{out}"
    );
    assert_eq!(lines[1].split(", ").nth(4), Some("10"), "{out}");
}

/// The next event named `name` on the producer's stdout, within T.
fn next_event(p: &Streaming, name: &str) -> Value {
    let deadline = Instant::now() + T;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let line = p.take(1, T).remove(0);
        let ev: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        if ev["name"] == name {
            return ev;
        }
        last = ev;
    }
    panic!("no {name} event within {T:?}; the last one: {last}")
}

/// The verifiable producer sends with retries=0, as Kafka's does: a send
/// that fails because the leader is gone still makes the next one look the
/// leader up again, so the acknowledgements resume from the new leader
/// (with a leader cached for good they would never come back).
#[test]
fn verifiable_producer_follows_a_new_leader() {
    let mut h = Home::new(2);
    h.start_stack();
    h.ok(
        "bin/kafka-topics.sh --create --topic moving --partitions 1 --replication-factor 2 --bootstrap-server localhost:9092",
        "",
    );
    let leader: usize = wait_for("moving with both replicas in sync", T, || {
        let d = h.ok("bin/kafka-topics.sh --describe --topic moving --bootstrap-server localhost:9092", "");
        let part = d.lines().find(|l| l.contains("Partition: 0"))?.to_string();
        let isr = part.split("Isr: ").nth(1)?.split_whitespace().next()?;
        let leader = part.split("Leader: ").nth(1)?.split_whitespace().next()?.parse().ok()?;
        (isr.split(',').count() == 2).then_some(leader)
    });
    let p = Streaming::start(
        &h,
        "bin/kafka-verifiable-producer.sh --topic moving --throughput 50 --acks -1 --bootstrap-server localhost:9092,localhost:9093",
    );
    next_event(&p, "producer_send_success");
    // Children: zookeeperd, then broker 0, broker 1.
    h.kill9(1 + leader);
    let err = next_event(&p, "producer_send_error");
    let ok = next_event(&p, "producer_send_success");
    assert_eq!(ok["partition"], 0, "{ok}");
    assert!(ok["timestamp"].as_i64() >= err["timestamp"].as_i64(), "{err} {ok}");
    let d = h.ok(
        &format!("bin/kafka-topics.sh --describe --topic moving --bootstrap-server localhost:{}", 9093 - leader),
        "",
    );
    assert!(d.contains(&format!("Leader: {}", 1 - leader)), "{d}");
}
