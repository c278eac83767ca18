//! Log compaction with the real broker and real clients: a compacted topic
//! ends up with the latest value per key (kcat -K), before and after a
//! SIGKILL restart; __consumer_offsets is compacted and a restarted broker
//! still resumes the group at its last commit (confluent-kafka); a
//! compacted topic refuses a record without a key as Kafka does.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::{kcat, rpc, run_py, wait_for, Kafkad};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};

const BROKER: &str = "log.cleaner.backoff.ms=100\noffsets.topic.num.partitions=1\noffsets.topic.replication.factor=1";

fn create_topic(port: u16, topic: &str, configs: &[(&str, &str)]) {
    common::create_topic(port, topic, 1, 1, configs);
}

fn alter_topic(port: u16, topic: &str, configs: &[(&str, &str)]) {
    use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let mut r = AlterConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = StrBytes::from_string(topic.to_string());
    for (k, v) in configs {
        let mut c = AlterableConfig::default();
        c.name = StrBytes::from_string(k.to_string());
        c.config_operation = 0;
        c.value = Some(StrBytes::from_string(v.to_string()));
        r.configs.push(c);
    }
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources.push(r);
    let resp: IncrementalAlterConfigsResponse = rpc(port, 1, &req);
    assert_eq!(resp.responses[0].error_code, 0, "{:?}", resp.responses[0].error_message);
}

/// `key:value` lines through kcat -K:, in small batches so small segments
/// fill and roll, compressed with `codec`. Seven records a batch against
/// five keys a round: batches straddle rounds, so cleaning rewrites them.
fn produce_keyed(b: &str, topic: &str, lines: &str, codec: &str) {
    let args = ["-b", b, "-P", "-t", topic, "-p", "0", "-K", ":", "-z", codec, "-X", "batch.num.messages=7"];
    let out = kcat(&args, Some(lines.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// (offset, key, value) of everything from the beginning.
fn consume(b: &str, topic: &str) -> Vec<(i64, String, String)> {
    let out = kcat(&["-b", b, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %k %s\n"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ' ');
            Some((it.next()?.parse().ok()?, it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
}

/// The cleaner's checkpoint for `topic`-0, if written.
fn cleaned_up_to(logs: &Path, topic: &str) -> Option<i64> {
    let text = std::fs::read_to_string(logs.join("cleaner-offset-checkpoint")).ok()?;
    text.lines().skip(2).find_map(|l| {
        let p: Vec<&str> = l.split_whitespace().collect();
        (p.len() == 3 && p[0] == topic && p[1] == "0").then(|| p[2].parse().ok()).flatten()
    })
}

/// Compacted below the checkpoint: one record per key there, and every
/// key's last record overall is its latest value.
fn compacted(records: &[(i64, String, String)], checkpoint: i64, latest: &BTreeMap<String, String>) -> bool {
    let mut seen = HashSet::new();
    let unique = records.iter().filter(|r| r.0 < checkpoint).all(|r| seen.insert(r.1.clone()));
    let mut last = BTreeMap::new();
    for (_, k, v) in records {
        last.insert(k.clone(), v.clone());
    }
    unique && &last == latest
}

fn rounds(from: usize, to: usize, keys: usize) -> (String, BTreeMap<String, String>) {
    let mut lines = String::new();
    let mut latest = BTreeMap::new();
    for round in from..to {
        for k in 0..keys {
            lines.push_str(&format!("key{k}:value-{round}-{k}\n"));
            latest.insert(format!("key{k}"), format!("value-{round}-{k}"));
        }
    }
    (lines, latest)
}

#[test]
fn a_compacted_topic_keeps_the_latest_value_per_key_across_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), BROKER);
    let (b, port) = (k.bootstrap(), k.port);
    let logs = tmp.path().join("logs");
    create_topic(
        port,
        "cmp",
        &[("cleanup.policy", "compact"), ("segment.bytes", "600"), ("min.cleanable.dirty.ratio", "0.01")],
    );
    // Cleaned batches are re-encoded with their codec; librdkafka reads them.
    let (lines, latest) = rounds(0, 40, 5);
    produce_keyed(&b, "cmp", &lines, "lz4");
    let records = wait_for("cmp compacted", Duration::from_secs(60), || {
        let cp = cleaned_up_to(&logs, "cmp")?;
        let r = consume(&b, "cmp");
        // Only the active segment (a few batches) is left uncleaned.
        (cp >= 150 && compacted(&r, cp, &latest)).then_some(r)
    });
    assert!(records.len() < 100, "{} of 200 records left", records.len());
    let offsets: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets kept and increasing: {offsets:?}");

    // SIGKILL: the cleaned log, its indexes and the checkpoint survive.
    k.restart();
    assert_eq!(consume(&b, "cmp"), records, "same records after restart");
    let cp = cleaned_up_to(&logs, "cmp").expect("checkpoint");
    let (lines, latest) = rounds(40, 60, 5);
    produce_keyed(&b, "cmp", &lines, "zstd");
    wait_for("cmp compacted again after restart", Duration::from_secs(60), || {
        let now = cleaned_up_to(&logs, "cmp")?;
        (now > cp && compacted(&consume(&b, "cmp"), now, &latest)).then_some(())
    });
    assert!(k.log().contains("cleaned log"), "the cleaner logged its work");
}

#[test]
fn consumer_offsets_is_compacted_and_a_restarted_broker_resumes_the_group() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), BROKER);
    let b = k.bootstrap();
    let logs = tmp.path().join("logs");
    let lines: String = (0..20).map(|i| format!("k{i}:v{i}\n")).collect();
    produce_keyed(&b, "src", &lines, "none");
    // The first commit creates __consumer_offsets (compact); small segments
    // make the churn below cleanable.
    run_py(&k, "offset_churn.py", &["src", "g1", "1", "0"]);
    alter_topic(k.port, "__consumer_offsets", &[("segment.bytes", "1000"), ("min.cleanable.dirty.ratio", "0.01")]);
    run_py(&k, "offset_churn.py", &["src", "g1", "200", "7"]);
    // Binary keys and values: count offsets only.
    let count = |b: &str| {
        let out = kcat(&["-b", b, "-C", "-t", "__consumer_offsets", "-o", "beginning", "-e", "-f", "%o\n"], None);
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.parse::<i64>().is_ok()).count()
    };
    wait_for("__consumer_offsets compacted", Duration::from_secs(60), || {
        let cp = cleaned_up_to(&logs, "__consumer_offsets")?;
        (cp > 100 && count(&b) < 60).then_some(())
    });
    k.restart();
    let out = run_py(&k, "group_resume.py", &["src", "g1", "1"]);
    assert!(out.contains("FIRST 7"), "resumed at the last commit: {out}");
}

#[test]
fn a_compacted_topic_refuses_a_record_without_a_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), BROKER);
    create_topic(k.port, "keyed", &[("cleanup.policy", "compact,delete")]);
    let rec = |key: Option<&str>, i: i64| Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: i,
        sequence: i as i32,
        timestamp: kafkad::now_ms(),
        key: key.map(|k| Bytes::from(k.to_string())),
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let produce = |records: Vec<Record>| common::produce_records(k.port, "keyed", &records, Compression::Lz4, 1, 9);
    wait_for("keyed leader", Duration::from_secs(20), || {
        (produce(vec![rec(Some("a"), 0)]).error_code == 0).then_some(())
    });
    let p = produce(vec![rec(Some("a"), 0), rec(None, 1), rec(Some("b"), 2), rec(None, 3)]);
    assert_eq!(p.error_code, 87, "INVALID_RECORD");
    let m = "Compacted topic cannot accept message without key in topic partition keyed-0";
    assert_eq!(
        p.error_message.as_deref(),
        Some(
            format!(
                "One or more records have been rejected due to 2 record errors in total, and only showing the \
                 first three errors at most: [RecordError(batchIndex=1, message='{m}'), \
                 RecordError(batchIndex=3, message='{m}')]"
            )
            .as_str()
        )
    );
    let errs: Vec<(i32, Option<String>)> = p
        .record_errors
        .iter()
        .map(|e| (e.batch_index, e.batch_index_error_message.as_ref().map(|s| s.to_string())))
        .collect();
    assert_eq!(errs, vec![(1, Some(m.to_string())), (3, Some(m.to_string()))]);
    assert_eq!(consume(&k.bootstrap(), "keyed").len(), 1, "nothing of the refused batch was written");
}
