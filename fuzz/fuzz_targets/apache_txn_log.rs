//! Apache ZooKeeper's on-disk formats: txn log files, single log entries
//! and snapshots, as recovery would read them from a foreign dataDir.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zookeeperd::persist::apache::{snapshot::Snapshot, txn::TxnRecord, txnlog};

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = txnlog::decode_log(data) {
        let _ = log.entries();
    }
    if let Ok(rec) = TxnRecord::decode(data) {
        let _ = rec.to_entry();
        let _ = rec.encode();
    }
    if let Ok(snap) = Snapshot::decode(data) {
        let _ = snap.encode();
    }
});
