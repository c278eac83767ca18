//! The core's life in an ensemble: looking for a leader (the election
//! runs as its own task, `quorum::peer`), taking the role it decides,
//! and going back to looking when that role ends. Like Apache's
//! QuorumPeer, every role change closes the clients (they reconnect, to
//! us or another server, and keep their sessions) and starts a new log;
//! the tree then holds exactly what the log holds.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::core::Core;
use super::role::{QuorumEvent, Role};
use super::session::SessionTracker;
use super::{CoreMsg, Outbound};
use crate::config::ZkConfig;
use crate::error::{ServerError, ZkError};
use crate::persist::LogCmd;
use crate::quorum::packet::epoch_of;
use crate::quorum::peer::ElectionSetup;
use crate::quorum::{epoch, ServerState, Sid};
use crate::tree::Applied;
use crate::tree::DataTree;
use crate::txn::TxnEntry;

fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    crate::quorum::peer::resolve(host, port).map_err(|e| ServerError::Ensemble(e.to_string()))
}

/// The ensemble context from zoo.cfg, `myid` and the epoch files.
pub fn quorum_from_config(cfg: &ZkConfig, last_zxid: i64) -> Result<super::role::Quorum, ServerError> {
    let me = cfg.my_id.ok_or_else(|| {
        ServerError::Ensemble(format!(
            "zoo.cfg lists {} servers but {} has no myid: write this server's id there",
            cfg.servers.len(),
            cfg.data_dir.join("myid").display()
        ))
    })?;
    let mine = cfg.servers.get(&me).ok_or_else(|| {
        ServerError::Ensemble(format!("My id {me} not in the peer list: the configuration has no server.{me} line"))
    })?;
    let mut peers = HashMap::new();
    for (id, q) in &cfg.servers {
        peers.insert(*id as Sid, resolve(&q.host, q.quorum_port)?);
    }
    let quorum_addr = peers[&(me as Sid)];
    let default = epoch_of(last_zxid);
    // Apache keeps them in its snapDir, next to the snapshots.
    let dir = &cfg.data_dir.join("version-2");
    let current_epoch = epoch::read_or_init(dir, epoch::CURRENT, default).map_err(|e| ServerError::io(dir, e))?;
    let accepted_epoch = epoch::read_or_init(dir, epoch::ACCEPTED, default).map_err(|e| ServerError::io(dir, e))?;
    if current_epoch < epoch_of(last_zxid) {
        return Err(ServerError::Ensemble(format!(
            "the current epoch {current_epoch} is older than the last logged zxid {last_zxid:#x}"
        )));
    }
    Ok(super::role::Quorum {
        sid: me as Sid,
        observer: mine.role == "observer",
        gen: 0,
        accepted_epoch,
        current_epoch,
        history: VecDeque::new(),
        election: None,
        vote_epoch: tokio::sync::watch::channel(None).0,
        quorum_addr,
        peers,
        membership: crate::quorum::membership::Membership { servers: cfg.servers.clone(), version: cfg.config_version },
        last_seen: None,
        looking_since: Instant::now(),
        read_only: false,
    })
}

impl Core {
    pub(crate) fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    pub(crate) fn serving(&self) -> bool {
        match &self.role {
            Role::Standalone => true,
            Role::Looking => self.read_only(),
            Role::Leading(l) => l.leader.serving(),
            Role::Following(f) => f.serving,
        }
    }

    /// As Apache names the role in srvr, mntr and zkServer.sh status.
    pub(crate) fn mode_name(&self) -> &'static str {
        match &self.role {
            Role::Standalone => "standalone",
            Role::Looking if self.read_only() => "read-only",
            Role::Looking => "looking",
            Role::Leading(_) => "leader",
            Role::Following(f) if f.observer => "observer",
            Role::Following(_) => "follower",
        }
    }

    pub(crate) fn max_packet(&self) -> usize {
        // Apache's BinaryInputArchive allows jute.maxbuffer plus 1 KB.
        self.config.jute_max_buffer + 1024
    }

    /// Start (or restart) the election with what the log now holds. The
    /// old election task lets go of the election port first.
    pub(crate) fn start_election(&mut self) {
        let last = self.tree.last_zxid();
        let Some(tx) = self.self_tx.clone() else { return };
        let Some(q) = self.quorum.as_mut() else { return };
        q.looking_since = Instant::now();
        let gen = q.gen;
        let setup = match ElectionSetup::from_config(&self.config, last, q.current_epoch) {
            Ok(s) => s,
            Err(e) => {
                self.fatal = Some(ServerError::Ensemble(e.to_string()));
                return;
            }
        };
        let old = q.election.take();
        let (vote_epoch, vote_epoch_rx) = tokio::sync::watch::channel(None);
        q.vote_epoch = vote_epoch;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Some((stop, task)) = old {
                let _ = stop.send(());
                let _ = task.await;
            }
            let mut running = loop {
                match crate::quorum::peer::start_with(setup.clone(), vote_epoch_rx.clone()).await {
                    Ok(r) => break r,
                    Err(e) => {
                        // Apache retries the election port's bind too
                        // (electionPortBindRetry).
                        tracing::warn!(addr = %setup.listen, error = %e, "cannot bind the election port; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                            _ = &mut stopped => return,
                        }
                    }
                }
            };
            tokio::select! {
                d = running.decided() => {
                    if let Some((vote, state)) = d {
                        let ev = QuorumEvent::Elected { gen, leader: vote.leader, state };
                        let _ = tx.send(CoreMsg::Quorum(ev)).await;
                    }
                }
                _ = &mut stopped => {
                    running.stop().await;
                    return;
                }
            }
            // Decided: keep answering servers still looking until told.
            let _ = stopped.await;
            running.stop().await;
        });
        q.election = Some((stop, task));
    }

    pub(crate) fn on_quorum(&mut self, ev: QuorumEvent) {
        if self.quorum.as_ref().is_none_or(|q| q.gen != ev.gen()) {
            return;
        }
        match ev {
            QuorumEvent::Elected { leader, state, .. } => {
                if !matches!(self.role, Role::Looking) {
                    return;
                }
                self.leave_read_only();
                let Some(me) = self.quorum.as_ref().map(|q| q.sid) else { return };
                let waited = self.quorum.as_ref().map_or(0, |q| q.looking_since.elapsed().as_millis());
                tracing::info!(leader, ?state, waited_ms = waited as u64, "leader elected");
                if state == ServerState::Leading && leader == me {
                    self.become_leader();
                } else {
                    self.become_follower(leader);
                }
            }
            QuorumEvent::LearnerConnected { conn, tx, remote, .. } => self.learner_connected(conn, tx, remote),
            QuorumEvent::FromLearner { conn, qp, .. } => self.learner_packet(conn, qp),
            QuorumEvent::LearnerGone { conn, reason, .. } => self.learner_gone(conn, &reason),
            QuorumEvent::LeaderConnected { tx, .. } => self.leader_connected(tx),
            QuorumEvent::FromLeader { qp, .. } => self.leader_packet(qp),
            QuorumEvent::Snapshot { tree, .. } => self.leader_snapshot(*tree),
            QuorumEvent::LeaderGone { reason, .. } => self.go_looking(&format!("lost the leader: {reason}")),
        }
    }

    /// Half-tick work of the current role.
    pub(crate) fn role_tick(&mut self) {
        match &self.role {
            Role::Leading(_) => self.leader_tick(),
            Role::Following(_) => self.follower_tick(),
            Role::Looking => self.maybe_read_only(),
            Role::Standalone => {}
        }
    }

    pub(crate) fn read_only(&self) -> bool {
        self.quorum.as_ref().is_some_and(|q| q.read_only)
    }

    /// With readonlymode.enabled, a member still looking after the grace
    /// period (tickTime, at least 2 s, as Apache's QuorumPeer waits)
    /// takes it that it is partitioned and serves read-only clients.
    fn maybe_read_only(&mut self) {
        let grace = std::time::Duration::from_millis((self.config.tick_time as u64).max(2000));
        if !self.config.read_only_mode {
            return;
        }
        let Some(q) = self.quorum.as_mut() else { return };
        if !q.read_only && q.looking_since.elapsed() >= grace {
            q.read_only = true;
            tracing::warn!("no quorum: serving read-only clients (readonlymode.enabled)");
        }
    }

    /// A leader is found: read-only sessions end, their clients go and
    /// find a read-write server.
    fn leave_read_only(&mut self) {
        if let Some(q) = self.quorum.as_mut().filter(|q| q.read_only) {
            q.read_only = false;
            tracing::info!("a quorum again: read-only clients are closed");
            self.close_all_clients();
            self.reset_sessions();
        }
    }

    /// End the current role: close clients, make the tree what the log
    /// holds, and elect again.
    pub(crate) fn go_looking(&mut self, why: &str) {
        if matches!(self.role, Role::Looking | Role::Standalone) {
            return;
        }
        tracing::warn!(role = self.mode_name(), reason = why, "leaving the role; looking for a leader");
        let old = std::mem::replace(&mut self.role, Role::Looking);
        if let Some(q) = self.quorum.as_mut() {
            q.gen += 1;
            q.read_only = false;
            q.last_seen = None;
        }
        self.close_all_clients();
        let mut reload = false;
        if let Role::Leading(mut l) = old {
            // Everything we proposed is in our log and tree: the next
            // leader's DIFFs may use it.
            let history = l.leader.take_history();
            if let Some(q) = self.quorum.as_mut() {
                q.history = history;
            }
        } else if let Role::Following(f) = old {
            let mut f = f;
            // Apache reloads its database from the log: txns we logged but
            // saw no commit for are part of it (a new leader decides).
            if !f.learner.in_broadcast() {
                reload = true;
            }
            let pending: Vec<(i64, Vec<u8>)> = f.pending.drain(..).collect();
            if !reload {
                for (zxid, txn) in pending {
                    if zxid <= self.tree.last_zxid() {
                        continue;
                    }
                    self.apply_bytes(zxid, &txn);
                    if let Some(q) = self.quorum.as_mut() {
                        q.remember(zxid, txn);
                    }
                }
            }
        }
        if let Err(e) = self.reopen_log(None, None, reload) {
            self.fatal = Some(e);
            return;
        }
        self.start_election();
    }

    /// Apply a txn given as Apache's bytes; an undecodable one is skipped
    /// with an error (its zxid still counts, as the log has it).
    pub(crate) fn apply_bytes(&mut self, zxid: i64, txn: &[u8]) -> Option<(TxnEntry, Result<Applied, ZkError>)> {
        use crate::persist::apache::txn::TxnRecord;
        match TxnRecord::decode(txn).and_then(|r| Ok((r.to_entry()?, r.digest))) {
            Ok((entry, digest)) => {
                let result = self.apply_entry(&entry);
                self.check_digest(zxid, digest);
                Some((entry, result))
            }
            Err(e) => {
                tracing::error!(zxid = format_args!("{zxid:#x}"), error = %e, "txn from the leader cannot be applied");
                self.tree.set_last_zxid(zxid);
                None
            }
        }
    }

    /// Apache's DataTree.compareDigest: the leader's digest after a txn
    /// must be ours after applying it; a mismatch is counted and logged
    /// (the first loudly), not fatal.
    fn check_digest(&mut self, zxid: i64, digest: Option<crate::persist::apache::txn::TxnDigest>) {
        let Some(d) = digest.filter(|d| d.version == crate::tree::digest::VERSION) else { return };
        let ours = self.tree.digest();
        if d.tree_digest != ours {
            self.stats.digest_mismatches += 1;
            if self.stats.digest_mismatches == 1 {
                tracing::error!(
                    zxid = format_args!("{zxid:#x}"),
                    expected = d.tree_digest,
                    actual = ours,
                    "first digest mismatch"
                );
            } else {
                tracing::debug!(zxid = format_args!("{zxid:#x}"), "digest mismatch");
            }
        }
    }

    fn close_all_clients(&mut self) {
        let conns: Vec<_> = self.conns.keys().copied().collect();
        self.drop_held();
        for c in conns {
            if let Some(info) = self.conns.get(&c) {
                let _ = info.tx.send(Outbound::Close);
            }
            self.watches.remove_conn(c);
        }
        self.conns.clear();
    }

    /// Everything logged so far made durable, then a new log (after
    /// cutting it back to `truncate`, or under a leader's snapshot
    /// `replace`, or reloading the tree from disk).
    pub(crate) fn reopen_log(
        &mut self,
        truncate: Option<i64>,
        replace: Option<DataTree>,
        reload: bool,
    ) -> Result<(), ServerError> {
        self.flush_batch();
        self.abandon_snapshot();
        let _ = self.log.send(LogCmd::Shutdown);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let snap_dir = self.config.data_dir.join("version-2");
        let log_dir = self.config.data_log_dir.join("version-2");
        if let Some(z) = truncate {
            crate::persist::truncate_after(&snap_dir, &log_dir, z)?;
        }
        if let Some(tree) = replace {
            let z = tree.last_zxid();
            crate::persist::truncate_after(&snap_dir, &log_dir, z)?;
            crate::persist::write_snapshot(&snap_dir, z, &crate::tree::snapshot::encode(&tree))?;
            self.tree = tree;
        }
        let writer = if reload || truncate.is_some() {
            let rec = crate::persist::recover(&snap_dir, &log_dir, self.config.pre_alloc_size)?;
            tracing::info!(zxid = format_args!("{:#x}", rec.tree.last_zxid()), "data tree reloaded from disk");
            self.tree = rec.tree;
            if let Some(q) = self.quorum.as_mut() {
                q.history.clear();
            }
            rec.writer
        } else {
            crate::persist::txnlog::LogWriter::create(&log_dir, self.tree.last_zxid() + 1, self.config.pre_alloc_size)?
        };
        let (log, durable_rx, thread) =
            crate::persist::spawn_writer(writer, snap_dir, log_dir, self.config.force_sync, self.config.pre_alloc_size);
        self.log = log;
        self.durable_rx = durable_rx;
        self.writer = Some(thread);
        self.durable_zxid = self.tree.last_zxid();
        self.init_config_node();
        self.reset_sessions();
        Ok(())
    }

    /// /zookeeper/config holds the membership, whatever the tree was
    /// loaded from (Apache sets it at start and after a leader's snapshot).
    pub(crate) fn init_config_node(&mut self) {
        if let Some(q) = self.quorum.as_ref() {
            let data = q.verifier();
            self.tree.set_config(&data, self.config.config_version, super::core::now_ms());
        }
    }

    /// Every global session from the tree, each with a fresh timeout (a
    /// new leader gives clients their full timeout to come back).
    pub(crate) fn reset_sessions(&mut self) {
        let now = Instant::now();
        let mut sessions = SessionTracker::default();
        for (id, timeout) in self.tree.sessions() {
            sessions.add(*id, *timeout, None, now);
        }
        self.sessions = sessions;
    }

    /// The new epoch is in place: the vote we answer lookers with says so.
    pub(crate) fn update_election_vote(&mut self, epoch: i64) {
        if let Some(q) = self.quorum.as_ref() {
            q.vote_epoch.send_replace(Some(epoch));
        }
    }

    pub(crate) fn set_epoch(&mut self, name: &str, value: i64) {
        let dir = self.config.data_dir.join("version-2");
        if let Err(e) = epoch::write(&dir, name, value) {
            self.fatal = Some(ServerError::io(dir.join(name), e));
            return;
        }
        if let Some(q) = self.quorum.as_mut() {
            if name == epoch::ACCEPTED {
                q.accepted_epoch = value;
            } else {
                q.current_epoch = value;
            }
        }
    }
}
