//! confluent-kafka (librdkafka 2.x) consumer features: read_committed
//! isolation and the cooperative-sticky (incremental) rebalance protocol.

mod common;

use common::{rpc, run_py, Kafkad};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

#[test]
fn read_committed_consumer_sees_all_records_and_lso_is_the_high_watermark() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=3");
    let out = run_py(&k, "read_committed.py", &["rc"]);
    assert!(out.contains("LSO"), "{out}");

    // Fetch with READ_COMMITTED (1) on the wire: every partition reports
    // its LSO, equal to the HW, and an empty aborted-transactions list.
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_static_str("rc"));
    for p in 0..3 {
        let mut fp = FetchPartition::default();
        fp.partition = p;
        fp.partition_max_bytes = 1 << 20;
        t.partitions.push(fp);
    }
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_bytes = 50 << 20;
    req.isolation_level = 1;
    req.session_epoch = -1;
    req.topics = vec![t];
    let resp: FetchResponse = rpc(k.port, 11, &req);
    let parts = &resp.responses[0].partitions;
    assert_eq!(parts.len(), 3);
    for p in parts {
        assert_eq!(p.error_code, 0);
        assert_eq!(p.last_stable_offset, p.high_watermark, "partition {}", p.partition_index);
        assert_eq!(p.aborted_transactions.as_ref().map(Vec::len), Some(0));
    }
    assert_eq!(parts.iter().map(|p| p.high_watermark).sum::<i64>(), 600);
}

#[test]
fn cooperative_sticky_members_rebalance_incrementally_and_consume_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=6");
    let out = run_py(&k, "cooperative_sticky.py", &["coop", "coop-group"]);
    assert!(out.contains("revoke"), "{out}");
}
