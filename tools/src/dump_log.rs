//! kafka-dump-log: print log segments (.log), offset indexes (.index), time
//! indexes (.timeindex) and producer snapshots (.snapshot) read directly
//! from disk, in DumpLogSegments' format.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use shared::kafka_format::batch::{self, BatchHeader};

use crate::error::{usage, Result, ToolError};
use crate::opts::{self, flag, val, Opt};

pub const SPECS: &[Opt] = &[
    flag("print-data-log", "if set, printing the messages content when dumping data logs. Automatically set if any decoder option is specified."),
    flag("verify-index-only", "if set, just verify the index log without printing its content."),
    flag("index-sanity-check", "if set, just checks the index sanity without printing its content. This is the same check that is executed on broker startup to determine if an index needs rebuilding or not."),
    val("files", "String: file1, file2, ...", "REQUIRED: The comma separated list of data and index log files to be dumped."),
    val("max-message-size", "Integer: size", "Size of largest message. (default: 5242880)"),
    val("max-bytes", "Integer: size", "Limit the amount of total batches read in bytes avoiding reading the whole .log file(s). (default: 2147483647)"),
    flag("deep-iteration", "if set, uses deep instead of shallow iteration. Automatically set if print-data-log is enabled."),
    val("value-decoder-class", "String", "Ignored: values are printed as UTF-8 text."),
    val("key-decoder-class", "String", "Ignored: keys are printed as UTF-8 text."),
    flag("offsets-decoder", "if set, log data will be parsed as offset data from the __consumer_offsets topic (printed raw here)."),
    flag("transaction-log-decoder", "if set, log data will be parsed as transaction metadata from the __transaction_state topic (printed raw here)."),
    flag("skip-record-metadata", "whether to skip printing metadata for each record."),
    flag("version", "Display Kafka version."),
];

const SUMMARY: &str = "This tool helps to parse a log file and dump its contents to the console, useful for debugging a seemingly corrupt log segment.";

/// One v2 batch: its header (the shared codec's), its CRC and whether the
/// CRC checks, and its bytes.
pub struct Batch {
    pub h: BatchHeader,
    pub size: usize,
    pub crc: u32,
    pub valid: bool,
    pub raw: Bytes,
}

impl std::ops::Deref for Batch {
    type Target = BatchHeader;
    fn deref(&self) -> &BatchHeader {
        &self.h
    }
}

/// Batches of a log file; stops at the first incomplete or non-v2 batch.
/// Returns the batches and the number of valid bytes.
pub fn read_batches(data: &Bytes, max_bytes: usize) -> (Vec<Batch>, usize) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let limit = data.len().min(max_bytes);
    while let Some(Ok(h)) = data.get(pos..limit).map(BatchHeader::parse) {
        let size = h.size();
        if pos + size > limit {
            break;
        }
        let raw = data.slice(pos..pos + size);
        let (crc, valid) = batch::crc(&raw);
        out.push(Batch { h, size, crc, valid, raw });
        pos += size;
    }
    (out, pos)
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub async fn run(args: &[String]) -> Result<i32> {
    let Some(p) = opts::parse_or_help(SUMMARY, SPECS, args)? else { return Ok(0) };
    if p.has("version") {
        println!("{}", crate::KAFKA_VERSION_LINE);
        return Ok(0);
    }
    let files = p.list("files");
    if files.is_empty() {
        return usage("Missing required argument \"[files]\"");
    }
    let print = p.has("print-data-log") || p.has("offsets-decoder") || p.has("transaction-log-decoder");
    let deep = print || p.has("deep-iteration");
    let max_bytes = p.num_or::<usize>("max-bytes", i32::MAX as usize)?;
    let mut errors = Errors::default();
    for f in &files {
        println!("Dumping {f}");
        let name = Path::new(f).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let suffix = name.rfind('.').map(|i| &name[i..]).unwrap_or("");
        match suffix {
            ".log" => dump_log(f, &name, print, deep, p.has("skip-record-metadata"), max_bytes, &mut errors)?,
            ".index" => dump_index(f, &name, p.has("index-sanity-check"), p.has("verify-index-only"), &mut errors)?,
            ".timeindex" => {
                dump_time_index(f, &name, p.has("index-sanity-check"), p.has("verify-index-only"), &mut errors)?
            }
            ".snapshot" => dump_snapshot(f)?,
            _ => eprintln!("Ignoring unknown file {f}"),
        }
    }
    errors.print();
    Ok(0)
}

#[derive(Default)]
struct Errors {
    index_mismatch: BTreeMap<String, Vec<(i64, i64)>>,
    non_consecutive: BTreeMap<String, Vec<(i64, i64)>>,
    ts_mismatch: BTreeMap<String, Vec<(i64, i64)>>,
    ts_out_of_order: BTreeMap<String, Vec<(i64, i64)>>,
    ts_not_found: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Errors {
    fn print(&self) {
        for (f, l) in &self.index_mismatch {
            eprintln!("Mismatches in :{f}");
            for (i, o) in l {
                eprintln!("  Index offset: {i}, log offset: {o}");
            }
        }
        for (f, l) in &self.ts_mismatch {
            eprintln!("Found timestamp mismatch in :{f}");
            for (i, o) in l {
                eprintln!("  Index timestamp: {i}, log timestamp: {o}");
            }
        }
        for (f, l) in &self.ts_out_of_order {
            eprintln!("Found out of order timestamp in :{f}");
            for (i, o) in l {
                eprintln!("  Index timestamp: {i}, Previously indexed timestamp: {o}");
            }
        }
        if !self.ts_not_found.is_empty() {
            eprintln!("The following indexed offsets are not found in the log.");
            for l in self.ts_not_found.values() {
                for (i, o) in l {
                    eprintln!("Indexed offset: {i}, found log offset: {o}");
                }
            }
        }
        for (f, l) in &self.non_consecutive {
            eprintln!("Non-consecutive offsets in {f}");
            for (a, b) in l {
                eprintln!("  {a} is followed by {b}");
            }
        }
    }
}

fn read(path: &str) -> Result<Bytes> {
    std::fs::read(path).map(Bytes::from).map_err(|e| ToolError::Msg(format!("Could not read {path}: {e}")))
}

fn base_offset_of(name: &str) -> Result<i64> {
    name.split('.')
        .next()
        .unwrap_or("")
        .parse::<i64>()
        .map_err(|_| ToolError::Msg(format!("Invalid segment file name {name}: it must start with the base offset")))
}

fn abs(path: &str) -> String {
    std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.to_string())
}

fn dump_log(
    path: &str,
    name: &str,
    print: bool,
    deep: bool,
    skip_meta: bool,
    max_bytes: usize,
    errs: &mut Errors,
) -> Result<()> {
    println!("Log starting offset: {}", base_offset_of(name)?);
    let data = read(path)?;
    let (batches, valid_bytes) = read_batches(&data, max_bytes);
    let mut position = 0usize;
    let mut last_offset = -1i64;
    for b in &batches {
        let last_seq = b.last_sequence();
        let horizon = if b.has_delete_horizon() {
            format!("OptionalLong[{}]", b.first_timestamp)
        } else {
            "OptionalLong.empty".into()
        };
        println!(
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {last_seq} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {horizon} position: {position} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
            b.base_offset, b.last_offset(), b.record_count, b.base_sequence, b.producer_id, b.producer_epoch,
            b.partition_leader_epoch, b.is_transactional(), b.is_control(), b.timestamp_type_name(), b.max_timestamp,
            b.size, b.magic, b.codec_name(), b.crc, b.valid
        );
        if deep && b.valid {
            let mut raw = b.raw.clone();
            let set = RecordBatchDecoder::decode(&mut raw)
                .map_err(|e| ToolError::Msg(format!("Corrupt batch at position {position} of {path}: {e}")))?;
            for r in set.records {
                if last_offset >= 0 && r.offset != last_offset + 1 {
                    errs.non_consecutive.entry(abs(path)).or_default().push((last_offset, r.offset));
                }
                last_offset = r.offset;
                let ts = if b.timestamp_type_name() == "LogAppendTime" { b.max_timestamp } else { r.timestamp };
                let mut line = String::from("|");
                let mut prefix = " ";
                if !skip_meta {
                    let seq = if b.base_sequence < 0 {
                        -1
                    } else {
                        b.base_sequence.wrapping_add((r.offset - b.base_offset) as i32)
                    };
                    let hk: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
                    line.push_str(&format!(
                        " offset: {} {}: {ts} keySize: {} valueSize: {} sequence: {seq} headerKeys: [{}]",
                        r.offset,
                        b.timestamp_type_name(),
                        r.key.as_ref().map_or(-1, |k| k.len() as i64),
                        r.value.as_ref().map_or(-1, |v| v.len() as i64),
                        hk.join(",")
                    ));
                    if b.is_control() {
                        let kind = r
                            .key
                            .as_ref()
                            .filter(|k| k.len() >= 4)
                            .map(|k| i16::from_be_bytes([k[2], k[3]]))
                            .unwrap_or(-1);
                        let coord = r.value.as_ref().filter(|v| v.len() >= 6).map(|v| be_i32(v, 2)).unwrap_or(-1);
                        match kind {
                            0 => line.push_str(&format!(" endTxnMarker: ABORT coordinatorEpoch: {coord}")),
                            1 => line.push_str(&format!(" endTxnMarker: COMMIT coordinatorEpoch: {coord}")),
                            k => line.push_str(&format!(" controlType: UNKNOWN({k})")),
                        }
                    }
                }
                if print && !b.is_control() {
                    if let Some(k) = &r.key {
                        line.push_str(&format!("{prefix}key: {}", text(k)));
                        prefix = " ";
                    }
                    if let Some(v) = &r.value {
                        line.push_str(&format!("{prefix}payload: {}", text(v)));
                    }
                }
                let _ = prefix;
                println!("{line}");
            }
        }
        position += b.size;
    }
    let trailing = data.len().saturating_sub(valid_bytes);
    if trailing > 0 && max_bytes == i32::MAX as usize {
        println!("Found {trailing} invalid bytes at the end of {name}");
    }
    Ok(())
}

fn log_for(path: &str) -> Option<Bytes> {
    let p = Path::new(path);
    let stem = p.file_name()?.to_string_lossy().split('.').next()?.to_string();
    std::fs::read(p.with_file_name(format!("{stem}.log"))).ok().map(Bytes::from)
}

fn dump_index(path: &str, name: &str, sanity: bool, verify: bool, errs: &mut Errors) -> Result<()> {
    let base = base_offset_of(name)?;
    let data = read(path)?;
    let entries = data.len() / 8;
    if entries == 0 {
        println!("{path} is empty.");
        return Ok(());
    }
    if sanity {
        if data.len() % 8 != 0 {
            return Err(ToolError::Msg(format!(
                "Index file {path} is corrupt, found {} bytes which is neither positive nor a multiple of 8.",
                data.len()
            )));
        }
        let last = base + be_i32(&data, (entries - 1) * 8) as i64;
        if last < base {
            return Err(ToolError::Msg(format!("Corrupt index found, index file ({path}) has non-zero size but the last offset is {last} which is less than the base offset {base}.")));
        }
        println!("{path} passed sanity check.");
        return Ok(());
    }
    let log = log_for(path).unwrap_or_default();
    for i in 0..entries {
        let off = base + be_i32(&data, i * 8) as i64;
        let pos = be_i32(&data, i * 8 + 4) as usize;
        if off == base && i > 0 {
            break;
        }
        if pos < log.len() {
            let (bs, _) = read_batches(&log.slice(pos..), usize::MAX);
            if let Some(b) = bs.first() {
                if b.last_offset() != off {
                    errs.index_mismatch.entry(abs(path)).or_default().push((off, b.last_offset()));
                }
            }
        }
        if !verify {
            println!("offset: {off} position: {pos}");
        }
    }
    Ok(())
}

fn dump_time_index(path: &str, name: &str, sanity: bool, verify: bool, errs: &mut Errors) -> Result<()> {
    let base = base_offset_of(name)?;
    let data = read(path)?;
    let entries = data.len() / 12;
    if sanity {
        if data.len() % 12 != 0 {
            return Err(ToolError::Msg(format!(
                "Time index file {path} is corrupt, found {} bytes which is neither positive nor a multiple of 12.",
                data.len()
            )));
        }
        println!("{path} passed sanity check.");
        return Ok(());
    }
    let log = log_for(path).unwrap_or_default();
    let (batches, _) = read_batches(&log, usize::MAX);
    let mut prev = -1i64;
    for i in 0..entries {
        let ts = be_i64(&data, i * 12);
        let off = base + be_i32(&data, i * 12 + 8) as i64;
        if off == base && i > 0 {
            break;
        }
        match batches.iter().find(|b| b.last_offset() >= off) {
            None => errs.ts_not_found.entry(abs(path)).or_default().push((off, -1)),
            Some(b) if b.last_offset() != off => {
                errs.ts_not_found.entry(abs(path)).or_default().push((off, b.last_offset()))
            }
            Some(b) => {
                if b.max_timestamp != ts {
                    errs.ts_mismatch.entry(abs(path)).or_default().push((ts, b.max_timestamp));
                }
                if prev >= ts {
                    errs.ts_out_of_order.entry(abs(path)).or_default().push((ts, prev));
                }
            }
        }
        if !verify {
            println!("timestamp: {ts} offset: {off}");
        }
        prev = ts;
    }
    Ok(())
}

/// Producer state snapshot v1: version, crc32c, entries.
fn dump_snapshot(path: &str) -> Result<()> {
    let d = read(path)?;
    if d.len() < 10 {
        eprintln!("Snapshot file {path} is corrupt: too short");
        return Ok(());
    }
    let version = be_i16(&d, 0);
    let crc = u32::from_be_bytes(d[2..6].try_into().expect("4 bytes"));
    if version != 1 {
        eprintln!("Snapshot contained an unknown file version {version}");
        return Ok(());
    }
    if crc32c::crc32c(&d[6..]) != crc {
        eprintln!(
            "Snapshot is corrupt (CRC is no longer valid). Stored crc: {crc}. Computed crc: {}",
            crc32c::crc32c(&d[6..])
        );
        return Ok(());
    }
    let n = be_i32(&d, 6).max(0) as usize;
    const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
    for i in 0..n {
        let at = 10 + i * ENTRY;
        if at + ENTRY > d.len() {
            eprintln!("Snapshot file {path} is truncated");
            break;
        }
        let pid = be_i64(&d, at);
        let epoch = be_i16(&d, at + 8);
        let last_seq = be_i32(&d, at + 10);
        let last_off = be_i64(&d, at + 14);
        let delta = be_i32(&d, at + 22);
        let ts = be_i64(&d, at + 26);
        let coord = be_i32(&d, at + 34);
        let txn = be_i64(&d, at + 38);
        let txn = if txn < 0 { "OptionalLong.empty".to_string() } else { format!("OptionalLong[{txn}]") };
        println!(
            "producerId: {pid} producerEpoch: {epoch} coordinatorEpoch: {coord} currentTxnFirstOffset: {txn} lastTimestamp: {ts} firstSequence: {} lastSequence: {last_seq} lastOffset: {last_off} offsetDelta: {delta} timestamp: {ts}",
            last_seq.wrapping_sub(delta)
        );
    }
    Ok(())
}
