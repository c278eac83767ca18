//! Answers that must match Apache Kafka 3.9's (issue 11): OffsetCommit's
//! topic and generation checks, CreateTopics' config validation, and
//! LogAppendTime topics. Raw kafka-protocol requests, so every error code
//! and message is visible.

mod common;

use std::collections::BTreeMap;

use common::{create_topic, rpc, Kafkad};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// OffsetCommit v7 of offset 1 for `parts`; the answer as
/// (topic, partition) -> error code.
fn commit(
    port: u16,
    group: &str,
    generation: i32,
    member: &str,
    instance: Option<&str>,
    parts: &[(&str, i32)],
) -> BTreeMap<(String, i32), i16> {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id_or_member_epoch = generation;
    req.member_id = s(member);
    req.group_instance_id = instance.map(s);
    for (t, p) in parts {
        let mut cp = OffsetCommitRequestPartition::default();
        cp.partition_index = *p;
        cp.committed_offset = 1;
        match req.topics.iter_mut().find(|x| x.name.0.as_str() == *t) {
            Some(x) => x.partitions.push(cp),
            None => {
                let mut ct = OffsetCommitRequestTopic::default();
                ct.name = TopicName(s(t));
                ct.partitions.push(cp);
                req.topics.push(ct);
            }
        }
    }
    let resp: OffsetCommitResponse = rpc(port, 7, &req);
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            out.insert((t.name.0.to_string(), p.partition_index), p.error_code);
        }
    }
    out
}

fn codes(pairs: &[((&str, i32), i16)]) -> BTreeMap<(String, i32), i16> {
    pairs.iter().map(|((t, p), c)| ((t.to_string(), *p), *c)).collect()
}

#[test]
fn offset_commit_for_unknown_topics_and_partitions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(&tmp.path().join("b"), "num.partitions=1");
    create_topic(k.port, "oc", 2, 1, &[]);
    // KafkaApis.handleOffsetCommitRequest: a topic missing from the metadata
    // cache, or a partition beyond its count, is UNKNOWN_TOPIC_OR_PARTITION;
    // the rest is committed.
    let got = commit(k.port, "oc-g", -1, "", None, &[("oc", 0), ("oc", 7), ("missing", 0), ("missing", 1)]);
    assert_eq!(got, codes(&[(("oc", 0), 0), (("oc", 7), 3), (("missing", 0), 3), (("missing", 1), 3)]));
    // Nothing valid left: the coordinator is not asked, so no generation
    // error either.
    let got = commit(k.port, "no-group", 5, "m", None, &[("missing", 0)]);
    assert_eq!(got, codes(&[(("missing", 0), 3)]));
}

fn create(port: u16, name: &str, configs: &[(&str, Option<&str>)], validate_only: bool) -> (i16, Option<String>) {
    let mut t = CreatableTopic::default();
    t.name = TopicName(s(name));
    t.num_partitions = 1;
    t.replication_factor = 1;
    for (key, v) in configs {
        let mut c = CreatableTopicConfig::default();
        c.name = s(key);
        c.value = v.map(s);
        t.configs.push(c);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    req.validate_only = validate_only;
    let resp: CreateTopicsResponse = rpc(port, 5, &req);
    (resp.topics[0].error_code, resp.topics[0].error_message.as_ref().map(|m| m.to_string()))
}

#[test]
fn create_topics_refuses_invalid_configs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(&tmp.path().join("b"), "num.partitions=1");
    // LogConfig.validate via ConfigDef.parse: ConfigException texts, answered
    // as INVALID_CONFIG (40) by ZkAdminManager.createTopics.
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("retention.ms", Some("abc"), "Invalid value abc for configuration retention.ms: Not a number of type LONG"),
        (
            "cleanup.policy",
            Some("compact,bogus"),
            "Invalid value bogus for configuration cleanup.policy: String must be one of: compact, delete",
        ),
        ("min.insync.replicas", Some("0"), "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"),
        ("segment.bytes", Some("x"), "Invalid value x for configuration segment.bytes: Not a number of type INT"),
        (
            "unclean.leader.election.enable",
            Some("maybe"),
            "Invalid value maybe for configuration unclean.leader.election.enable: Expected value to be either true or false",
        ),
        ("no.such.config", Some("1"), "Unknown topic config name: no.such.config"),
        ("retention.ms", None, "Null value not supported for topic configs: retention.ms"),
    ];
    for validate_only in [true, false] {
        for (i, (key, value, message)) in cases.iter().enumerate() {
            let name = format!("bad-{i}");
            let got = create(k.port, &name, &[(key, *value)], validate_only);
            assert_eq!(got, (40, Some(message.to_string())), "{key}={value:?} validate_only={validate_only}");
        }
    }
    // min.compaction.lag.ms above max.compaction.lag.ms (LogConfig.validateValues).
    let got = create(
        k.port,
        "bad-lag",
        &[("min.compaction.lag.ms", Some("10")), ("max.compaction.lag.ms", Some("5"))],
        false,
    );
    assert_eq!(
        got,
        (40, Some("conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)".into()))
    );
    // Nothing was created: the same names are still free.
    for i in 0..cases.len() {
        create_topic(k.port, &format!("bad-{i}"), 1, 1, &[("retention.ms", "1000")]);
    }
}

fn join(port: u16, group: &str, member: &str, instance: Option<&str>) -> JoinGroupResponse {
    let mut p = JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0]);
    let mut req = JoinGroupRequest::default();
    req.group_id = GroupId(s(group));
    req.session_timeout_ms = 30_000;
    req.rebalance_timeout_ms = 30_000;
    req.member_id = s(member);
    req.group_instance_id = instance.map(s);
    req.protocol_type = s("consumer");
    req.protocols.push(p);
    rpc(port, 5, &req)
}

/// Join until admitted (a dynamic member first gets MEMBER_ID_REQUIRED).
fn join_new(port: u16, group: &str, instance: Option<&str>) -> JoinGroupResponse {
    let first = join(port, group, "", instance);
    if first.error_code == 79 {
        let again = join(port, group, first.member_id.as_str(), instance);
        assert_eq!(again.error_code, 0);
        again
    } else {
        assert_eq!(first.error_code, 0);
        first
    }
}

fn sync(port: u16, group: &str, generation: i32, member: &str, leader_assigns: &[&str]) -> i16 {
    let mut req = SyncGroupRequest::default();
    req.group_id = GroupId(s(group));
    req.generation_id = generation;
    req.member_id = s(member);
    for m in leader_assigns {
        let mut a = SyncGroupRequestAssignment::default();
        a.member_id = s(m);
        req.assignments.push(a);
    }
    let resp: SyncGroupResponse = rpc(port, 3, &req);
    resp.error_code
}

#[test]
fn offset_commit_checks_generation_member_and_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(&tmp.path().join("b"), "num.partitions=1");
    let port = k.port;
    create_topic(port, "gen", 1, 1, &[]);
    let tp = [("gen", 0)];
    let ok = codes(&[(("gen", 0), 0)]);
    let err = |c: i16| codes(&[(("gen", 0), c)]);

    // No such group: a standalone commit (generation -1) is fine, a
    // generation from a group that no longer exists is ILLEGAL_GENERATION.
    assert_eq!(commit(port, "ghost", -1, "", None, &tp), ok);
    assert_eq!(commit(port, "ghost2", 3, "old-member", None, &tp), err(22));

    // One member A, generation 1, not yet synced: CompletingRebalance.
    let a = join_new(port, "g", None);
    let (a_id, gen1) = (a.member_id.to_string(), a.generation_id);
    assert_eq!(commit(port, "g", gen1, &a_id, None, &tp), err(27));
    assert_eq!(sync(port, "g", gen1, &a_id, &[&a_id]), 0);
    // Stable.
    assert_eq!(commit(port, "g", gen1, &a_id, None, &tp), ok);
    assert_eq!(commit(port, "g", gen1 + 1, &a_id, None, &tp), err(22));
    assert_eq!(commit(port, "g", gen1, "stranger", None, &tp), err(25));
    // Not empty: only members commit.
    assert_eq!(commit(port, "g", -1, "", None, &tp), err(25));
    // A dynamic member naming an instance id the group does not know.
    assert_eq!(commit(port, "g", gen1, &a_id, Some("no-such-instance"), &tp), err(25));

    // B joins: PreparingRebalance until A rejoins. A may still commit with
    // its generation (it learns of the rebalance from its heartbeat).
    let b = std::thread::spawn(move || join_new(port, "g", None));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut hb = HeartbeatRequest::default();
        hb.group_id = GroupId(s("g"));
        hb.generation_id = gen1;
        hb.member_id = s(&a_id);
        let r: HeartbeatResponse = rpc(port, 3, &hb);
        if r.error_code == 27 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no rebalance started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(commit(port, "g", gen1, &a_id, None, &tp), ok);
    let a2 = join(port, "g", &a_id, None);
    let b = b.join().expect("b joined");
    let gen2 = a2.generation_id;
    assert_eq!((a2.error_code, b.generation_id), (0, gen2));
    assert!(gen2 > gen1);
    // CompletingRebalance: the new generation waits, the old one is stale.
    assert_eq!(commit(port, "g", gen2, &a_id, None, &tp), err(27));
    assert_eq!(commit(port, "g", gen1, &a_id, None, &tp), err(22));
    let leader = a2.leader.to_string();
    let follower = if leader == a_id { b.member_id.to_string() } else { a_id.clone() };
    let f = std::thread::spawn({
        let follower = follower.clone();
        move || sync(port, "g", gen2, &follower, &[])
    });
    assert_eq!(sync(port, "g", gen2, &leader, &[&a_id, b.member_id.as_str()]), 0);
    assert_eq!(f.join().expect("sync"), 0);
    assert_eq!(commit(port, "g", gen1, &a_id, None, &tp), err(22));
    assert_eq!(commit(port, "g", gen2, &a_id, None, &tp), ok);

    // A static member: its instance id fences any other member id.
    let st = join_new(port, "sg", Some("inst-1"));
    let st_id = st.member_id.to_string();
    assert_eq!(sync(port, "sg", st.generation_id, &st_id, &[&st_id]), 0);
    assert_eq!(commit(port, "sg", st.generation_id, &st_id, Some("inst-1"), &tp), ok);
    assert_eq!(commit(port, "sg", st.generation_id, "zombie", Some("inst-1"), &tp), err(82));
    assert_eq!(commit(port, "sg", st.generation_id, &st_id, Some("inst-2"), &tp), err(25));
}

/// A topic with message.timestamp.type=LogAppendTime: the broker stamps each
/// batch with its own time, answers it as log_append_time_ms, and consumers
/// (kcat, i.e. librdkafka) see that time instead of the producer's. A
/// CreateTime topic keeps the producer's time and answers -1.
#[test]
fn log_append_time_topics_take_the_brokers_time() {
    use kafka_protocol::records::{Compression, Record, TimestampType};
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "");
    create_topic(k.port, "appended", 1, 1, &[("message.timestamp.type", "LogAppendTime")]);
    create_topic(k.port, "created", 1, 1, &[]);
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1_000, // 1970: far from the broker's clock
        key: None,
        value: Some(bytes::Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let appended = common::produce_records(k.port, "appended", std::slice::from_ref(&record), Compression::None, 1, 8);
    assert_eq!(appended.error_code, 0);
    assert!(
        (now - 60_000..now + 60_000).contains(&appended.log_append_time_ms),
        "log_append_time_ms {} is not the broker's time",
        appended.log_append_time_ms
    );
    let created = common::produce_records(k.port, "created", &[record], Compression::None, 1, 8);
    assert_eq!((created.error_code, created.log_append_time_ms), (0, -1));

    let ts = |topic: &str| {
        let out = common::kcat(&["-b", &k.bootstrap(), "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%T\n"], None);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(ts("appended"), appended.log_append_time_ms.to_string());
    assert_eq!(ts("created"), "1000");
}
