//! The core as follower: it carries out `quorum::learner`'s actions.
//! Reads are answered here; writes, syncs and session creation go to the
//! leader and are answered when their commit comes back, in each
//! connection's request order. An ack (and anything after it) waits
//! until the log is durable up to the txns logged before it.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::core::Core;
use super::role::{Following, Forwarded, PeerTx, PendingConnect, Role, Waiting};
use super::Outbound;
use crate::error::ZkError;
use crate::jute::encode_framed;
use crate::jute::records::{ConnectRequest, ConnectResponse};
use crate::jute::request::{op, Request};
use crate::jute::response::Response;
use crate::ops;
use crate::quorum::epoch;
use crate::quorum::learner::{Action, Learner, LearnerConfig};
use crate::quorum::packet::{
    decode_revalidate_answer, revalidate_request, touches_to_bytes, ForwardedRequest, PacketType, QuorumPacket,
};
use crate::quorum::Sid;
use crate::tree::DataTree;
use crate::txn::Txn;
use crate::watch::ConnId;

/// Requests the leader must see: writes, session closes, syncs.
fn needs_leader(req: &Request) -> bool {
    req.is_write() || matches!(req, Request::Sync { .. })
}

impl Core {
    pub(crate) fn become_follower(&mut self, leader_sid: Sid) {
        let Some(tx) = self.self_tx.clone() else { return };
        let max = self.max_packet();
        let last = self.tree.last_zxid();
        let Some(q) = self.quorum.as_mut() else { return };
        let Some(addr) = q.peers.get(&leader_sid).copied() else {
            tracing::error!(leader_sid, "the elected leader has no server line; electing again");
            q.gen += 1;
            self.start_election();
            return;
        };
        let init_limit = std::time::Duration::from_millis(self.config.tick_time as u64 * self.config.init_limit as u64);
        let reader = super::quorum_io::follow(addr, q.gen, max, init_limit, tx);
        let observer = q.observer;
        let learner = Learner::new(LearnerConfig {
            observer,
            sid: q.sid,
            accepted_epoch: q.accepted_epoch,
            current_epoch: q.current_epoch,
            last_logged_zxid: last,
            config_version: self.config.config_version,
            tick_ms: self.config.tick_time as u64,
            init_limit: self.config.init_limit as u64,
            sync_limit: self.config.sync_limit as u64,
        });
        self.role = Role::Following(Box::new(Following {
            leader_sid,
            observer,
            learner,
            tx: None,
            serving: false,
            pending: VecDeque::new(),
            barrier: last,
            deferred: VecDeque::new(),
            awaiting_snapshot: false,
            queues: HashMap::new(),
            syncs: VecDeque::new(),
            connects: HashMap::new(),
            revalidations: HashMap::new(),
            touched: HashMap::new(),
            reader: Some(reader),
        }));
    }

    pub(crate) fn leader_connected(&mut self, tx: PeerTx) {
        let now = self.now_ms();
        let Role::Following(f) = &mut self.role else { return };
        f.tx = Some(tx);
        let actions = f.learner.start(now);
        self.follow(actions);
    }

    pub(crate) fn leader_packet(&mut self, qp: QuorumPacket) {
        let now = self.now_ms();
        let Role::Following(f) = &mut self.role else { return };
        match f.learner.on_packet(now, qp) {
            Ok(actions) => self.follow(actions),
            Err(e) => self.go_looking(&e.to_string()),
        }
    }

    pub(crate) fn follower_tick(&mut self) {
        let now = self.now_ms();
        let Role::Following(f) = &mut self.role else { return };
        if f.tx.is_some() {
            if let Err(e) = f.learner.on_tick(now) {
                self.go_looking(&e.to_string());
            }
        }
    }

    /// The database that followed SNAP: it replaces the tree and becomes
    /// our snapshot; our log past it is cut.
    pub(crate) fn leader_snapshot(&mut self, tree: DataTree) {
        let now = self.now_ms();
        let Role::Following(f) = &mut self.role else { return };
        if !std::mem::take(&mut f.awaiting_snapshot) {
            return self.go_looking("a snapshot the learner did not ask for");
        }
        let zxid = tree.last_zxid();
        tracing::info!(zxid = format_args!("{zxid:#x}"), nodes = tree.node_count(), "snapshot from the leader loaded");
        if let Err(e) = self.reopen_log(None, Some(tree), false) {
            self.fatal = Some(e);
            return;
        }
        if let Some(q) = self.quorum.as_mut() {
            q.history.clear();
        }
        let Role::Following(f) = &mut self.role else { return };
        f.barrier = zxid;
        if let Err(e) = f.learner.snapshot_loaded(now) {
            self.go_looking(&e.to_string());
        }
    }

    fn follow(&mut self, actions: Vec<Action>) {
        for a in actions {
            let Role::Following(f) = &mut self.role else { return };
            // Appends and loads run at once, in order; the rest keeps its
            // order behind the durability of what was logged before it.
            let now = matches!(
                a,
                Action::Log { .. }
                    | Action::Apply { .. }
                    | Action::TakeSnapshot
                    | Action::Truncate { .. }
                    | Action::ReadSnapshot { .. }
            );
            if !now && (!f.deferred.is_empty() || f.barrier > self.durable_zxid) {
                f.deferred.push_back((f.barrier, a));
                continue;
            }
            self.follow_one(a);
        }
    }

    pub(crate) fn run_deferred(&mut self) {
        loop {
            let Role::Following(f) = &mut self.role else { return };
            if f.deferred.front().is_none_or(|(b, _)| *b > self.durable_zxid) {
                return;
            }
            let Some((_, a)) = f.deferred.pop_front() else { return };
            self.follow_one(a);
        }
    }

    pub(crate) fn to_leader(&self, qp: &QuorumPacket) {
        if let Role::Following(f) = &self.role {
            if let Some(tx) = &f.tx {
                let _ = tx.send(Bytes::from(qp.to_bytes()));
            }
        }
    }

    fn follow_one(&mut self, a: Action) {
        let Role::Following(f) = &mut self.role else { return };
        match a {
            Action::Send(qp) => self.to_leader(&qp),
            Action::SetAcceptedEpoch(e) => self.set_epoch(epoch::ACCEPTED, e),
            Action::SetCurrentEpoch(e) => {
                self.set_epoch(epoch::CURRENT, e);
                self.update_election_vote(e);
            }
            Action::ReadSnapshot { .. } => f.awaiting_snapshot = true,
            Action::Truncate { zxid } => {
                tracing::info!(zxid = format_args!("{zxid:#x}"), "the leader truncates our log");
                if let Err(e) = self.reopen_log(Some(zxid), None, true) {
                    self.fatal = Some(e);
                    return;
                }
                let last = self.tree.last_zxid();
                if let Role::Following(f) = &mut self.role {
                    f.barrier = last;
                }
            }
            Action::Apply { zxid, txn } => {
                self.apply_bytes(zxid, &txn);
                if let Some(q) = self.quorum.as_mut() {
                    q.remember(zxid, txn);
                }
            }
            Action::Log { zxid, txn } => {
                let mut buf = BytesMut::with_capacity(txn.len() + 16);
                crate::persist::apache::txnlog::frame_entry(&txn, &mut buf);
                self.batch.push(buf);
                f.barrier = f.barrier.max(zxid);
                // A reconfig proposed: zoo.cfg.dynamic.next, as Apache's
                // follower writes it (TxnHeader's type is at byte 28).
                let reconfig = txn.get(28..32) == Some(&crate::jute::request::op::RECONFIG.to_be_bytes()[..]);
                let data = reconfig
                    .then(|| crate::persist::apache::txn::TxnRecord::decode(&txn).ok())
                    .flatten()
                    .and_then(|r| r.to_entry().ok())
                    .and_then(|e| match e.txn {
                        Txn::Reconfig { data } => Some(data),
                        _ => None,
                    });
                f.pending.push_back((zxid, txn));
                if let Some(data) = data.filter(|_| self.config.reconfig_enabled) {
                    self.reconfig_proposed(&data);
                }
            }
            Action::Commit { zxid } => self.follower_commit(zxid),
            Action::TakeSnapshot => {
                self.take_snapshot();
                let last = self.tree.last_zxid();
                if let Role::Following(f) = &mut self.role {
                    f.barrier = f.barrier.max(last);
                }
            }
            Action::StartServing => {
                f.serving = true;
                let leader = f.leader_sid;
                tracing::info!(
                    leader,
                    zxid = format_args!("{:#x}", self.tree.last_zxid()),
                    "following: in sync; serving clients"
                );
            }
            Action::Ping(ping) => {
                let touched: Vec<(i64, i32)> = f.touched.drain().collect();
                self.to_leader(&QuorumPacket { data: Some(touches_to_bytes(&touched)), ..ping });
            }
            Action::Revalidated { data } => self.revalidated(&data),
            Action::Synced => self.synced(),
            Action::Activate { zxid, designated } => {
                if self.activate_committed(zxid, designated) {
                    self.go_looking("changes proposed in reconfig");
                }
            }
            Action::LeaderConfig(data) => {
                if self.activate_text(&data) {
                    self.go_looking("changes proposed in reconfig");
                }
            }
        }
    }

    fn follower_commit(&mut self, zxid: i64) {
        let Role::Following(f) = &mut self.role else { return };
        match f.pending.front() {
            Some((z, _)) if *z == zxid => {}
            _ if zxid <= self.tree.last_zxid() => return,
            _ => return self.go_looking(&format!("commit of {zxid:#x}, which was never proposed to us")),
        }
        let Some((zxid, txn)) = f.pending.pop_front() else { return };
        let applied = self.apply_bytes(zxid, &txn);
        if let Some(q) = self.quorum.as_mut() {
            q.remember(zxid, txn);
        }
        if let Some((entry, result)) = applied {
            self.committed_here(entry, result);
        }
    }

    /// A commit may answer one of our clients: its session's creation, its
    /// close, or the write at the head of its connection's queue.
    fn committed_here(&mut self, entry: crate::txn::TxnEntry, result: Result<crate::tree::Applied, ZkError>) {
        let Role::Following(f) = &mut self.role else { return };
        let sid = entry.session_id;
        match entry.txn {
            Txn::CreateSession { timeout } => {
                let waiting = f.connects.remove(&sid);
                // An upgraded local session keeps its connection.
                let conn = waiting.as_ref().map(|p| p.conn).or_else(|| self.sessions.get(sid).and_then(|s| s.conn));
                self.sessions.add(sid, timeout, conn, Instant::now());
                if let Some(p) = waiting {
                    tracing::info!(conn = p.conn, session = format_args!("0x{sid:x}"), timeout, "session established");
                    self.session_ready(p.conn, sid, p.timeout, p.read_only);
                }
                return;
            }
            Txn::CloseSession { .. } => {
                if let Some(c) = self.sessions.remove(sid).and_then(|s| s.conn) {
                    self.answer_forwarded(c, entry.cxid, result);
                    self.send(c, Outbound::Close);
                }
                return;
            }
            _ => {}
        }
        if let Some(c) = self.sessions.get(sid).and_then(|s| s.conn) {
            self.answer_forwarded(c, entry.cxid, result);
        }
    }

    fn answer_forwarded(&mut self, conn: ConnId, cxid: i32, result: Result<crate::tree::Applied, ZkError>) {
        let Role::Following(f) = &mut self.role else { return };
        let Some(q) = f.queues.get_mut(&conn) else { return };
        if !matches!(q.forwarded.front(), Some(Forwarded::Write { xid, .. }) if *xid == cxid) {
            return;
        }
        let Some(Forwarded::Write { xid, kind, received, error }) = q.forwarded.pop_front() else { return };
        let result = match (result, error) {
            (Err(_), Some(e)) | (Ok(crate::tree::Applied::Error(_)), Some(e)) => Err(e),
            (r, _) => r,
        };
        let reply = ops::build_reply(&kind, result);
        self.reply(conn, xid, reply, Some(received));
        self.drain_waiting(conn);
    }

    /// A request on a follower: `Some` to answer it here now, `None` when
    /// it went to the leader or waits behind the connection's earlier ones.
    pub(crate) fn follower_request(
        &mut self,
        conn: ConnId,
        session_id: i64,
        timeout: i32,
        w: Waiting,
    ) -> Option<Waiting> {
        let Role::Following(f) = &mut self.role else { return Some(w) };
        f.touched.insert(session_id, timeout);
        let q = f.queues.entry(conn).or_default();
        if needs_leader(&w.req) && q.waiting.is_empty() {
            self.forward(conn, session_id, w);
            return None;
        }
        if q.forwarded.is_empty() && q.waiting.is_empty() {
            return Some(w);
        }
        q.waiting.push_back(w);
        None
    }

    fn drain_waiting(&mut self, conn: ConnId) {
        loop {
            let session_id = self.conns.get(&conn).map_or(0, |c| c.session_id);
            let Role::Following(f) = &mut self.role else { return };
            let Some(q) = f.queues.get_mut(&conn) else { return };
            let Some(front) = q.waiting.front() else {
                if q.forwarded.is_empty() {
                    f.queues.remove(&conn);
                }
                return;
            };
            if !needs_leader(&front.req) && !q.forwarded.is_empty() {
                return;
            }
            let Some(w) = q.waiting.pop_front() else { return };
            if needs_leader(&w.req) {
                self.forward(conn, session_id, w);
            } else {
                self.route_request(conn, session_id, w.xid, w.req, w.received);
            }
        }
    }

    fn forward(&mut self, conn: ConnId, session_id: i64, w: Waiting) {
        let auth = self.conns.get(&conn).map(|c| c.auth.clone()).unwrap_or_default();
        let Role::Following(f) = &mut self.role else { return };
        let entry = match &w.req {
            Request::Sync { path } => {
                f.syncs.push_back(conn);
                Forwarded::Sync { xid: w.xid, path: path.clone(), received: w.received }
            }
            req => Forwarded::Write { xid: w.xid, kind: ops::reply_kind(req), received: w.received, error: w.error },
        };
        f.queues.entry(conn).or_default().forwarded.push_back(entry);
        let data = ForwardedRequest { session_id, cxid: w.xid, opcode: w.opcode, body: w.body.to_vec() }.to_bytes();
        let qp = QuorumPacket { kind: PacketType::Request, zxid: -1, data: Some(data), authinfo: Some(auth) };
        self.to_leader(&qp);
    }

    fn synced(&mut self) {
        let Role::Following(f) = &mut self.role else { return };
        let Some(conn) = f.syncs.pop_front() else { return };
        let Some(q) = f.queues.get_mut(&conn) else { return };
        let Some(i) = q.forwarded.iter().position(|p| matches!(p, Forwarded::Sync { .. })) else { return };
        if let Some(Forwarded::Sync { xid, path, received }) = q.forwarded.remove(i) {
            self.reply(conn, xid, Ok(Response::Path(path)), Some(received));
            self.drain_waiting(conn);
        }
    }

    /// A client's connect: a new session is created through the leader,
    /// an existing one is revalidated with it (Apache's Learner does both).
    pub(crate) fn follower_connect(&mut self, conn: ConnId, req: ConnectRequest, timeout: i32, ro: Option<bool>) {
        let auth = self.conns.get(&conn).map(|c| c.auth.clone()).unwrap_or_default();
        let (id, qp) = if req.session_id == 0 {
            let id = self.next_session_id;
            self.next_session_id += 1;
            let body = timeout.to_be_bytes().to_vec();
            let data = ForwardedRequest { session_id: id, cxid: 0, opcode: op::CREATE_SESSION, body }.to_bytes();
            (id, QuorumPacket { kind: PacketType::Request, zxid: -1, data: Some(data), authinfo: Some(auth) })
        } else {
            let id = req.session_id;
            if let Some(old) = self.sessions.get(id).and_then(|s| s.conn).filter(|o| *o != conn) {
                self.send(old, Outbound::Close);
            }
            if req.passwd != super::session::password(id) {
                tracing::info!(conn, session = format_args!("0x{id:x}"), "wrong session password");
                self.send(conn, Outbound::Frame(encode_framed(&[&ConnectResponse::expired(ro)])));
                self.send(conn, Outbound::Close);
                return;
            }
            (id, QuorumPacket::new(PacketType::Revalidate, -1, Some(revalidate_request(id, timeout))))
        };
        let Role::Following(f) = &mut self.role else { return };
        f.touched.insert(id, timeout);
        let pending = PendingConnect { conn, timeout, read_only: ro };
        if req.session_id == 0 {
            f.connects.insert(id, pending);
        } else {
            f.revalidations.insert(id, pending);
        }
        self.to_leader(&qp);
    }

    fn revalidated(&mut self, data: &[u8]) {
        let Ok((id, valid)) = decode_revalidate_answer(data) else {
            return self.go_looking("malformed REVALIDATE answer");
        };
        let Role::Following(f) = &mut self.role else { return };
        let Some(p) = f.revalidations.remove(&id) else { return };
        if !valid || !self.conns.contains_key(&p.conn) {
            tracing::info!(conn = p.conn, session = format_args!("0x{id:x}"), "invalid or expired session");
            self.send(p.conn, Outbound::Frame(encode_framed(&[&ConnectResponse::expired(p.read_only)])));
            self.send(p.conn, Outbound::Close);
            return;
        }
        let now = Instant::now();
        match self.sessions.get_mut(id) {
            Some(s) => {
                s.conn = Some(p.conn);
                s.timeout = std::time::Duration::from_millis(p.timeout.max(0) as u64);
            }
            None => self.sessions.add(id, p.timeout, Some(p.conn), now),
        }
        tracing::info!(conn = p.conn, session = format_args!("0x{id:x}"), "session re-established");
        self.session_ready(p.conn, id, p.timeout, p.read_only);
    }

    pub(crate) fn follower_disconnected(&mut self, conn: ConnId) {
        if let Role::Following(f) = &mut self.role {
            f.queues.remove(&conn);
        }
    }
}
