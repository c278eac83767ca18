//! Milestone-2 APIs: config, partition, record and group administration,
//! through confluent-kafka's AdminClient and kafka-protocol requests, with
//! the znodes Kafka's tools expect.

mod common;

use common::{kcat, rpc, run_py, start_zookeeperd, Kafkad};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_apis_and_config_znodes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let extra = format!("zookeeper.connect={}\nlog.segment.bytes=1048576\nnum.partitions=1", zk.client_addr);
    let dir = tmp.path().join("broker");
    let k = tokio::task::spawn_blocking(move || {
        let k = Kafkad::start(&dir, &extra);
        run_py(&k, "admin_apis.py", &[]);
        k
    })
    .await
    .expect("python admin suite");

    // What kafka-configs --alter leaves in ZooKeeper (Kafka's formats).
    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    let (data, _) = client.get_data("/config/topics/cfg-topic").await.expect("topic config znode");
    let v: serde_json::Value = serde_json::from_slice(&data).expect("json");
    assert_eq!(v, serde_json::json!({"version": 1, "config": {"segment.ms": "3600000"}}));
    let changes = client.list_children("/config/changes").await.expect("changes");
    assert!(
        changes.len() >= 2 && changes.iter().all(|c| c.starts_with("config_change_") && c.len() == 24),
        "{changes:?}"
    );
    let mut newest = changes.clone();
    newest.sort();
    let (note, _) = client.get_data(&format!("/config/changes/{}", newest[newest.len() - 1])).await.expect("note");
    let v: serde_json::Value = serde_json::from_slice(&note).expect("json");
    assert_eq!(v, serde_json::json!({"version": 2, "entity_path": "topics/cfg-topic"}));
    let (assign, _) = client.get_data("/brokers/topics/cfg-topic").await.expect("assignment");
    let v: serde_json::Value = serde_json::from_slice(&assign).expect("json");
    assert_eq!(v["partitions"], serde_json::json!({"0": [1], "1": [1], "2": [1]}));
    for p in 0..3 {
        let (st, _) =
            client.get_data(&format!("/brokers/topics/cfg-topic/partitions/{p}/state")).await.expect("state znode");
        let v: serde_json::Value = serde_json::from_slice(&st).expect("json");
        assert_eq!((v["leader"].as_i64(), v["version"].as_i64()), (Some(1), Some(1)));
    }
    // Group offsets live in __consumer_offsets with 50 partitions.
    let parts = client.list_children("/brokers/topics/__consumer_offsets/partitions").await.expect("offsets topic");
    assert_eq!(parts.len(), 50);
    let (cfg, _) = client.get_data("/config/topics/__consumer_offsets").await.expect("offsets topic config");
    let v: serde_json::Value = serde_json::from_slice(&cfg).expect("json");
    assert_eq!(v["config"]["cleanup.policy"], "compact");

    let port = k.port;
    tokio::task::spawn_blocking(move || raw_protocol_checks(port)).await.expect("raw checks");
    drop(k);
    let _ = zk.stop().await;
}

/// APIs no installed client exposes, spoken with kafka-protocol.
fn raw_protocol_checks(port: u16) {
    // Every served API is advertised.
    let av: ApiVersionsResponse = rpc(port, 3, &ApiVersionsRequest::default());
    for key in [21i16, 23, 32, 33, 35, 37, 42, 44, 47, 60] {
        assert!(av.api_keys.iter().any(|a| a.api_key == key), "api {key} advertised");
    }

    let b = format!("127.0.0.1:{port}");
    let out = kcat(&["-b", &b, "-P", "-t", "raw"], Some(b"a\nb\nc\n"));
    assert!(out.status.success());

    // OffsetForLeaderEpoch: epoch 0 ends at the LEO; an epoch above the
    // latest is unknown (-1/-1); a stale current epoch is fenced.
    for (version, asked, current, want) in
        [(2i16, 0, -1, (0i16, 0, 3i64)), (4, 0, 0, (0, 0, 3)), (4, 7, -1, (0, -1, -1)), (3, 0, 5, (75, -1, -1))]
    {
        let mut p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
        p.partition = 0;
        p.leader_epoch = asked;
        p.current_leader_epoch = current;
        let mut t = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
        t.topic = topic("raw");
        t.partitions = vec![p];
        let mut req = OffsetForLeaderEpochRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        let resp: OffsetForLeaderEpochResponse = rpc(port, version, &req);
        let e = &resp.topics[0].partitions[0];
        assert_eq!((e.error_code, e.leader_epoch, e.end_offset), want, "v{version} epoch {asked} current {current}");
    }

    // DescribeLogDirs: the log dir with the partition and its size.
    let mut dl = DescribeLogDirsRequest::default();
    dl.topics = None; // null = every partition
    let resp: DescribeLogDirsResponse = rpc(port, 1, &dl);
    assert_eq!(resp.results.len(), 1);
    let raw = resp.results[0].topics.iter().find(|t| t.name.0.as_str() == "raw").expect("raw topic listed");
    assert!(raw.partitions[0].partition_size > 0);

    // OffsetDelete: commit as a standalone (assign) consumer, delete, gone.
    let mut cp = offset_commit_request::OffsetCommitRequestPartition::default();
    cp.partition_index = 0;
    cp.committed_offset = 2;
    let mut ct = offset_commit_request::OffsetCommitRequestTopic::default();
    ct.name = topic("raw");
    ct.partitions = vec![cp];
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(StrBytes::from_static_str("odel"));
    commit.generation_id_or_member_epoch = -1;
    commit.topics = vec![ct];
    let resp: OffsetCommitResponse = rpc(port, 7, &commit);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    let fetch_offset = || {
        let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
        t.name = topic("raw");
        t.partition_indexes = vec![0];
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(StrBytes::from_static_str("odel"));
        req.topics = Some(vec![t]);
        let resp: OffsetFetchResponse = rpc(port, 5, &req);
        resp.topics[0].partitions[0].committed_offset
    };
    assert_eq!(fetch_offset(), 2);
    let mut dp = offset_delete_request::OffsetDeleteRequestPartition::default();
    dp.partition_index = 0;
    let mut dt = offset_delete_request::OffsetDeleteRequestTopic::default();
    dt.name = topic("raw");
    dt.partitions = vec![dp];
    let mut del = OffsetDeleteRequest::default();
    del.group_id = GroupId(StrBytes::from_static_str("odel"));
    del.topics = vec![dt.clone()];
    let resp: OffsetDeleteResponse = rpc(port, 0, &del);
    assert_eq!((resp.error_code, resp.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(fetch_offset(), -1);
    del.group_id = GroupId(StrBytes::from_static_str("no-such-group"));
    let resp: OffsetDeleteResponse = rpc(port, 0, &del);
    assert_eq!(resp.error_code, 69, "GROUP_ID_NOT_FOUND");

    // DescribeCluster over the raw protocol too (v1 endpoint type 1).
    let mut dc = DescribeClusterRequest::default();
    dc.endpoint_type = 1;
    let resp: DescribeClusterResponse = rpc(port, 1, &dc);
    assert_eq!((resp.error_code, resp.controller_id.0, resp.brokers.len()), (0, 1, 1));
    assert_eq!(resp.brokers[0].port, port as i32);
}
