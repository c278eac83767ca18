//! getChildren, getChildren2, getAllChildrenNumber, getEphemerals.

use super::{Ctx, Outcome};
use crate::acl;
use crate::error::ZkError;
use crate::jute::records::perms;
use crate::jute::response::Response;
use crate::watch::{Mode, Table};

pub fn get_children(ctx: &mut Ctx, path: &str, watch: bool, with_stat: bool) -> Outcome {
    Outcome::Reply(read_children(ctx, path, watch).map(|(c, s)| {
        if with_stat {
            Response::Children2(c, s)
        } else {
            Response::Children(c)
        }
    }))
}

/// getChildren's checks, shared with multiRead.
pub fn read_children(
    ctx: &mut Ctx,
    path: &str,
    watch: bool,
) -> Result<(Vec<String>, crate::jute::records::Stat), ZkError> {
    let n = ctx.tree.get(path).ok_or(ZkError::NoNode)?;
    acl::check(&n.acl, perms::READ, ctx.auth)?;
    if watch {
        ctx.watches.add(Table::Child, path, ctx.conn, Mode::Standard);
    }
    Ok((n.children.iter().map(|c| c.to_string()).collect(), n.stat()))
}

pub fn all_children_number(ctx: &mut Ctx, path: &str) -> Outcome {
    let Some(n) = ctx.tree.get(path) else {
        return Outcome::Reply(Err(ZkError::NoNode));
    };
    if let Err(e) = acl::check(&n.acl, perms::READ, ctx.auth) {
        return Outcome::Reply(Err(e));
    }
    Outcome::Reply(Ok(Response::Int(ctx.tree.descendant_count(path))))
}

/// The caller's own ephemerals under `prefix` (all of them for "/").
pub fn ephemerals(ctx: &mut Ctx, prefix: &str) -> Outcome {
    let list: Vec<String> = ctx
        .tree
        .ephemerals_of(ctx.session_id)
        .map(|s| s.iter().filter(|p| prefix == "/" || p.starts_with(prefix)).cloned().collect())
        .unwrap_or_default();
    Outcome::Reply(Ok(Response::Strings(list)))
}
