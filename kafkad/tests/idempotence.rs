//! The idempotent producer, spoken raw (kafka-protocol's RecordBatchEncoder
//! with producer id/epoch/sequence): duplicates of the last five batches
//! are acknowledged with their original offsets and not written again,
//! gaps get OUT_OF_ORDER_SEQUENCE_NUMBER, stale epochs
//! INVALID_PRODUCER_EPOCH, and the state survives clean and kill -9
//! restarts through Kafka's `<offset>.snapshot` files and log replay.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{rpc, wait_for, Kafkad};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};

const TOPIC: &str = "idem";
const OUT_OF_ORDER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;

fn init_producer_id(port: u16) -> (i64, i16) {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = None;
    req.transaction_timeout_ms = -1;
    req.producer_id = ProducerId(-1);
    req.producer_epoch = -1;
    let resp: InitProducerIdResponse = rpc(port, 4, &req);
    assert_eq!(resp.error_code, 0);
    (resp.producer_id.0, resp.producer_epoch)
}

/// Produce `n` records as one batch; (error code, base offset).
fn produce(port: u16, pid: i64, epoch: i16, seq: i32, n: i32) -> (i16, i64) {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i,
            timestamp: kafkad::now_ms(),
            key: None,
            value: Some(Bytes::from(format!("p{pid}-e{epoch}-s{}", seq + i))),
            headers: Default::default(),
        })
        .collect();
    let p = common::produce_records(port, TOPIC, &records, Compression::None, -1, 9);
    (p.error_code, p.base_offset)
}

fn log_end_offset(port: u16) -> i64 {
    common::list_offset(port, TOPIC, -1).offset
}

fn create_topic(port: u16) {
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = 1;
    t.replication_factor = 1;
    // Small segments, so rolls (and their snapshots) happen.
    let mut c = CreatableTopicConfig::default();
    c.name = StrBytes::from_static_str("segment.bytes");
    c.value = Some(StrBytes::from_static_str("1024"));
    t.configs.push(c);
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let resp: CreateTopicsResponse = rpc(port, 5, &req);
    assert_eq!(resp.topics[0].error_code, 0, "{:?}", resp.topics[0].error_message);
    wait_for("idem leader", Duration::from_secs(20), || (produce(port, -1, -1, -1, 1).0 == 0).then_some(()));
}

fn snapshots(k: &Kafkad) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(k.dir.join("logs").join(format!("{TOPIC}-0")))
        .expect("partition dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".snapshot")?.parse().ok())
        .collect();
    v.sort();
    v
}

fn segments(k: &Kafkad) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(k.dir.join("logs").join(format!("{TOPIC}-0")))
        .expect("partition dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .collect();
    v.sort();
    v
}

#[test]
fn idempotent_producer_dedup_sequences_epochs_and_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), "");
    let port = k.port;
    create_topic(port);
    let base = log_end_offset(port); // 1: the plain record above
    let (pid, epoch) = init_producer_id(port);

    // Seqs 0..3, 3..5, 5, 6, 7, 8.
    let mut expect = Vec::new();
    for (seq, n) in [(0, 3), (3, 2), (5, 1), (6, 1), (7, 1), (8, 1)] {
        let (err, off) = produce(port, pid, epoch, seq, n);
        assert_eq!(err, 0, "seq {seq}");
        expect.push((seq, n, off));
    }
    assert_eq!(expect[0].2, base);
    let leo = log_end_offset(port);
    assert_eq!(leo, base + 9);
    // A retry of any of the last five batches: success, original offset.
    for &(seq, n, off) in &expect[1..] {
        assert_eq!(produce(port, pid, epoch, seq, n), (0, off), "duplicate of seq {seq}");
    }
    assert_eq!(log_end_offset(port), leo, "duplicates are not written");
    // Older than the last five: out of order, as in Kafka.
    assert_eq!(produce(port, pid, epoch, 0, 3).0, OUT_OF_ORDER);
    // A gap.
    assert_eq!(produce(port, pid, epoch, 10, 1).0, OUT_OF_ORDER);
    // A new epoch must start at sequence 0; afterwards the old one is stale.
    assert_eq!(produce(port, pid, epoch + 1, 4, 1).0, OUT_OF_ORDER);
    let (err, e1_off) = produce(port, pid, epoch + 1, 0, 1);
    assert_eq!((err, e1_off), (0, leo));
    assert_eq!(produce(port, pid, epoch, 9, 1).0, INVALID_PRODUCER_EPOCH);
    assert_eq!(log_end_offset(port), leo + 1);

    // Enough batches from a second producer to roll 1 KiB segments: each
    // roll leaves `<new base offset>.snapshot`.
    let (pid2, ep2) = init_producer_id(port);
    let mut p2 = Vec::new();
    for i in 0..40 {
        let (err, off) = produce(port, pid2, ep2, i * 2, 2);
        assert_eq!(err, 0);
        p2.push((i * 2, off));
    }
    let segs = segments(&k);
    assert!(segs.len() > 2, "segments rolled: {segs:?}");
    let snaps = snapshots(&k);
    for s in &segs[1..] {
        assert!(snaps.contains(s), "snapshot at roll offset {s}: {snaps:?}");
    }

    // Clean restart: a snapshot at the log end, in Kafka's format.
    let leo = log_end_offset(port);
    assert!(k.stop().success());
    assert!(snapshots(&k).contains(&leo), "clean shutdown snapshot at {leo}: {:?}", snapshots(&k));
    let snap = std::fs::read(k.dir.join(format!("logs/{TOPIC}-0/{leo:020}.snapshot"))).expect("snapshot");
    assert_eq!(&snap[0..2], &[0, 1], "version 1");
    let crc = u32::from_be_bytes(snap[2..6].try_into().expect("crc"));
    assert_eq!(crc, crc32c::crc32c(&snap[6..]), "CRC-32C over the entries");
    assert_eq!(i32::from_be_bytes(snap[6..10].try_into().expect("n")), 2, "two producers");
    assert_eq!(snap.len(), 10 + 2 * 46);
    k.restart();
    let (last_seq, last_off) = *p2.last().expect("p2");
    assert_eq!(produce(port, pid2, ep2, last_seq, 2), (0, last_off), "dedup after clean restart");
    assert_eq!(produce(port, pid2, ep2, 100, 1).0, OUT_OF_ORDER, "gap after clean restart");
    assert_eq!(produce(port, pid, epoch, 11, 1).0, INVALID_PRODUCER_EPOCH, "epoch after clean restart");
    let (err, off) = produce(port, pid2, ep2, 80, 2);
    assert_eq!((err, off), (0, leo));

    // kill -9: no snapshot at the log end; the state is rebuilt by
    // replaying the log after the newest snapshot, so all of the last
    // five batches are still recognised.
    let mut recent = vec![(80, off)];
    for i in 41..45 {
        let (err, off) = produce(port, pid2, ep2, i * 2, 2);
        assert_eq!(err, 0);
        recent.push((i * 2, off));
    }
    let leo = log_end_offset(port);
    k.kill9();
    k.restart();
    assert!(!snapshots(&k).contains(&leo), "no snapshot at the log end after kill -9");
    for &(seq, off) in &recent {
        assert_eq!(produce(port, pid2, ep2, seq, 2), (0, off), "dedup of seq {seq} after kill -9");
    }
    assert_eq!(produce(port, pid2, ep2, 78, 2).0, OUT_OF_ORDER, "sixth-newest is gone");
    assert_eq!(produce(port, pid2, ep2, 90, 2), (0, leo), "the next sequence appends");
    assert_eq!(log_end_offset(port), leo + 2);
}
