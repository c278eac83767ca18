//! delete, exists, getData, setData (and check, inside multi).

use super::view::{Direct, View};
use super::{Ctx, Outcome, ReplyKind};
use crate::acl;
use crate::error::ZkError;
use crate::jute::records::{perms, Id};
use crate::jute::response::Response;
use crate::path;
use crate::tree::parent_of;
use crate::txn::Txn;
use crate::watch::{Mode, Table};

/// expected -1 matches any version; the txn carries the next version.
pub fn next_version(current: i32, expected: i32) -> Result<i32, ZkError> {
    if expected != -1 && expected != current {
        return Err(ZkError::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

pub fn prepare_delete(view: &mut impl View, auth: &[Id], path: &str, version: i32) -> Result<Txn, ZkError> {
    // delete checks less than other writes: a slash, no NUL, and not the
    // root or a /zookeeper system node.
    if !path.contains('/') || path.contains('\0') || crate::tree::is_special_path(path) {
        return Err(ZkError::BadArguments);
    }
    let parent_path = parent_of(path).to_string();
    let parent = view.node(&parent_path).ok_or(ZkError::NoNode)?;
    acl::check(&parent.acl, perms::DELETE, auth)?;
    let node = view.node(path).ok_or(ZkError::NoNode)?;
    next_version(node.stat.version, version)?;
    if node.num_children > 0 {
        return Err(ZkError::NotEmpty);
    }
    let mut parent_after = parent;
    parent_after.num_children -= 1;
    view.record(&parent_path, Some(parent_after));
    view.record(path, None);
    Ok(Txn::Delete { path: path.to_string() })
}

pub fn prepare_set_data(
    view: &mut impl View,
    auth: &[Id],
    path: &str,
    data: Option<Vec<u8>>,
    version: i32,
) -> Result<Txn, ZkError> {
    path::validate(path)?;
    let mut node = view.node(path).ok_or(ZkError::NoNode)?;
    acl::check(&node.acl, perms::WRITE, auth)?;
    let version = next_version(node.stat.version, version)?;
    node.stat.version = version;
    view.record(path, Some(node));
    Ok(Txn::SetData { path: path.to_string(), data, version })
}

pub fn prepare_check(view: &mut impl View, auth: &[Id], path: &str, version: i32) -> Result<Txn, ZkError> {
    path::validate(path)?;
    let node = view.node(path).ok_or(ZkError::NoNode)?;
    acl::check(&node.acl, perms::READ, auth)?;
    next_version(node.stat.version, version)?;
    Ok(Txn::Check { path: path.to_string(), version })
}

pub fn delete(ctx: &mut Ctx, path: &str, version: i32) -> Outcome {
    match prepare_delete(&mut Direct(ctx.tree), ctx.auth, path, version) {
        Ok(txn) => Outcome::Write(txn, ReplyKind::Delete),
        Err(e) => Outcome::write_error(e, ReplyKind::Delete),
    }
}

pub fn set_data(ctx: &mut Ctx, path: &str, data: Option<Vec<u8>>, version: i32) -> Outcome {
    match prepare_set_data(&mut Direct(ctx.tree), ctx.auth, path, data, version) {
        Ok(txn) => Outcome::Write(txn, ReplyKind::SetData),
        Err(e) => Outcome::write_error(e, ReplyKind::SetData),
    }
}

/// exists registers its watch whether or not the node exists, so a client
/// can wait for a node to be created. Like the reference server (Debian's
/// 3.8.0) it checks no ACL; 3.8.4 added a READ check here.
pub fn exists(ctx: &mut Ctx, path: &str, watch: bool) -> Outcome {
    if path.contains('\0') {
        return Outcome::Reply(Err(ZkError::BadArguments));
    }
    if watch {
        ctx.watches.add(Table::Data, path, ctx.conn, Mode::Standard);
    }
    Outcome::Reply(ctx.tree.get(path).map(|n| Response::Stat(n.stat())).ok_or(ZkError::NoNode))
}

pub fn get_data(ctx: &mut Ctx, path: &str, watch: bool) -> Outcome {
    Outcome::Reply(read_data(ctx, path, watch).map(|(d, s)| Response::Data(d, s)))
}

/// getData's checks, shared with multiRead.
pub fn read_data(
    ctx: &mut Ctx,
    path: &str,
    watch: bool,
) -> Result<(Option<Vec<u8>>, crate::jute::records::Stat), ZkError> {
    let n = ctx.tree.get(path).ok_or(ZkError::NoNode)?;
    acl::check(&n.acl, perms::READ, ctx.auth)?;
    if watch {
        ctx.watches.add(Table::Data, path, ctx.conn, Mode::Standard);
    }
    Ok((n.data.as_ref().map(|d| d.to_vec()), n.stat()))
}
