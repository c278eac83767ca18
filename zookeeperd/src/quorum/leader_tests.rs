//! The leader's side of ZAB, alone and with our own learners: a whole
//! ensemble driven deterministically, every packet through the codec.

use std::collections::BTreeSet;

use super::leader::{Action as L, ConnId, Leader, LeaderConfig, COMMIT_LOG_COUNT};
use super::learner::{Action as F, Learner, LearnerConfig};
use super::packet::*;

fn leader_cfg(last_zxid: i64, history: Vec<(i64, Vec<u8>)>) -> LeaderConfig {
    LeaderConfig {
        sid: 3,
        voters: BTreeSet::from([1, 2, 3]),
        accepted_epoch: 1,
        current_epoch: 1,
        last_zxid,
        history,
        verifier: None,
        stamp_version: false,
        tick_ms: 100,
        init_limit: 10,
        sync_limit: 5,
    }
}

fn learner_cfg(sid: i64, last: i64) -> LearnerConfig {
    LearnerConfig {
        sid,
        accepted_epoch: 1,
        current_epoch: 1,
        last_logged_zxid: last,
        config_version: 0,
        tick_ms: 100,
        init_limit: 10,
        sync_limit: 5,
        observer: false,
    }
}

/// One learner connection: its state machine and what it has done.
struct Member {
    conn: ConnId,
    learner: Learner,
    logged: Vec<i64>,
    applied: Vec<i64>,
    serving: bool,
    snapshot_from: Option<i64>,
    truncated_to: Option<i64>,
    /// (zxid, designated leader) of each COMMITANDACTIVATE.
    activated: Vec<(i64, i64)>,
}

struct Net {
    leader: Leader,
    members: Vec<Member>,
    committed: Vec<i64>,
    serving: bool,
    closed: Vec<(ConnId, String)>,
    stepped_down: Option<String>,
    activated: Vec<(i64, i64)>,
}

impl Net {
    fn new(cfg: LeaderConfig, members: &[(i64, i64)]) -> Net {
        let mut leader = Leader::new(cfg, 0);
        let start = leader.start(0);
        let mut net = Net {
            leader,
            members: Vec::new(),
            committed: Vec::new(),
            serving: false,
            closed: Vec::new(),
            stepped_down: None,
            activated: Vec::new(),
        };
        net.leader_actions(start);
        for (i, (sid, last)) in members.iter().enumerate() {
            net.join(i as ConnId + 1, *sid, *last);
        }
        net
    }

    fn join(&mut self, conn: ConnId, sid: i64, last: i64) {
        self.join_as(conn, learner_cfg(sid, last));
    }

    fn join_as(&mut self, conn: ConnId, cfg: LearnerConfig) {
        self.leader.on_connect(conn, 0);
        let mut learner = Learner::new(cfg);
        let hello = learner.start(0);
        self.members.push(Member {
            conn,
            learner,
            logged: Vec::new(),
            applied: Vec::new(),
            serving: false,
            snapshot_from: None,
            truncated_to: None,
            activated: Vec::new(),
        });
        self.member_actions(conn, hello);
    }

    fn member(&mut self, conn: ConnId) -> &mut Member {
        self.members.iter_mut().find(|m| m.conn == conn).expect("member")
    }

    /// Every packet goes through the codec, both ways.
    fn wire(qp: &QuorumPacket) -> QuorumPacket {
        let bytes = qp.to_bytes();
        assert_eq!(packet_len(&bytes, 1 << 20), Ok(Some(bytes.len())));
        QuorumPacket::decode(&bytes).expect("decode").0
    }

    fn leader_actions(&mut self, actions: Vec<L>) {
        for a in actions {
            match a {
                L::Send { to, packet } => {
                    let m = self.member(to);
                    let out = m.learner.on_packet(1, Self::wire(&packet)).expect("learner accepts the leader's packet");
                    self.member_actions(to, out);
                }
                L::SendSnapshot { to, zxid } => {
                    let m = self.member(to);
                    m.snapshot_from = Some(zxid);
                    let out = m.learner.on_packet(1, Self::wire(&QuorumPacket::new(PacketType::Snap, zxid, None)));
                    assert_eq!(out, Ok(vec![F::ReadSnapshot { zxid }]));
                    m.learner.snapshot_loaded(1).expect("snapshot");
                }
                L::Commit { zxid } => self.committed.push(zxid),
                L::StartServing => self.serving = true,
                L::Close { conn, reason } => self.closed.push((conn, reason)),
                L::StepDown(why) => self.stepped_down = Some(why),
                L::Activate { zxid, designated } => self.activated.push((zxid, designated)),
                L::Log { zxid, .. } => {
                    let out = self.leader.logged(zxid);
                    self.leader_actions(out);
                }
                L::SetAcceptedEpoch(_) | L::SetCurrentEpoch(_) => {}
                other => panic!("unexpected leader action {other:?}"),
            }
        }
    }

    fn member_actions(&mut self, conn: ConnId, actions: Vec<F>) {
        for a in actions {
            match a {
                F::Send(packet) => {
                    let out = self.leader.on_packet(1, conn, Self::wire(&packet));
                    self.leader_actions(out);
                }
                F::Log { zxid, .. } => self.member(conn).logged.push(zxid),
                F::Apply { zxid, .. } | F::Commit { zxid } => self.member(conn).applied.push(zxid),
                F::StartServing => self.member(conn).serving = true,
                F::Activate { zxid, designated } => self.member(conn).activated.push((zxid, designated)),
                F::Truncate { zxid } => self.member(conn).truncated_to = Some(zxid),
                F::SetAcceptedEpoch(_) | F::SetCurrentEpoch(_) | F::TakeSnapshot => {}
                other => panic!("unexpected learner action {other:?}"),
            }
        }
    }

    fn propose(&mut self, txn: &[u8]) -> i64 {
        let (zxid, actions) = self.leader.propose(txn.to_vec(), None).expect("serving");
        self.leader_actions(actions);
        zxid
    }
}

#[test]
fn an_ensemble_of_our_leader_and_learners_syncs_and_commits_in_order() {
    let mut net = Net::new(leader_cfg(make_zxid(1, 3), vec![]), &[(1, make_zxid(1, 3)), (2, make_zxid(1, 3))]);
    assert!(net.serving && net.leader.serving());
    assert_eq!(net.leader.epoch(), Some(2));
    assert!(net.members.iter().all(|m| m.serving && m.learner.in_broadcast()));
    let z: Vec<i64> = (0..3).map(|i| net.propose(format!("txn{i}").as_bytes())).collect();
    assert_eq!(z, vec![make_zxid(2, 1), make_zxid(2, 2), make_zxid(2, 3)]);
    assert_eq!(net.committed, z);
    for m in &net.members {
        assert_eq!((m.logged.clone(), m.applied.clone()), (z.clone(), z.clone()), "member {}", m.conn);
    }
    assert!(net.closed.is_empty() && net.stepped_down.is_none());
}

#[test]
fn no_epoch_until_a_quorum_connects_and_no_service_until_it_syncs() {
    let mut leader = Leader::new(leader_cfg(0, vec![]), 0);
    assert_eq!(leader.start(0), vec![]);
    assert_eq!(leader.epoch(), None);
    leader.on_connect(7, 0);
    let info = LearnerInfo::new(1, 0).to_bytes();
    let out = leader.on_packet(1, 7, QuorumPacket::new(PacketType::FollowerInfo, make_zxid(4, 0), Some(info)));
    // The learner accepted epoch 4 once: the new epoch is 5.
    assert_eq!(out[0], L::SetAcceptedEpoch(5));
    assert_eq!(
        out[1],
        L::Send {
            to: 7,
            packet: QuorumPacket::new(PacketType::LeaderInfo, make_zxid(5, 0), Some(int_payload(PROTOCOL_VERSION)))
        }
    );
    assert!(!leader.serving());
    assert_eq!(leader.propose(b"x".to_vec(), None), None);
    // initLimit passes without the sync finishing: step down.
    assert!(leader.on_tick(1001).iter().any(|a| matches!(a, L::StepDown(_))));
}

#[test]
fn each_learner_gets_the_sync_its_history_needs() {
    let history: Vec<(i64, Vec<u8>)> = (3..=6).map(|c| (make_zxid(1, c), format!("t{c}").into_bytes())).collect();
    // Member 1 lacks 5 and 6 (DIFF with both); member 2 is ahead (TRUNC).
    let mut net = Net::new(leader_cfg(make_zxid(1, 6), history.clone()), &[(1, make_zxid(1, 4)), (2, make_zxid(1, 8))]);
    assert!(net.serving);
    assert_eq!(net.members[0].applied, vec![make_zxid(1, 5), make_zxid(1, 6)], "DIFF brought the missing txns");
    assert_eq!(net.members[1].truncated_to, Some(make_zxid(1, 6)));
    // A late joiner whose history is older than what we hold gets SNAP.
    net.join(9, 1, make_zxid(1, 1));
    let late = net.members.last().expect("late");
    assert_eq!(late.snapshot_from, Some(make_zxid(1, 6)));
    assert!(late.serving, "a late joiner is brought up to date at once");
}

#[test]
fn a_learner_ahead_of_the_leader_is_refused() {
    let mut net = Net::new(leader_cfg(make_zxid(1, 2), vec![]), &[]);
    net.leader.on_connect(5, 0);
    let info = LearnerInfo::new(1, 0).to_bytes();
    let out = net.leader.on_packet(1, 5, QuorumPacket::new(PacketType::FollowerInfo, make_zxid(1, 0), Some(info)));
    assert!(matches!(&out[..], [L::SetAcceptedEpoch(2), L::Send { .. }]), "{out:?}");
    let out =
        net.leader.on_packet(2, 5, QuorumPacket::new(PacketType::AckEpoch, make_zxid(1, 9), Some(int_payload(1))));
    assert!(matches!(&out[..], [L::Close { conn: 5, .. }]), "{out:?}");
}

#[test]
fn commits_wait_for_a_quorum_and_keep_zxid_order() {
    let mut net = Net::new(leader_cfg(0, vec![]), &[(1, 0), (2, 0)]);
    // Acks are handed in by hand: propose without delivering to members.
    let (z1, _) = net.leader.propose(b"a".to_vec(), None).expect("serving");
    let (z2, _) = net.leader.propose(b"b".to_vec(), None).expect("serving");
    // Our own log is durable for both: our acks, no quorum yet.
    assert_eq!(net.leader.logged(z2), vec![]);
    // Member 2 acks z2 first: nothing commits before z1.
    assert_eq!(net.leader.on_packet(2, 2, QuorumPacket::new(PacketType::Ack, z2, None)), vec![]);
    let out = net.leader.on_packet(3, 1, QuorumPacket::new(PacketType::Ack, z1, None));
    let commits: Vec<i64> =
        out.iter().filter_map(|a| if let L::Commit { zxid } = a { Some(*zxid) } else { None }).collect();
    assert_eq!(commits, vec![z1, z2]);
}

#[test]
fn silent_learners_are_dropped_and_a_leader_without_quorum_steps_down() {
    let mut net = Net::new(leader_cfg(0, vec![]), &[(1, 0), (2, 0)]);
    let out = net.leader.on_tick(2);
    assert_eq!(
        out.iter().filter(|a| matches!(a, L::Send { packet, .. } if packet.kind == PacketType::Ping)).count(),
        2
    );
    // Member 1 answers; member 2 stays silent past syncLimit (500 ms).
    net.leader.on_packet(400, 1, QuorumPacket::new(PacketType::Ping, 0, Some(touches_to_bytes(&[(9, 4000)]))));
    let out = net.leader.on_tick(600);
    assert!(out.iter().any(|a| matches!(a, L::Close { conn: 2, .. })), "{out:?}");
    assert!(!out.iter().any(|a| matches!(a, L::StepDown(_))), "two of three still form a quorum");
    let out = net.leader.on_tick(1000);
    assert!(out.iter().any(|a| matches!(a, L::StepDown(_))), "{out:?}");
}

#[test]
fn observers_learn_every_commit_by_inform_and_never_count() {
    // Alone, an observer gives the leader no quorum to start with.
    let mut alone = Net::new(leader_cfg(0, vec![]), &[]);
    alone.join_as(9, LearnerConfig { observer: true, ..learner_cfg(4, 0) });
    assert!(!alone.serving && !alone.leader.serving(), "an observer does not make a quorum");

    let mut net = Net::new(leader_cfg(0, vec![]), &[(1, 0), (2, 0)]);
    net.join_as(9, LearnerConfig { observer: true, ..learner_cfg(4, 0) });
    assert!(net.member(9).serving, "the observer is in sync");
    assert_eq!((net.leader.forwarding_count(), net.leader.observing_count()), (2, 1));
    let z: Vec<i64> = (0..3).map(|i| net.propose(format!("txn{i}").as_bytes())).collect();
    assert_eq!(net.committed, z);
    for conn in [1, 2, 9] {
        assert_eq!(net.member(conn).applied, z, "member on conn {conn} applied every commit");
        assert_eq!(net.member(conn).logged, z, "member on conn {conn} logged every txn");
    }
}

#[test]
fn the_history_handed_back_holds_commits_then_proposals_in_flight() {
    let mut net = Net::new(leader_cfg(0, vec![]), &[(1, 0), (2, 0)]);
    let committed = net.propose(b"a");
    // Proposed and logged by us, but no learner hears of it.
    let (in_flight, _) = net.leader.propose(b"b".to_vec(), None).expect("serving");
    let h: Vec<i64> = net.leader.take_history().into_iter().map(|(z, _)| z).collect();
    assert_eq!(h, vec![committed, in_flight]);
    assert!(net.leader.take_history().is_empty(), "taken");
}

#[test]
fn a_learner_at_the_start_of_our_history_gets_all_of_it_as_a_diff() {
    // A fresh ensemble: the leader starts at zxid 0 and commits two txns
    // with one follower; a third server, still at 0, joins late. Apache's
    // leader reads those txns from its log and sends a DIFF; so do we.
    let mut net = Net::new(leader_cfg(0, vec![]), &[(1, 0)]);
    assert!(net.serving);
    let z = vec![net.propose(b"a"), net.propose(b"b")];
    net.join(9, 2, 0);
    let late = net.members.last().expect("late");
    assert_eq!(late.snapshot_from, None, "no SNAP for a learner our history covers");
    assert_eq!(late.applied, z);
    assert!(late.serving);
    // Once the history no longer starts there, a learner that far behind
    // needs a snapshot after all.
    for i in 0..COMMIT_LOG_COUNT {
        net.propose(format!("t{i}").as_bytes());
    }
    net.join(10, 3, 0);
    let later = net.members.last().expect("later");
    assert!(later.snapshot_from.is_some(), "history trimmed: SNAP");
}

/// A reconfig commits only with a quorum of the old and of the new
/// membership (Apache's Proposal.hasAllQuorums), and so does every
/// proposal behind it; its commit is COMMITANDACTIVATE naming who leads.
#[test]
fn a_reconfig_needs_both_quorums_and_activates_on_every_learner() {
    let last = make_zxid(1, 3);
    // 1 and 2 vote; 4 follows without a vote, as a server about to join.
    let mut net = Net::new(leader_cfg(last, vec![]), &[(1, last), (2, last), (4, last)]);
    assert!(net.serving);
    let zxid = net.leader.next_zxid();
    let (z, actions) = net.leader.propose(b"cfg".to_vec(), Some(BTreeSet::from([2, 3, 4]))).expect("serving");
    assert!(net.leader.reconfig_pending());
    net.leader_actions(actions);
    assert_eq!((z, net.committed.clone()), (zxid, vec![zxid]));
    assert_eq!(net.activated, vec![(zxid, 3)]);
    assert!(!net.leader.reconfig_pending() && net.stepped_down.is_none());
    for m in &net.members {
        assert_eq!(m.activated, vec![(zxid, 3)], "member {}", m.conn);
        assert_eq!(m.applied, vec![zxid], "member {}", m.conn);
    }
    // Now 1 no longer counts: 3 and 4 are a quorum of {2, 3, 4}.
    assert_eq!(net.leader.synced(), BTreeSet::from([1, 2, 3, 4]));

    // A membership whose voters (5, 6) never logged it does not commit,
    // though the old quorum did, nor does anything proposed after it.
    let mut net = Net::new(leader_cfg(last, vec![]), &[(1, last), (2, last)]);
    let (_, actions) = net.leader.propose(b"cfg".to_vec(), Some(BTreeSet::from([3, 5, 6]))).expect("serving");
    net.leader_actions(actions);
    net.propose(b"after");
    assert!(net.committed.is_empty() && net.activated.is_empty());
}

/// A membership without the leader: a voter of it that logged the
/// reconfig is named to lead, and the leader steps down after the commit.
#[test]
fn a_reconfig_without_the_leader_names_another_and_steps_down() {
    let last = make_zxid(1, 3);
    let mut net = Net::new(leader_cfg(last, vec![]), &[(1, last), (2, last)]);
    let (z, actions) = net.leader.propose(b"cfg".to_vec(), Some(BTreeSet::from([1, 2]))).expect("serving");
    net.leader_actions(actions);
    assert_eq!(net.activated, vec![(z, 1)]);
    assert!(net.members.iter().all(|m| m.activated == vec![(z, 1)]));
    assert!(net.stepped_down.as_deref().is_some_and(|w| w.contains("server 1 leads")), "{:?}", net.stepped_down);
}
