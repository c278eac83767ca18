//! kafkad against Apache ZooKeeper (Debian's zookeeper 3.8 on Java) and
//! against zookeeperd: it registers, elects itself controller, creates
//! topics, serves produce/consume, and every znode it writes matches Kafka
//! 3.x's format exactly (see common::check_kafka_znodes).

mod common;

use std::time::Duration;

use common::{check_kafka_znodes, kcat, rpc, start_zookeeperd, wait_for, ApacheZk, Kafkad};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "fmt";

/// Create TOPIC (2 partitions, retention.ms=12345) with CreateTopics,
/// round-trip records through it, and return Metadata's (cluster id,
/// controller id, topic id) for comparison with the znodes.
fn create_produce_consume(k: &Kafkad) -> (String, i32, String) {
    let port = k.port;
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = 2;
    t.replication_factor = 1;
    let mut c = CreatableTopicConfig::default();
    c.name = StrBytes::from_static_str("retention.ms");
    c.value = Some(StrBytes::from_static_str("12345"));
    t.configs.push(c);
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    // NOT_CONTROLLER until the election has landed in the metadata.
    wait_for("CreateTopics accepted", Duration::from_secs(30), || {
        let resp: CreateTopicsResponse = rpc(port, 5, &req);
        match resp.topics[0].error_code {
            0 => Some(()),
            41 => None,
            e => panic!("CreateTopics failed with {e}: {:?}", resp.topics[0].error_message),
        }
    });
    let b = k.bootstrap();
    wait_for("produce to the new topic", Duration::from_secs(30), || {
        kcat(&["-b", &b, "-P", "-t", TOPIC, "-p", "1"], Some(b"one\ntwo\nthree\n")).status.success().then_some(())
    });
    let out = kcat(&["-b", &b, "-C", "-t", TOPIC, "-p", "1", "-o", "beginning", "-e", "-f", "%o:%s\n"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0:one\n1:two\n2:three\n", "{}", k.log());

    let mut req = MetadataRequest::default();
    let mut mt = metadata_request::MetadataRequestTopic::default();
    mt.name = Some(TopicName(StrBytes::from_static_str(TOPIC)));
    req.topics = Some(vec![mt]);
    let md: MetadataResponse = rpc(port, 12, &req);
    let topic = &md.topics[0];
    assert_eq!(topic.error_code, 0);
    assert_eq!(topic.partitions.len(), 2);
    let cluster_id = md.cluster_id.map(|s| s.to_string()).unwrap_or_default();
    (cluster_id, md.controller_id.0, kafkad::metadata::uuid_to_kafka(&topic.topic_id))
}

async fn run_and_check(connect: String, chroot: &str, dir: std::path::PathBuf) {
    let extra = format!("zookeeper.connect={connect}{chroot}");
    let (k, (md_cluster, controller, md_topic)) = tokio::task::spawn_blocking(move || {
        let k = Kafkad::start(&dir, &extra);
        let md = create_produce_consume(&k);
        (k, md)
    })
    .await
    .expect("broker round trip");
    assert_eq!(controller, 1, "broker 1 elected itself controller");
    let client = zookeeper_client::Client::connect(&connect).await.expect("zk client");
    let (cluster_id, topic_id) =
        check_kafka_znodes(&client, chroot, k.port, TOPIC, serde_json::json!({"retention.ms": "12345"})).await;
    assert_eq!(cluster_id, md_cluster, "Metadata serves /cluster/id");
    assert_eq!(topic_id, md_topic, "Metadata serves the topic_id from /brokers/topics/T");
    drop(k);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_zookeeper_broker_controller_topics_and_znode_formats() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zdir = tmp.path().join("zk");
    let zk = tokio::task::spawn_blocking(move || ApacheZk::start(&zdir)).await.expect("apache zk");
    run_and_check(zk.connect(), "", tmp.path().join("broker")).await;
    // Same again under a chroot the broker has to create.
    run_and_check(zk.connect(), "/kafka-a", tmp.path().join("broker-chroot")).await;
    drop(zk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeperd_znode_formats_match_kafka() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    run_and_check(zk.client_addr.to_string(), "", tmp.path().join("broker")).await;
    run_and_check(zk.client_addr.to_string(), "/kafka-a", tmp.path().join("broker-chroot")).await;
    let _ = zk.stop().await;
}
