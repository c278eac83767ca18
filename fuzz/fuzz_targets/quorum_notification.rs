//! Bytes from a peer on the election port: the initial message, a frame
//! header, and a notification payload. Must never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zookeeperd::quorum::notification::{decode_frame, InitialMessage, Notification};

fuzz_target!(|data: &[u8]| {
    let _ = InitialMessage::decode(data);
    if let Ok(n) = Notification::decode(data) {
        // What we decode must re-encode to something we decode the same way.
        let again = Notification::decode(&n.encode()).expect("re-encoded notification decodes");
        assert_eq!((again.leader, again.zxid, again.election_epoch), (n.leader, n.zxid, n.election_epoch));
    }
    if let Ok(Some((payload, _))) = decode_frame(data) {
        let _ = Notification::decode(payload);
    }
});
