//! kafka-reassign-partitions and kafka-leader-election against one real
//! kafkad (which has neither the reassignment nor the ElectLeaders API).

mod common;

use std::time::Duration;

use common::Home;
use serde_json::Value;

const T: Duration = Duration::from_secs(90);

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON: {s:?}: {e}"))
}

#[test]
fn reassign_generate_execute_verify_and_leader_election() {
    let mut h = Home::new(1);
    h.spawn("bin/zookeeper-server-start.sh config/zookeeper.properties", "zk.out");
    h.wait_zk();
    h.spawn("bin/kafka-server-start.sh config/server.properties", "kafka0.out");
    h.wait_broker(0);
    h.ok("bin/kafka-topics.sh --create --topic foo --partitions 2 --bootstrap-server localhost:9092", "");
    h.ok("bin/kafka-topics.sh --create --topic bar --partitions 1 --bootstrap-server localhost:9092", "");
    std::fs::write(h.path("topics.json"), r#"{"topics":[{"topic":"foo"},{"topic":"bar"}],"version":1}"#)
        .expect("write");

    let out = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --topics-to-move-json-file topics.json --broker-list 0 --generate", "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[0], "Current partition replica assignment");
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "Proposed partition reassignment configuration");
    let expected = r#"{"version":1,"partitions":[{"topic":"bar","partition":0,"replicas":[0],"log_dirs":["any"]},{"topic":"foo","partition":0,"replicas":[0],"log_dirs":["any"]},{"topic":"foo","partition":1,"replicas":[0],"log_dirs":["any"]}]}"#;
    assert_eq!(lines[1], expected);
    assert_eq!(lines[4], expected);
    assert_eq!(parse(lines[4])["partitions"].as_array().map(Vec::len), Some(3));

    // A missing topic and a duplicate broker, as Kafka words them.
    std::fs::write(h.path("missing.json"), r#"{"topics":[{"topic":"nope"}],"version":1}"#).expect("write");
    let o = h.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --topics-to-move-json-file missing.json --broker-list 0 --generate", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim_end(),
        "Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic nope not found."
    );
    let o = h.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --topics-to-move-json-file topics.json --broker-list 0,0 --generate", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), "Error: Broker list contains duplicate entries: [0]");
    let o = h.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --generate", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "Missing required argument \"[topics-to-move-json-file]\""
    );

    // --execute: kafkad has no reassignment API, so Kafka's error without --zookeeper ...
    let plan = r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[0],"log_dirs":["any"]}]}"#;
    std::fs::write(h.path("plan.json"), plan).expect("write");
    let o = h.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file plan.json --execute", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim_end(),
        "Error: org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support LIST_PARTITION_REASSIGNMENTS"
    );
    // ... and /admin/reassign_partitions with it.
    let out = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --zookeeper localhost:2181 --reassignment-json-file plan.json --execute", "");
    assert_eq!(
        out,
        format!("Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started partition reassignment for foo-1\n", plan)
    );
    let z = h.ok("bin/zookeeper-shell.sh localhost:2181 get /admin/reassign_partitions", "");
    let node = parse(z.lines().last().unwrap_or_default());
    assert_eq!(node, parse(r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[0]}]}"#), "{z}");
    let again = h.run("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --zookeeper localhost:2181 --reassignment-json-file plan.json --execute", "", T);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout)
        .starts_with("Cannot execute because there is an existing partition assignment."));
    let v = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --zookeeper localhost:2181 --reassignment-json-file plan.json --verify", "");
    let first = v.lines().next().unwrap_or_default();
    assert_eq!(first, "Status of partition reassignment:", "{v}");
    let status = v.lines().nth(1).unwrap_or_default();
    assert!(
        status == "Reassignment of partition foo-1 is still in progress."
            || status == "Reassignment of partition foo-1 is completed.",
        "{v}"
    );

    // kafka-leader-election: no ElectLeaders API on kafkad.
    let o = h.run("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --all-topic-partitions", "", T);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Error while making request\n");
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("UnsupportedVersionException: The broker does not support ELECT_LEADERS"));
    let o = h.run(
        "bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --topic foo",
        "",
        T,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end(), "Missing required option(s): partition");
    let o = h.run("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --all-topic-partitions", "", T);
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end(), "Missing required option(s): election-type");
}
