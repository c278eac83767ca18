//! Local sessions (`localSessionsEnabled`), as Apache's
//! LearnerSessionTracker / LeaderSessionTracker keep them: in an ensemble a
//! new session lives on the server that made it, opened and closed with no
//! txn and expired there, and cannot move to another server. An ephemeral
//! create needs a global session: with `localSessionsUpgradingEnabled` the
//! session is upgraded first (a createSession txn for the same id, ahead of
//! the create), else the create fails with EphemeralOnLocalSession.

use std::time::Instant;

use super::core::Core;
use super::role::Role;
use super::Outbound;
use crate::error::ZkError;
use crate::jute::request::{op, MultiOp, Request};
use crate::jute::response::Response;
use crate::quorum::packet::{ForwardedRequest, PacketType, QuorumPacket};
use crate::txn::Txn;
use crate::watch::ConnId;

/// CreateMode.isEphemeral: EPHEMERAL and EPHEMERAL_SEQUENTIAL.
fn ephemeral_flags(flags: i32) -> bool {
    matches!(flags, 1 | 3)
}

/// ZooKeeperServer.checkUpgradeSession's test: a create or create2 of an
/// ephemeral, alone or in a multi.
fn creates_ephemeral(req: &Request) -> bool {
    match req {
        Request::Create { opcode, req } => matches!(*opcode, op::CREATE | op::CREATE2) && ephemeral_flags(req.flags),
        Request::Multi { ops, .. } => ops.iter().any(|o| {
            matches!(o, MultiOp::Create { opcode, req } if matches!(*opcode, op::CREATE | op::CREATE2) && ephemeral_flags(req.flags))
        }),
        _ => false,
    }
}

/// What becomes of a request once its session was looked at.
pub(crate) enum LocalOutcome {
    /// Answered here (a local session's close).
    Answered,
    /// Goes on as usual; `Some`: the reply if the leader's txn fails.
    Continue(Option<ZkError>),
}

impl Core {
    /// New sessions are local here: an ensemble member with
    /// localSessionsEnabled (a standalone server has none, as Apache's).
    pub(crate) fn local_sessions(&self) -> bool {
        self.config.local_sessions && self.quorum.is_some()
    }

    /// A new local session, answered at once.
    pub(crate) fn open_local_session(&mut self, conn: ConnId, timeout: i32, read_only: Option<bool>) {
        let id = self.next_session_id;
        self.next_session_id += 1;
        self.sessions.add_local(id, timeout, Some(conn), Instant::now());
        tracing::info!(conn, session = format_args!("0x{id:x}"), timeout, "local session established");
        self.session_ready(conn, id, timeout, read_only);
    }

    /// A request of a local session: its close is answered here (no
    /// txn). An ephemeral create first upgrades the session, or
    /// (upgrading off) goes on to fail as Apache's does: on the leader the
    /// prepare refuses it (`Ctx::ephemeral_error`); a learner forwards it
    /// all the same and answers EphemeralOnLocalSession when the leader's
    /// txn fails (for a single create; a multi gets the leader's results).
    pub(crate) fn local_session_request(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        req: &Request,
        received: Instant,
    ) -> LocalOutcome {
        if !self.sessions.is_local(session_id) {
            return LocalOutcome::Continue(None);
        }
        if matches!(req, Request::CloseSession) {
            self.sessions.remove(session_id);
            tracing::info!(conn, session = format_args!("0x{session_id:x}"), "local session closed by client");
            self.reply(conn, xid, Ok(Response::Empty), Some(received));
            self.send(conn, Outbound::Close);
            return LocalOutcome::Answered;
        }
        if !creates_ephemeral(req) {
            return LocalOutcome::Continue(None);
        }
        if self.config.local_sessions_upgrading {
            self.upgrade_session(session_id);
            return LocalOutcome::Continue(None);
        }
        let single = matches!(req, Request::Create { .. });
        LocalOutcome::Continue(
            (single && matches!(self.role, Role::Following(_))).then_some(ZkError::EphemeralOnLocalSession),
        )
    }

    /// Make a local session global: a createSession txn for its id, on the
    /// leader committed here, on a learner sent to the leader ahead of the
    /// request that needed it.
    fn upgrade_session(&mut self, session_id: i64) {
        let Some(s) = self.sessions.get_mut(session_id) else { return };
        s.local = false;
        let timeout = s.timeout.as_millis().min(i32::MAX as u128) as i32;
        tracing::info!(session = format_args!("0x{session_id:x}"), timeout, "upgrading local session to global");
        match &self.role {
            Role::Leading(_) => {
                let _ = self.commit(session_id, 0, Txn::CreateSession { timeout });
            }
            Role::Following(_) => {
                let body = timeout.to_be_bytes().to_vec();
                let data = ForwardedRequest { session_id, cxid: 0, opcode: op::CREATE_SESSION, body }.to_bytes();
                self.to_leader(&QuorumPacket { kind: PacketType::Request, zxid: -1, data: Some(data), authinfo: None });
            }
            _ => {}
        }
    }

    /// LeaderSessionTracker.checkSession: with local sessions on, a session
    /// the leader does not know may be another server's local one.
    pub(crate) fn maybe_remote_local_session(&self, session_id: i64) -> bool {
        let my_id = self.quorum.as_ref().map_or(0, |q| q.sid);
        self.local_sessions() && ((session_id as u64) >> 56) as i64 != my_id
    }
}
