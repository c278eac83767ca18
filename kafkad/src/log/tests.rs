//! The log's own tests: append, read, roll, recover, flush policy, index sizing.

use super::*;
use kafka_protocol::records::Compression;

fn cfg(seg: u64) -> LogConfig {
    LogConfig {
        segment_bytes: seg,
        segment_ms: i64::MAX,
        retention_ms: -1,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

#[test]
fn flush_messages_and_flush_ms_move_the_recovery_point() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().join("f-0");
    let mut c = cfg(1 << 20);
    c.flush_messages = 5;
    let mut log = Log::open(&dir, "f", 0, c, None, None).expect("open");
    append(&mut log, 3);
    assert_eq!(log.recovery_point, 0, "3 < flush.messages: not flushed yet");
    append(&mut log, 3);
    assert_eq!(log.recovery_point, 6, "6 unflushed >= 5: flushed");
    // Default policy: never on append; flush.ms decides on its own clock.
    log.config.flush_messages = i64::MAX;
    log.config.flush_ms = 1_000;
    append(&mut log, 2);
    assert_eq!(log.recovery_point, 6);
    let t = log.last_flush_ms;
    assert!(!log.flush_if_due(t + 999).expect("flush"));
    assert!(log.flush_if_due(t + 1_000).expect("flush"));
    assert_eq!(log.recovery_point, 8);
    assert!(!log.flush_if_due(t + 5_000).expect("flush"), "nothing left to flush");
}

fn append(log: &mut Log, n: usize) -> (i64, i64) {
    let mut b = batch::tests::sample_batch(n, Compression::None);
    let ranges = batch::split(&b).expect("split");
    let (first, last, _) = log.append_as_leader(&mut b, &ranges, 0).expect("append");
    (first, last)
}

#[test]
fn append_read_roll_recover() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().join("t-0");
    let mut log = Log::open(&dir, "t", 0, cfg(300), None, None).expect("open");
    for i in 0..20 {
        assert_eq!(append(&mut log, 2), (i * 2, i * 2 + 1));
    }
    assert_eq!(log.log_end_offset(), 40);
    assert!(log.segments.len() > 1, "rolled");
    let r = log.read(13, 1 << 20, 40).expect("read");
    let first = BatchHeader::parse(&r.bytes).expect("header");
    assert_eq!(first.base_offset, 12);
    let all = batch::split(&r.bytes).expect("whole batches");
    assert_eq!(all.len(), 14);
    // HW bound
    let r = log.read(0, 1 << 20, 10).expect("read");
    assert_eq!(batch::split(&r.bytes).expect("split").len(), 5);
    drop(log);
    // Torn tail: append garbage to the active segment.
    let mut last = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map(|e| e == "log").unwrap_or(false))
        .collect::<Vec<_>>();
    last.sort();
    let active = last.last().expect("a segment").clone();
    let mut bytes = std::fs::read(&active).expect("read");
    let good = bytes.len();
    bytes.extend_from_slice(&batch::tests::sample_batch(3, Compression::None)[..30]);
    std::fs::write(&active, &bytes).expect("write");
    let mut log = Log::open(&dir, "t", 0, cfg(300), Some(0), None).expect("reopen");
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(std::fs::metadata(&active).expect("meta").len() as usize, good);
    assert_eq!(append(&mut log, 1), (40, 40));
    log.truncate_to(21).expect("truncate");
    assert_eq!(log.log_end_offset(), 22, "batch 20..21 kept whole");
    assert!(matches!(log.read(50, 100, 100), Err(ReadError::OutOfRange { .. })));
}

/// Kafka's index sizing: the active segment's indexes are preallocated
/// to segment.index.bytes (whole entries), the others cut to their
/// entries; a log reopened without the cut (a crash) reads its entries
/// back, the preallocated zeros ignored.
#[test]
fn active_indexes_are_preallocated_and_trimmed_on_roll_and_close() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().join("p-0");
    let c = LogConfig { max_index_bytes: 1000, ..cfg(300) };
    let len = |base: i64, ext: &str| {
        std::fs::metadata(dir.join(segment::file_name(base, ext))).map(|m| m.len()).unwrap_or(u64::MAX)
    };
    let mut log = Log::open(&dir, "p", 0, c.clone(), None, None).expect("open");
    assert_eq!((len(0, "index"), len(0, "timeindex")), (1000, 996));
    for _ in 0..20 {
        append(&mut log, 2);
    }
    let bases: Vec<i64> = log.segments.keys().copied().collect();
    assert!(bases.len() > 2, "rolled");
    let active = *bases.last().expect("active");
    for b in &bases[..bases.len() - 1] {
        let (idx, tidx) = log.segments[b].index_bytes();
        assert_eq!((len(*b, "index"), len(*b, "timeindex")), (idx, tidx), "segment {b} trimmed");
    }
    assert_eq!(len(active, "index"), 1000);
    // A crash: reopened untrimmed, the entries are what they were.
    let before: Vec<(u64, u64)> = log.segments.values().map(Segment::index_bytes).collect();
    drop(log);
    let mut log = Log::open(&dir, "p", 0, c.clone(), Some(0), None).expect("reopen");
    let after: Vec<(u64, u64)> = log.segments.values().map(Segment::index_bytes).collect();
    assert_eq!(before, after);
    let r = log.read(13, 1 << 20, 40).expect("read");
    assert_eq!(BatchHeader::parse(&r.bytes).expect("header").base_offset, 12);
    // A clean close cuts the active one too.
    log.trim_indexes().expect("trim");
    assert_eq!(len(active, "index"), log.segments[&active].index_bytes().0);
}
