//! Answers that must match Apache Kafka 3.9's (issue 11): OffsetCommit's
//! topic and generation checks, CreateTopics' config validation, and
//! LogAppendTime topics. Raw kafka-protocol requests, so every error code
//! and message is visible.

mod common;

use std::collections::BTreeMap;

use common::{create_topic, rpc, Kafkad};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
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
