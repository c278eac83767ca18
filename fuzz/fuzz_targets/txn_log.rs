//! What recovery reads from disk: txn records and snapshots.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = zookeeperd::txn::TxnEntry::decode(data);
    let _ = zookeeperd::tree::snapshot::decode(data);
});
