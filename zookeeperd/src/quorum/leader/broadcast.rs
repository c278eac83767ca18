//! The leader's broadcast phase: proposals, acks, and commits in zxid order
//! once a quorum (of both memberships while a reconfig is in flight) has
//! logged them; a reconfig's commit names the new membership's leader.

use std::collections::BTreeSet;

use super::{forwards, send, Action, Leader, COMMIT_LOG_COUNT};
use crate::quorum::packet::{make_zxid, PacketType, QuorumPacket};
use crate::quorum::Sid;

/// Whether `acks` hold a majority of `voters`.
pub(super) fn quorum_of(voters: &BTreeSet<Sid>, acks: &BTreeSet<Sid>) -> bool {
    acks.iter().filter(|s| voters.contains(s)).count() * 2 > voters.len()
}

/// A proposal in flight: its txn, who logged it, and the second
/// membership it needs a quorum of while a reconfig is in flight.
#[derive(Debug)]
pub(super) struct Proposal {
    pub(super) txn: Vec<u8>,
    pub(super) acks: BTreeSet<Sid>,
    pub(super) also: Option<BTreeSet<Sid>>,
}

impl Leader {
    pub fn next_zxid(&self) -> i64 {
        make_zxid(self.epoch, self.next_counter)
    }

    /// Propose a txn (its bytes must carry `next_zxid()` in their header);
    /// a reconfig names its membership's voters. `None` unless we are
    /// serving.
    pub fn propose(&mut self, txn: Vec<u8>, reconfig: Option<BTreeSet<Sid>>) -> Option<(i64, Vec<Action>)> {
        if !self.serving {
            return None;
        }
        let zxid = self.next_zxid();
        self.next_counter += 1;
        let mut out = vec![Action::Log { zxid, txn: txn.clone() }];
        for (conn, l) in &self.learners {
            if forwards(l.stage) && !l.observer {
                let packet = QuorumPacket::new(PacketType::Proposal, zxid, Some(txn.clone()));
                out.push(Action::Send { to: *conn, packet });
            }
        }
        if let Some(voters) = reconfig {
            self.next_voters = Some((zxid, voters));
        }
        let also = self.next_voters.as_ref().map(|(_, v)| v.clone());
        self.outstanding.insert(zxid, Proposal { txn, acks: BTreeSet::new(), also });
        Some((zxid, out))
    }

    /// Our log is durable up to `zxid`: our own ack of every proposal up
    /// to it.
    pub fn logged(&mut self, zxid: i64) -> Vec<Action> {
        let mut out = Vec::new();
        let mine: Vec<i64> = self.outstanding.range(..=zxid).map(|(z, _)| *z).collect();
        for z in mine {
            self.ack(self.cfg.sid, z, &mut out);
        }
        out
    }

    /// The SYNC a learner forwarded completes once everything proposed so
    /// far has committed (Apache's processSync): `Some(now)` if nothing is
    /// outstanding, else the zxid whose commit releases it.
    pub fn sync_point(&self) -> Option<i64> {
        self.outstanding.keys().next_back().copied()
    }

    pub(super) fn last_proposed(&self) -> i64 {
        self.outstanding.keys().next_back().copied().unwrap_or(self.last_committed)
    }

    /// Who leads a new membership (Apache's getDesignatedLeader): we, if we
    /// vote in it, else a voter of it that logged the reconfig.
    fn designated(&self, voters: &BTreeSet<Sid>, acks: &BTreeSet<Sid>) -> Sid {
        if voters.contains(&self.cfg.sid) {
            return self.cfg.sid;
        }
        acks.iter().copied().find(|s| voters.contains(s) && *s != self.cfg.sid).unwrap_or(self.cfg.sid)
    }

    /// An ack of `zxid` from `sid`; commit what a quorum has, in order.
    pub(super) fn ack(&mut self, sid: Sid, zxid: i64, out: &mut Vec<Action>) {
        // Acks of an epoch's start (NEWLEADER, UPTODATE) carry counter 0.
        if zxid & 0xffff_ffff == 0 {
            return;
        }
        if let Some(p) = self.outstanding.get_mut(&zxid) {
            p.acks.insert(sid);
        }
        while let Some((&z, p)) = self.outstanding.iter().next() {
            if !self.quorum(&p.acks) || p.also.as_ref().is_some_and(|v| !quorum_of(v, &p.acks)) {
                break;
            }
            let Some(p) = self.outstanding.remove(&z) else { break };
            let txn = p.txn;
            let activate = match &self.next_voters {
                Some((rz, voters)) if *rz == z => Some((voters.clone(), self.designated(voters, &p.acks))),
                _ => None,
            };
            // COMMIT (or INFORM) before our own Commit: what the driver
            // sends on it (a learner's SYNC answer) must follow the COMMIT.
            // A reconfig's names the leader of the new membership.
            for (conn, l) in &self.learners {
                if !forwards(l.stage) {
                    continue;
                }
                out.push(match (&activate, l.observer) {
                    (None, true) => send(*conn, PacketType::Inform, z, Some(txn.clone())),
                    (None, false) => send(*conn, PacketType::Commit, z, None),
                    (Some((_, d)), true) => {
                        let mut data = d.to_be_bytes().to_vec();
                        data.extend_from_slice(&txn);
                        send(*conn, PacketType::InformAndActivate, z, Some(data))
                    }
                    (Some((_, d)), false) => {
                        send(*conn, PacketType::CommitAndActivate, z, Some(d.to_be_bytes().to_vec()))
                    }
                });
            }
            out.push(Action::Commit { zxid: z });
            if let Some((voters, designated)) = activate {
                self.cfg.voters = voters;
                self.next_voters = None;
                out.push(Action::Activate { zxid: z, designated });
                if designated != self.cfg.sid {
                    out.push(Action::StepDown(format!(
                        "reconfig {z:#x}: server {designated} leads the new membership"
                    )));
                }
            }
            self.last_committed = z;
            self.history.push_back((z, txn));
            while self.history.len() > COMMIT_LOG_COUNT {
                self.history_base = self.history.pop_front().map(|(z, _)| z);
            }
        }
        // The last one in flight committed: learners waiting for a
        // snapshot get it now.
        if self.outstanding.is_empty() && self.snapshot_waiting() {
            self.sync_waiting(out);
        }
    }
}
