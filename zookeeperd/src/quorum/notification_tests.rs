//! Tests of the election port's codec: hand-built layouts from the Java
//! sources' field order, Apache's rejections, and property tests.

use super::notification::*;
use super::ServerState;
use proptest::prelude::*;

fn sample() -> Notification {
    Notification {
        state: ServerState::Following,
        leader: 3,
        zxid: 0x0000_0002_0000_0010,
        election_epoch: 7,
        peer_epoch: 2,
        version: CURRENT_VERSION,
        config: b"server.1=a:2888:3888:participant\nversion=100000000".to_vec(),
    }
}

/// The fixed fields in `buildMsg`'s order: state, leader, zxid,
/// electionEpoch, peerEpoch.
fn head(state: i32, leader: i64, zxid: i64, ee: i64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&state.to_be_bytes());
    b.extend_from_slice(&leader.to_be_bytes());
    b.extend_from_slice(&zxid.to_be_bytes());
    b.extend_from_slice(&ee.to_be_bytes());
    b
}

#[test]
fn encode_matches_hand_built_layout() {
    let n = sample();
    let mut want = head(1, 3, 0x0000_0002_0000_0010, 7);
    want.extend_from_slice(&2i64.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 2]);
    want.extend_from_slice(&(n.config.len() as i32).to_be_bytes());
    want.extend_from_slice(&n.config);
    assert_eq!(n.encode(), want);
    assert_eq!(n.encode().len(), HEADER_LEN + n.config.len());
    assert_eq!(Notification::decode(&want).unwrap(), n);
}

#[test]
fn decodes_legacy_28_byte_format_with_epoch_from_zxid() {
    let b = head(0, 5, 0x0000_0003_0000_0001, 9);
    let n = Notification::decode(&b).unwrap();
    assert_eq!((n.state, n.leader, n.election_epoch), (ServerState::Looking, 5, 9));
    assert_eq!(n.peer_epoch, 3);
    assert_eq!(n.version, 0);
    assert!(n.config.is_empty());
}

#[test]
fn decodes_legacy_40_byte_format_even_with_version_1() {
    // buildMsg without config writes version 0x1 into a 40-byte buffer,
    // which a 3.8 receiver reads as the 40-byte (no version) format.
    let mut b = head(2, 1, 10, 4);
    b.extend_from_slice(&6i64.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    assert_eq!(b.len(), LEGACY_LEN_40);
    let n = Notification::decode(&b).unwrap();
    assert_eq!((n.state, n.peer_epoch, n.version), (ServerState::Leading, 6, 0));
    // Even a version-2 header of exactly 40 bytes is read as the old format.
    b[36..40].copy_from_slice(&2i32.to_be_bytes());
    assert_eq!(Notification::decode(&b).unwrap().version, 0);
}

#[test]
fn decodes_version_1_without_config_and_ignores_trailing_bytes() {
    let mut b = head(3, 1, 10, 4);
    b.extend_from_slice(&6i64.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(b"junk");
    let n = Notification::decode(&b).unwrap();
    assert_eq!((n.state, n.version, n.config.len()), (ServerState::Observing, 1, 0));
}

#[test]
fn rejects_malformed_notifications() {
    assert_eq!(Notification::decode(&[0; 27]), Err(NotificationError::TooShort { len: 27 }));
    for len in [29, 35, 36, 39] {
        assert!(matches!(Notification::decode(&vec![0; len]), Err(NotificationError::Truncated { .. })), "{len}");
    }
    // 41..=43 bytes carry a version; a version above 1 then lacks its config length.
    let mut b = head(0, 1, 1, 1);
    b.extend_from_slice(&1i64.to_be_bytes());
    b.extend_from_slice(&2i32.to_be_bytes());
    b.push(0);
    assert!(matches!(Notification::decode(&b), Err(NotificationError::Truncated { needed: 44, .. })));
    b.pop();
    let mut neg = b.clone();
    neg.extend_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(Notification::decode(&neg), Err(NotificationError::InvalidConfigLength { .. })));
    let mut huge = b.clone();
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(Notification::decode(&huge), Err(NotificationError::InvalidConfigLength { .. })));
    let mut short = b.clone();
    short.extend_from_slice(&10i32.to_be_bytes());
    short.extend_from_slice(b"abc");
    assert!(matches!(Notification::decode(&short), Err(NotificationError::Truncated { .. })));
    let mut bad_state = head(4, 1, 1, 1);
    bad_state.extend_from_slice(&1i64.to_be_bytes());
    bad_state.extend_from_slice(&1i32.to_be_bytes());
    assert_eq!(Notification::decode(&bad_state), Err(NotificationError::UnknownState(4)));
}

#[test]
fn frames_round_trip_and_enforce_packet_limits() {
    let payload = sample().encode();
    let framed = encode_frame(&payload);
    assert_eq!(decode_frame(&framed), Ok(Some((&payload[..], framed.len()))));
    assert_eq!(decode_frame(&framed[..10]), Ok(None));
    assert_eq!(decode_frame(&[0, 0]), Ok(None));
    assert_eq!(decode_frame(&0i32.to_be_bytes()), Err(FrameError::InvalidLength(0)));
    assert_eq!(decode_frame(&(-5i32).to_be_bytes()), Err(FrameError::InvalidLength(-5)));
    let over = (PACKET_MAX_SIZE as i32 + 1).to_be_bytes();
    assert_eq!(decode_frame(&over), Err(FrameError::InvalidLength(PACKET_MAX_SIZE as i32 + 1)));
}

fn initial_bytes(version: i64, sid: i64, addr: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&version.to_be_bytes());
    b.extend_from_slice(&sid.to_be_bytes());
    b.extend_from_slice(&(addr.len() as i32).to_be_bytes());
    b.extend_from_slice(addr);
    b
}

#[test]
fn initial_message_layout_and_round_trip() {
    let m = InitialMessage {
        protocol_version: Some(PROTOCOL_VERSION_V1),
        sid: 2,
        addresses: vec![ElectionAddr { host: "10.0.0.2".into(), port: 3888 }],
    };
    let want = initial_bytes(-65536, 2, b"10.0.0.2:3888");
    assert_eq!(m.encode().unwrap(), want);
    assert_eq!(InitialMessage::decode(&want).unwrap(), (m, want.len()));

    let v2 = InitialMessage {
        protocol_version: Some(PROTOCOL_VERSION_V2),
        sid: 9,
        addresses: vec![
            ElectionAddr { host: "a.example".into(), port: 1 },
            ElectionAddr { host: "::1".into(), port: 3888 },
        ],
    };
    let bytes = v2.encode().unwrap();
    assert_eq!(bytes, initial_bytes(-65535, 9, b"a.example:1|[::1]:3888"));
    assert_eq!(InitialMessage::decode(&bytes).unwrap().0, v2);
}

#[test]
fn initial_message_legacy_sid_and_incomplete_input() {
    let (m, used) = InitialMessage::decode(&5i64.to_be_bytes()).unwrap();
    assert_eq!((m.protocol_version, m.sid, used), (None, 5, 8));
    assert_eq!(m.encode().unwrap(), 5i64.to_be_bytes().to_vec());
    let full = initial_bytes(-65536, 2, b"h:1");
    for cut in 0..full.len() {
        assert!(matches!(InitialMessage::decode(&full[..cut]), Err(InitialMessageError::Incomplete { .. })));
    }
}

#[test]
fn initial_message_rejections_follow_apache() {
    let err = |b: Vec<u8>| InitialMessage::decode(&b).unwrap_err();
    assert_eq!(err(initial_bytes(-3, 1, b"h:1")), InitialMessageError::UnknownProtocolVersion(-3));
    assert_eq!(err(initial_bytes(-65536, 1, b"")), InitialMessageError::BadLength(0));
    let mut long = initial_bytes(-65536, 1, b"");
    long[16..20].copy_from_slice(&2049i32.to_be_bytes());
    assert_eq!(err(long), InitialMessageError::BadLength(2049));
    assert!(matches!(err(initial_bytes(-65536, 1, b"host")), InitialMessageError::BadAddress(_)));
    assert!(matches!(err(initial_bytes(-65536, 1, b"h:1:2")), InitialMessageError::BadAddress(_)));
    assert!(matches!(err(initial_bytes(-65536, 1, b"[::1]")), InitialMessageError::BadAddress(_)));
    assert!(matches!(err(initial_bytes(-65536, 1, b"[::1]:")), InitialMessageError::BadAddress(_)));
    assert!(matches!(err(initial_bytes(-65536, 1, b"h:x")), InitialMessageError::BadPort(_)));
    assert!(matches!(err(initial_bytes(-65536, 1, b"h:70000")), InitialMessageError::BadPort(_)));
    let too_long = InitialMessage {
        protocol_version: Some(PROTOCOL_VERSION_V1),
        sid: 1,
        addresses: vec![ElectionAddr { host: "x".repeat(2048), port: 1 }],
    };
    assert!(matches!(too_long.encode(), Err(InitialMessageError::EncodeTooLong(_))));
}

#[test]
fn initial_message_java_split_quirks_and_wildcards() {
    // Trailing separators vanish as with Java's String.split.
    let (m, _) = InitialMessage::decode(&initial_bytes(-65535, 1, b"h:1|")).unwrap();
    assert_eq!(m.addresses, vec![ElectionAddr { host: "h".into(), port: 1 }]);
    let (m, _) = InitialMessage::decode(&initial_bytes(-65536, 1, b"h:+7:")).unwrap();
    assert_eq!(m.addresses, vec![ElectionAddr { host: "h".into(), port: 7 }]);
    let (m, _) = InitialMessage::decode(&initial_bytes(-65535, 1, b"0.0.0.0:3888|[::]:3888|b:2")).unwrap();
    assert_eq!(m.addresses, vec![ElectionAddr { host: "b".into(), port: 2 }]);
    let (m, _) = InitialMessage::decode(&initial_bytes(-65535, 1, b"|")).unwrap();
    assert!(m.addresses.is_empty());
}

#[test]
fn larger_sid_keeps_the_connection() {
    use ConnectionDecision::*;
    assert_eq!(connection_decision(1, 3, true), Drop);
    assert_eq!(connection_decision(3, 1, true), Keep);
    assert_eq!(connection_decision(3, 1, false), DropAndConnectBack);
    assert_eq!(connection_decision(1, 3, false), Keep);
    assert_eq!(connection_decision(2, 2, false), SameSid);
}

fn any_state() -> impl Strategy<Value = ServerState> {
    prop_oneof![
        Just(ServerState::Looking),
        Just(ServerState::Following),
        Just(ServerState::Leading),
        Just(ServerState::Observing)
    ]
}

proptest! {
    #[test]
    fn notification_round_trips(
        state in any_state(), leader: i64, zxid: i64, ee: i64, pe: i64,
        config in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let n = Notification { state, leader, zxid, election_epoch: ee, peer_epoch: pe, version: CURRENT_VERSION, config };
        prop_assert_eq!(Notification::decode(&n.encode()), Ok(n.clone()));
        let framed = encode_frame(&n.encode());
        let (payload, used) = decode_frame(&framed).unwrap().unwrap();
        prop_assert_eq!(used, framed.len());
        prop_assert_eq!(Notification::decode(payload), Ok(n));
    }

    #[test]
    fn initial_message_round_trips(
        v2: bool, sid in 0i64..i64::MAX,
        hosts in proptest::collection::vec(("[a-z][a-z0-9.-]{0,20}", 1u16..), 1..5),
    ) {
        let addresses: Vec<ElectionAddr> = hosts.into_iter().map(|(host, port)| ElectionAddr { host, port }).collect();
        let version = if v2 { PROTOCOL_VERSION_V2 } else { PROTOCOL_VERSION_V1 };
        let m = InitialMessage { protocol_version: Some(version), sid, addresses };
        let bytes = m.encode().unwrap();
        prop_assert_eq!(InitialMessage::decode(&bytes), Ok((m, bytes.len())));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Notification::decode(&bytes);
        let _ = InitialMessage::decode(&bytes);
        let _ = decode_frame(&bytes);
    }

    #[test]
    fn decoding_mutated_notifications_never_panics(
        n_cfg in proptest::collection::vec(any::<u8>(), 0..64), idx: usize, byte: u8, cut: usize,
    ) {
        let n = Notification { config: n_cfg, ..sample() };
        let mut b = n.encode();
        let i = idx % b.len();
        b[i] = byte;
        b.truncate(cut % (b.len() + 1));
        let _ = Notification::decode(&b);
    }

    #[test]
    fn decoding_mutated_initial_messages_never_panics(idx: usize, byte: u8, cut: usize) {
        let mut b = initial_bytes(-65535, 4, b"host-a:3888|[fe80::1]:3888");
        let i = idx % b.len();
        b[i] = byte;
        b.truncate(cut % (b.len() + 1));
        let _ = InitialMessage::decode(&b);
    }
}
