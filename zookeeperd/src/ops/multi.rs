//! multi (atomic writes and checks) and multiRead (independent reads).

use super::view::Overlay;
use super::{children, create, data, op_result, Ctx, Outcome, ReplyKind};
use crate::error::ZkError;
use crate::jute::request::{op, MultiOp};
use crate::jute::response::{OpResult, Response};
use crate::tree::Applied;
use crate::txn::Txn;

pub(crate) fn opcode_of(o: &MultiOp) -> i32 {
    match o {
        MultiOp::Create { opcode, .. } => *opcode,
        MultiOp::Delete { .. } => op::DELETE,
        MultiOp::SetData { .. } => op::SET_DATA,
        MultiOp::Check { .. } => op::CHECK,
        MultiOp::GetChildren { .. } => op::GET_CHILDREN,
        MultiOp::GetData { .. } => op::GET_DATA,
    }
}

/// Prepare every op against the tree plus the earlier ops. On the first
/// failure nothing is applied: earlier ops report 0, the failing op its
/// code, later ops RuntimeInconsistency; the multi is still logged.
pub fn multi(ctx: &mut Ctx, ops: Vec<MultiOp>) -> Outcome {
    let opcodes: Vec<i32> = ops.iter().map(opcode_of).collect();
    let mut view = Overlay::new(ctx.tree);
    let mut txns = Vec::with_capacity(ops.len());
    let mut failed: Option<(usize, ZkError)> = None;
    for (i, o) in ops.iter().enumerate() {
        let r = match o {
            MultiOp::Create { opcode, req } => {
                create::prepare(&mut view, ctx.auth, ctx.settings, ctx.session_id, ctx.ephemeral_error, *opcode, req)
            }
            MultiOp::Delete { path, version } => data::prepare_delete(&mut view, ctx.auth, path, *version),
            MultiOp::SetData { path, data: d, version } => {
                data::prepare_set_data(&mut view, ctx.auth, path, d.clone(), *version)
            }
            MultiOp::Check { path, version } => data::prepare_check(&mut view, ctx.auth, path, *version),
            MultiOp::GetChildren { .. } | MultiOp::GetData { .. } => Err(ZkError::BadArguments),
        };
        match r {
            Ok(t) => txns.push(t),
            Err(e) => {
                failed = Some((i, e));
                break;
            }
        }
    }
    if let Some((at, err)) = failed {
        let errs = (0..ops.len())
            .map(|i| {
                Txn::Error(match i.cmp(&at) {
                    std::cmp::Ordering::Less => 0,
                    std::cmp::Ordering::Equal => err.code(),
                    std::cmp::Ordering::Greater => ZkError::RuntimeInconsistency.code(),
                })
            })
            .collect();
        return Outcome::Write(Txn::Multi(errs), ReplyKind::Multi(opcodes));
    }
    Outcome::Write(Txn::Multi(txns), ReplyKind::Multi(opcodes))
}

pub fn results(applied: Vec<Result<Applied, ZkError>>, opcodes: &[i32]) -> Vec<OpResult> {
    applied.into_iter().enumerate().map(|(i, a)| op_result(a, opcodes.get(i).copied().unwrap_or(op::ERROR))).collect()
}

/// Each read stands alone; a failure is reported in its slot.
pub fn multi_read(ctx: &mut Ctx, ops: Vec<MultiOp>) -> Outcome {
    let mut out = Vec::with_capacity(ops.len());
    for o in ops {
        let r = match o {
            // multiRead discards the ops' watch flags, as ZooKeeper does.
            MultiOp::GetChildren { path, .. } => {
                children::read_children(ctx, &path, false).map(|(children, _)| OpResult::GetChildren { children })
            }
            MultiOp::GetData { path, .. } => {
                data::read_data(ctx, &path, false).map(|(data, stat)| OpResult::GetData { data, stat })
            }
            _ => Err(ZkError::BadArguments),
        };
        out.push(r.unwrap_or_else(|e| OpResult::Error { err: e.code() }));
    }
    Outcome::Reply(Ok(Response::Multi(out)))
}
