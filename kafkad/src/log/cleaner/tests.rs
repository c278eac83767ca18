use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions};

use super::*;
use crate::log::batch::{self, BatchHeader};
use crate::log::manager::SharedLog;
use crate::log::{Log, LogConfig};

type Kv<'a> = (Option<&'a str>, Option<&'a str>);

fn cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        segment_ms: i64::MAX,
        retention_ms: -1,
        index_interval_bytes: 64,
        delete_enabled: false,
        compact: true,
        min_cleanable_ratio: 0.0,
        ..LogConfig::default()
    }
}

fn encode(kvs: &[Kv], c: Compression, producer: Option<(i64, i32)>) -> Vec<u8> {
    let records: Vec<Record> = kvs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map(|p| p.0).unwrap_or(-1),
            producer_epoch: if producer.is_some() { 0 } else { -1 },
            timestamp_type: kafka_protocol::records::TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch where offset - sequence
            // changes, so keyed records share one batch only this way.
            sequence: producer.map(|p| p.1).unwrap_or(0) + i as i32,
            timestamp: 1_000 + i as i64,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, records.iter(), &RecordEncodeOptions { version: 2, compression: c })
        .expect("encode");
    buf.to_vec()
}

fn append_with(log: &mut Log, kvs: &[Kv], c: Compression, producer: Option<(i64, i32)>) {
    let mut b = encode(kvs, c, producer);
    let ranges = batch::split(&b).expect("split");
    log.append_as_leader(&mut b, &ranges, 0).expect("append");
}

fn append(log: &mut Log, kvs: &[Kv]) {
    append_with(log, kvs, Compression::None, None);
}

fn open(dir: &Path, c: LogConfig) -> SharedLog {
    Arc::new(Mutex::new(Log::open(&dir.join("t-0"), "t", 0, c, None, None).expect("open")))
}

/// Every batch from the log start, as stored.
fn batches(log: &SharedLog) -> Vec<(BatchHeader, Vec<u8>)> {
    let g = log.lock().expect("lock");
    let leo = g.log_end_offset();
    let mut offset = g.log_start_offset;
    let mut out = Vec::new();
    while offset < leo {
        let r = g.read(offset, 1 << 20, leo).expect("read");
        if r.bytes.is_empty() {
            break;
        }
        for range in batch::split(&r.bytes).expect("whole batches") {
            let b = r.bytes[range].to_vec();
            let h = batch::validate_stored(&b).expect("valid stored batch");
            offset = h.last_offset() + 1;
            out.push((h, b));
        }
    }
    out
}

/// (offset, key, value) of every record, decoded by kafka-protocol.
fn contents(log: &SharedLog) -> Vec<(i64, Option<String>, Option<String>)> {
    let s = |b: Option<Bytes>| b.map(|b| String::from_utf8_lossy(&b).to_string());
    batches(log)
        .into_iter()
        .flat_map(|(_, b)| RecordBatchDecoder::decode(&mut Bytes::from(b)).expect("decodable").records)
        .map(|r| (r.offset, s(r.key), s(r.value)))
        .collect()
}

fn kv(o: i64, k: &str, v: Option<&str>) -> (i64, Option<String>, Option<String>) {
    (o, Some(k.to_string()), v.map(str::to_string))
}

fn clean(c: &mut LogCleaner, log: &SharedLog, hw: i64, now: i64) -> bool {
    c.clean_filthiest(&[(log.clone(), hw)], now).expect("clean")
}

fn leo(log: &SharedLog) -> i64 {
    log.lock().expect("lock").log_end_offset()
}

fn roll(log: &SharedLog) {
    log.lock().expect("lock").roll().expect("roll");
}

#[test]
fn keeps_only_the_latest_value_per_key_across_segments() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), cfg());
    for round in 0..5 {
        let vals: Vec<String> = (0..4).map(|k| format!("v{round}-k{k}")).collect();
        let kvs: Vec<Kv> = (0..4).map(|k| (Some(["k0", "k1", "k2", "k3"][k]), Some(vals[k].as_str()))).collect();
        append(&mut log.lock().expect("lock"), &kvs);
        roll(&log);
    }
    append(&mut log.lock().expect("lock"), &[(Some("k0"), Some("active"))]);
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    assert!(clean(&mut c, &log, leo(&log), crate::now_ms()));
    // The active segment's k0 does not count yet: k0's last cleanable
    // value stays, as in Kafka.
    let want = vec![
        kv(16, "k0", Some("v4-k0")),
        kv(17, "k1", Some("v4-k1")),
        kv(18, "k2", Some("v4-k2")),
        kv(19, "k3", Some("v4-k3")),
        kv(20, "k0", Some("active")),
    ];
    assert_eq!(contents(&log), want);
    {
        let g = log.lock().expect("lock");
        assert_eq!(g.segments.keys().copied().collect::<Vec<_>>(), vec![0, 20], "small segments merged into one");
        assert_eq!(g.log_end_offset(), 21);
    }
    let cp = std::fs::read_to_string(d.path().join(CHECKPOINT_FILE)).expect("checkpoint");
    assert_eq!(cp, "0\n1\nt 0 20\n");
    assert!(!clean(&mut c, &log, leo(&log), crate::now_ms()), "nothing dirty left");
    // Reopened, the swapped segment and its indexes serve the same log.
    drop(log);
    let log = open(d.path(), cfg());
    assert_eq!(contents(&log), want);
    append(&mut log.lock().expect("lock"), &[(Some("k1"), Some("after"))]);
    assert_eq!(leo(&log), 22, "offsets continue");
    let g = log.lock().expect("lock");
    assert_eq!(g.read(3, 1 << 20, 22).map(|r| BatchHeader::parse(&r.bytes).map(|h| h.base_offset)).ok(), Some(Ok(16)));
}

#[test]
fn tombstones_stay_until_delete_retention_then_go() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), LogConfig { delete_retention_ms: 1_000, ..cfg() });
    append(&mut log.lock().expect("lock"), &[(Some("k1"), Some("a")), (Some("k2"), Some("b"))]);
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("k1"), None)]);
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("k3"), Some("c"))]);
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    let t = 1_700_000_000_000;
    assert!(clean(&mut c, &log, leo(&log), t));
    assert_eq!(contents(&log), vec![kv(1, "k2", Some("b")), kv(2, "k1", None), kv(3, "k3", Some("c"))]);
    let (h, _) = batches(&log).into_iter().find(|(h, _)| h.base_offset == 2).expect("tombstone batch");
    assert!(h.has_delete_horizon(), "KIP-534 horizon stamped on the first clean");
    assert_eq!(h.first_timestamp, t + 1_000);
    assert_eq!(h.max_timestamp, 1_000, "record timestamps unchanged");
    // Before the horizon a later clean keeps it...
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("k4"), Some("d"))]);
    assert!(clean(&mut c, &log, leo(&log), t + 999));
    assert!(contents(&log).contains(&kv(2, "k1", None)));
    // ...and from the horizon on it is gone.
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("k5"), Some("e"))]);
    assert!(clean(&mut c, &log, leo(&log), t + 1_000));
    assert_eq!(
        contents(&log),
        vec![kv(1, "k2", Some("b")), kv(3, "k3", Some("c")), kv(4, "k4", Some("d")), kv(5, "k5", Some("e"))]
    );
}

#[test]
fn high_watermark_and_active_segment_bound_the_clean() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), cfg());
    for v in ["v1", "v2", "v3"] {
        append(&mut log.lock().expect("lock"), &[(Some("a"), Some(v))]);
        roll(&log);
    }
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("v4"))]);
    let active = d.path().join("t-0/00000000000000000003.log");
    let active_bytes = std::fs::read(&active).expect("active segment");
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    // HW at 2: the segment holding it and everything after stay dirty.
    assert!(clean(&mut c, &log, 2, crate::now_ms()));
    assert_eq!(contents(&log), vec![kv(1, "a", Some("v2")), kv(2, "a", Some("v3")), kv(3, "a", Some("v4"))]);
    assert_eq!(c.checkpoint("t", 0), Some(2));
    assert!(!clean(&mut c, &log, 2, crate::now_ms()), "nothing cleanable below the HW");
    // HW at the end: still never the active segment.
    assert!(clean(&mut c, &log, leo(&log), crate::now_ms()));
    assert_eq!(contents(&log), vec![kv(2, "a", Some("v3")), kv(3, "a", Some("v4"))]);
    assert_eq!(std::fs::read(&active).expect("active segment"), active_bytes, "active segment untouched");
    assert_eq!(c.checkpoint("t", 0), Some(3));
}

#[test]
fn ratio_and_compaction_lags_decide_what_is_cleanable() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), LogConfig { min_cleanable_ratio: 0.5, ..cfg() });
    for v in ["v1", "v2"] {
        append(&mut log.lock().expect("lock"), &[(Some("a"), Some(v))]);
        roll(&log);
    }
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("v3"))]);
    let now = crate::now_ms();
    let cl = |cp: Option<i64>, now: i64| cleanable(&log.lock().expect("lock"), cp, 3, now);
    let all = cl(None, now);
    assert_eq!((all.first_dirty, all.first_uncleanable, all.clean_bytes), (0, 2, 0));
    assert_eq!(all.ratio(), 1.0);
    // Half clean: a ratio of exactly 0.5 does not exceed 0.5.
    let half = cl(Some(1), now);
    assert_eq!(half.clean_bytes, half.cleanable_bytes);
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    c.set_checkpoint(d.path(), ("t".into(), 0), 1).expect("checkpoint");
    assert!(!clean(&mut c, &log, 3, now));
    // A checkpoint past the log end is reset to the log start.
    assert!(cl(Some(99), now).reset);
    // min.compaction.lag.ms keeps young segments (record time 1000 ms is old).
    log.lock().expect("lock").config.min_compaction_lag_ms = now;
    assert_eq!(cl(None, now).first_uncleanable, 0, "every segment is within the lag");
    // max.compaction.lag.ms: dirty records that old must be cleaned now.
    log.lock().expect("lock").config.min_compaction_lag_ms = 0;
    log.lock().expect("lock").config.max_compaction_lag_ms = 1;
    assert!(cl(Some(1), now).need_now);
    assert!(clean(&mut c, &log, 3, now), "cleaned below the ratio because of max.compaction.lag.ms");
    assert_eq!(contents(&log), vec![kv(1, "a", Some("v2")), kv(2, "a", Some("v3"))]);
}

#[test]
fn compressed_batches_are_rewritten_with_their_codec() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let d = tempfile::tempdir().expect("tempdir");
        let log = open(d.path(), cfg());
        let first: &[Kv] = &[(Some("k1"), Some("x")), (Some("k2"), Some("y")), (Some("k1"), Some("z"))];
        append_with(&mut log.lock().expect("lock"), first, codec, None);
        roll(&log);
        append_with(&mut log.lock().expect("lock"), &[(Some("k2"), Some("w"))], codec, None);
        roll(&log);
        append(&mut log.lock().expect("lock"), &[(Some("k9"), Some("active"))]);
        let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
        assert!(clean(&mut c, &log, leo(&log), crate::now_ms()), "{codec:?}");
        let want = vec![kv(2, "k1", Some("z")), kv(3, "k2", Some("w")), kv(4, "k9", Some("active"))];
        assert_eq!(contents(&log), want, "{codec:?}");
        let (h, _) = batches(&log).remove(0);
        assert_eq!((h.base_offset, h.last_offset_delta, h.record_count), (0, 2, 1), "{codec:?}: offsets kept");
        assert_eq!(h.attributes & batch::CODEC_MASK, codec as i16, "{codec:?}: codec kept");
        assert_eq!((h.first_timestamp, h.max_timestamp), (1_002, 1_002));
        // A full recovery scan accepts the rewritten batches.
        drop(log);
        let log = Arc::new(Mutex::new(Log::open(&d.path().join("t-0"), "t", 0, cfg(), Some(0), None).expect("reopen")));
        assert_eq!(contents(&log), want, "{codec:?} after recovery");
    }
}

#[test]
fn a_producers_last_batch_is_kept_empty() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), cfg());
    append_with(
        &mut log.lock().expect("lock"),
        &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
        Compression::None,
        Some((7, 0)),
    );
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("2")), (Some("b"), Some("2"))]);
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("c"), Some("active"))]);
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    assert!(clean(&mut c, &log, leo(&log), crate::now_ms()));
    let bs = batches(&log);
    let (h, b) = &bs[0];
    assert_eq!((h.base_offset, h.last_offset_delta, h.record_count, b.len()), (0, 1, 0, batch::HEADER_LEN));
    assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (7, 0, 0));
    assert_eq!(contents(&log), vec![kv(2, "a", Some("2")), kv(3, "b", Some("2")), kv(4, "c", Some("active"))]);
    // Rebuilt from the log alone, the producer's sequence survives.
    drop(log);
    for p in crate::log::producer_state::list_snapshots(&d.path().join("t-0")) {
        std::fs::remove_file(p.1).expect("rm snapshot");
    }
    let log = open(d.path(), cfg());
    let g = log.lock().expect("lock");
    assert_eq!(g.producers.entry(7).and_then(|e| e.batches.back().map(|b| (b.last_seq, b.last_offset))), Some((1, 1)));
}

#[test]
fn an_interrupted_clean_is_discarded_or_finished_at_open() {
    let build = |dir: &Path| {
        let log = open(dir, cfg());
        append(&mut log.lock().expect("lock"), &[(Some("a"), Some("1")), (Some("b"), Some("1"))]);
        roll(&log);
        append(&mut log.lock().expect("lock"), &[(Some("a"), Some("2"))]);
        roll(&log);
        append(&mut log.lock().expect("lock"), &[(Some("c"), Some("active"))]);
        log
    };
    let now = crate::now_ms();
    let done = tempfile::tempdir().expect("tempdir");
    let cleaned = build(done.path());
    assert!(clean(&mut LogCleaner::new(&[done.path().to_path_buf()], 1000), &cleaned, leo(&cleaned), now));
    let want = contents(&cleaned);
    assert_eq!(want, vec![kv(1, "b", Some("1")), kv(2, "a", Some("2")), kv(3, "c", Some("active"))]);
    let swapped = std::fs::read(done.path().join("t-0/00000000000000000000.log")).expect("cleaned segment");

    // Crash before the commit point: .cleaned files are dropped.
    let d = tempfile::tempdir().expect("tempdir");
    let original = contents(&build(d.path()));
    let seg = |name: &str| d.path().join("t-0").join(name);
    std::fs::write(seg("00000000000000000000.log.cleaned"), &swapped).expect("write");
    std::fs::write(seg("00000000000000000000.index.cleaned"), b"junk").expect("write");
    std::fs::write(seg("00000000000000000002.log.deleted"), b"junk").expect("write");
    assert_eq!(contents(&open(d.path(), cfg())), original);
    assert!(!seg("00000000000000000000.log.cleaned").exists() && !seg("00000000000000000002.log.deleted").exists());

    // Crash after it: the .swap replaces the segments in its range,
    // whether or not they were already deleted.
    for delete_first in [false, true] {
        let d = tempfile::tempdir().expect("tempdir");
        drop(build(d.path()));
        let seg = |name: &str| d.path().join("t-0").join(name);
        std::fs::write(seg("00000000000000000000.log.swap"), &swapped).expect("write");
        std::fs::write(seg("00000000000000000000.index.swap"), b"junk!!!!").expect("write");
        if delete_first {
            std::fs::remove_file(seg("00000000000000000000.log")).expect("rm");
        }
        let log = open(d.path(), cfg());
        assert_eq!(contents(&log), want, "delete_first={delete_first}");
        assert_eq!(log.lock().expect("lock").segments.keys().copied().collect::<Vec<_>>(), vec![0, 3]);
        assert!(!seg("00000000000000000000.log.swap").exists() && !seg("00000000000000000002.log").exists());
        assert!(!seg("00000000000000000000.index.swap").exists());
    }
}

#[test]
fn a_truncation_during_cleaning_aborts_the_swap() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), cfg());
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("1"))]);
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("2"))]);
    roll(&log);
    let mut g = log.lock().expect("lock");
    let seg = crate::log::segment::Segment::create_cleaned(&g.dir, 0, 64).expect("cleaned");
    let ids: Vec<_> = g.segments.values().take(2).map(crate::log::swap::SegmentId::of).collect();
    g.truncated_to = Some(1);
    assert!(!g.replace_segments(seg, &ids).expect("swap"), "aborted");
    assert!(!d.path().join("t-0/00000000000000000000.log.cleaned").exists());
    assert_eq!(g.segments.len(), 3);
}

#[test]
fn a_follower_copies_a_compacted_log_with_its_gaps() {
    let d = tempfile::tempdir().expect("tempdir");
    let leader = open(d.path(), cfg());
    append_with(&mut leader.lock().expect("lock"), &[(Some("a"), Some("1"))], Compression::None, Some((3, 0)));
    append(&mut leader.lock().expect("lock"), &[(Some("d"), Some("1"))]);
    append(&mut leader.lock().expect("lock"), &[(Some("a"), Some("2")), (Some("b"), Some("1"))]);
    append(&mut leader.lock().expect("lock"), &[(Some("b"), Some("2")), (Some("d"), Some("2"))]);
    roll(&leader);
    append(&mut leader.lock().expect("lock"), &[(Some("c"), Some("active"))]);
    assert!(clean(&mut LogCleaner::new(&[d.path().to_path_buf()], 1000), &leader, leo(&leader), crate::now_ms()));
    let g = leader.lock().expect("lock");
    let bytes = g.read(0, 1 << 20, g.log_end_offset()).expect("read").bytes;
    let f = tempfile::tempdir().expect("tempdir");
    let follower = open(f.path(), cfg());
    follower.lock().expect("lock").append_as_follower(&bytes).expect("gaps and empty batches accepted");
    drop(g);
    assert_eq!(contents(&follower), contents(&leader));
    let want = vec![kv(2, "a", Some("2")), kv(4, "b", Some("2")), kv(5, "d", Some("2")), kv(6, "c", Some("active"))];
    assert_eq!(contents(&leader), want);
    let bases: Vec<i64> = batches(&follower).iter().map(|(h, _)| h.base_offset).collect();
    assert_eq!(bases, vec![0, 2, 4, 6], "offset 1's batch is gone: a gap the follower accepted");
    assert_eq!(leo(&follower), leo(&leader));
}

#[test]
fn a_truncated_log_lowers_its_checkpoint() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = open(d.path(), cfg());
    for v in ["1", "2", "3"] {
        append(&mut log.lock().expect("lock"), &[(Some("a"), Some(v))]);
        roll(&log);
    }
    append(&mut log.lock().expect("lock"), &[(Some("b"), Some("active"))]);
    let mut c = LogCleaner::new(&[d.path().to_path_buf()], 1000);
    assert!(clean(&mut c, &log, leo(&log), crate::now_ms()));
    assert_eq!(c.checkpoint("t", 0), Some(3));
    log.lock().expect("lock").truncate_to(2).expect("truncate");
    append(&mut log.lock().expect("lock"), &[(Some("a"), Some("new"))]);
    roll(&log);
    append(&mut log.lock().expect("lock"), &[(Some("b"), Some("active"))]);
    assert!(clean(&mut c, &log, leo(&log), crate::now_ms()));
    assert_eq!(contents(&log), vec![kv(2, "a", Some("new")), kv(3, "b", Some("active"))]);
    assert_eq!(c.checkpoint("t", 0), Some(3));
    let cp = std::fs::read_to_string(d.path().join(CHECKPOINT_FILE)).expect("checkpoint");
    assert_eq!(cp, "0\n1\nt 0 3\n");
}
