//! How a leader brings a learner up to date from its committed history,
//! as Apache's LearnerHandler.syncFollower decides: the packets of a DIFF
//! or TRUNC sync, or a snapshot.

use std::collections::VecDeque;

use super::packet::{epoch_of, PacketType, QuorumPacket};

pub(super) enum SyncPlan {
    Packets(Vec<QuorumPacket>),
    Snapshot,
}

/// How to bring a learner whose last zxid is `peer` up to `last`, as
/// Apache's LearnerHandler.syncFollower and queueCommittedProposals decide
/// from the committed history: DIFF (plus what it lacks), TRUNC (to our
/// last, or to our txn before a divergent one of its own, then what it
/// lacks), or SNAP (too old, or a TRUNC would cross an epoch).
pub(super) fn plan_sync(history: &VecDeque<(i64, Vec<u8>)>, base: Option<i64>, last: i64, peer: i64) -> SyncPlan {
    let op = |kind, zxid| QuorumPacket::new(kind, zxid, None);
    let peer_new_epoch = peer & 0xffff_ffff == 0;
    let (min, max) = match (history.front(), history.back()) {
        (Some((a, _)), Some((b, _))) => (*a, *b),
        _ => (last, last),
    };
    if last == peer {
        return SyncPlan::Packets(vec![op(PacketType::Diff, peer)]);
    }
    if peer > max && !peer_new_epoch {
        return SyncPlan::Packets(vec![op(PacketType::Trunc, max)]);
    }
    // Exactly where the history begins: all of it, as a DIFF.
    if base == Some(peer) && peer < min {
        let mut out = vec![op(PacketType::Diff, max)];
        for (z, txn) in history {
            out.push(QuorumPacket::new(PacketType::Proposal, *z, Some(txn.clone())));
            out.push(op(PacketType::Commit, *z));
        }
        return SyncPlan::Packets(out);
    }
    if !(min <= peer && peer <= max) {
        return SyncPlan::Snapshot;
    }
    let mut out = Vec::new();
    let mut need_op = true;
    let mut prev = -1;
    let mut queued = peer;
    for (z, txn) in history {
        let z = *z;
        if z < peer {
            prev = z;
            continue;
        }
        if need_op {
            if z == peer {
                out.push(op(PacketType::Diff, max));
                need_op = false;
                continue;
            }
            if peer_new_epoch {
                out.push(op(PacketType::Diff, max));
                need_op = false;
            } else if z > peer {
                if epoch_of(z) != epoch_of(peer) {
                    return SyncPlan::Snapshot;
                }
                out.push(op(PacketType::Trunc, prev));
                need_op = false;
            }
        }
        if z <= queued {
            continue;
        }
        out.push(QuorumPacket::new(PacketType::Proposal, z, Some(txn.clone())));
        out.push(op(PacketType::Commit, z));
        queued = z;
    }
    if need_op && peer_new_epoch {
        out.push(op(PacketType::Diff, max));
        need_op = false;
    }
    if need_op {
        return SyncPlan::Snapshot;
    }
    SyncPlan::Packets(out)
}
