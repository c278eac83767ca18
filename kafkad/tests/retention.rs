//! Retention (retention.ms, retention.bytes, DeleteRecords' log start),
//! segment.ms rolls, config changes written straight into ZooKeeper, and
//! committed offsets in __consumer_offsets surviving restarts.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{kcat, rpc, run_py, start_zookeeperd, wait_for, Kafkad};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn segments(dir: &Path) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".log").and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn earliest_latest(port: u16, topic: &str) -> (i64, i64) {
    let mut out = [0i64; 2];
    for (i, ts) in [-2i64, -1].into_iter().enumerate() {
        let mut p = list_offsets_request::ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = ts;
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        let resp: ListOffsetsResponse = rpc(port, 5, &req);
        out[i] = resp.topics[0].partitions[0].offset;
    }
    (out[0], out[1])
}

fn set_topic_config(port: u16, topic: &str, key: &str, value: &str) {
    let mut c = incremental_alter_configs_request::AlterableConfig::default();
    c.name = StrBytes::from_string(key.to_string());
    c.config_operation = 0;
    c.value = Some(StrBytes::from_string(value.to_string()));
    let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = StrBytes::from_string(topic.to_string());
    r.configs = vec![c];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: IncrementalAlterConfigsResponse = rpc(port, 1, &req);
    assert_eq!(resp.responses[0].error_code, 0, "{:?}", resp.responses[0].error_message);
}

fn produce(b: &str, topic: &str, n: usize) {
    let lines: String = (0..n).map(|i| format!("{topic}-record-{i:04}-{}\n", "x".repeat(80))).collect();
    // Small batches, so small segments fill one batch at a time.
    let out = kcat(&["-b", b, "-P", "-t", topic, "-p", "0", "-X", "batch.num.messages=5"], Some(lines.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_ms_bytes_and_segment_ms_delete_and_roll_segments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let extra = format!(
        "zookeeper.connect={}\nlog.retention.check.interval.ms=200\nlog.segment.bytes=2000\nnum.partitions=1",
        zk.client_addr
    );
    let dir = tmp.path().join("broker");
    let k = tokio::task::spawn_blocking(move || Kafkad::start(&dir, &extra)).await.expect("start");
    let (b, port) = (k.bootstrap(), k.port);
    let logs = tmp.path().join("broker/logs");

    let l2 = logs.clone();
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || {
        produce(&b2, "rt", 100);
        produce(&b2, "rb", 100);
        assert!(segments(&l2.join("rt-0")).len() > 3, "small segment.bytes rolled");
        assert_eq!(earliest_latest(port, "rt"), (0, 100));
        // retention.ms through IncrementalAlterConfigs: everything is older
        // than 1 ms, so every segment goes, the active one after a roll.
        set_topic_config(port, "rt", "retention.ms", "1");
        wait_for("retention.ms to empty rt", Duration::from_secs(20), || {
            (earliest_latest(port, "rt") == (100, 100) && segments(&l2.join("rt-0")) == vec![100]).then_some(())
        });
        assert!(!l2.join("rt-0/00000000000000000000.index").exists());
        produce(&b2, "rt", 1);
        assert_eq!(earliest_latest(port, "rt").1, 101, "offsets continue after deletion");
    })
    .await
    .expect("retention.ms");

    // retention.bytes written straight into ZooKeeper by another tool, with
    // the change notification kafka-configs --zookeeper writes.
    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    client
        .set_data("/config/topics/rb", br#"{"version":1,"config":{"retention.bytes":"5000"}}"#, None)
        .await
        .expect("config");
    let seq = zookeeper_client::CreateMode::PersistentSequential.with_acls(zookeeper_client::Acls::anyone_all());
    client
        .create("/config/changes/config_change_", br#"{"version":2,"entity_path":"topics/rb"}"#, &seq)
        .await
        .expect("notification");
    let l2 = logs.clone();
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || {
        wait_for("retention.bytes to trim rb", Duration::from_secs(20), || {
            let segs = segments(&l2.join("rb-0"));
            let size: u64 = segs
                .iter()
                .filter_map(|s| std::fs::metadata(l2.join(format!("rb-0/{s:020}.log"))).ok())
                .map(|m| m.len())
                .sum();
            (segs.first().copied().unwrap_or(0) > 0 && size <= 5000 + 2000).then_some(size)
        });
        let (start, end) = earliest_latest(port, "rb");
        assert!(start > 0 && end == 100, "{start} {end}");
        let first = segments(&l2.join("rb-0"))[0];
        assert_eq!(start, first, "log start offset is the first remaining segment");
        // What is left is readable from the new start.
        let out = kcat(&["-b", &b2, "-C", "-t", "rb", "-o", "beginning", "-e", "-f", "%o\n"], None);
        let got: Vec<i64> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.parse().ok()).collect();
        assert_eq!(got.first().copied(), Some(start));
        assert_eq!(got.last().copied(), Some(99));

        // segment.ms: a batch arriving later than segment.ms after the
        // segment's first batch rolls a new segment.
        produce(&b2, "rs", 1);
        set_topic_config(port, "rs", "segment.ms", "300");
        wait_for("segment.ms roll", Duration::from_secs(20), || {
            produce(&b2, "rs", 1);
            (segments(&l2.join("rs-0")).len() >= 2).then_some(())
        });
    })
    .await
    .expect("retention.bytes / segment.ms");
    drop(k);
    let _ = zk.stop().await;
}

fn first_and_committed(out: &str) -> (i64, i64) {
    let find = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(tag).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {tag} in {out}"))
    };
    (find("FIRST "), find("COMMITTED "))
}

#[test]
fn committed_offsets_survive_clean_restart_and_kill9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), "num.partitions=1\noffsets.topic.num.partitions=5");
    produce(&k.bootstrap(), "cr", 100);
    let out = run_py(&k, "group_resume.py", &["cr", "g1", "30"]);
    assert_eq!(first_and_committed(&out), (0, 30));
    // The commit is a record in __consumer_offsets, in the group's
    // partition: abs("g1".hashCode()) % 5 = 3242 % 5 = 2.
    let seg = tmp.path().join("logs/__consumer_offsets-2/00000000000000000000.log");
    let data = std::fs::read(&seg).expect("offsets segment");
    let key: &[u8] = &[0, 1, 0, 2, b'g', b'1', 0, 2, b'c', b'r', 0, 0, 0, 0];
    assert!(data.windows(key.len()).any(|w| w == key), "OffsetCommitKey v1 for g1/cr/0 on disk");

    assert!(k.stop().success());
    k.restart();
    let out = run_py(&k, "group_resume.py", &["cr", "g1", "30", "noclose"]);
    assert_eq!(first_and_committed(&out), (30, 60), "resumed after a clean restart");
    // kill -9 right after the commit was acknowledged.
    k.kill9();
    k.restart();
    let out = run_py(&k, "group_resume.py", &["cr", "g1", "10"]);
    assert_eq!(first_and_committed(&out), (60, 70), "resumed after kill -9");

    // Tools see the group: ListGroups and DescribeGroups say Empty.
    let resp: ListGroupsResponse = rpc(k.port, 4, &ListGroupsRequest::default());
    let g = resp.groups.iter().find(|g| g.group_id.0.as_str() == "g1").expect("g1 listed");
    assert_eq!((g.protocol_type.as_str(), g.group_state.as_str()), ("consumer", "Empty"));
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![GroupId(StrBytes::from_static_str("g1"))];
    let resp: DescribeGroupsResponse = rpc(k.port, 5, &req);
    assert_eq!(resp.groups[0].group_state.as_str(), "Empty");
}
