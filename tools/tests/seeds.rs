//! The user's tutorials (seeds 001, 003, 004) replayed verbatim through
//! bin/*.sh against real zookeeperd and kafkad processes; only
//! localhost:9092/9093/9094/2181 are mapped to the test's free ports.

mod common;

use std::time::Duration;

use common::{wait_for, Home, Streaming};

const T: Duration = Duration::from_secs(90);

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `Topic: T\tTopicId: <22 chars>\tPartitionCount: N\tReplicationFactor: R\tConfigs: C`
fn assert_topic_line(line: &str, topic: &str, parts: usize, rf: usize, configs: &str) {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 5, "describe header {line:?}");
    assert_eq!(f[0], format!("Topic: {topic}"));
    assert!(f[1].starts_with("TopicId: ") && f[1].len() == "TopicId: ".len() + 22, "topic id in {line:?}");
    assert_eq!(f[2], format!("PartitionCount: {parts}"));
    assert_eq!(f[3], format!("ReplicationFactor: {rf}"));
    assert_eq!(f[4], format!("Configs: {configs}"));
}

/// Seed 001 steps 2-5: zkServer.sh, kafka-server-start.sh, a topic created
/// with --zookeeper, console producer with --broker-list, consumer from the
/// beginning until Ctrl-C.
#[test]
fn seed001_zookeeper_quickstart() {
    let mut h = Home::new(1);
    // cd $ZOOKEEPER_HOME/bin; ./zkServer.sh start
    let out = h.run("cd bin && ./zkServer.sh start", "", T);
    h.zk_server_sh_started = true;
    assert!(out.status.success(), "zkServer.sh start: {}", stderr(&out));
    assert!(stderr(&out).contains("Starting zookeeper ... STARTED"), "{}", stderr(&out));
    h.wait_zk();
    let st = h.run("bin/zkServer.sh status", "", T);
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "Mode: standalone", "{}", stderr(&st));

    h.spawn("bin/kafka-server-start.sh config/server.properties", "kafka0.out");
    h.wait_broker(0);

    let out = h.ok(
        "bin/kafka-topics.sh --create --zookeeper localhost:2181 --replication-factor 1 --partitions 1 --topic army",
        "",
    );
    assert_eq!(out, "Created topic army.\n");

    h.ok(
        "bin/kafka-console-producer.sh --broker-list localhost:9092 --topic army",
        "이것은 수류탄이여!\n받아라 수류탄!!!\n전방 100m 적출현 사격 개시\n",
    );

    let c = Streaming::start(
        &h,
        "bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic army --from-beginning",
    );
    let got = c.take(3, T);
    assert_eq!(got, vec!["이것은 수류탄이여!", "받아라 수류탄!!!", "전방 100m 적출현 사격 개시"]);
    let (st, err) = c.interrupt();
    assert!(st.success(), "consumer exit {st}: {err}");
    assert!(err.contains("Processed a total of 3 messages"), "{err}");

    // The znodes old Kafka wrote, now live: describe through ZooKeeper and the broker agree.
    let zk = h.ok("bin/kafka-topics.sh --describe --zookeeper localhost:2181 --topic army", "");
    let lines: Vec<&str> = zk.lines().collect();
    assert_topic_line(lines[0], "army", 1, 1, "");
    assert_eq!(lines[1], "\tTopic: army\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0");
    let bs = h.ok("bin/kafka-topics.sh --describe --topic army --bootstrap-server localhost:9092", "");
    assert_eq!(bs, zk, "describe via broker and via ZooKeeper differ");
    let list = h.ok("bin/kafka-topics.sh --list --zookeeper localhost:2181", "");
    assert!(list.lines().any(|l| l == "army"), "{list}");
}

/// Seed 001 step 6: three brokers, a replication-factor-3 topic created
/// through ZooKeeper, then broker 1 killed with -9 leaves the ISR.
#[test]

fn seed001_three_brokers_and_kill() {
    let mut h = Home::new(3);
    h.start_stack();
    let out = h.ok("bin/kafka-topics.sh --create --zookeeper localhost:2181 --replication-factor 3 --partitions 1 --topic multiple", "");
    assert_eq!(out, "Created topic multiple.\n");
    let desc = wait_for("all three replicas in the ISR", T, || {
        let d = h.ok("bin/kafka-topics.sh --describe --zookeeper localhost:2181 --topic multiple", "");
        let part = d.lines().nth(1)?.to_string();
        let isr = part.split("Isr: ").nth(1)?;
        (isr.split(',').count() == 3).then_some(d)
    });
    let lines: Vec<&str> = desc.lines().collect();
    assert_topic_line(lines[0], "multiple", 1, 3, "");
    let mut reps: Vec<&str> =
        lines[1].split("Replicas: ").nth(1).unwrap().split('\t').next().unwrap().split(',').collect();
    reps.sort();
    assert_eq!(reps, vec!["0", "1", "2"], "{}", lines[1]);

    h.ok("bin/kafka-console-producer.sh --broker-list localhost:9092 --topic multiple", "node1\nnode2\nnode\nnode4\n");
    let c = Streaming::start(
        &h,
        "bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic multiple --from-beginning",
    );
    assert_eq!(c.take(4, T), vec!["node1", "node2", "node", "node4"]);
    let (st, err) = c.interrupt();
    assert!(st.success() && err.contains("Processed a total of 4 messages"), "{err}");

    // kill -9 broker 1: it drops out of the ISR (and leadership moves if it led).
    h.kill9(2);
    let after = wait_for("broker 1 to leave the ISR", Duration::from_secs(120), || {
        let d = h.ok("bin/kafka-topics.sh --describe --zookeeper localhost:2181 --topic multiple", "");
        let part = d.lines().nth(1)?.to_string();
        let isr: Vec<String> = part.split("Isr: ").nth(1)?.split(',').map(str::to_string).collect();
        (!isr.contains(&"1".to_string()) && isr.len() == 2).then_some(part)
    });
    assert!(!after.contains("Leader: 1\t") && !after.contains("Leader: none"), "{after}");
    // The partition now shows as under-replicated (2 of 3 in sync).
    let ur = h.ok("bin/kafka-topics.sh --describe --under-replicated-partitions --bootstrap-server localhost:9092", "");
    let lines: Vec<&str> = ur.lines().collect();
    assert_eq!(lines.len(), 1, "{ur}");
    assert!(lines[0].starts_with("\tTopic: multiple\tPartition: 0\tLeader: "), "{ur}");
    // The records are still there, read from a survivor (by partition: the
    // group coordinator's __consumer_offsets partition may have died with
    // broker 1, as the quickstart configs give it one replica).
    let out = h.ok("bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic multiple --partition 0 --offset earliest --max-messages 4", "");
    assert_eq!(out, "node1\nnode2\nnode\nnode4\n");
}

/// Seed 003, single-broker part: quickstart with --bootstrap-server,
/// groups and lag, kafka-configs, and kafka-dump-log on the data.
#[test]
fn seed003_bootstrap_tutorial() {
    let mut h = Home::new(1);
    h.spawn("bin/zookeeper-server-start.sh config/zookeeper.properties", "zk.out");
    h.wait_zk();
    // The tutorial's `config/server.propertie` (sic) fails as with Kafka: no such file.
    let typo = h.run("bin/kafka-server-start.sh config/server.propertie", "", T);
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("server.propertie"), "{}", stderr(&typo));
    h.spawn("bin/kafka-server-start.sh config/server.properties", "kafka0.out");
    h.wait_broker(0);

    assert_eq!(
        h.ok("bin/kafka-topics.sh --create --topic topic-example1 --bootstrap-server localhost:9092", ""),
        "Created topic topic-example1.\n"
    );
    let d = h.ok("bin/kafka-topics.sh --describe --topic topic-example1 --bootstrap-server localhost:9092", "");
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines.len(), 2, "{d}");
    assert_topic_line(lines[0], "topic-example1", 1, 1, "");
    assert_eq!(lines[1], "\tTopic: topic-example1\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0");

    h.ok(
        "bin/kafka-console-producer.sh --topic topic-example1 --bootstrap-server localhost:9092",
        "m1\nm2\nm3\nm4\nm5\n",
    );
    // The blog renders the address as `[localhost:9092](http://localhost:9092)`;
    // bash rejects the parentheses, so a person types the address (quoted, the
    // link form is accepted too).
    let c = Streaming::start(&h, "bin/kafka-console-consumer.sh --topic topic-example1 --bootstrap-server '[localhost:9092](http://localhost:9092)' --from-beginning");
    assert_eq!(c.take(5, T), vec!["m1", "m2", "m3", "m4", "m5"]);
    drop(c);

    // A group consumes two records, then the group shows LAG 3.
    let out = h.ok("bin/kafka-console-consumer.sh --topic topic-example1 --bootstrap-server localhost:9092 --group team-a --from-beginning --max-messages 2", "");
    assert_eq!(out, "m1\nm2\n");
    let g = h.ok("bin/kafka-consumer-groups.sh --topic topic-example1 --bootstrap-server localhost:9092 --group team-a --describe", "");
    let expected = "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n\
                    team-a          topic-example1  0          2               5               3               -               -               -\n";
    assert_eq!(g, expected);
    let list = h.ok("bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --list", "");
    assert!(list.lines().any(|l| l == "team-a"), "{list}");
    // The group resumes where it stopped.
    let out = h.ok("bin/kafka-console-consumer.sh --topic topic-example1 --bootstrap-server localhost:9092 --group team-a --max-messages 3", "");
    assert_eq!(out, "m3\nm4\nm5\n");

    // Producer options of the "Kafka Cli" section.
    h.ok("bin/kafka-console-producer.sh --topic topic3 --bootstrap-server localhost:9092 --request-required-acks 1 --message-send-max-retries 50", "x\n");
    // kafka-configs with the tutorial's flags (plus the server it omits).
    let out = h.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --alter --entity-type topics --entity-name topic3 --add-config retention.ms=86400000", "");
    assert_eq!(out, "Completed updating config for topic topic3.\n");
    let d = h.ok("bin/kafka-topics.sh --describe --topic topic3 --bootstrap-server localhost:9092", "");
    assert_topic_line(d.lines().next().unwrap(), "topic3", 1, 1, "retention.ms=86400000");
    let c = h.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --topic topic3 --describe", "");
    assert!(c.starts_with("Dynamic configs for topic topic3 are:\n  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=86400000"), "{c}");
    let out = h.ok(
        "bin/kafka-configs.sh --bootstrap-server localhost:9092 --topic topic3 --delete-config retention.ms --alter",
        "",
    );
    assert_eq!(out, "Completed updating config for topic topic3.\n");
    let c = h.ok("bin/kafka-configs.sh --bootstrap-server localhost:9092 --topic topic3 --describe", "");
    assert_eq!(c, "Dynamic configs for topic topic3 are:\n");

    // The notes' command lines without a server fail the way Kafka's do: one line, non-zero.
    for (line, msg) in [
        ("bin/kafka-configs.sh  --alter -- entity-type topics --entity-name topic3 --add-config retention.ms=86400000", "One of the required --bootstrap-server or --zookeeper arguments must be specified"),
        ("bin/kafka-consumer-groups.sh --list", "Missing required argument \"[bootstrap-server]\""),
    ] {
        let o = h.run(line, "", T);
        assert!(!o.status.success(), "{line}");
        assert_eq!(stderr(&o).trim(), msg, "{line}");
    }

    // kafka-dump-log on the partition's segment shows the payloads.
    let seg = h.path("kafka-logs/topic-example1-0/00000000000000000000.log");
    let dump = h.ok(&format!("bin/kafka-dump-log.sh --print-data-log --files {}", seg.display()), "");
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines[0], format!("Dumping {}", seg.display()));
    assert_eq!(lines[1], "Log starting offset: 0");
    assert!(lines[2].starts_with("baseOffset: 0 lastOffset: 4 count: 5 "), "{}", lines[2]);
    assert!(
        lines[2].contains(" magic: 2 compresscodec: none crc: ") && lines[2].ends_with(" isvalid: true"),
        "{}",
        lines[2]
    );
    let payloads: Vec<&str> = lines.iter().filter_map(|l| l.split(" payload: ").nth(1)).collect();
    assert_eq!(payloads, vec!["m1", "m2", "m3", "m4", "m5"]);
    assert!(
        lines[3].starts_with("| offset: 0 CreateTime: ")
            && lines[3].contains(" keySize: -1 valueSize: 2 sequence: 0 headerKeys: []"),
        "{}",
        lines[3]
    );
}

/// Seed 003, cluster part: three brokers, `--partitions 3 --replication-factor 2`,
/// em-dash flags, and bootstrap lists split by spaces.
#[test]

fn seed003_cluster_tutorial() {
    let mut h = Home::new(3);
    h.start_stack();
    assert_eq!(
        h.ok("bin/kafka-topics.sh --create --topic topic2 --bootstrap-server localhost:9093 --partitions 3 --replication-factor 2", ""),
        "Created topic topic2.\n"
    );
    let d = wait_for("topic2 fully replicated", T, || {
        let d = h.ok(
            "bin/kafka-topics.sh \u{2014}describe \u{2014}topic topic2 \u{2014}bootstrap-server localhost:9093",
            "",
        );
        (d.lines().count() == 4
            && d.lines().skip(1).all(|l| l.split("Isr: ").nth(1).is_some_and(|i| i.split(',').count() == 2)))
        .then_some(d)
    });
    let lines: Vec<&str> = d.lines().collect();
    assert_topic_line(lines[0], "topic2", 3, 2, "");
    for (i, l) in lines[1..].iter().enumerate() {
        assert!(l.starts_with(&format!("\tTopic: topic2\tPartition: {i}\tLeader: ")), "{l}");
    }
    // The tutorial hands --from-beginning to the producer as well; it is ignored with a warning.
    let out = h.run("bin/kafka-console-producer.sh --topic topic2 --bootstrap-server localhost:9092, localhost:9093, localhost:9094 --from-beginning", "a\nb\nc\n", T);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = Streaming::start(&h, "bin/kafka-console-consumer.sh --topic topic2 --bootstrap-server localhost:9092, localhost:9093, localhost:9094 --from-beginning");
    let mut got = c.take(3, T);
    got.sort();
    assert_eq!(got, vec!["a", "b", "c"]);
    let (st, err) = c.interrupt();
    assert!(st.success() && err.contains("Processed a total of 3 messages"), "{err}");
    // --alter --partitions through the broker.
    h.ok(
        "bin/kafka-topics.sh --alter \u{2014}topic topic2 \u{2014}partitions 4 \u{2014}bootstrap-server localhost:9092",
        "",
    );
    let d = wait_for("4 partitions", T, || {
        let d = h.ok("bin/kafka-topics.sh --describe --topic topic2 --bootstrap-server localhost:9092", "");
        d.lines().next()?.contains("PartitionCount: 4").then_some(d)
    });
    assert_eq!(d.lines().count(), 5, "{d}");
}

/// Seed 004 verbatim: the quickstart with separate terminals.
#[test]
fn seed004_quickstart() {
    let mut h = Home::new(1);
    h.start_stack();
    assert_eq!(
        h.ok("bin/kafka-topics.sh --create --partitions 1 --replication-factor 1 --topic quickstart-events --bootstrap-server localhost:9092", ""),
        "Created topic quickstart-events.\n"
    );
    h.ok("bin/kafka-console-producer.sh --topic quickstart-events --bootstrap-server localhost:9092", "hello\nworld\n");
    // The tutorial's "consumer" terminal runs the producer again (sic): it produces.
    h.ok("bin/kafka-console-producer.sh --topic quickstart-events --bootstrap-server localhost:9092", "again\n");
    let out = h.ok("bin/kafka-console-consumer.sh --topic quickstart-events --from-beginning --bootstrap-server localhost:9092 --max-messages 3", "");
    assert_eq!(out, "hello\nworld\nagain\n");
}
