//! The core: sole owner of the data tree, watches and sessions. Requests
//! arrive in order per connection over one bounded channel; writes are
//! applied at once and appended to the log; every outbound frame is held
//! until the log is durable up to the zxid current when it was produced,
//! so no client ever sees a change that a crash could lose. Frames leave in
//! the order they were produced, so a watch event precedes the reply of
//! the write that fired it, and replies keep xid order.

use super::role::{Quorum, Role};
use super::session::{initial_session_id, SessionTracker};
use super::stats::ServerStats;
use super::{ConnInfo, CoreMsg, Outbound};
use crate::config::ZkConfig;
use crate::error::{ServerError, ZkError};
use crate::jute::records::{keeper_state, xid, ReplyHeader, WatcherEvent};
use crate::jute::request::Request;
use crate::jute::response::Response;
use crate::jute::{encode_framed, Encode};
use crate::ops::{self, Ctx, Outcome, ReplyKind, Settings};
use crate::persist::{LogCmd, LogHandle};
use crate::tree::{Applied, DataTree, Trigger};
use crate::txn::{Txn, TxnEntry};
use crate::watch::{ConnId, Notification, WatchManager};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// One frame waiting for durability.
struct Held {
    zxid: i64,
    conn: ConnId,
    msg: Outbound,
}

pub struct Core {
    pub(crate) tree: DataTree,
    pub(crate) role: Role,
    /// The ensemble context; `None` when standalone.
    pub(crate) quorum: Option<Quorum>,
    /// For the tasks the core starts (election, quorum sockets).
    pub(crate) self_tx: Option<mpsc::Sender<CoreMsg>>,
    pub(crate) durable_rx: mpsc::UnboundedReceiver<Result<i64, ServerError>>,
    pub(crate) writer: Option<std::thread::JoinHandle<()>>,
    /// A fatal error met while handling a message; the run loop ends.
    pub(crate) fatal: Option<ServerError>,
    /// The clock the quorum state machines read (ms since start).
    pub(crate) t0: Instant,
    pub(crate) watches: WatchManager,
    pub(crate) sessions: SessionTracker,
    pub(crate) conns: HashMap<ConnId, ConnInfo>,
    pub(crate) config: Arc<ZkConfig>,
    pub(crate) stats: ServerStats,
    pub(crate) settings: Settings,
    pub(crate) log: LogHandle,
    pub(crate) batch: Vec<BytesMut>,
    pub(crate) durable_zxid: i64,
    held: VecDeque<Held>,
    pub(crate) next_session_id: i64,
    pub(crate) txns_since_snapshot: u64,
    pub(crate) log_bytes_since_snapshot: u64,
    pub(crate) snap_trigger: super::snapshotting::SnapTrigger,
    /// The periodic snapshot: walked a few nodes per turn of the loop,
    /// then written by its own thread (server/snapshotting.rs).
    pub(crate) fuzzy: Option<crate::tree::snapshot::FuzzySnapshot>,
    pub(crate) snap_thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) last_container_check: Instant,
    pub(crate) last_purge: Instant,
    pub(crate) systemd: super::systemd::Systemd,
    /// Client and learner requests held while a leader lets its proposals
    /// drain for a learner's snapshot (`Leader::snapshot_waiting`).
    pub(crate) held_requests: VecDeque<super::role::HeldRequest>,
}

impl Core {
    pub fn new(
        tree: DataTree,
        config: Arc<ZkConfig>,
        log: (LogHandle, mpsc::UnboundedReceiver<Result<i64, ServerError>>, std::thread::JoinHandle<()>),
        quorum: Option<Quorum>,
    ) -> Core {
        let (log, durable_rx, writer) = log;
        let now = Instant::now();
        let mut sessions = SessionTracker::default();
        // Sessions survive a restart: clients get their timeout to return.
        for (id, timeout) in tree.sessions() {
            sessions.add(*id, *timeout, None, now);
        }
        let settings = Settings {
            extended_types: config.extended_types,
            super_digest: config.super_digest.clone(),
            reconfig_enabled: config.reconfig_enabled,
            standalone_enabled: config.standalone_enabled,
        };
        let durable_zxid = tree.last_zxid();
        // Standalone ZooKeeper uses server id 1 in session ids.
        let server_id = config.my_id.unwrap_or(1);
        Core {
            tree,
            role: if quorum.is_some() { Role::Looking } else { Role::Standalone },
            quorum,
            self_tx: None,
            durable_rx,
            writer: Some(writer),
            fatal: None,
            t0: now,
            watches: WatchManager::default(),
            sessions,
            conns: HashMap::new(),
            stats: ServerStats::default(),
            settings,
            log,
            batch: Vec::new(),
            durable_zxid,
            held: VecDeque::new(),
            next_session_id: initial_session_id(server_id, now_ms()),
            txns_since_snapshot: 0,
            log_bytes_since_snapshot: 0,
            snap_trigger: super::snapshotting::SnapTrigger::new(config.snap_count, config.snap_size_limit),
            fuzzy: None,
            snap_thread: None,
            last_container_check: now,
            last_purge: now,
            systemd: Default::default(),
            held_requests: VecDeque::new(),
            config,
        }
    }

    /// Run until shutdown. Returns an error only if the log failed.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<CoreMsg>,
        tx: mpsc::Sender<CoreMsg>,
        mut shutdown: shared::shutdown::ShutdownSignal,
    ) -> Result<(), ServerError> {
        let tick = Duration::from_millis((self.config.tick_time as u64 / 2).clamp(10, 500));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.self_tx = Some(tx);
        if self.quorum.is_some() {
            self.init_config_node();
            self.start_election();
        }
        self.systemd_tick();
        let result = loop {
            if let Some(e) = self.fatal.take() {
                break Err(e);
            }
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break Ok(()) };
                    self.handle(msg);
                    self.release_held_requests();
                    // Take what is already queued so it shares one fsync.
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok(m) => {
                                self.handle(m);
                                self.release_held_requests();
                            }
                            Err(_) => break,
                        }
                    }
                    self.flush_batch();
                }
                d = self.durable_rx.recv() => {
                    match d {
                        Some(Ok(z)) => {
                            self.on_durable(z);
                            self.release_held_requests();
                            self.flush_batch();
                        }
                        Some(Err(e)) => break Err(e),
                        None => break Ok(()),
                    }
                }
                _ = ticker.tick() => {
                    self.on_tick();
                    self.release_held_requests();
                    self.flush_batch();
                }
                _ = std::future::ready(()), if self.fuzzy.is_some() => {}
                _ = shutdown.recv() => break Ok(()),
            }
            // A few nodes of a snapshot in progress per turn, between batches.
            self.snapshot_step();
        };
        self.flush_batch();
        self.role = Role::Looking;
        if let Some(q) = self.quorum.as_mut() {
            if let Some((stop, task)) = q.election.take() {
                let _ = stop.send(());
                let _ = task.await;
            }
        }
        // Let the writer finish what it has, so acknowledged work is on disk.
        let _ = self.log.send(LogCmd::Shutdown);
        if let Some(t) = self.snap_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        result
    }

    pub(crate) fn handle(&mut self, msg: CoreMsg) {
        if self.writes_held() && matches!(msg, CoreMsg::Connect { .. } | CoreMsg::Request { .. }) {
            self.held_requests.push_back(super::role::HeldRequest::Client(msg));
            return;
        }
        match msg {
            CoreMsg::Connect { conn, remote, tx, req } => self.connect(conn, remote, tx, req),
            CoreMsg::Request { conn, xid, opcode, req, body, received } => {
                self.request(conn, xid, opcode, req, body, received)
            }
            CoreMsg::Quorum(ev) => self.on_quorum(ev),
            CoreMsg::Unimplemented { conn, xid } => {
                let frame = encode_framed(&[&ReplyHeader { xid, zxid: -1, err: ZkError::Unimplemented.code() }]);
                self.send(conn, Outbound::Frame(frame));
                self.send(conn, Outbound::Close);
            }
            CoreMsg::Disconnected { conn } => self.disconnected(conn),
            CoreMsg::FourLetter { cmd, remote, reply } => {
                let _ = reply.send(crate::fourlw::render(&cmd, remote, self));
            }
            CoreMsg::Admin { cmd, reply } => {
                let _ = reply.send(crate::admin::command_json(&cmd, self));
            }
        }
    }

    /// Queue `msg` for `conn` behind everything produced before it.
    pub(crate) fn send(&mut self, conn: ConnId, msg: Outbound) {
        let zxid = self.tree.last_zxid();
        if self.held.is_empty() && zxid <= self.released() {
            self.deliver(conn, msg);
        } else {
            self.held.push_back(Held { zxid, conn, msg });
        }
    }

    fn deliver(&mut self, conn: ConnId, msg: Outbound) {
        let Some(info) = self.conns.get_mut(&conn) else {
            return;
        };
        let is_close = matches!(msg, Outbound::Close);
        if let Outbound::Frame(_) = msg {
            self.stats.packets_sent += 1;
            info.sent += 1;
        }
        match info.tx.send(msg) {
            Ok(()) if is_close => self.disconnected(conn),
            Ok(()) => {}
            Err(super::outbound::SendError::Closed) => self.disconnected(conn),
            Err(e @ super::outbound::SendError::Full) => {
                tracing::warn!(conn, session = format_args!("0x{:x}", info.session_id), error = %e,
                    "client reads nothing; closing its connection (the session lives on)");
                info.tx.cut();
                self.disconnected(conn);
            }
        }
    }

    fn on_durable(&mut self, zxid: i64) {
        self.durable_zxid = self.durable_zxid.max(zxid);
        self.stats.fsyncs += 1;
        match &self.role {
            Role::Leading(_) => self.leader_logged(self.durable_zxid),
            Role::Following(_) => self.run_deferred(),
            _ => {}
        }
        self.release_held();
    }

    /// Frames wait until their zxid is released: durable when alone or
    /// following (a follower applies only what it logged), committed by
    /// a quorum when leading (the leader applies as it proposes).
    fn released(&self) -> i64 {
        match &self.role {
            Role::Leading(l) => l.committed,
            _ => self.durable_zxid,
        }
    }

    pub(crate) fn release_held(&mut self) {
        let upto = self.released();
        while self.held.front().is_some_and(|h| h.zxid <= upto) {
            if let Some(h) = self.held.pop_front() {
                self.deliver(h.conn, h.msg);
            }
        }
    }

    /// Drop frames still held (a role ended: what they answer never
    /// committed here).
    pub(crate) fn drop_held(&mut self) {
        self.held.clear();
    }

    pub(crate) fn reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        result: Result<Response, ZkError>,
        received: Option<Instant>,
    ) {
        let zxid = self.tree.last_zxid();
        let frame = match &result {
            Ok(body) => encode_framed(&[&ReplyHeader { xid, zxid, err: 0 }, body]),
            Err(e) => encode_framed(&[&ReplyHeader { xid, zxid, err: e.code() }]),
        };
        if let Some(t) = received {
            self.stats.record_latency(t.elapsed().as_micros() as u64);
        }
        self.send(conn, Outbound::Frame(frame));
    }

    pub(crate) fn notify(&mut self, events: Vec<Notification>) {
        for n in events {
            let ev = WatcherEvent { event_type: n.event_type, state: keeper_state::SYNC_CONNECTED, path: n.path };
            let frame = encode_framed(&[&ReplyHeader { xid: xid::NOTIFICATION, zxid: -1, err: 0 }, &ev]);
            self.send(n.conn, Outbound::Frame(frame));
        }
    }

    /// Log (or, leading, propose) and apply one txn; fire its watches.
    /// Returns the apply result.
    pub(crate) fn commit(&mut self, session_id: i64, cxid: i32, txn: Txn) -> Result<Applied, ZkError> {
        self.commit_as(session_id, cxid, txn, None)
    }

    /// As `commit`, for a client's write: its header carries the request's
    /// opcode as Apache's does (a create2's txn is a create2, and an Apache
    /// follower types its reply by it).
    pub(crate) fn commit_as(
        &mut self,
        session_id: i64,
        cxid: i32,
        txn: Txn,
        kind: Option<&ReplyKind>,
    ) -> Result<Applied, ZkError> {
        let op = match kind {
            Some(ReplyKind::Create { opcode }) => Some(*opcode),
            _ => None,
        };
        let zxid = match &self.role {
            Role::Leading(l) => l.leader.next_zxid(),
            _ => self.tree.last_zxid() + 1,
        };
        // A session's close names its ephemerals, as Apache 3.6+ logs it:
        // a replay over a fuzzy snapshot deletes them by name.
        let txn = match txn {
            Txn::CloseSession { paths: None } => {
                let eph = self.tree.ephemerals_of(session_id);
                Txn::CloseSession { paths: Some(eph.map(|s| s.iter().cloned().collect()).unwrap_or_default()) }
            }
            t => t,
        };
        let mut entry = TxnEntry { zxid, time: now_ms(), session_id, cxid, txn };
        let mut bytes = match self.entry_bytes(&entry, op) {
            Ok(b) => b,
            Err(e) => {
                // Never apply what the log cannot hold: the write fails instead
                // (an error txn still takes its zxid, as every failed write).
                tracing::error!(zxid = entry.zxid, error = %e, "txn has no form in Apache's log; refused");
                entry.txn = Txn::Error(ZkError::SystemError.code());
                self.entry_bytes(&entry, None).unwrap_or_default()
            }
        };
        let applied = self.apply_entry(&entry);
        // The tree's digest after the txn goes with it, to the log and to
        // the followers, which check theirs against it.
        let digest = crate::persist::apache::txn::TxnDigest {
            version: crate::tree::digest::VERSION,
            tree_digest: self.tree.digest(),
        };
        digest.encode(&mut bytes);
        if matches!(self.role, Role::Leading(_)) {
            let reconfig = match &entry.txn {
                Txn::Reconfig { data } => self.reconfig_proposed(data),
                _ => None,
            };
            self.propose(zxid, bytes.to_vec(), reconfig);
        } else {
            let mut buf = BytesMut::with_capacity(bytes.len() + 16);
            crate::persist::apache::txnlog::frame_entry(&bytes, &mut buf);
            self.batch.push(buf);
        }
        applied
    }

    /// Apply a txn to the tree and fire its watches.
    pub(crate) fn apply_entry(&mut self, entry: &TxnEntry) -> Result<Applied, ZkError> {
        let mut triggers: Vec<Trigger> = Vec::new();
        let applied = self.tree.apply(entry, &mut triggers);
        self.txns_since_snapshot += 1;
        let mut events = Vec::new();
        for (path, ev, acl) in triggers {
            let from = events.len();
            self.watches.trigger(&path, ev, &mut events);
            // A watcher without READ on the node does not hear of it.
            let conns = &self.conns;
            let mut i = from;
            while i < events.len() {
                let allowed = conns
                    .get(&events[i].conn)
                    .is_some_and(|c| crate::acl::check(&acl, crate::jute::records::perms::READ, &c.auth).is_ok());
                if allowed {
                    i += 1;
                } else {
                    events.remove(i);
                }
            }
        }
        self.notify(events);
        applied
    }

    /// `entry` as Apache's txn bytes (a log record's entry, a proposal's
    /// data).
    fn entry_bytes(&self, entry: &TxnEntry, op: Option<i32>) -> Result<BytesMut, crate::persist::apache::ApacheError> {
        use crate::jute::request::op::{CREATE, CREATE2};
        use crate::persist::apache::txn::TxnRecord;
        let mut rec = TxnRecord::from_entry(entry)?;
        if rec.header.op == CREATE && op == Some(CREATE2) {
            rec.header.op = CREATE2;
        }
        rec.encode()
    }

    pub(crate) fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.batch);
        self.log_bytes_since_snapshot += entries.iter().map(|e| e.len() as u64).sum::<u64>();
        let last_zxid = self.last_logged();
        if !self.log.send(LogCmd::Append { last_zxid, entries }) {
            tracing::error!("txn log writer is gone");
        }
        self.maybe_start_snapshot();
    }

    /// The newest zxid in the log: past the tree's on a follower with
    /// proposals not yet committed.
    pub(crate) fn last_logged(&self) -> i64 {
        match &self.role {
            Role::Following(f) => {
                f.pending.back().map_or(self.tree.last_zxid(), |(z, _)| *z).max(self.tree.last_zxid())
            }
            _ => self.tree.last_zxid(),
        }
    }

    fn request(&mut self, conn: ConnId, xid: i32, opcode: i32, req: Request, body: Bytes, received: Instant) {
        self.stats.packets_received += 1;
        if let Some(p) = req.path() {
            let bytes = match &req {
                Request::Create { req: c, .. } => c.data.as_ref().map_or(0, |d| d.len()),
                Request::SetData { data, .. } => data.as_ref().map_or(0, |d| d.len()),
                _ => 0,
            };
            self.stats.record_namespace(p, req.is_write(), (p.len() + bytes) as u64);
        }
        let Some(info) = self.conns.get_mut(&conn) else {
            return;
        };
        info.received += 1;
        info.last_cxid = xid;
        let session_id = info.session_id;
        self.sessions.touch(session_id, Instant::now());
        if self.sessions.get(session_id).is_none_or(|s| s.closing) {
            self.reply(conn, xid, Err(ZkError::SessionExpired), Some(received));
            self.send(conn, Outbound::Close);
            return;
        }
        let super::local_session::LocalOutcome::Continue(error) =
            self.local_session_request(conn, session_id, xid, &req, received)
        else {
            return;
        };
        if self.read_only() && (req.is_write() || matches!(req, Request::CloseSession)) {
            self.read_only_write(conn, session_id, xid, &req, received);
            return;
        }
        if matches!(self.role, Role::Following(_)) {
            let timeout = self.conns.get(&conn).map_or(0, |c| c.timeout);
            let waiting = super::role::Waiting { xid, opcode, req, body, received, error };
            if let Some(w) = self.follower_request(conn, session_id, timeout, waiting) {
                self.route_request(conn, session_id, w.xid, w.req, w.received);
            }
            return;
        }
        self.route_request(conn, session_id, xid, req, received);
    }

    /// Answer a request here: a read, or (alone or leading) a write.
    pub(crate) fn route_request(&mut self, conn: ConnId, session_id: i64, xid: i32, req: Request, received: Instant) {
        let ephemeral_error = self.sessions.is_local(session_id).then_some(ZkError::EphemeralOnLocalSession);
        let view = if matches!(req, Request::Reconfig { .. }) { self.reconfig_view() } else { None };
        let Some(info) = self.conns.get_mut(&conn) else { return };
        let mut auth = std::mem::take(&mut info.auth);
        let mut events = Vec::new();
        let outcome = {
            let mut ctx = Ctx {
                tree: &self.tree,
                watches: &mut self.watches,
                conn,
                session_id,
                auth: &mut auth,
                settings: &self.settings,
                events: &mut events,
                ephemeral_error,
                quorum: view.as_ref(),
            };
            ops::route(&mut ctx, req)
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.auth = auth;
        }
        self.notify(events);
        match outcome {
            // Auth replies carry zxid 0.
            Outcome::Reply(Ok(Response::Empty)) if xid == xid::AUTH => {
                let frame = encode_framed(&[&ReplyHeader { xid, zxid: 0, err: 0 }]);
                self.send(conn, Outbound::Frame(frame));
            }
            Outcome::Reply(r) => self.reply(conn, xid, r, Some(received)),
            Outcome::ReplyAndClose(e) => {
                self.reply(conn, xid, Err(e), Some(received));
                self.send(conn, Outbound::Close);
            }
            Outcome::AuthFailed => {
                let frame = encode_framed(&[&ReplyHeader { xid: xid::AUTH, zxid: 0, err: ZkError::AuthFailed.code() }]);
                self.send(conn, Outbound::Frame(frame));
                self.send(conn, Outbound::Close);
            }
            Outcome::Write(txn, kind) => {
                let applied = self.commit_as(session_id, xid, txn, Some(&kind));
                let close = kind == ReplyKind::CloseSession;
                let r = ops::build_reply(&kind, applied);
                self.reply(conn, xid, r, Some(received));
                if close {
                    self.sessions.remove(session_id);
                    tracing::info!(conn, session = format_args!("0x{session_id:x}"), "session closed by client");
                    self.send(conn, Outbound::Close);
                }
            }
        }
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.held.len()
    }
}

/// Encode a frame from a record (for callers outside the core).
pub fn frame_of(rec: &dyn Encode) -> Bytes {
    encode_framed(&[rec])
}
