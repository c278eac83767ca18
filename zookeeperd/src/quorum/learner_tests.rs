//! The follower's side of ZAB, driven packet by packet as Apache's leader
//! sends them (LearnerHandler.run / syncFollower).

use super::learner::*;
use super::packet::*;

fn cfg() -> LearnerConfig {
    LearnerConfig {
        sid: 3,
        accepted_epoch: 1,
        current_epoch: 1,
        last_logged_zxid: make_zxid(1, 4),
        config_version: 0,
        tick_ms: 100,
        init_limit: 10,
        sync_limit: 5,
        observer: false,
    }
}

fn qp(kind: PacketType, zxid: i64, data: Option<&[u8]>) -> QuorumPacket {
    QuorumPacket::new(kind, zxid, data.map(<[u8]>::to_vec))
}

fn ack(zxid: i64) -> Action {
    Action::Send(QuorumPacket::new(PacketType::Ack, zxid, None))
}

/// Through LEADERINFO for epoch 2.
fn registered() -> Learner {
    let mut l = Learner::new(cfg());
    let hello = l.start(0);
    let info = LearnerInfo::new(3, 0).to_bytes();
    assert_eq!(hello, vec![Action::Send(qp(PacketType::FollowerInfo, make_zxid(1, 0), Some(&info)))]);
    let out = l.on_packet(1, qp(PacketType::LeaderInfo, make_zxid(2, 0), Some(&int_payload(PROTOCOL_VERSION))));
    assert_eq!(
        out.expect("leaderinfo"),
        vec![
            Action::SetAcceptedEpoch(2),
            Action::Send(qp(PacketType::AckEpoch, make_zxid(1, 4), Some(&int_payload(1)))),
        ]
    );
    l
}

#[test]
fn diff_sync_logs_at_newleader_and_acks_after_uptodate() {
    let mut l = registered();
    let z = |c| make_zxid(1, c);
    assert_eq!(l.on_packet(2, qp(PacketType::Diff, z(6), None)), Ok(vec![]));
    assert_eq!(l.on_packet(3, qp(PacketType::Proposal, z(5), Some(b"t5"))), Ok(vec![]));
    assert_eq!(l.on_packet(4, qp(PacketType::Commit, z(5), None)), Ok(vec![]));
    assert_eq!(l.on_packet(5, qp(PacketType::Proposal, z(6), Some(b"t6"))), Ok(vec![]));
    let newleader = make_zxid(2, 0);
    assert_eq!(
        l.on_packet(6, qp(PacketType::NewLeader, newleader, Some(b"server.1=..."))),
        Ok(vec![
            Action::Log { zxid: z(5), txn: b"t5".to_vec() },
            Action::Log { zxid: z(6), txn: b"t6".to_vec() },
            Action::SetCurrentEpoch(2),
            ack(newleader),
        ])
    );
    // Between NEWLEADER and UPTODATE: a new proposal, and commits.
    assert_eq!(l.on_packet(7, qp(PacketType::Commit, z(6), None)), Ok(vec![]));
    assert_eq!(l.on_packet(8, qp(PacketType::Proposal, make_zxid(2, 1), Some(b"n1"))), Ok(vec![]));
    assert!(!l.in_broadcast());
    assert_eq!(
        l.on_packet(9, qp(PacketType::UpToDate, -1, None)),
        Ok(vec![
            // NEWLEADER's membership is taken on (if newer) before serving.
            Action::LeaderConfig(b"server.1=...".to_vec()),
            ack(make_zxid(2, 0)),
            Action::StartServing,
            ack(z(5)),
            ack(z(6)),
            Action::Log { zxid: make_zxid(2, 1), txn: b"n1".to_vec() },
            ack(make_zxid(2, 1)),
            Action::Commit { zxid: z(5) },
            Action::Commit { zxid: z(6) },
        ])
    );
    assert!(l.in_broadcast());
}

#[test]
fn snap_sync_reads_the_database_then_applies_until_newleader() {
    let mut l = registered();
    assert_eq!(
        l.on_packet(2, qp(PacketType::Snap, make_zxid(1, 9), None)),
        Ok(vec![Action::ReadSnapshot { zxid: make_zxid(1, 9) }])
    );
    // Nothing else may come before the driver has read the stream.
    assert!(l.on_packet(3, qp(PacketType::Proposal, make_zxid(1, 10), None)).is_err());
    let mut l = registered();
    l.on_packet(2, qp(PacketType::Snap, make_zxid(1, 9), None)).expect("snap");
    l.snapshot_loaded(3).expect("loaded");
    assert_eq!(l.on_packet(4, qp(PacketType::Proposal, make_zxid(1, 10), Some(b"x"))), Ok(vec![]));
    assert_eq!(
        l.on_packet(5, qp(PacketType::Commit, make_zxid(1, 10), None)),
        Ok(vec![Action::Apply { zxid: make_zxid(1, 10), txn: b"x".to_vec() }])
    );
    assert_eq!(
        l.on_packet(6, qp(PacketType::NewLeader, make_zxid(2, 0), None)),
        Ok(vec![Action::TakeSnapshot, Action::SetCurrentEpoch(2), ack(make_zxid(2, 0))])
    );
    assert_eq!(
        l.on_packet(7, qp(PacketType::UpToDate, -1, None)),
        Ok(vec![ack(make_zxid(2, 0)), Action::StartServing])
    );
}

#[test]
fn trunc_truncates_and_snapshots_at_newleader() {
    let mut l = registered();
    assert_eq!(
        l.on_packet(2, qp(PacketType::Trunc, make_zxid(1, 2), None)),
        Ok(vec![Action::Truncate { zxid: make_zxid(1, 2) }])
    );
    let out = l.on_packet(3, qp(PacketType::NewLeader, make_zxid(2, 0), None)).expect("newleader");
    assert_eq!(out.first(), Some(&Action::TakeSnapshot));
}

#[test]
fn epochs_already_accepted_or_behind() {
    let mut l = Learner::new(LearnerConfig { accepted_epoch: 2, ..cfg() });
    l.start(0);
    assert_eq!(
        l.on_packet(1, qp(PacketType::LeaderInfo, make_zxid(2, 0), Some(&int_payload(PROTOCOL_VERSION)))),
        Ok(vec![Action::Send(qp(PacketType::AckEpoch, make_zxid(1, 4), Some(&int_payload(-1))))]),
        "an epoch we accepted already is answered with -1"
    );
    let mut l = Learner::new(LearnerConfig { accepted_epoch: 3, ..cfg() });
    l.start(0);
    assert_eq!(
        l.on_packet(1, qp(PacketType::LeaderInfo, make_zxid(2, 0), None)),
        Err(LearnerError::EpochBehind { leader: 2, accepted: 3 })
    );
}

#[test]
fn following_logs_then_acks_commits_and_answers_pings() {
    let mut l = registered();
    l.on_packet(2, qp(PacketType::Diff, make_zxid(1, 4), None)).expect("diff");
    l.on_packet(3, qp(PacketType::NewLeader, make_zxid(2, 0), None)).expect("newleader");
    l.on_packet(4, qp(PacketType::UpToDate, -1, None)).expect("uptodate");
    let z = make_zxid(2, 1);
    assert_eq!(
        l.on_packet(5, qp(PacketType::Proposal, z, Some(b"p"))),
        Ok(vec![Action::Log { zxid: z, txn: b"p".to_vec() }, ack(z)])
    );
    assert_eq!(l.on_packet(6, qp(PacketType::Commit, z, None)), Ok(vec![Action::Commit { zxid: z }]));
    let ping = qp(PacketType::Ping, z, None);
    assert_eq!(l.on_packet(7, ping.clone()), Ok(vec![Action::Ping(ping)]));
    assert_eq!(l.on_packet(8, qp(PacketType::Sync, -1, None)), Ok(vec![Action::Synced]));
    let reval = revalidate_answer(7, true);
    assert_eq!(
        l.on_packet(9, qp(PacketType::Revalidate, -1, Some(&reval))),
        Ok(vec![Action::Revalidated { data: reval }])
    );
}

#[test]
fn a_silent_leader_ends_the_connection_after_init_then_sync_limit() {
    let mut l = registered(); // heard at 1 ms
    assert_eq!(l.on_tick(1 + 1000), Ok(()));
    assert!(matches!(l.on_tick(1 + 1001), Err(LearnerError::LeaderSilent(_))));
    l.on_packet(10, qp(PacketType::Diff, make_zxid(1, 4), None)).expect("diff");
    l.on_packet(11, qp(PacketType::NewLeader, make_zxid(2, 0), None)).expect("newleader");
    l.on_packet(12, qp(PacketType::UpToDate, -1, None)).expect("uptodate");
    assert_eq!(l.on_tick(12 + 500), Ok(()));
    assert!(matches!(l.on_tick(12 + 501), Err(LearnerError::LeaderSilent(_))));
}

#[test]
fn out_of_place_packets_are_errors() {
    let mut l = Learner::new(cfg());
    l.start(0);
    assert!(matches!(l.on_packet(1, qp(PacketType::Diff, 0, None)), Err(LearnerError::Unexpected { .. })));
    let mut l = registered();
    assert!(matches!(l.on_packet(2, qp(PacketType::Proposal, 0, None)), Err(LearnerError::Unexpected { .. })));
    let mut l = registered();
    l.on_packet(2, qp(PacketType::Snap, make_zxid(1, 9), None)).expect("snap");
    l.snapshot_loaded(3).expect("loaded");
    assert_eq!(
        l.on_packet(4, qp(PacketType::Commit, make_zxid(1, 10), None)),
        Err(LearnerError::CommitWithoutProposal { zxid: make_zxid(1, 10) })
    );
}

#[test]
fn an_observer_registers_as_one_and_applies_informs_without_acking() {
    let mut l = Learner::new(LearnerConfig { observer: true, ..cfg() });
    let hello = l.start(0);
    assert!(matches!(&hello[..], [Action::Send(p)] if p.kind == PacketType::ObserverInfo), "{hello:?}");
    let z = make_zxid(2, 0);
    l.on_packet(1, qp(PacketType::LeaderInfo, z, Some(&int_payload(PROTOCOL_VERSION)))).expect("leaderinfo");
    l.on_packet(2, qp(PacketType::Diff, make_zxid(1, 4), None)).expect("diff");
    l.on_packet(3, qp(PacketType::NewLeader, z, None)).expect("newleader");
    l.on_packet(4, qp(PacketType::UpToDate, -1, None)).expect("uptodate");
    assert!(l.in_broadcast());
    let out = l.on_packet(5, qp(PacketType::Inform, make_zxid(2, 1), Some(b"txn"))).expect("inform");
    assert_eq!(
        out,
        vec![Action::Log { zxid: make_zxid(2, 1), txn: b"txn".to_vec() }, Action::Commit { zxid: make_zxid(2, 1) }],
        "an INFORM is logged and applied, and not acked"
    );
}

/// A reconfig's commit while following: COMMITANDACTIVATE commits and
/// names the new membership's leader; an observer's INFORMANDACTIVATE
/// carries the txn after that leader's id. A short one is refused.
#[test]
fn commit_and_activate_names_the_designated_leader() {
    let mut l = registered();
    let z = make_zxid(1, 4);
    l.on_packet(2, qp(PacketType::Diff, z, None)).unwrap();
    l.on_packet(3, qp(PacketType::NewLeader, make_zxid(2, 0), None)).unwrap();
    l.on_packet(4, qp(PacketType::UpToDate, -1, None)).unwrap();
    assert!(l.in_broadcast());
    let r = make_zxid(2, 1);
    l.on_packet(5, qp(PacketType::Proposal, r, Some(b"cfg"))).unwrap();
    assert_eq!(
        l.on_packet(6, qp(PacketType::CommitAndActivate, r, Some(&3i64.to_be_bytes()))),
        Ok(vec![Action::Commit { zxid: r }, Action::Activate { zxid: r, designated: 3 }])
    );
    let mut data = 2i64.to_be_bytes().to_vec();
    data.extend_from_slice(b"cfg2");
    let r2 = make_zxid(2, 2);
    assert_eq!(
        l.on_packet(7, qp(PacketType::InformAndActivate, r2, Some(&data))),
        Ok(vec![
            Action::Log { zxid: r2, txn: b"cfg2".to_vec() },
            Action::Commit { zxid: r2 },
            Action::Activate { zxid: r2, designated: 2 }
        ])
    );
    assert!(l.on_packet(8, qp(PacketType::CommitAndActivate, r2, Some(b"x"))).is_err());
}
