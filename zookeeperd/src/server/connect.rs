//! A client's connect and disconnect as the core sees them: a new
//! session (committed here, or created through the leader when following,
//! or local when read-only or with localSessionsEnabled), a returning one
//! (password, then revalidated unless it is local here),
//! and the connection's end (its watches go; its session lives on).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::core::Core;
use super::role::Role;
use super::session::password;
use super::{ConnInfo, Outbound};
use crate::jute::encode_framed;
use crate::jute::records::{ConnectRequest, ConnectResponse, Id};
use crate::txn::Txn;
use crate::watch::ConnId;

impl Core {
    pub(crate) fn connect(
        &mut self,
        conn: ConnId,
        remote: SocketAddr,
        tx: super::outbound::OutboundTx,
        req: ConnectRequest,
    ) {
        let auth = vec![Id::new("ip", &remote.ip().to_string())];
        self.conns.insert(conn, ConnInfo::new(tx, remote, auth));
        self.stats.packets_received += 1;
        if !self.serving() {
            // As Apache: "ZooKeeperServer not running"; the client tries
            // another server.
            tracing::debug!(conn, "refusing a client: not serving (no leader yet)");
            self.send(conn, Outbound::Close);
            return;
        }
        let last = self.tree.last_zxid();
        if req.last_zxid_seen > last {
            tracing::info!(
                conn,
                client_zxid = req.last_zxid_seen,
                last,
                "refusing session: client has seen a later zxid"
            );
            self.send(conn, Outbound::Close);
            return;
        }
        let timeout =
            (req.timeout.max(0) as u32).clamp(self.config.min_session_timeout, self.config.max_session_timeout) as i32;
        let now = Instant::now();
        let read_only = req.read_only.map(|_| false);
        if self.read_only() {
            self.read_only_connect(conn, req, timeout);
            return;
        }
        if req.session_id == 0 && self.local_sessions() {
            self.open_local_session(conn, timeout, read_only);
            return;
        }
        if matches!(self.role, Role::Following(_)) && !self.sessions.is_local(req.session_id) {
            self.follower_connect(conn, req, timeout, read_only);
            return;
        }
        let session_id = if req.session_id == 0 {
            let id = self.next_session_id;
            self.next_session_id += 1;
            let _ = self.commit(id, 0, Txn::CreateSession { timeout });
            self.sessions.add(id, timeout, Some(conn), now);
            tracing::info!(conn, session = format_args!("0x{id:x}"), timeout, "session established");
            id
        } else {
            let id = req.session_id;
            // Like ZooKeeper, drop the session's current connection before
            // checking the password.
            let old = self.sessions.get(id).and_then(|s| s.conn);
            if let Some(old) = old.filter(|o| *o != conn) {
                self.send(old, Outbound::Close);
            }
            // A local session comes back only to the server that holds it.
            let known = self.tree.sessions().contains_key(&id) || self.sessions.is_local(id);
            let valid = known && req.passwd == password(id) && self.sessions.get(id).is_some_and(|s| !s.closing);
            if !valid {
                tracing::info!(conn, session = format_args!("0x{id:x}"), "invalid or expired session");
                let resp = ConnectResponse::expired(read_only);
                self.send(conn, Outbound::Frame(encode_framed(&[&resp])));
                self.send(conn, Outbound::Close);
                return;
            }
            if let Some(s) = self.sessions.get_mut(id) {
                s.conn = Some(conn);
                s.timeout = Duration::from_millis(timeout as u64);
            }
            self.sessions.touch(id, now);
            tracing::info!(conn, session = format_args!("0x{id:x}"), "session re-established");
            id
        };
        self.session_ready(conn, session_id, timeout, read_only);
    }

    /// Answer a connect with its session.
    pub(crate) fn session_ready(&mut self, conn: ConnId, session_id: i64, timeout: i32, read_only: Option<bool>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session_id = session_id;
            c.timeout = timeout;
        }
        let resp =
            ConnectResponse { protocol_version: 0, timeout, session_id, passwd: password(session_id), read_only };
        self.send(conn, Outbound::Frame(encode_framed(&[&resp])));
    }

    pub(crate) fn disconnected(&mut self, conn: ConnId) {
        self.follower_disconnected(conn);
        if let Some(info) = self.conns.remove(&conn) {
            self.watches.remove_conn(conn);
            if let Some(s) = self.sessions.get_mut(info.session_id) {
                if s.conn == Some(conn) {
                    s.conn = None;
                }
            }
        }
    }
}
