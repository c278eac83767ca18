//! Everything a client can send after the 4-byte length: the connect
//! record and any request frame. Must never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = zookeeperd::jute::records::ConnectRequest::decode(data);
    let _ = zookeeperd::jute::request::decode_request(data);
});
