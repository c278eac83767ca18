//! ListOffsets by timestamp through the .timeindex, static group
//! membership and group.initial.rebalance.delay.ms.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{kcat, rpc, run_py, wait_for, Kafkad};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};

const TOPIC: &str = "times";

/// One batch with the given CreateTime timestamps; returns its base offset.
fn produce_with_timestamps(port: u16, timestamps: &[i64]) -> i64 {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, ts)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: *ts,
            key: None,
            value: Some(Bytes::from(format!("ts-{ts}"))),
            headers: Default::default(),
        })
        .collect();
    let p = common::produce_records(port, TOPIC, &records, Compression::None, 1, 8);
    assert_eq!(p.error_code, 0);
    p.base_offset
}

/// ListOffsets v5 for one timestamp: (offset, timestamp).
fn offset_for(port: u16, ts: i64) -> (i64, i64) {
    let r = common::list_offset(port, TOPIC, ts);
    assert_eq!(r.error_code, 0);
    (r.offset, r.timestamp)
}

#[test]
fn list_offsets_by_timestamp_uses_the_time_index() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // One time index entry per batch, and small segments: lookups cross
    // segments and index entries.
    let mut k = Kafkad::start(tmp.path(), "log.index.interval.bytes=1");
    let port = k.port;
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut c = CreatableTopicConfig::default();
    c.name = StrBytes::from_static_str("segment.bytes");
    c.value = Some(StrBytes::from_static_str("400"));
    t.configs.push(c);
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let resp: CreateTopicsResponse = rpc(port, 5, &req);
    assert_eq!(resp.topics[0].error_code, 0);

    // Recent timestamps (retention would delete older ones), 10 ms apart,
    // in 8 batches of 3; batch 5 carries an out-of-order timestamp.
    let base = kafkad::now_ms() - 600_000;
    let ts = |i: i64| base + i * 10;
    wait_for("leader", Duration::from_secs(20), || {
        let mut p = ListOffsetsPartition::default();
        p.timestamp = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_static_str(TOPIC));
        t.partitions.push(p);
        let mut req = ListOffsetsRequest::default();
        req.topics.push(t);
        let resp: ListOffsetsResponse = rpc(port, 5, &req);
        (resp.topics[0].partitions[0].error_code == 0).then_some(())
    });
    for b in 0..8i64 {
        let mut stamps = vec![ts(b * 3), ts(b * 3 + 1), ts(b * 3 + 2)];
        if b == 5 {
            stamps[1] = ts(2); // a late record: ignored by lookups past it
        }
        assert_eq!(produce_with_timestamps(port, &stamps), b * 3);
    }
    let dir = tmp.path().join(format!("logs/{TOPIC}-0"));
    let segs: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".timeindex").map(str::to_string))
        .collect();
    assert!(segs.len() >= 3, "several segments, each with a .timeindex: {segs:?}");

    let check = |port: u16| {
        assert_eq!(offset_for(port, ts(0)), (0, ts(0)), "exact first");
        assert_eq!(offset_for(port, 0), (0, ts(0)), "before everything");
        assert_eq!(offset_for(port, ts(7)), (7, ts(7)), "exact, mid-batch");
        assert_eq!(offset_for(port, ts(7) + 5), (8, ts(8)), "between records");
        assert_eq!(offset_for(port, ts(13)), (13, ts(13)));
        // Offset 16 carries ts(2): the first record >= ts(16) is 17.
        assert_eq!(offset_for(port, ts(16)), (17, ts(17)), "late record skipped");
        assert_eq!(offset_for(port, ts(23)), (23, ts(23)), "last");
        assert_eq!(offset_for(port, ts(23) + 1), (-1, -1), "after everything");
    };
    check(port);
    // After a restart the lookups come from the .timeindex files on disk.
    assert!(k.stop().success());
    k.restart();
    wait_for("leader after restart", Duration::from_secs(20), || {
        std::panic::catch_unwind(|| offset_for(k.port, ts(0))).ok().filter(|r| r.0 == 0).map(|_| ())
    });
    check(k.port);
    // librdkafka's -o s@<ts> (offsets_for_times) agrees.
    let out = kcat(
        &["-b", &k.bootstrap(), "-C", "-t", TOPIC, "-p", "0", "-o", &format!("s@{}", ts(20)), "-e", "-f", "%o\n"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "20\n21\n22\n23\n");
}

#[test]
fn static_member_restart_keeps_assignment_without_rebalance() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=4");
    wait_for("topic", Duration::from_secs(20), || {
        kcat(&["-b", &k.bootstrap(), "-P", "-t", "st"], Some(b"x\n")).status.success().then_some(())
    });
    let out = run_py(&k, "static_members.py", &["st", "static-group"]);
    assert!(out.contains("STATIC"), "{out}");
}

#[test]
fn initial_rebalance_delay_groups_the_first_members_and_extends() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=6\ngroup.initial.rebalance.delay.ms=2000");
    // The topic exists before the group forms.
    wait_for("topic", Duration::from_secs(20), || {
        kcat(&["-b", &k.bootstrap(), "-P", "-t", "dl"], Some(b"x\n")).status.success().then_some(())
    });
    let out = run_py(&k, "initial_delay.py", &["dl", "delay-group", "2000"]);
    assert!(out.contains("WAITED"), "{out}");
}
