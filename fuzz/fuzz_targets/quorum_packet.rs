//! Bytes from a peer on the quorum port: the packet scanner, the packet
//! decoder and the payload decoders. Must never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zookeeperd::quorum::packet::{decode_touches, packet_len, ForwardedRequest, LearnerInfo, QuorumPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = packet_len(data, 1 << 20) {
        // What the scanner calls whole must decode to the same end.
        let (qp, used) = QuorumPacket::decode(&data[..n]).expect("a whole packet decodes");
        assert_eq!(used, n);
        let again = QuorumPacket::decode(&qp.to_bytes()).expect("re-encoded packet decodes");
        assert_eq!(again.0, qp);
    }
    let _ = LearnerInfo::decode(data);
    let _ = ForwardedRequest::decode(data);
    let _ = decode_touches(data);
});
