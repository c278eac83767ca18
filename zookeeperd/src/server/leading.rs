//! The core as leader: it carries out `quorum::leader`'s actions. Writes
//! are applied as they are proposed (so the next request is prepared
//! against everything before it, as Apache's outstanding changes do) and
//! their replies are held until a quorum, us included, has logged them.
//! Learners' forwarded requests are prepared here like our own clients'.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::core::Core;
use super::role::{HeldRequest, Leading, PeerTx, Role};
use crate::error::ZkError;
use crate::jute::records::Id;
use crate::jute::request::{decode_body, op, Request};
use crate::jute::Reader;
use crate::ops::{self, Ctx, Outcome};
use crate::quorum::epoch;
use crate::quorum::leader::{Action, Leader, LeaderConfig};
use crate::quorum::packet::{revalidate_answer, ForwardedRequest, PacketType, QuorumPacket};
use crate::txn::Txn;
use crate::watch::WatchManager;

impl Core {
    pub(crate) fn become_leader(&mut self) {
        let Some(tx) = self.self_tx.clone() else { return };
        let max = self.max_packet();
        let Some(q) = self.quorum.as_mut() else { return };
        let listener = match super::quorum_io::listen(q.quorum_addr, q.gen, max, tx) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(addr = %q.quorum_addr, error = %e, "cannot bind the quorum port; electing again");
                q.gen += 1;
                self.start_election();
                return;
            }
        };
        let cfg = LeaderConfig {
            sid: q.sid,
            voters: q.voters(),
            accepted_epoch: q.accepted_epoch,
            current_epoch: q.current_epoch,
            last_zxid: self.tree.last_zxid(),
            history: q.history.iter().cloned().collect(),
            verifier: Some(q.verifier()),
            stamp_version: self.config.reconfig_enabled && q.membership.version == 0,
            tick_ms: self.config.tick_time as u64,
            init_limit: self.config.init_limit as u64,
            sync_limit: self.config.sync_limit as u64,
        };
        let now = self.now_ms();
        let mut leader = Leader::new(cfg, now);
        let actions = leader.start(now);
        let committed = self.tree.last_zxid();
        self.role = Role::Leading(Box::new(Leading {
            leader,
            learners: HashMap::new(),
            committed,
            syncs: VecDeque::new(),
            listener,
        }));
        self.reset_sessions();
        self.lead(actions);
    }

    /// Propose a txn `commit` built (the tree takes it right after).
    pub(crate) fn propose(
        &mut self,
        zxid: i64,
        bytes: Vec<u8>,
        reconfig: Option<std::collections::BTreeSet<crate::quorum::Sid>>,
    ) {
        let Role::Leading(l) = &mut self.role else { return };
        // The leader keeps its own history; the core takes it back when the
        // role ends (`go_looking`).
        let Some((z, actions)) = l.leader.propose(bytes, reconfig) else {
            tracing::error!(zxid = format_args!("{zxid:#x}"), "proposal while not serving");
            return;
        };
        debug_assert_eq!(z, zxid);
        self.lead(actions);
    }

    pub(crate) fn leader_logged(&mut self, zxid: i64) {
        let Role::Leading(l) = &mut self.role else { return };
        let actions = l.leader.logged(zxid);
        self.lead(actions);
    }

    /// While a learner waits for a snapshot of the committed state, new
    /// writes wait: the tree must hold no proposal in flight.
    pub(crate) fn writes_held(&self) -> bool {
        matches!(&self.role, Role::Leading(l) if l.leader.snapshot_waiting())
    }

    /// Take the held requests back, in order, once writes flow again (or
    /// the role ended: then they meet whatever the new role does).
    pub(crate) fn release_held_requests(&mut self) {
        while !self.writes_held() {
            let Some(h) = self.held_requests.pop_front() else { return };
            match h {
                HeldRequest::Client(msg) => self.handle(msg),
                HeldRequest::Learner { conn, request, auth } => {
                    if matches!(self.role, Role::Leading(_)) {
                        self.forwarded(conn, request, auth);
                    }
                }
            }
        }
    }

    pub(crate) fn leader_tick(&mut self) {
        let now = self.now_ms();
        let Role::Leading(l) = &mut self.role else { return };
        let actions = l.leader.on_tick(now);
        self.lead(actions);
    }

    pub(crate) fn learner_connected(&mut self, conn: u64, tx: PeerTx, remote: SocketAddr) {
        let now = self.now_ms();
        let Role::Leading(l) = &mut self.role else { return };
        tracing::info!(conn, %remote, "learner connected");
        l.learners.insert(conn, tx);
        l.leader.on_connect(conn, now);
    }

    pub(crate) fn learner_packet(&mut self, conn: u64, qp: QuorumPacket) {
        let now = self.now_ms();
        let Role::Leading(l) = &mut self.role else { return };
        let actions = l.leader.on_packet(now, conn, qp);
        self.lead(actions);
    }

    pub(crate) fn learner_gone(&mut self, conn: u64, reason: &str) {
        let Role::Leading(l) = &mut self.role else { return };
        if l.learners.remove(&conn).is_some() {
            tracing::info!(conn, reason, "learner connection ended");
        }
        l.leader.on_disconnect(conn);
    }

    fn to_learner(&self, conn: u64, bytes: Bytes) {
        if let Role::Leading(l) = &self.role {
            if let Some(tx) = l.learners.get(&conn) {
                let _ = tx.send(bytes);
            }
        }
    }

    pub(crate) fn lead(&mut self, actions: Vec<Action>) {
        for a in actions {
            if !matches!(self.role, Role::Leading(_)) {
                return;
            }
            match a {
                Action::Send { to, packet } => self.to_learner(to, Bytes::from(packet.to_bytes())),
                Action::SendSnapshot { to, zxid } => {
                    // The tree holds every proposal, so it is at the last one.
                    if zxid != self.tree.last_zxid() {
                        tracing::warn!(zxid, tree = self.tree.last_zxid(), "snapshot zxid differs from the tree's");
                    }
                    let mut b = BytesMut::new();
                    QuorumPacket::new(PacketType::Snap, self.tree.last_zxid(), None).encode(&mut b);
                    b.extend_from_slice(&crate::quorum::snapstream::encode(&self.tree));
                    tracing::info!(
                        conn = to,
                        zxid = format_args!("{zxid:#x}"),
                        bytes = b.len(),
                        "syncing a learner by snapshot"
                    );
                    self.to_learner(to, b.freeze());
                }
                Action::SetAcceptedEpoch(e) => self.set_epoch(epoch::ACCEPTED, e),
                Action::SetCurrentEpoch(e) => self.set_epoch(epoch::CURRENT, e),
                Action::Log { txn, .. } => {
                    let mut buf = BytesMut::with_capacity(txn.len() + 16);
                    crate::persist::apache::txnlog::frame_entry(&txn, &mut buf);
                    self.batch.push(buf);
                }
                Action::Commit { zxid } => self.leader_committed(zxid),
                Action::Activate { zxid, designated } => {
                    // Our role stays ours unless another server leads the
                    // new membership: the StepDown that follows says so.
                    let _ = self.activate_committed(zxid, designated);
                }
                Action::StartServing => {
                    let epoch = self.quorum.as_ref().map_or(0, |q| q.current_epoch);
                    // As Apache's leader, the tree's last zxid is the new
                    // epoch's first: srvr says which epoch leads from now.
                    let start = crate::quorum::packet::make_zxid(epoch, 0);
                    if self.tree.last_zxid() < start {
                        self.tree.set_last_zxid(start);
                    }
                    if let Role::Leading(l) = &mut self.role {
                        l.committed = l.committed.max(start);
                    }
                    tracing::info!(epoch, "leading: a quorum is in sync; serving clients");
                    self.update_election_vote(epoch);
                    // A membership stamped with this epoch is ours now
                    // (Apache's startZkServer processes it).
                    let stamped = match &self.role {
                        Role::Leading(l) => l.leader.verifier().map(<[u8]>::to_vec),
                        _ => None,
                    };
                    if let Some(v) = stamped {
                        self.activate_text(&v);
                    }
                }
                Action::Close { conn, reason } => {
                    tracing::info!(conn, reason, "dropping learner");
                    if let Role::Leading(l) = &mut self.role {
                        l.learners.remove(&conn);
                    }
                }
                Action::StepDown(why) => {
                    self.go_looking(&why);
                    return;
                }
                Action::Touch { sessions } => {
                    let now = Instant::now();
                    for (id, _) in sessions {
                        self.sessions.touch(id, now);
                    }
                }
                Action::Request { conn, request, auth } if self.writes_held() => {
                    self.held_requests.push_back(HeldRequest::Learner { conn, request, auth });
                }
                Action::Request { conn, request, auth } => self.forwarded(conn, request, auth),
                Action::Revalidate { conn, session, timeout } => {
                    let valid = self.sessions.get(session).is_some_and(|s| !s.closing);
                    if valid {
                        self.sessions.touch(session, Instant::now());
                    }
                    tracing::debug!(session = format_args!("{session:#x}"), timeout, valid, "revalidated");
                    let qp = QuorumPacket::new(PacketType::Revalidate, -1, Some(revalidate_answer(session, valid)));
                    self.to_learner(conn, Bytes::from(qp.to_bytes()));
                }
            }
        }
    }

    fn leader_committed(&mut self, zxid: i64) {
        let Role::Leading(l) = &mut self.role else { return };
        l.committed = l.committed.max(zxid);
        let mut done = Vec::new();
        while l.syncs.front().is_some_and(|(z, _)| *z <= zxid) {
            if let Some((_, conn)) = l.syncs.pop_front() {
                done.push(conn);
            }
        }
        for conn in done {
            self.to_learner(conn, Bytes::from(QuorumPacket::new(PacketType::Sync, 0, None).to_bytes()));
        }
        self.release_held();
    }

    /// A request a learner forwarded: prepared and proposed like our own
    /// clients' (a failed check is an error txn, which the learner turns
    /// into its client's reply), or a sync answered once all before it
    /// has committed.
    fn forwarded(&mut self, conn: u64, r: ForwardedRequest, auth: Vec<Id>) {
        let now = Instant::now();
        let live = match self.sessions.get(r.session_id) {
            Some(s) => !s.closing,
            None => self.maybe_remote_local_session(r.session_id),
        };
        let (txn, kind) = match r.opcode {
            op::SYNC => {
                let Role::Leading(l) = &mut self.role else { return };
                match l.leader.sync_point() {
                    Some(z) => l.syncs.push_back((z, conn)),
                    None => self.to_learner(conn, Bytes::from(QuorumPacket::new(PacketType::Sync, 0, None).to_bytes())),
                }
                return;
            }
            op::CREATE_SESSION => match r.body.get(..4) {
                Some(b) => {
                    let timeout = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    self.sessions.add(r.session_id, timeout, None, now);
                    (Txn::CreateSession { timeout }, None)
                }
                None => (Txn::Error(ZkError::MarshallingError.code()), None),
            },
            _ if !live => (Txn::Error(ZkError::SessionExpired.code()), None),
            op::CLOSE_SESSION => (Txn::CloseSession { paths: None }, None),
            opcode => {
                self.sessions.touch(r.session_id, now);
                let req = decode_body(opcode, &mut Reader::new(&r.body)).unwrap_or(Request::Malformed { opcode });
                let view = if matches!(req, Request::Reconfig { .. }) { self.reconfig_view() } else { None };
                let mut auth = auth;
                let mut events = Vec::new();
                let mut watches = WatchManager::default();
                let mut ctx = Ctx {
                    tree: &self.tree,
                    watches: &mut watches,
                    conn: 0,
                    session_id: r.session_id,
                    auth: &mut auth,
                    settings: &self.settings,
                    events: &mut events,
                    // Apache's checkGlobalSession: another server's local
                    // session holds no ephemerals.
                    ephemeral_error: (!self.tree.sessions().contains_key(&r.session_id))
                        .then_some(ZkError::SessionExpired),
                    quorum: view.as_ref(),
                };
                match ops::route(&mut ctx, req) {
                    Outcome::Write(txn, kind) => (txn, Some(kind)),
                    Outcome::Reply(Err(e)) | Outcome::ReplyAndClose(e) => (Txn::Error(e.code()), None),
                    _ => (Txn::Error(ZkError::SystemError.code()), None),
                }
            }
        };
        let close = matches!(txn, Txn::CloseSession { .. });
        let _ = self.commit_as(r.session_id, r.cxid, txn, kind.as_ref());
        if close {
            self.sessions.remove(r.session_id);
        }
    }

    /// Learners connected, and those past their sync (mntr's followers).
    pub(crate) fn learner_counts(&self) -> Option<(usize, usize, usize, usize)> {
        match &self.role {
            Role::Leading(l) => Some((
                l.learners.len(),
                l.leader.forwarding_count(),
                l.leader.non_voting_count(),
                l.leader.observing_count(),
            )),
            _ => None,
        }
    }
}
