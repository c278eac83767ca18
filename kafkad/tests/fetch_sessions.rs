//! Incremental fetch sessions (KIP-227) on the wire: raw Fetch v12
//! requests, each over a fresh connection (a session belongs to no
//! connection), with records produced by kcat.

mod common;

use std::time::Duration;

use common::{free_port, kcat, rpc, scrape, series, wait_for, Kafkad};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// (topic, [(partition, fetch offset)]) per entry.
fn topics(parts: &[(&str, &[(i32, i64)])]) -> Vec<FetchTopic> {
    parts
        .iter()
        .map(|(t, ps)| {
            let mut ft = FetchTopic::default();
            ft.topic = name(t);
            for (p, offset) in ps.iter() {
                let mut fp = FetchPartition::default();
                fp.partition = *p;
                fp.fetch_offset = *offset;
                fp.partition_max_bytes = 1 << 20;
                ft.partitions.push(fp);
            }
            ft
        })
        .collect()
}

fn fetch(
    port: u16,
    session: (i32, i32),
    parts: &[(&str, &[(i32, i64)])],
    forget: &[(&str, &[i32])],
    max_wait_ms: i32,
) -> FetchResponse {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    (req.session_id, req.session_epoch) = session;
    req.topics = topics(parts);
    req.forgotten_topics_data = forget
        .iter()
        .map(|(t, ps)| {
            let mut f = ForgottenTopic::default();
            f.topic = name(t);
            f.partitions = ps.to_vec();
            f
        })
        .collect();
    rpc(port, 12, &req)
}

/// What was answered: (topic, partition, high watermark, values).
fn answered(resp: &FetchResponse) -> Vec<(String, i32, i64, Vec<String>)> {
    assert_eq!(resp.error_code, 0, "top-level error");
    let mut out = Vec::new();
    for t in &resp.responses {
        for p in &t.partitions {
            assert_eq!(p.error_code, 0, "{} {}", t.topic.0.as_str(), p.partition_index);
            let mut bytes = p.records.clone().unwrap_or_default();
            let values = RecordBatchDecoder::decode_all(&mut bytes)
                .expect("record batches")
                .into_iter()
                .flat_map(|set| set.records)
                .map(|r| String::from_utf8_lossy(&r.value.unwrap_or_default()).to_string())
                .collect();
            out.push((t.topic.0.to_string(), p.partition_index, p.high_watermark, values));
        }
    }
    out
}

fn produce(b: &str, topic: &str, partition: i32, values: &[&str]) {
    let input: String = values.iter().map(|v| format!("{v}\n")).collect();
    let out = kcat(&["-b", b, "-P", "-t", topic, "-p", &partition.to_string()], Some(input.as_bytes()));
    assert!(out.status.success(), "produce: {}", String::from_utf8_lossy(&out.stderr));
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn fetch_session_create_incremental_forget_errors_and_close() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let metrics = free_port();
    let k = Kafkad::start(tmp.path(), &format!("num.partitions=2\nmetrics.port={metrics}"));
    let b = k.bootstrap();
    let incremental = || series(&scrape(metrics)).get("kafka_incremental_fetches_total").copied().unwrap_or(-1.0);
    produce(&b, "fa", 0, &["a0-0", "a0-1"]);
    produce(&b, "fa", 1, &["a1-0"]);
    produce(&b, "fb", 0, &["b0-0"]);

    // Epoch 0: a full fetch that creates a session; every partition answers.
    let all: [(&str, &[(i32, i64)]); 2] = [("fa", &[(0, 0), (1, 0)]), ("fb", &[(0, 0)])];
    let resp = fetch(k.port, (0, 0), &all, &[], 0);
    let id = resp.session_id;
    assert!(id > 0, "a new session id, got {id}");
    assert_eq!(
        answered(&resp),
        vec![
            ("fa".into(), 0, 2, v(&["a0-0", "a0-1"])),
            ("fa".into(), 1, 1, v(&["a1-0"])),
            ("fb".into(), 0, 1, v(&["b0-0"]))
        ]
    );

    // Epoch 1: the client moves its offsets on; nothing new: an empty answer
    // that waited out max_wait_ms (no bytes to return).
    let moved: [(&str, &[(i32, i64)]); 2] = [("fa", &[(0, 2), (1, 1)]), ("fb", &[(0, 1)])];
    let resp = fetch(k.port, (id, 1), &moved, &[], 200);
    assert_eq!((resp.session_id, answered(&resp)), (id, vec![]));

    // New data on fb-0 only: the long poll of an incremental fetch that
    // lists no partitions wakes, and only fb-0 is answered.
    let port = k.port;
    let waiter = std::thread::spawn(move || fetch(port, (id, 2), &[], &[], 20_000));
    wait_for("the incremental fetch to be waiting", Duration::from_secs(10), || (incremental() == 2.0).then_some(()));
    produce(&b, "fb", 0, &["b0-1"]);
    let resp = waiter.join().expect("waiter");
    assert_eq!((resp.session_id, answered(&resp)), (id, vec![("fb".into(), 0, 2, v(&["b0-1"]))]));

    // Epoch 3: forget fa-1 and move fb-0 on. New data on fa-1 is no longer
    // this session's business; new data on fa-0 is.
    let resp = fetch(k.port, (id, 3), &[("fb", &[(0, 2)])], &[("fa", &[1])], 0);
    assert_eq!(answered(&resp), vec![]);
    produce(&b, "fa", 1, &["a1-1"]);
    produce(&b, "fa", 0, &["a0-2"]);
    let resp = fetch(k.port, (id, 4), &[], &[], 0);
    assert_eq!(answered(&resp), vec![("fa".into(), 0, 3, v(&["a0-2"]))]);

    // A wrong epoch: 71 at the top level, no partitions; the session stays.
    for bad in [4, 9] {
        let resp = fetch(k.port, (id, bad), &[], &[], 0);
        assert_eq!((resp.error_code, resp.responses.len()), (71, 0), "epoch {bad}");
    }
    // An unknown session id: 70.
    let other = if id == i32::MAX { 1 } else { id + 1 };
    let resp = fetch(k.port, (other, 1), &[], &[], 0);
    assert_eq!((resp.error_code, resp.responses.len()), (70, 0));
    // Epoch 5 is still good: fa-0 moved on, nothing new.
    let resp = fetch(k.port, (id, 5), &[("fa", &[(0, 3)])], &[], 0);
    assert_eq!((resp.session_id, answered(&resp)), (id, vec![]));

    // A sessionless full fetch (epoch -1) naming the session closes it.
    let resp = fetch(k.port, (id, -1), &[("fa", &[(1, 0)])], &[], 0);
    assert_eq!(resp.session_id, 0);
    assert_eq!(answered(&resp), vec![("fa".into(), 1, 2, v(&["a1-0", "a1-1"]))]);
    assert_eq!(fetch(k.port, (id, 6), &[], &[], 0).error_code, 70, "closed");
    let m = series(&scrape(metrics));
    assert_eq!(m.get("kafka_fetch_sessions"), Some(&0.0));
    assert_eq!(m.get("kafka_incremental_fetches_total"), Some(&5.0), "epochs 1 to 5");
}

#[test]
fn zero_cache_slots_answer_full_fetches_with_session_id_zero() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "max.incremental.fetch.session.cache.slots=0");
    produce(&k.bootstrap(), "z", 0, &["z-0"]);
    for _ in 0..2 {
        let resp = fetch(k.port, (0, 0), &[("z", &[(0, 0)])], &[], 0);
        assert_eq!(resp.session_id, 0, "no session without cache slots");
        assert_eq!(answered(&resp), vec![("z".into(), 0, 1, v(&["z-0"]))]);
    }
    assert_eq!(fetch(k.port, (1, 1), &[], &[], 0).error_code, 70);
}
