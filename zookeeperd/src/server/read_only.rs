//! Read-only mode (readonlymode.enabled), as Apache's
//! ReadOnlyZooKeeperServer: a member that has looked for a leader past the
//! grace period serves clients that said they can take a read-only server.
//! Their sessions are local to this server (nothing is logged), reads are
//! answered from its tree, writes fail with NotReadOnly. A leader found
//! again closes them (`ensemble::leave_read_only`).

use std::time::Instant;

use super::core::Core;
use super::Outbound;
use crate::error::ZkError;
use crate::jute::encode_framed;
use crate::jute::records::{ConnectRequest, ConnectResponse};
use crate::jute::request::Request;
use crate::jute::response::Response;
use crate::watch::ConnId;

impl Core {
    pub(crate) fn read_only_connect(&mut self, conn: ConnId, req: ConnectRequest, timeout: i32) {
        if req.read_only != Some(true) {
            tracing::info!(conn, "refusing a session from a client that cannot use a read-only server");
            self.send(conn, Outbound::Close);
            return;
        }
        let now = Instant::now();
        let id = if req.session_id == 0 {
            let id = self.next_session_id;
            self.next_session_id += 1;
            self.sessions.add(id, timeout, Some(conn), now);
            id
        } else {
            // A session from before the partition keeps its ephemerals
            // visible here; an unknown one is expired.
            let id = req.session_id;
            let known = self.sessions.get(id).is_some_and(|s| !s.closing);
            if !known || req.passwd != super::session::password(id) {
                let resp = ConnectResponse::expired(Some(true));
                self.send(conn, Outbound::Frame(encode_framed(&[&resp])));
                self.send(conn, Outbound::Close);
                return;
            }
            if let Some(s) = self.sessions.get_mut(id) {
                s.conn = Some(conn);
            }
            self.sessions.touch(id, now);
            id
        };
        tracing::info!(conn, session = format_args!("0x{id:x}"), "read-only session");
        self.session_ready(conn, id, timeout, Some(true));
    }

    /// A write on a read-only server: NotReadOnly. closeSession ends the
    /// local session.
    pub(crate) fn read_only_write(&mut self, conn: ConnId, session: i64, xid: i32, req: &Request, received: Instant) {
        if matches!(req, Request::CloseSession) {
            self.sessions.remove(session);
            self.reply(conn, xid, Ok(Response::Empty), Some(received));
            self.send(conn, Outbound::Close);
            return;
        }
        self.reply(conn, xid, Err(ZkError::NotReadOnly), Some(received));
    }
}
