//! reconfig: a new membership, checked as Apache's PrepRequestProcessor
//! checks it and written as a txn the leader proposes to both the old and
//! the new quorum. Only a leader prepares it (followers forward writes);
//! a standalone server answers Unimplemented.

use std::collections::BTreeSet;

use super::{Ctx, Outcome, ReplyKind};
use crate::acl;
use crate::error::ZkError;
use crate::jute::records::perms;
use crate::quorum::membership::Membership;
use crate::quorum::Sid;
use crate::tree::CONFIG_PATH;
use crate::txn::Txn;

/// What the leader knows that a reconfig is checked against.
#[derive(Debug, Clone)]
pub struct QuorumView {
    /// The committed membership.
    pub committed: Membership,
    /// The newest proposed one (a reconfig in flight), else the committed.
    pub last_seen: Membership,
    /// Us and the learners in sync that vote (Apache's isQuorumSynced).
    pub synced: BTreeSet<Sid>,
    /// The zxid the reconfig's txn will take: the new version.
    pub next_zxid: i64,
}

pub struct ReconfigRequest<'r> {
    pub joining: Option<&'r str>,
    pub leaving: Option<&'r str>,
    pub new_members: Option<&'r str>,
    pub cur_config_id: i64,
}

pub fn reconfig(ctx: &mut Ctx, r: ReconfigRequest) -> Outcome {
    match prepare(ctx, r) {
        Ok(txn) => Outcome::Write(txn, ReplyKind::Reconfig),
        Err(e) => Outcome::write_error(e, ReplyKind::Reconfig),
    }
}

fn prepare(ctx: &mut Ctx, r: ReconfigRequest) -> Result<Txn, ZkError> {
    if !ctx.settings.reconfig_enabled {
        return Err(ZkError::ReconfigDisabled);
    }
    let Some(q) = ctx.quorum else {
        // Apache: "standalone mode - reconfiguration currently not supported".
        return Err(ZkError::Unimplemented);
    };
    if q.last_seen.version != q.committed.version {
        return Err(ZkError::ReconfigInProgress);
    }
    if r.cur_config_id != -1 && r.cur_config_id != q.last_seen.version {
        return Err(ZkError::BadVersion);
    }
    let mut next = match r.new_members {
        Some(members) => Membership::parse(members),
        None => q.last_seen.incremental(r.joining, r.leaving),
    }
    .map_err(|e| {
        tracing::warn!(error = %e, "reconfig refused");
        ZkError::BadArguments
    })?;
    next.version = q.next_zxid;
    let voters = next.voters();
    let least = if ctx.settings.standalone_enabled { 2 } else { 1 };
    if voters.len() < least {
        tracing::warn!(voters = voters.len(), least, "reconfig refused: too few voters in the new configuration");
        return Err(ZkError::BadArguments);
    }
    if voters.intersection(&q.synced).count() * 2 <= voters.len() {
        return Err(ZkError::NewConfigNoQuorum);
    }
    let node = ctx.tree.get(CONFIG_PATH).ok_or(ZkError::NoNode)?;
    acl::check(&node.acl, perms::WRITE, ctx.auth)?;
    Ok(Txn::Reconfig { data: next.verifier().into_bytes() })
}
