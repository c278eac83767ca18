//! kafka-reassign-partitions and kafka-leader-election against real kafkad
//! brokers: the plans and errors on one broker, then real moves, a
//! cancelled move and leader elections on three.

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
    h.start_stack();
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

    // One broker, every leader already preferred: nothing to elect, and
    // Kafka leaves such partitions out of an all-partitions answer.
    let out = h.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --all-topic-partitions", "");
    assert_eq!(out, "");
    let out = h.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --topic foo --partition 1", "");
    assert_eq!(out, "Valid replica already elected for partitions foo-1\n");
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

/// The state line of partition `p` in `kafka-topics --describe`.
fn partition_line(h: &Home, topic: &str, p: usize) -> String {
    let d = h.ok(&format!("bin/kafka-topics.sh --describe --topic {topic} --bootstrap-server localhost:9092"), "");
    d.lines().nth(1 + p).unwrap_or_default().to_string()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split('\t').find_map(|f| f.strip_prefix(&format!("{name}: "))).unwrap_or_default()
}

fn json_plan(parts: &[(&str, i32, &[i32])]) -> String {
    let ps: Vec<String> = parts
        .iter()
        .map(|(t, p, r)| {
            let reps: Vec<String> = r.iter().map(i32::to_string).collect();
            let dirs: Vec<&str> = r.iter().map(|_| "\"any\"").collect();
            format!(
                r#"{{"topic":"{t}","partition":{p},"replicas":[{}],"log_dirs":[{}]}}"#,
                reps.join(","),
                dirs.join(",")
            )
        })
        .collect();
    format!(r#"{{"version":1,"partitions":[{}]}}"#, ps.join(","))
}

#[test]
fn reassignment_moves_replicas_cancel_and_leader_election_on_three_brokers() {
    let mut h = Home::new(3);
    h.start_stack();
    // The controller serves the reassignment APIs, so it is never the
    // broker this test stops: c is the controller, a and b the others.
    let c: i32 = common::wait_for("a controller", T, || {
        let z = h.ok("bin/zookeeper-shell.sh localhost:2181 get /controller", "");
        z.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find_map(|v| v["brokerid"].as_i64())
    }) as i32;
    let others: Vec<i32> = (0..3).filter(|x| *x != c).collect();
    let (a, b) = (others[0], others[1]);
    // Broker i is process i + 1 (process 0 is ZooKeeper), at its own port.
    let port = |i: i32| h.kafka_ports[i as usize];
    let live = port(c);

    h.ok(
        &format!(
            "bin/kafka-topics.sh --create --topic moving --replica-assignment {b} --bootstrap-server localhost:9092"
        ),
        "",
    );
    h.ok("bin/kafka-console-producer.sh --topic moving --bootstrap-server localhost:9092", "a\nb\nc\nd\ne\n");

    // Move moving-0 from broker b to brokers c and a.
    std::fs::write(h.path("plan.json"), json_plan(&[("moving", 0, &[c, a])])).expect("write");
    let out = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file plan.json --execute", "");
    assert_eq!(
        out,
        format!("Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started partition reassignment for moving-0\n", json_plan(&[("moving", 0, &[b])]))
    );
    let verified = common::wait_for("the move to complete", T, || {
        let v = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file plan.json --verify", "");
        v.contains("is completed.").then_some(v)
    });
    assert_eq!(
        verified,
        "Status of partition reassignment:\nReassignment of partition moving-0 is completed.\n\n\
         Clearing broker-level throttles on brokers 0,1,2\nClearing topic-level throttles on topic moving\n"
    );
    let line = partition_line(&h, "moving", 0);
    assert_eq!(field(&line, "Replicas"), format!("{c},{a}"), "{line}");
    let mut isr: Vec<String> = field(&line, "Isr").split(',').map(str::to_string).collect();
    isr.sort();
    let mut want = vec![a.to_string(), c.to_string()];
    want.sort();
    assert_eq!(isr, want, "{line}");
    // The data moved with it, and broker b dropped its copy.
    let out = h.ok(&format!("bin/kafka-console-consumer.sh --topic moving --from-beginning --bootstrap-server 127.0.0.1:{live} --max-messages 5"), "");
    assert_eq!(out, "a\nb\nc\nd\ne\n");
    let dir = |i: i32| h.path(&format!("kafka-logs{}/moving-0", if i == 0 { String::new() } else { i.to_string() }));
    common::wait_for("broker b to delete its replica", T, || (!dir(b).exists()).then_some(()));
    assert!(dir(a).join("00000000000000000000.log").exists() && dir(c).join("00000000000000000000.log").exists());
    let out = h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --list", "");
    assert_eq!(out, "No partition reassignments found.\n");

    // A move that cannot finish (its new replica b is stopped) is listed,
    // still in progress, refused a second time, and cancelled back.
    h.signal(b as usize + 1, "-STOP");
    std::fs::write(h.path("stuck.json"), json_plan(&[("moving", 0, &[c, a, b])])).expect("write");
    let bs = format!("--bootstrap-server 127.0.0.1:{live}");
    h.ok(&format!("bin/kafka-reassign-partitions.sh {bs} --reassignment-json-file stuck.json --execute"), "");
    let list = h.ok(&format!("bin/kafka-reassign-partitions.sh {bs} --list"), "");
    assert_eq!(list, format!("Current partition reassignments:\nmoving-0: replicas: {c},{a},{b}. adding: {b}.\n"));
    let v = h.ok(&format!("bin/kafka-reassign-partitions.sh {bs} --reassignment-json-file stuck.json --verify"), "");
    assert_eq!(v, "Status of partition reassignment:\nReassignment of partition moving-0 is still in progress.\n\n");
    let again =
        h.run(&format!("bin/kafka-reassign-partitions.sh {bs} --reassignment-json-file stuck.json --execute"), "", T);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout)
        .contains("Cannot execute because there is an existing partition assignment."));
    let out = h.ok(&format!("bin/kafka-reassign-partitions.sh {bs} --reassignment-json-file stuck.json --cancel"), "");
    assert_eq!(
        out,
        "Successfully cancelled partition reassignment for: moving-0\nNone of the specified partition moves are active.\n\
         Clearing broker-level throttles on brokers 0,1,2\nClearing topic-level throttles on topic moving\n"
    );
    h.signal(b as usize + 1, "-CONT");
    common::wait_for("the cancelled move to show the original replicas", T, || {
        (field(&partition_line(&h, "moving", 0), "Replicas") == format!("{c},{a}")).then_some(())
    });
    assert_eq!(
        h.ok(&format!("bin/kafka-reassign-partitions.sh {bs} --list"), ""),
        "No partition reassignments found.\n"
    );

    // Preferred leader election: reordering the replicas makes a preferred
    // while c still leads; the election hands leadership to a.
    common::wait_for("both replicas in sync", T, || {
        (field(&partition_line(&h, "moving", 0), "Isr").split(',').count() == 2).then_some(())
    });
    let leader = field(&partition_line(&h, "moving", 0), "Leader").to_string();
    let (first, second) = if leader == c.to_string() { (a, c) } else { (c, a) };
    std::fs::write(h.path("order.json"), json_plan(&[("moving", 0, &[first, second])])).expect("write");
    h.ok("bin/kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --reassignment-json-file order.json --execute", "");
    common::wait_for("the new replica order", T, || {
        (field(&partition_line(&h, "moving", 0), "Replicas") == format!("{first},{second}")).then_some(())
    });
    let out = h.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --topic moving --partition 0", "");
    assert_eq!(out, "Successfully completed leader election (PREFERRED) for partitions moving-0\n");
    common::wait_for("the preferred replica to lead", T, || {
        (field(&partition_line(&h, "moving", 0), "Leader") == first.to_string()).then_some(())
    });
    let out = h.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type preferred --all-topic-partitions", "");
    assert_eq!(out, "", "nothing left to elect");
    // The ZooKeeper-era route: a move written into /admin/reassign_partitions
    // is carried out by the controller, which removes the node when done.
    h.ok(
        &format!(
            "bin/kafka-topics.sh --create --topic legacy --replica-assignment {c} --bootstrap-server localhost:9092"
        ),
        "",
    );
    let node = format!(r#"{{"version":1,"partitions":[{{"topic":"legacy","partition":0,"replicas":[{a}]}}]}}"#);
    h.ok(&format!("bin/zookeeper-shell.sh localhost:2181 create /admin/reassign_partitions '{node}'"), "");
    common::wait_for("the legacy move to complete", T, || {
        let gone = h.ok("bin/zookeeper-shell.sh localhost:2181 ls /admin", "");
        (field(&partition_line(&h, "legacy", 0), "Replicas") == a.to_string() && !gone.contains("reassign_partitions"))
            .then_some(())
    });
    // Unclean election is not needed while the leader lives.
    let out = h.ok("bin/kafka-leader-election.sh --bootstrap-server localhost:9092 --election-type unclean --topic moving --partition 0", "");
    assert_eq!(out, "Valid replica already elected for partitions moving-0\n");
}
