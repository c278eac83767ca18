//! Bytes a leader sends after SNAP: the stream scanner and the database
//! decoder. Must never panic or over-allocate; what the scanner calls
//! whole either decodes or fails cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zookeeperd::quorum::snapstream::{decode, StreamScan};

fuzz_target!(|data: &[u8]| {
    let mut scan = StreamScan::new(1 << 20);
    if let Ok(Some(n)) = scan.scan(data) {
        assert!(n <= data.len());
        let _ = decode(&data[..n], 1);
    }
    let _ = decode(data, 1);
});
