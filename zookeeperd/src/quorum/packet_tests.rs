//! Tests of the quorum port's codec: layouts built by hand in the Java
//! sources' field order, streaming, limits, and property tests.

use super::packet::*;
use crate::jute::records::Id;
use proptest::prelude::*;

const MAX: usize = 1 << 20;

fn be32(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn be64(v: i64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

#[test]
fn followerinfo_layout_matches_learner_register_with_leader() {
    // Learner.registerWithLeader: type FOLLOWERINFO, zxid = (acceptedEpoch,
    // 0), data = LearnerInfo(sid, 0x10000, config version), no authinfo.
    let qp = QuorumPacket::new(
        PacketType::FollowerInfo,
        make_zxid(3, 0),
        Some(LearnerInfo::new(2, 0x1_0000_0000).to_bytes()),
    );
    let mut want = be32(11);
    want.extend(be64(3 << 32));
    want.extend(be32(20));
    want.extend(be64(2));
    want.extend(be32(0x10000));
    want.extend(be64(0x1_0000_0000));
    want.extend(be32(-1));
    assert_eq!(qp.to_bytes(), want);
    let (back, used) = QuorumPacket::decode(&want).expect("decode");
    assert_eq!((back, used), (qp, want.len()));
}

#[test]
fn learner_info_is_read_as_far_as_it_goes() {
    let full = LearnerInfo::new(7, 9);
    assert_eq!(LearnerInfo::decode(&full.to_bytes()), Some(full));
    let bare = LearnerInfo { sid: 7, protocol_version: None, config_version: None };
    assert_eq!(bare.to_bytes().len(), 8);
    assert_eq!(LearnerInfo::decode(&bare.to_bytes()), Some(bare));
    let mut twelve = be64(7);
    twelve.extend(be32(0x10000));
    assert_eq!(
        LearnerInfo::decode(&twelve),
        Some(LearnerInfo { sid: 7, protocol_version: Some(0x10000), config_version: None })
    );
    assert_eq!(LearnerInfo::decode(&[0; 7]), None);
}

#[test]
fn authinfo_and_null_data_round_trip() {
    let qp = QuorumPacket {
        kind: PacketType::Request,
        zxid: -1,
        data: None,
        authinfo: Some(vec![Id::new("digest", "u:h"), Id::new("ip", "127.0.0.1")]),
    };
    let bytes = qp.to_bytes();
    assert_eq!(&bytes[12..16], &be32(-1)[..], "null data is length -1");
    assert_eq!(&bytes[16..20], &be32(2)[..]);
    assert_eq!(QuorumPacket::decode(&bytes).expect("decode").0, qp);
    assert_eq!(packet_len(&bytes, MAX), Ok(Some(bytes.len())));
}

#[test]
fn every_prefix_is_incomplete_and_trailing_bytes_are_left() {
    let qp = QuorumPacket {
        kind: PacketType::Proposal,
        zxid: make_zxid(1, 5),
        data: Some(b"txn bytes".to_vec()),
        authinfo: Some(vec![Id::new("world", "anyone")]),
    };
    let mut bytes = qp.to_bytes();
    let n = bytes.len();
    for cut in 0..n {
        assert_eq!(packet_len(&bytes[..cut], MAX), Ok(None), "prefix of {cut} bytes");
    }
    bytes.extend(QuorumPacket::new(PacketType::Ack, 1, None).to_bytes());
    assert_eq!(packet_len(&bytes, MAX), Ok(Some(n)));
    assert_eq!(QuorumPacket::decode(&bytes).expect("decode"), (qp, n));
}

#[test]
fn unreasonable_lengths_are_refused_before_they_arrive() {
    let mut b = be32(2);
    b.extend(be64(0));
    b.extend(be32(MAX as i32 + 1));
    assert!(matches!(packet_len(&b, MAX), Err(PacketError::BadLength { .. })));
    let mut b = be32(2);
    b.extend(be64(0));
    b.extend(be32(-2));
    assert!(matches!(packet_len(&b, MAX), Err(PacketError::BadLength { .. })));
    let mut b = be32(2);
    b.extend(be64(0));
    b.extend(be32(-1));
    b.extend(be32(i32::MAX));
    assert!(matches!(packet_len(&b, MAX), Err(PacketError::BadLength { .. })));
}

#[test]
fn packet_types_keep_apache_codes() {
    for (code, kind) in [
        (1, PacketType::Request),
        (2, PacketType::Proposal),
        (3, PacketType::Ack),
        (4, PacketType::Commit),
        (5, PacketType::Ping),
        (6, PacketType::Revalidate),
        (7, PacketType::Sync),
        (8, PacketType::Inform),
        (9, PacketType::CommitAndActivate),
        (10, PacketType::NewLeader),
        (11, PacketType::FollowerInfo),
        (12, PacketType::UpToDate),
        (13, PacketType::Diff),
        (14, PacketType::Trunc),
        (15, PacketType::Snap),
        (16, PacketType::ObserverInfo),
        (17, PacketType::LeaderInfo),
        (18, PacketType::AckEpoch),
        (19, PacketType::InformAndActivate),
    ] {
        assert_eq!(PacketType::from_code(code), kind);
        assert_eq!(kind.code(), code);
    }
    assert_eq!(PacketType::from_code(42), PacketType::Other(42));
    assert_eq!(PacketType::Other(42).code(), 42);
}

#[test]
fn payloads_follow_the_java_data_streams() {
    // LearnerHandler: LEADERINFO carries 0x10000; ACKEPOCH the current epoch.
    assert_eq!(int_payload(PROTOCOL_VERSION), vec![0, 1, 0, 0]);
    assert_eq!(read_int_payload(Some(&int_payload(-1))), Some(-1));
    assert_eq!(read_int_payload(Some(&[0, 0, 1])), None);
    assert_eq!(read_int_payload(None), None);
    // Learner.request: session, cxid, opcode, then the request record.
    let req = ForwardedRequest { session_id: 0x100, cxid: 7, opcode: 1, body: b"rec".to_vec() };
    let mut want = be64(0x100);
    want.extend(be32(7));
    want.extend(be32(1));
    want.extend(b"rec");
    assert_eq!(req.to_bytes(), want);
    assert_eq!(ForwardedRequest::decode(&want), Ok(req));
    // Learner.ping: (session, timeout) pairs; a torn pair is an error.
    let touches = vec![(1, 4000), (2, 6000)];
    let b = touches_to_bytes(&touches);
    assert_eq!(b.len(), 24);
    assert_eq!(decode_touches(&b), Ok(touches));
    assert!(decode_touches(&b[..20]).is_err());
    // Learner.validateSession and Leader.revalidateSession.
    assert_eq!(decode_revalidate_request(&revalidate_request(9, 30000)), Ok((9, 30000)));
    let ans = revalidate_answer(9, true);
    assert_eq!(ans.len(), 9);
    assert_eq!(decode_revalidate_answer(&ans), Ok((9, true)));
}

#[test]
fn zxid_halves() {
    let z = make_zxid(0x3, 0x12);
    assert_eq!(z, 0x3_0000_0012);
    assert_eq!((epoch_of(z), counter_of(z)), (3, 0x12));
}

fn arb_id() -> impl Strategy<Value = Id> {
    ("[a-z]{0,8}", "[ -~]{0,16}").prop_map(|(s, i)| Id::new(&s, &i))
}

fn arb_packet() -> impl Strategy<Value = QuorumPacket> {
    (
        -1i32..25,
        any::<i64>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        proptest::option::of(proptest::collection::vec(arb_id(), 0..3)),
    )
        .prop_map(|(code, zxid, data, authinfo)| QuorumPacket {
            kind: PacketType::from_code(code),
            zxid,
            data,
            authinfo,
        })
}

proptest! {
    #[test]
    fn packets_round_trip(qp in arb_packet()) {
        let bytes = qp.to_bytes();
        prop_assert_eq!(packet_len(&bytes, MAX), Ok(Some(bytes.len())));
        prop_assert_eq!(QuorumPacket::decode(&bytes), Ok((qp, bytes.len())));
    }

    #[test]
    fn scanning_and_decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(Some(n)) = packet_len(&bytes, MAX) {
            prop_assert!(n <= bytes.len());
            // What the scanner calls whole, the decoder reads to the same end.
            let (_, used) = QuorumPacket::decode(&bytes[..n]).expect("a whole packet decodes");
            prop_assert_eq!(used, n);
        }
        let _ = QuorumPacket::decode(&bytes);
        let _ = LearnerInfo::decode(&bytes);
        let _ = ForwardedRequest::decode(&bytes);
        let _ = decode_touches(&bytes);
    }
}
