//! The leader's side of ZAB (Apache 3.8's Leader.lead and LearnerHandler)
//! as a state machine over learners' packets and time. No I/O: the driver
//! carries out actions in order (epochs durable before the next action)
//! and reports with `logged` when a proposal's `Log` is durable: that is
//! the leader's own ack, as Apache's leader acks from its sync processor.
//!
//! Discovery: the new epoch is one past the highest accepted epoch of a
//! quorum (us included) of connecting voters; each learner gets LEADERINFO,
//! and a quorum of ACKEPOCHs fixes our current epoch. Sync: per learner,
//! DIFF (with the txns it lacks), TRUNC or SNAP, then NEWLEADER; once a
//! quorum acked NEWLEADER we serve and send UPTODATE. Broadcast: proposals
//! commit in zxid order once a quorum (us included) has acked them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::packet::{
    decode_revalidate_request, decode_touches, epoch_of, int_payload, make_zxid, read_int_payload, ForwardedRequest,
    LearnerInfo, PacketType, QuorumPacket, PROTOCOL_VERSION,
};
use super::sync_plan::{plan_sync, SyncPlan};
use super::Sid;
use broadcast::{quorum_of, Proposal};

mod broadcast;

/// The driver's handle for one learner connection.
pub type ConnId = u64;

/// Committed txns kept for DIFF syncs (Apache's `commitLogCount`).
pub const COMMIT_LOG_COUNT: usize = 500;

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub sid: Sid,
    pub voters: BTreeSet<Sid>,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// Last txn in our log, and the committed txns before it that we still
    /// hold (oldest first), for DIFF.
    pub last_zxid: i64,
    pub history: Vec<(i64, Vec<u8>)>,
    /// NEWLEADER's data: our QuorumVerifier as Apache prints it, or None.
    pub verifier: Option<Vec<u8>>,
    /// The verifier's version becomes the new epoch's first zxid once the
    /// epoch is fixed (Apache's leader does so with reconfigEnabled and a
    /// static membership, version 0).
    pub stamp_version: bool,
    pub tick_ms: u64,
    pub init_limit: u64,
    pub sync_limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: ConnId,
        packet: QuorumPacket,
    },
    /// SNAP sync: write a SNAP packet with `zxid`, our serialized database
    /// and the signature string, in that order, before later sends.
    SendSnapshot {
        to: ConnId,
        zxid: i64,
    },
    SetAcceptedEpoch(i64),
    SetCurrentEpoch(i64),
    Log {
        zxid: i64,
        txn: Vec<u8>,
    },
    Commit {
        zxid: i64,
    },
    StartServing,
    /// Close this learner's connection.
    Close {
        conn: ConnId,
        reason: String,
    },
    /// Give up leadership and go back to election.
    StepDown(String),
    /// Sessions a learner's clients touched (its PING answer).
    Touch {
        sessions: Vec<(i64, i32)>,
    },
    /// A client request a learner forwarded, with the client's auth ids;
    /// `propose` its txn if any.
    Request {
        conn: ConnId,
        request: ForwardedRequest,
        auth: Vec<crate::jute::records::Id>,
    },
    /// Answer with `packet::revalidate_answer` in a REVALIDATE to `conn`.
    Revalidate {
        conn: ConnId,
        session: i64,
        timeout: i32,
    },
    /// The reconfig `zxid` committed: its membership is now ours, and
    /// `designated` leads it (if not us, we step down next).
    Activate {
        zxid: i64,
        designated: Sid,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connected,
    /// FOLLOWERINFO read; waiting for a quorum of epochs.
    WaitingEpoch,
    AwaitAckEpoch,
    /// Acked; waiting for a quorum of epoch acks before its sync.
    AwaitSync,
    AwaitNewLeaderAck,
    /// Acked NEWLEADER; UPTODATE once we serve.
    AwaitStartup,
    Forwarding,
}

#[derive(Debug)]
struct LearnerConn {
    sid: Sid,
    /// Registered with OBSERVERINFO: gets INFORM for each commit instead
    /// of PROPOSAL and COMMIT, and never counts towards a quorum.
    observer: bool,
    stage: Stage,
    last_heard: u64,
    peer_last_zxid: i64,
}

pub struct Leader {
    cfg: LeaderConfig,
    epoch: i64,
    epoch_fixed: bool,
    connecting: BTreeSet<Sid>,
    electing: BTreeSet<Sid>,
    epoch_acked: bool,
    newleader_acks: BTreeSet<Sid>,
    serving: bool,
    learners: BTreeMap<ConnId, LearnerConn>,
    next_counter: i64,
    outstanding: BTreeMap<i64, Proposal>,
    /// A reconfig proposed and not yet committed: its zxid and voters.
    /// Every proposal from it on needs a quorum of both memberships.
    next_voters: Option<(i64, BTreeSet<Sid>)>,
    history: VecDeque<(i64, Vec<u8>)>,
    /// The history holds every txn after this zxid (when known): a learner
    /// that has exactly it takes a DIFF of the whole history, as Apache's
    /// leader reads one from its txn log.
    history_base: Option<i64>,
    last_committed: i64,
    started_ms: u64,
}

impl Leader {
    pub fn new(cfg: LeaderConfig, now_ms: u64) -> Leader {
        let history: VecDeque<(i64, Vec<u8>)> = cfg.history.iter().cloned().collect();
        let history_base = history.is_empty().then_some(cfg.last_zxid);
        Leader {
            epoch: -1,
            epoch_fixed: false,
            connecting: BTreeSet::new(),
            electing: BTreeSet::new(),
            epoch_acked: false,
            newleader_acks: BTreeSet::new(),
            serving: false,
            learners: BTreeMap::new(),
            next_counter: 1,
            outstanding: BTreeMap::new(),
            next_voters: None,
            history,
            history_base,
            last_committed: cfg.last_zxid,
            started_ms: now_ms,
            cfg,
        }
    }

    pub fn epoch(&self) -> Option<i64> {
        self.epoch_fixed.then_some(self.epoch)
    }

    pub fn serving(&self) -> bool {
        self.serving
    }

    /// The txns we logged, oldest first and at most `COMMIT_LOG_COUNT`:
    /// the committed history, then the proposals still in flight (our log
    /// has them too). Leaves both empty.
    pub fn take_history(&mut self) -> VecDeque<(i64, Vec<u8>)> {
        let mut out = std::mem::take(&mut self.history);
        out.extend(std::mem::take(&mut self.outstanding).into_iter().map(|(z, p)| (z, p.txn)));
        while out.len() > COMMIT_LOG_COUNT {
            out.pop_front();
        }
        out
    }

    /// A learner waits for a snapshot of the committed state: the driver
    /// holds new proposals until those in flight have committed.
    pub fn snapshot_waiting(&self) -> bool {
        self.epoch_acked && self.learners.values().any(|l| l.stage == Stage::AwaitSync)
    }

    /// Learners in sync and receiving the broadcast.
    pub fn forwarding_count(&self) -> usize {
        self.learners.values().filter(|l| l.stage == Stage::Forwarding && !l.observer).count()
    }

    /// Observers in sync and receiving INFORMs.
    pub fn observing_count(&self) -> usize {
        self.learners.values().filter(|l| l.stage == Stage::Forwarding && l.observer).count()
    }

    fn quorum(&self, set: &BTreeSet<Sid>) -> bool {
        quorum_of(&self.cfg.voters, set)
    }

    /// Us and the voting learners in sync (Apache's isQuorumSynced counts
    /// these against a new membership).
    pub fn synced(&self) -> BTreeSet<Sid> {
        let learners = self.learners.values().filter(|l| l.stage == Stage::Forwarding && !l.observer);
        learners.map(|l| l.sid).chain([self.cfg.sid]).collect()
    }

    /// NEWLEADER's membership.
    pub fn verifier(&self) -> Option<&[u8]> {
        self.cfg.verifier.as_deref()
    }

    /// Voting learners in sync that the membership leaves without a vote
    /// (mntr's zk_synced_non_voting_followers).
    pub fn non_voting_count(&self) -> usize {
        let learners = self.learners.values().filter(|l| l.stage == Stage::Forwarding && !l.observer);
        learners.filter(|l| !self.cfg.voters.contains(&l.sid)).count()
    }

    /// NEWLEADER's membership from now on (a reconfig committed).
    pub fn set_verifier(&mut self, verifier: Vec<u8>) {
        self.cfg.verifier = Some(verifier);
    }

    /// A reconfig is proposed and not yet committed.
    pub fn reconfig_pending(&self) -> bool {
        self.next_voters.is_some()
    }

    fn new_leader_zxid(&self) -> i64 {
        make_zxid(self.epoch, 0)
    }

    /// Lead: our own accepted epoch counts first (a one-server ensemble is
    /// done at once).
    pub fn start(&mut self, now_ms: u64) -> Vec<Action> {
        self.started_ms = now_ms;
        let mut out = Vec::new();
        self.offer_epoch(self.cfg.sid, self.cfg.accepted_epoch, &mut out);
        self.ack_epoch(self.cfg.sid, &mut out);
        out
    }

    pub fn on_connect(&mut self, conn: ConnId, now_ms: u64) {
        self.learners.insert(
            conn,
            LearnerConn { sid: -1, observer: false, stage: Stage::Connected, last_heard: now_ms, peer_last_zxid: 0 },
        );
    }

    pub fn on_disconnect(&mut self, conn: ConnId) {
        self.learners.remove(&conn);
    }

    pub fn on_packet(&mut self, now_ms: u64, conn: ConnId, qp: QuorumPacket) -> Vec<Action> {
        let mut out = Vec::new();
        let new_leader_zxid = self.new_leader_zxid();
        let Some(l) = self.learners.get_mut(&conn) else { return out };
        l.last_heard = now_ms;
        let stage = l.stage;
        match (stage, qp.kind) {
            (Stage::Connected, PacketType::FollowerInfo | PacketType::ObserverInfo) => {
                let Some(info) = qp.data.as_deref().and_then(LearnerInfo::decode) else {
                    return self.close(conn, "FOLLOWERINFO without a sid");
                };
                if info.protocol_version.is_some_and(|v| v < PROTOCOL_VERSION) {
                    return self.close(conn, "learner speaks a pre-1.0 protocol");
                }
                l.sid = info.sid;
                l.observer = qp.kind == PacketType::ObserverInfo;
                l.stage = Stage::WaitingEpoch;
                self.offer_epoch(info.sid, epoch_of(qp.zxid), &mut out);
                self.send_leaderinfo(&mut out);
            }
            (Stage::AwaitAckEpoch, PacketType::AckEpoch) => {
                let their_epoch = read_int_payload(qp.data.as_deref()).unwrap_or(-1) as i64;
                let ours = (self.cfg.current_epoch, self.cfg.last_zxid);
                if their_epoch != -1 && (their_epoch, qp.zxid) > ours {
                    return self.close(conn, "learner is ahead of the leader");
                }
                let sid = l.sid;
                l.peer_last_zxid = qp.zxid;
                l.stage = Stage::AwaitSync;
                if their_epoch != -1 && qp.zxid != -1 {
                    self.ack_epoch(sid, &mut out);
                }
                self.sync_waiting(&mut out);
            }
            (Stage::AwaitNewLeaderAck, PacketType::Ack) if qp.zxid == new_leader_zxid => {
                let sid = l.sid;
                l.stage = Stage::AwaitStartup;
                self.newleader_acks.insert(sid);
                self.maybe_start(&mut out);
                self.send_uptodates(&mut out);
            }
            (_, PacketType::Ack) => self.ack(l_sid(&self.learners, conn), qp.zxid, &mut out),
            (_, PacketType::Ping) => match decode_touches(qp.data.as_deref().unwrap_or_default()) {
                Ok(sessions) if !sessions.is_empty() => out.push(Action::Touch { sessions }),
                Ok(_) => {}
                Err(_) => return self.close(conn, "torn session table in PING"),
            },
            (Stage::Forwarding, PacketType::Request) => {
                match ForwardedRequest::decode(qp.data.as_deref().unwrap_or_default()) {
                    Ok(request) => out.push(Action::Request { conn, request, auth: qp.authinfo.unwrap_or_default() }),
                    Err(_) => return self.close(conn, "malformed REQUEST"),
                }
            }
            (_, PacketType::Revalidate) => match decode_revalidate_request(qp.data.as_deref().unwrap_or_default()) {
                Ok((session, timeout)) => out.push(Action::Revalidate { conn, session, timeout }),
                Err(_) => return self.close(conn, "malformed REVALIDATE"),
            },
            (stage, kind) => return self.close(conn, &format!("unexpected {kind:?} while {stage:?}")),
        }
        out
    }

    /// Call every half tick: pings, silence limits, and the quorum check.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.serving {
            if now_ms.saturating_sub(self.started_ms) > self.cfg.init_limit * self.cfg.tick_ms {
                out.push(Action::StepDown("no quorum of learners synced within initLimit".into()));
            }
            return out;
        }
        // A learner still in its handshake has initLimit ticks, as Apache's
        // socket timeout during sync; one in sync has syncLimit.
        let limit = |l: &LearnerConn| {
            let ticks = if l.stage == Stage::Forwarding { self.cfg.sync_limit } else { self.cfg.init_limit };
            ticks * self.cfg.tick_ms
        };
        let last = self.last_proposed();
        let mut synced = BTreeSet::from([self.cfg.sid]);
        let stale: Vec<ConnId> = self
            .learners
            .iter()
            .filter(|(_, l)| now_ms.saturating_sub(l.last_heard) > limit(l))
            .map(|(c, _)| *c)
            .collect();
        for c in stale {
            out.extend(self.close(c, "no answer within syncLimit"));
        }
        for (conn, l) in &self.learners {
            if l.stage == Stage::Forwarding {
                synced.insert(l.sid);
                out.push(Action::Send { to: *conn, packet: QuorumPacket::new(PacketType::Ping, last, None) });
            }
        }
        if !self.quorum(&synced) {
            out.push(Action::StepDown(format!("not sufficient followers synced, only synced with sids: {synced:?}")));
        }
        out
    }

    fn close(&mut self, conn: ConnId, reason: &str) -> Vec<Action> {
        self.learners.remove(&conn);
        vec![Action::Close { conn, reason: reason.to_string() }]
    }

    fn offer_epoch(&mut self, sid: Sid, accepted: i64, out: &mut Vec<Action>) {
        if self.epoch_fixed {
            return;
        }
        if accepted >= self.epoch {
            self.epoch = accepted + 1;
        }
        if self.cfg.voters.contains(&sid) {
            self.connecting.insert(sid);
        }
        if self.connecting.contains(&self.cfg.sid) && self.quorum(&self.connecting) {
            self.epoch_fixed = true;
            if self.cfg.stamp_version {
                let zxid = self.new_leader_zxid();
                if let Some(v) = self.cfg.verifier.as_mut() {
                    let text = String::from_utf8_lossy(v);
                    let servers = text.rsplit_once("version=").map_or(&*text, |(s, _)| s);
                    *v = format!("{servers}version={zxid:x}").into_bytes();
                }
            }
            out.push(Action::SetAcceptedEpoch(self.epoch));
        }
    }

    /// Once the epoch is fixed, every waiting learner gets LEADERINFO.
    fn send_leaderinfo(&mut self, out: &mut Vec<Action>) {
        if !self.epoch_fixed {
            return;
        }
        let zxid = self.new_leader_zxid();
        for (conn, l) in self.learners.iter_mut().filter(|(_, l)| l.stage == Stage::WaitingEpoch) {
            l.stage = Stage::AwaitAckEpoch;
            let packet = QuorumPacket::new(PacketType::LeaderInfo, zxid, Some(int_payload(PROTOCOL_VERSION)));
            out.push(Action::Send { to: *conn, packet });
        }
    }

    fn ack_epoch(&mut self, sid: Sid, out: &mut Vec<Action>) {
        if self.epoch_acked {
            return;
        }
        if self.cfg.voters.contains(&sid) {
            self.electing.insert(sid);
        }
        if self.epoch_fixed && self.electing.contains(&self.cfg.sid) && self.quorum(&self.electing) {
            self.epoch_acked = true;
            self.cfg.current_epoch = self.epoch;
            out.push(Action::SetCurrentEpoch(self.epoch));
            self.newleader_acks.insert(self.cfg.sid);
            self.maybe_start(out);
            self.send_leaderinfo(out);
            self.sync_waiting(out);
        }
    }

    /// Learners that acked the epoch get their sync once a quorum did.
    fn sync_waiting(&mut self, out: &mut Vec<Action>) {
        if !self.epoch_acked {
            return;
        }
        let leader_last = self.last_committed;
        let newleader = QuorumPacket::new(PacketType::NewLeader, self.new_leader_zxid(), self.cfg.verifier.clone());
        let waiting: Vec<ConnId> =
            self.learners.iter().filter(|(_, l)| l.stage == Stage::AwaitSync).map(|(c, _)| *c).collect();
        for conn in waiting {
            let peer = self.learners[&conn].peer_last_zxid;
            match plan_sync(&self.history, self.history_base, leader_last, peer) {
                SyncPlan::Packets(packets) => {
                    out.extend(packets.into_iter().map(|packet| Action::Send { to: conn, packet }))
                }
                // The driver's tree holds every proposal (it applies them
                // as it logs them): a snapshot of it is the committed state
                // only with none in flight. Until then the learner waits
                // and `snapshot_waiting` asks the driver to hold new writes.
                SyncPlan::Snapshot if !self.outstanding.is_empty() => continue,
                SyncPlan::Snapshot => out.push(Action::SendSnapshot { to: conn, zxid: leader_last }),
            }
            // Proposals still in flight follow the sync (startForwarding);
            // an observer hears of them when they commit.
            if !self.learners[&conn].observer {
                for (z, p) in &self.outstanding {
                    out.push(send(conn, PacketType::Proposal, *z, Some(p.txn.clone())));
                }
            }
            out.push(Action::Send { to: conn, packet: newleader.clone() });
            if let Some(l) = self.learners.get_mut(&conn) {
                l.stage = Stage::AwaitNewLeaderAck;
            }
        }
    }

    fn maybe_start(&mut self, out: &mut Vec<Action>) {
        if !self.serving && self.epoch_acked && self.quorum(&self.newleader_acks) {
            self.serving = true;
            out.push(Action::StartServing);
        }
    }

    fn send_uptodates(&mut self, out: &mut Vec<Action>) {
        if !self.serving {
            return;
        }
        for (conn, l) in self.learners.iter_mut().filter(|(_, l)| l.stage == Stage::AwaitStartup) {
            l.stage = Stage::Forwarding;
            out.push(send(*conn, PacketType::UpToDate, -1, None));
        }
    }
}

/// Learners get proposals and commits once their sync is queued.
fn forwards(stage: Stage) -> bool {
    matches!(stage, Stage::AwaitNewLeaderAck | Stage::AwaitStartup | Stage::Forwarding)
}

fn send(to: ConnId, kind: PacketType, zxid: i64, data: Option<Vec<u8>>) -> Action {
    Action::Send { to, packet: QuorumPacket::new(kind, zxid, data) }
}

fn l_sid(learners: &BTreeMap<ConnId, LearnerConn>, conn: ConnId) -> Sid {
    learners.get(&conn).map(|l| l.sid).unwrap_or(-1)
}
