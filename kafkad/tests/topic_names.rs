//! Kafka's topic name rules (Topic.validate): invalid names get
//! INVALID_TOPIC_EXCEPTION from CreateTopics and Metadata, and nothing
//! reaches ZooKeeper for them.

mod common;

use common::{kcat, rpc, run_py, start_zookeeperd, Kafkad};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

/// Metadata v9 for `names`: (name, error code) per topic.
fn metadata_errors(port: u16, names: &[String], auto_create: bool) -> Vec<(String, i16)> {
    let mut req = MetadataRequest::default();
    req.allow_auto_topic_creation = auto_create;
    req.topics = Some(
        names
            .iter()
            .map(|n| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(TopicName(StrBytes::from_string(n.clone())));
                t
            })
            .collect(),
    );
    let resp: MetadataResponse = rpc(port, 9, &req);
    resp.topics.iter().map(|t| (t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(), t.error_code)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_topic_names_are_refused_and_never_reach_zookeeper() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let extra = format!("zookeeper.connect={}\nauto.create.topics.enable=true", zk.client_addr);
    let dir = tmp.path().join("broker");
    let k = tokio::task::spawn_blocking(move || {
        let k = Kafkad::start(&dir, &extra);
        run_py(&k, "topic_names.py", &[]);
        let invalid: Vec<String> =
            ["", ".", "..", &"x".repeat(250), "bad/name", "bad name"].iter().map(|s| s.to_string()).collect();
        // Auto-creation refuses them; without it they are still invalid,
        // not unknown (as Kafka answers).
        for auto in [true, false] {
            let got = metadata_errors(k.port, &invalid, auto);
            let want: Vec<(String, i16)> = invalid.iter().map(|n| (n.clone(), 17)).collect();
            assert_eq!(got, want, "Metadata allow_auto_topic_creation={auto}");
        }
        let unknown = metadata_errors(k.port, &["not-there".to_string()], false);
        assert_eq!(unknown, vec![("not-there".to_string(), 3)], "a valid unknown name is UNKNOWN_TOPIC_OR_PARTITION");
        // The 249-character topic is a working topic (its directory name
        // is 251 characters, within the file system's 255).
        let long = "y".repeat(249);
        let out = kcat(&["-b", &k.bootstrap(), "-P", "-t", &long], Some(b"edge\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = kcat(&["-b", &k.bootstrap(), "-C", "-t", &long, "-o", "beginning", "-e"], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "edge\n");
        k
    })
    .await
    .expect("topic name checks");

    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    let mut want = vec!["ok-topic".to_string(), "y".repeat(249)];
    want.sort();
    for path in ["/brokers/topics", "/config/topics"] {
        let mut got = client.list_children(path).await.expect("children");
        got.sort();
        assert_eq!(got, want, "{path} holds only the valid topics");
    }
    assert!(client.check_stat("/brokers/topics/bad").await.expect("stat").is_none());
    drop(k);
    let _ = zk.stop().await;
}
