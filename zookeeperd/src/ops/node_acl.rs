//! getACL and setACL.

use super::view::{Direct, View};
use super::{Ctx, Outcome, ReplyKind};
use crate::acl;
use crate::error::ZkError;
use crate::jute::records::{perms, Acl, Id};
use crate::jute::response::Response;
use crate::path;
use crate::txn::Txn;

pub fn prepare_set_acl(
    view: &mut impl View,
    auth: &[Id],
    path: &str,
    acl_in: &[Acl],
    version: i32,
) -> Result<Txn, ZkError> {
    path::validate(path)?;
    let acl = acl::fixup(acl_in, auth)?;
    let mut node = view.node(path).ok_or(ZkError::NoNode)?;
    acl::check(&node.acl, perms::ADMIN, auth)?;
    let version = super::data::next_version(node.stat.aversion, version)?;
    node.stat.aversion = version;
    node.acl = acl.clone().into();
    view.record(path, Some(node));
    Ok(Txn::SetAcl { path: path.to_string(), acl, version })
}

pub fn set_acl(ctx: &mut Ctx, path: &str, acl: Vec<Acl>, version: i32) -> Outcome {
    match prepare_set_acl(&mut Direct(ctx.tree), ctx.auth, path, &acl, version) {
        Ok(txn) => Outcome::Write(txn, ReplyKind::SetAcl),
        Err(e) => Outcome::write_error(e, ReplyKind::SetAcl),
    }
}

/// getACL needs READ or ADMIN. Without ADMIN, digest hashes are hidden
/// (reported as `user:x`), as ZooKeeper 3.8 does.
pub fn get_acl(ctx: &mut Ctx, path: &str) -> Outcome {
    let Some(n) = ctx.tree.get(path) else {
        return Outcome::Reply(Err(ZkError::NoNode));
    };
    if let Err(e) = acl::check(&n.acl, perms::READ | perms::ADMIN, ctx.auth) {
        return Outcome::Reply(Err(e));
    }
    let admin = acl::check(&n.acl, perms::ADMIN, ctx.auth).is_ok();
    let acls: Vec<Acl> = n
        .acl
        .iter()
        .map(|a| {
            if !admin && a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl { perms: a.perms, id: Id::new("digest", &format!("{user}:x")) }
            } else {
                a.clone()
            }
        })
        .collect();
    Outcome::Reply(Ok(Response::Acl(acls, n.stat())))
}
