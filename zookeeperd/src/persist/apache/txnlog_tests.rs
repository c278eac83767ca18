//! Apache txn log files: framing by hand, the zero tail, torn records,
//! checksums, and property tests.

use super::txn::TxnRecord;
use super::txn_tests::entry;
use super::txnlog::{decode_log, encode_entries, encode_log, LogEnd, HEADER_LEN, TXNLOG_MAGIC};
use super::{adler32, log_file_name, zxid_from_name, ApacheError};
use crate::txn::{Txn, TxnEntry};
use proptest::prelude::*;

fn session(zxid: i64) -> TxnEntry {
    TxnEntry { zxid, time: 1000 + zxid, session_id: 0x1000, cxid: 0, txn: Txn::CreateSession { timeout: 30000 } }
}

#[test]
fn header_and_record_framing_by_hand() {
    let e = session(1);
    let log = encode_entries(0, std::slice::from_ref(&e)).unwrap();
    // FileHeader{magic "ZKLG", version 2, dbid 0}.
    assert_eq!(&log[..HEADER_LEN], &[b'Z', b'K', b'L', b'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(TXNLOG_MAGIC, 0x5a4b4c47);
    // TxnHeader (32 bytes) + CreateSessionTxn{timeOut} (4 bytes).
    let mut entry = Vec::new();
    entry.extend_from_slice(&0x1000i64.to_be_bytes());
    entry.extend_from_slice(&0i32.to_be_bytes());
    entry.extend_from_slice(&1i64.to_be_bytes());
    entry.extend_from_slice(&1001i64.to_be_bytes());
    entry.extend_from_slice(&(-10i32).to_be_bytes());
    entry.extend_from_slice(&30000i32.to_be_bytes());
    let mut rec = Vec::new();
    rec.extend_from_slice(&adler32(&entry).to_be_bytes());
    rec.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    rec.extend_from_slice(&entry);
    rec.push(b'B');
    assert_eq!(&log[HEADER_LEN..], &rec[..]);
    let read = decode_log(&log).unwrap();
    assert_eq!((read.end, read.good_len), (LogEnd::Eof, log.len()));
    assert_eq!(read.entries().unwrap(), vec![e]);
}

#[test]
fn adler32_matches_java() {
    // java.util.zip.Adler32 of "Wikipedia" is 0x11E60398; of nothing, 1.
    assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    assert_eq!(adler32(b""), 1);
}

#[test]
fn zero_tail_and_torn_records() {
    let entries: Vec<_> = (1..=3).map(session).collect();
    let log = encode_entries(0, &entries).unwrap().to_vec();
    let whole = log.len();

    // Preallocated: zeros after the last record.
    let mut padded = log.clone();
    padded.resize(whole + 4096, 0);
    let read = decode_log(&padded).unwrap();
    assert_eq!((read.end, read.good_len, read.records.len()), (LogEnd::Padding, whole, 3));
    // Fewer zeros than a record prefix still count as padding.
    let mut short_pad = log.clone();
    short_pad.extend_from_slice(&[0; 5]);
    assert_eq!(decode_log(&short_pad).unwrap().end, LogEnd::Padding);

    // Every cut inside the last record stops before it.
    let last_start = encode_entries(0, &entries[..2]).unwrap().len();
    for cut in last_start + 1..whole {
        let read = decode_log(&log[..cut]).unwrap();
        assert_eq!((read.good_len, read.records.len()), (last_start, 2), "cut {cut}");
        // A cut inside the checksum's zero high bytes looks like padding.
        let want = if log[last_start..cut].iter().all(|b| *b == 0) { LogEnd::Padding } else { LogEnd::Torn };
        assert_eq!(read.end, want, "cut {cut}");
        // A torn record in a preallocated file: zeros where 'B' should be.
        let mut torn = log[..cut].to_vec();
        torn.resize(whole + 100, 0);
        let read = decode_log(&torn).unwrap();
        assert_eq!(read.records.len(), 2, "cut {cut} padded");
    }

    // A flipped bit inside an entry fails its checksum.
    let mut bad = log.clone();
    bad[last_start + 20] ^= 1;
    assert!(matches!(decode_log(&bad), Err(ApacheError::Checksum { offset, .. }) if offset == last_start));

    // Bad magic; too short for a header.
    let mut magic = log.clone();
    magic[0] = b'X';
    assert!(matches!(decode_log(&magic), Err(ApacheError::BadMagic { .. })));
    assert!(decode_log(&log[..10]).is_err());
}

#[test]
fn file_names() {
    assert_eq!(log_file_name(0x1_0000_0001), "log.100000001");
    assert_eq!(zxid_from_name("log.100000001", "log"), Some(0x1_0000_0001));
    assert_eq!(zxid_from_name("snapshot.1f", "log"), None);
    assert_eq!(zxid_from_name("log.xyz", "log"), None);
}

proptest! {
    #[test]
    fn log_round_trips(entries in proptest::collection::vec(entry(), 0..8), dbid in any::<i64>(), pad in 0usize..64) {
        let records: Vec<TxnRecord> = entries.iter().map(|e| TxnRecord::from_entry(e).unwrap()).collect();
        let mut bytes = encode_log(dbid, &records).unwrap().to_vec();
        let len = bytes.len();
        bytes.resize(len + pad, 0);
        let read = decode_log(&bytes).unwrap();
        prop_assert_eq!(read.header.dbid, dbid);
        prop_assert_eq!(read.good_len, len);
        prop_assert_eq!(read.end, if pad == 0 { LogEnd::Eof } else { LogEnd::Padding });
        prop_assert_eq!(read.entries().unwrap(), entries);
    }

    #[test]
    fn decoding_arbitrary_logs_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_log(&tail);
        let mut with_header = b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0".to_vec();
        with_header.extend_from_slice(&tail);
        let _ = decode_log(&with_header);
    }

    #[test]
    fn corrupted_logs_never_panic(entries in proptest::collection::vec(entry(), 1..4), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode_entries(0, &entries).unwrap().to_vec();
        let i = at % bytes.len();
        bytes[i] = byte;
        let _ = decode_log(&bytes);
        let _ = decode_log(&bytes[..i]);
    }
}
