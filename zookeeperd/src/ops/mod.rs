//! Request handlers, one file per opcode family, registered in `route`.
//!
//! Reads are answered here against the tree. Writes are *prepared*: checked
//! against the tree (or, inside multi, against the tree plus the multi's own
//! earlier ops) and turned into a `Txn`, which the core logs, fsyncs and
//! applies. As in ZooKeeper, a write that fails its checks still becomes a
//! logged error txn and takes a zxid.

pub mod children;
pub mod create;
pub mod data;
pub mod multi;
pub mod node_acl;
pub mod reconfig;
pub mod session;
pub mod view;
pub mod watches;

use crate::error::ZkError;
use crate::jute::records::Id;
use crate::jute::request::Request;
use crate::jute::response::{OpResult, Response};
use crate::tree::{Applied, DataTree};
use crate::txn::Txn;
use crate::watch::{ConnId, Notification, WatchManager};

/// Server settings the handlers need.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// zookeeper.extendedTypesEnabled: TTL nodes.
    pub extended_types: bool,
    /// zookeeper.DigestAuthenticationProvider.superDigest.
    pub super_digest: Option<String>,
    /// reconfigEnabled.
    pub reconfig_enabled: bool,
    /// standaloneEnabled: a reconfig must then leave two voters.
    pub standalone_enabled: bool,
}

/// What a handler sees of the server and of the calling connection.
pub struct Ctx<'a> {
    pub tree: &'a DataTree,
    pub watches: &'a mut WatchManager,
    pub conn: ConnId,
    pub session_id: i64,
    pub auth: &'a mut Vec<Id>,
    pub settings: &'a Settings,
    /// Notifications produced directly by a request (setWatches).
    pub events: &'a mut Vec<Notification>,
    /// Why an ephemeral create fails for this session, if it must: a local
    /// session's (EphemeralOnLocalSession), or one the leader does not
    /// hold as global (SessionExpired), as PrepRequestProcessor checks.
    pub ephemeral_error: Option<ZkError>,
    /// The leader's view of the ensemble, for a reconfig (`None`:
    /// standalone, or not a reconfig).
    pub quorum: Option<&'a reconfig::QuorumView>,
}

/// How the reply to a logged write is built once it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    Create {
        opcode: i32,
    },
    Delete,
    SetData,
    SetAcl,
    Check,
    Reconfig,
    /// The opcode of each sub-op, to type its result.
    Multi(Vec<i32>),
    CloseSession,
}

/// What the core does with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer now.
    Reply(Result<Response, ZkError>),
    /// Log `Txn`, apply it, then answer.
    Write(Txn, ReplyKind),
    /// Answer with this error, then close the connection.
    ReplyAndClose(ZkError),
    /// Authentication failed: AuthFailed on the auth xid, then close.
    AuthFailed,
}

impl Outcome {
    /// A failed write: still logged as an error txn.
    pub fn write_error(e: ZkError, kind: ReplyKind) -> Outcome {
        Outcome::Write(Txn::Error(e.code()), kind)
    }
}

/// The route table: one entry per opcode family.
pub fn route(ctx: &mut Ctx, req: Request) -> Outcome {
    match req {
        Request::Create { opcode, req } => create::handle(ctx, opcode, req),
        Request::Delete { path, version } => data::delete(ctx, &path, version),
        Request::DeleteContainer { path } => data::delete(ctx, &path, -1),
        Request::Exists { path, watch } => data::exists(ctx, &path, watch),
        Request::GetData { path, watch } => data::get_data(ctx, &path, watch),
        Request::SetData { path, data, version } => data::set_data(ctx, &path, data, version),
        Request::Check { .. } => Outcome::ReplyAndClose(ZkError::Unimplemented),
        Request::GetAcl { path } => node_acl::get_acl(ctx, &path),
        Request::SetAcl { path, acl, version } => node_acl::set_acl(ctx, &path, acl, version),
        Request::GetChildren { path, watch, with_stat } => children::get_children(ctx, &path, watch, with_stat),
        Request::GetAllChildrenNumber { path } => children::all_children_number(ctx, &path),
        Request::GetEphemerals { prefix } => children::ephemerals(ctx, &prefix),
        Request::Multi { read_only: false, ops } => multi::multi(ctx, ops),
        Request::Multi { read_only: true, ops } => multi::multi_read(ctx, ops),
        // An undecodable write still takes a zxid; a read does not.
        ref m @ Request::Malformed { .. } if m.is_write() => {
            Outcome::write_error(ZkError::MarshallingError, ReplyKind::Check)
        }
        Request::Malformed { .. } => Outcome::Reply(Err(ZkError::MarshallingError)),
        Request::AddWatch { path, mode } => watches::add_watch(ctx, &path, mode),
        Request::CheckWatches { path, watch_type, remove } => watches::check_watches(ctx, &path, watch_type, remove),
        Request::SetWatches(sw) => watches::set_watches(ctx, sw),
        Request::Sync { path } => session::sync(&path),
        Request::Ping => Outcome::Reply(Ok(Response::Empty)),
        Request::Auth { scheme, auth, .. } => session::auth(ctx, &scheme, &auth),
        Request::WhoAmI => session::who_am_i(ctx),
        Request::CloseSession => Outcome::Write(Txn::CloseSession { paths: None }, ReplyKind::CloseSession),
        Request::Reconfig { joining, leaving, new_members, cur_config_id } => {
            let r = reconfig::ReconfigRequest {
                joining: joining.as_deref(),
                leaving: leaving.as_deref(),
                new_members: new_members.as_deref(),
                cur_config_id,
            };
            reconfig::reconfig(ctx, r)
        }
        Request::Sasl => Outcome::ReplyAndClose(ZkError::Unimplemented),
    }
}

/// How the reply to a write is typed, from the request alone: a follower
/// forwards the write and builds its reply from the leader's commit.
pub fn reply_kind(req: &Request) -> ReplyKind {
    match req {
        Request::Create { opcode, .. } => ReplyKind::Create { opcode: *opcode },
        Request::Delete { .. } | Request::DeleteContainer { .. } => ReplyKind::Delete,
        Request::SetData { .. } => ReplyKind::SetData,
        Request::SetAcl { .. } => ReplyKind::SetAcl,
        Request::Multi { ops, .. } => ReplyKind::Multi(ops.iter().map(multi::opcode_of).collect()),
        Request::CloseSession => ReplyKind::CloseSession,
        Request::Reconfig { .. } => ReplyKind::Reconfig,
        _ => ReplyKind::Check,
    }
}

/// Turn an applied txn into the client's reply.
pub fn build_reply(kind: &ReplyKind, applied: Result<Applied, ZkError>) -> Result<Response, ZkError> {
    let applied = applied?;
    if let Applied::Error(code) = applied {
        return Err(ZkError::from_code(code).unwrap_or(ZkError::SystemError));
    }
    match (kind, applied) {
        (ReplyKind::Create { opcode }, Applied::Created { path, stat }) => {
            if *opcode == crate::jute::request::op::CREATE {
                Ok(Response::Path(path))
            } else {
                Ok(Response::PathStat(path, stat))
            }
        }
        (ReplyKind::Delete, Applied::Deleted) => Ok(Response::Empty),
        (ReplyKind::SetData, Applied::SetData { stat }) => Ok(Response::Stat(stat)),
        (ReplyKind::SetAcl, Applied::SetAcl { stat }) => Ok(Response::Stat(stat)),
        (ReplyKind::Reconfig, Applied::Reconfig { data, stat }) => Ok(Response::Data(Some(data), stat)),
        (ReplyKind::Check, Applied::Checked) => Ok(Response::Empty),
        (ReplyKind::CloseSession, Applied::SessionClosed) => Ok(Response::Empty),
        (ReplyKind::Multi(opcodes), Applied::Multi(results)) => Ok(Response::Multi(multi::results(results, opcodes))),
        _ => Err(ZkError::SystemError),
    }
}

/// Multi results from applied sub-txns (shared with multi.rs).
pub(crate) fn op_result(applied: Result<Applied, ZkError>, opcode: i32) -> OpResult {
    match applied {
        Ok(Applied::Created { path, stat }) => {
            // Every create but plain create answers as create2, with a Stat.
            use crate::jute::request::op;
            if opcode == op::CREATE {
                OpResult::Create { opcode, path, stat: None }
            } else {
                OpResult::Create { opcode: op::CREATE2, path, stat: Some(stat) }
            }
        }
        Ok(Applied::Deleted) => OpResult::Delete,
        Ok(Applied::SetData { stat }) => OpResult::SetData { stat },
        Ok(Applied::Checked) => OpResult::Check,
        Ok(Applied::Error(err)) => OpResult::Error { err },
        Ok(_) => OpResult::Error { err: ZkError::SystemError.code() },
        Err(e) => OpResult::Error { err: e.code() },
    }
}
