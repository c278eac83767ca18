//! create, create2, createContainer, createTTL.

use super::view::{Direct, NodeView, View};
use super::{Ctx, Outcome, ReplyKind, Settings};
use crate::acl;
use crate::error::ZkError;
use crate::jute::records::{perms, Id};
use crate::jute::request::{op, CreateRequest};
use crate::path;
use crate::tree::ephemeral::{self, NodeKind};
use crate::tree::{parent_of, StatPersisted};
use crate::txn::Txn;

/// CreateMode flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode {
    ephemeral: bool,
    sequential: bool,
    container: bool,
    ttl: bool,
}

fn mode(flags: i32) -> Result<Mode, ZkError> {
    let m = |ephemeral, sequential, container, ttl| Mode { ephemeral, sequential, container, ttl };
    Ok(match flags {
        0 => m(false, false, false, false),
        1 => m(true, false, false, false),
        2 => m(false, true, false, false),
        3 => m(true, true, false, false),
        4 => m(false, false, true, false),
        5 => m(false, false, false, true),
        6 => m(false, true, false, true),
        _ => return Err(ZkError::BadArguments),
    })
}

pub fn handle(ctx: &mut Ctx, opcode: i32, req: CreateRequest) -> Outcome {
    let kind = ReplyKind::Create { opcode };
    let mut view = Direct(ctx.tree);
    match prepare(&mut view, ctx.auth, ctx.settings, ctx.session_id, ctx.ephemeral_error, opcode, &req) {
        Ok(txn) => Outcome::Write(txn, kind),
        Err(e) => Outcome::write_error(e, kind),
    }
}

/// Check a create against `view` and build its txn (PrepRequestProcessor's
/// order of checks, so the same error wins).
pub fn prepare(
    view: &mut impl View,
    auth: &[Id],
    settings: &Settings,
    session_id: i64,
    ephemeral_error: Option<ZkError>,
    opcode: i32,
    req: &CreateRequest,
) -> Result<Txn, ZkError> {
    let mode = mode(req.flags)?;
    if mode.ttl && !settings.extended_types {
        return Err(ZkError::Unimplemented);
    }
    let ttl = if opcode == op::CREATE_TTL { req.ttl.unwrap_or(-1) } else { -1 };
    if mode.ttl {
        if ttl <= 0 || ttl > ephemeral::MAX_TTL {
            return Err(ZkError::BadArguments);
        }
    } else if ttl >= 0 {
        return Err(ZkError::BadArguments);
    }
    if let (true, Some(e)) = (mode.ephemeral, ephemeral_error) {
        return Err(e);
    }
    let mut path = req.path.clone();
    if !path.contains('/') || path.contains('\0') {
        return Err(ZkError::BadArguments);
    }
    let acl = acl::fixup(&req.acl, auth)?;
    let parent_path = parent_of(&path).to_string();
    let parent = view.node(&parent_path).ok_or(ZkError::NoNode)?;
    acl::check(&parent.acl, perms::CREATE, auth)?;
    let parent_cversion = parent.stat.cversion;
    if mode.sequential {
        path = format!("{path}{parent_cversion:010}");
    }
    path::validate(&path)?;
    if view.node(&path).is_some() {
        return Err(ZkError::NodeExists);
    }
    if matches!(ephemeral::kind(parent.stat.ephemeral_owner), NodeKind::Ephemeral(_)) {
        return Err(ZkError::NoChildrenForEphemerals);
    }
    let owner = if mode.ephemeral {
        session_id
    } else if mode.container {
        ephemeral::CONTAINER
    } else if mode.ttl {
        ephemeral::ttl_owner(ttl)
    } else {
        0
    };
    let new_cversion = parent_cversion.wrapping_add(1);
    let mut parent_after = parent.clone();
    parent_after.stat.cversion = new_cversion;
    parent_after.num_children += 1;
    view.record(&parent_path, Some(parent_after));
    view.record(
        &path,
        Some(NodeView {
            stat: StatPersisted { ephemeral_owner: owner, ..Default::default() },
            acl: acl.clone().into(),
            num_children: 0,
        }),
    );
    Ok(Txn::Create { path, data: req.data.clone(), acl, ephemeral_owner: owner, parent_cversion: new_cversion })
}
