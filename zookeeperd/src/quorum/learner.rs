//! A follower's side of ZAB (Apache 3.8's Learner.registerWithLeader,
//! syncWithLeader and Follower.processPacket) as a state machine: it takes
//! the leader's packets and time, and returns actions. No I/O: the driver
//! carries the actions out *in order*, and an action that writes (`Log`,
//! `SetAcceptedEpoch`, `SetCurrentEpoch`, `Truncate`, `TakeSnapshot`) is
//! durable before the next one runs, so an ACK that follows a `Log` means
//! "logged", as ZAB requires. Txns stay opaque bytes here (the proposal's
//! data: header, record and digest as the log stores them).
//!
//! Any error means: drop the connection and go back to leader election.

use std::collections::VecDeque;

use super::packet::{
    epoch_of, int_payload, make_zxid, read_int_payload, LearnerInfo, PacketType, QuorumPacket, PROTOCOL_VERSION,
};

/// What the learner knows when it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerConfig {
    pub sid: i64,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    pub last_logged_zxid: i64,
    pub config_version: i64,
    pub tick_ms: u64,
    /// Ticks the leader may take to sync us (`initLimit`).
    pub init_limit: u64,
    /// Ticks the leader may stay silent once we are in sync (`syncLimit`).
    pub sync_limit: u64,
    /// Register as an observer (OBSERVERINFO): no vote, commits as INFORM.
    pub observer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(QuorumPacket),
    /// Persist `acceptedEpoch` (before the ACKEPOCH that follows).
    SetAcceptedEpoch(i64),
    /// Persist `currentEpoch` (before the NEWLEADER ack that follows).
    SetCurrentEpoch(i64),
    /// SNAP: read the leader's serialized database from the stream now
    /// (it is not a packet), check the signature, then call
    /// `snapshot_loaded`. The tree's last processed zxid becomes `zxid`.
    ReadSnapshot {
        zxid: i64,
    },
    /// TRUNC: drop every logged txn after `zxid`.
    Truncate {
        zxid: i64,
    },
    /// Apply a committed txn to the tree without logging it (sync before
    /// NEWLEADER: the snapshot taken at NEWLEADER covers it).
    Apply {
        zxid: i64,
        txn: Vec<u8>,
    },
    /// Append a txn to the log, durably.
    Log {
        zxid: i64,
        txn: Vec<u8>,
    },
    /// Apply the logged txn `zxid` to the tree.
    Commit {
        zxid: i64,
    },
    TakeSnapshot,
    /// In sync: serve clients.
    StartServing,
    /// Answer this PING with the sessions our clients touched since the
    /// last one (`packet::touches_to_bytes`), keeping its zxid and authinfo.
    Ping(QuorumPacket),
    /// The leader's answer to a REVALIDATE we sent.
    Revalidated {
        data: Vec<u8>,
    },
    /// The leader's SYNC: the oldest pending client sync may complete.
    Synced,
    /// The reconfig just committed is our membership now, led by
    /// `designated` (COMMITANDACTIVATE / INFORMANDACTIVATE).
    Activate {
        zxid: i64,
        designated: i64,
    },
    /// The leader's membership from NEWLEADER, to adopt if newer than ours
    /// (Apache's processReconfig at UPTODATE).
    LeaderConfig(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnerError {
    #[error("the leader's epoch {leader} is behind our accepted epoch {accepted}")]
    EpochBehind { leader: i64, accepted: i64 },
    #[error("unexpected {kind:?} while {phase}")]
    Unexpected { phase: &'static str, kind: PacketType },
    #[error("commit of {zxid:#x} with nothing pending")]
    CommitWithoutProposal { zxid: i64 },
    #[error("the leader was silent for {0} ms")]
    LeaderSilent(u64),
    #[error("malformed {0:?} from the leader")]
    Malformed(PacketType),
}

fn read_long(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// INFORMANDACTIVATE's data: the designated leader, then the txn.
fn activation(qp: &QuorumPacket) -> Option<(i64, &[u8])> {
    let data = qp.data.as_deref()?;
    Some((read_long(data)?, &data[8..]))
}

#[derive(Debug)]
enum Phase {
    Registering,
    /// Waiting for DIFF, TRUNC or SNAP.
    SyncStart {
        new_epoch: i64,
    },
    /// After SNAP, until the driver has read the database.
    LoadingSnapshot {
        new_epoch: i64,
    },
    Syncing(Sync),
    Broadcast,
}

#[derive(Debug)]
struct Sync {
    new_epoch: i64,
    snapshot_needed: bool,
    /// After NEWLEADER, txns go to the log rather than straight to the tree.
    write_to_log: bool,
    not_committed: VecDeque<(i64, Vec<u8>)>,
    committed: VecDeque<i64>,
    /// Logged at NEWLEADER, acked after UPTODATE.
    to_ack: Vec<i64>,
    /// NEWLEADER's membership.
    leader_config: Option<Vec<u8>>,
}

pub struct Learner {
    cfg: LearnerConfig,
    phase: Phase,
    last_heard: u64,
    last_queued: i64,
    /// The zxid of the leader's SNAP: a leader may snapshot proposals still
    /// in flight, so commits up to it are already in our tree.
    covered: i64,
}

impl Learner {
    pub fn new(cfg: LearnerConfig) -> Learner {
        Learner { last_queued: cfg.last_logged_zxid, cfg, phase: Phase::Registering, last_heard: 0, covered: i64::MIN }
    }

    pub fn in_broadcast(&self) -> bool {
        matches!(self.phase, Phase::Broadcast)
    }

    /// Connected: register with FOLLOWERINFO.
    pub fn start(&mut self, now_ms: u64) -> Vec<Action> {
        self.last_heard = now_ms;
        self.phase = Phase::Registering;
        let info = LearnerInfo::new(self.cfg.sid, self.cfg.config_version);
        let zxid = make_zxid(self.cfg.accepted_epoch, 0);
        let kind = if self.cfg.observer { PacketType::ObserverInfo } else { PacketType::FollowerInfo };
        vec![Action::Send(QuorumPacket::new(kind, zxid, Some(info.to_bytes())))]
    }

    /// The leader silent for too long (initLimit ticks until in sync,
    /// syncLimit ticks after) ends the connection.
    pub fn on_tick(&self, now_ms: u64) -> Result<(), LearnerError> {
        let ticks = if self.in_broadcast() { self.cfg.sync_limit } else { self.cfg.init_limit };
        let limit = ticks * self.cfg.tick_ms;
        let silent = now_ms.saturating_sub(self.last_heard);
        if silent > limit {
            return Err(LearnerError::LeaderSilent(silent));
        }
        Ok(())
    }

    /// The driver has read the snapshot that followed SNAP.
    pub fn snapshot_loaded(&mut self, now_ms: u64) -> Result<(), LearnerError> {
        let Phase::LoadingSnapshot { new_epoch } = self.phase else {
            return Err(LearnerError::Unexpected { phase: self.phase_name(), kind: PacketType::Snap });
        };
        self.last_heard = now_ms;
        self.phase = Phase::Syncing(Sync::new(new_epoch, true));
        Ok(())
    }

    pub fn on_packet(&mut self, now_ms: u64, qp: QuorumPacket) -> Result<Vec<Action>, LearnerError> {
        self.last_heard = now_ms;
        let mut out = Vec::new();
        match std::mem::replace(&mut self.phase, Phase::Registering) {
            Phase::Registering => self.registering(qp, &mut out)?,
            Phase::SyncStart { new_epoch } => self.sync_start(new_epoch, qp, &mut out)?,
            p @ Phase::LoadingSnapshot { .. } => {
                self.phase = p;
                return Err(LearnerError::Unexpected { phase: "loading the snapshot", kind: qp.kind });
            }
            Phase::Syncing(sync) => self.syncing(sync, qp, &mut out)?,
            Phase::Broadcast => {
                self.phase = Phase::Broadcast;
                self.broadcast(qp, &mut out)?;
            }
        }
        Ok(out)
    }

    fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Registering => "registering",
            Phase::SyncStart { .. } => "waiting for the sync mode",
            Phase::LoadingSnapshot { .. } => "loading the snapshot",
            Phase::Syncing(_) => "syncing",
            Phase::Broadcast => "following",
        }
    }

    /// LEADERINFO: the new epoch. Accept it if newer (ACKEPOCH with our
    /// current epoch), or answer -1 if we accepted it already.
    fn registering(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        if qp.kind != PacketType::LeaderInfo {
            return Err(LearnerError::Unexpected { phase: "registering", kind: qp.kind });
        }
        let _leader_protocol = read_int_payload(qp.data.as_deref()).unwrap_or(PROTOCOL_VERSION);
        let new_epoch = epoch_of(qp.zxid);
        let ack = if new_epoch > self.cfg.accepted_epoch {
            self.cfg.accepted_epoch = new_epoch;
            out.push(Action::SetAcceptedEpoch(new_epoch));
            self.cfg.current_epoch as i32
        } else if new_epoch == self.cfg.accepted_epoch {
            -1
        } else {
            return Err(LearnerError::EpochBehind { leader: new_epoch, accepted: self.cfg.accepted_epoch });
        };
        let data = Some(int_payload(ack));
        out.push(Action::Send(QuorumPacket::new(PacketType::AckEpoch, self.cfg.last_logged_zxid, data)));
        self.phase = Phase::SyncStart { new_epoch };
        Ok(())
    }

    fn sync_start(&mut self, new_epoch: i64, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        match qp.kind {
            PacketType::Diff => self.phase = Phase::Syncing(Sync::new(new_epoch, false)),
            PacketType::Snap => {
                out.push(Action::ReadSnapshot { zxid: qp.zxid });
                self.last_queued = qp.zxid;
                self.covered = qp.zxid;
                self.phase = Phase::LoadingSnapshot { new_epoch };
            }
            PacketType::Trunc => {
                out.push(Action::Truncate { zxid: qp.zxid });
                self.last_queued = qp.zxid;
                self.phase = Phase::Syncing(Sync::new(new_epoch, true));
            }
            kind => return Err(LearnerError::Unexpected { phase: "waiting for the sync mode", kind }),
        }
        Ok(())
    }

    fn syncing(&mut self, mut sync: Sync, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        // While syncing, a reconfig's commit is a commit: the leader's
        // membership comes with NEWLEADER and is adopted at UPTODATE.
        let qp = match qp.kind {
            PacketType::CommitAndActivate => QuorumPacket { kind: PacketType::Commit, data: None, ..qp },
            PacketType::InformAndActivate => match activation(&qp) {
                Some((_, txn)) => QuorumPacket { kind: PacketType::Inform, data: Some(txn.to_vec()), ..qp },
                None => return Err(LearnerError::Unexpected { phase: "syncing", kind: qp.kind }),
            },
            _ => qp,
        };
        if qp.kind == PacketType::Inform {
            // An observer's commit carries its txn: a proposal, then its commit.
            let commit = QuorumPacket::new(PacketType::Commit, qp.zxid, None);
            let proposal = QuorumPacket { kind: PacketType::Proposal, ..qp };
            self.syncing_packet(&mut sync, proposal, out)?;
            self.syncing_packet(&mut sync, commit, out)?;
            self.phase = Phase::Syncing(sync);
            return Ok(());
        }
        if matches!(qp.kind, PacketType::NewLeader | PacketType::UpToDate) {
            return self.syncing_end(sync, qp, out);
        }
        self.syncing_packet(&mut sync, qp, out)?;
        self.phase = Phase::Syncing(sync);
        Ok(())
    }

    /// PROPOSAL, COMMIT and PING while syncing.
    fn syncing_packet(&mut self, sync: &mut Sync, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        match qp.kind {
            PacketType::Proposal => {
                self.queue(qp.zxid);
                sync.not_committed.push_back((qp.zxid, qp.data.unwrap_or_default()));
            }
            PacketType::Commit if qp.zxid <= self.covered => {}
            PacketType::Commit => {
                if sync.write_to_log {
                    sync.committed.push_back(qp.zxid);
                } else {
                    match sync.not_committed.front() {
                        Some((z, _)) if *z == qp.zxid => {
                            if let Some((zxid, txn)) = sync.not_committed.pop_front() {
                                out.push(Action::Apply { zxid, txn });
                            }
                        }
                        Some((z, _)) => {
                            tracing::warn!(
                                commit = format_args!("{:#x}", qp.zxid),
                                next = format_args!("{z:#x}"),
                                "commit does not match the next proposal; ignored, as Apache does"
                            );
                        }
                        None => return Err(LearnerError::CommitWithoutProposal { zxid: qp.zxid }),
                    }
                }
            }
            PacketType::Ping => out.push(Action::Ping(qp)),
            kind => return Err(LearnerError::Unexpected { phase: "syncing", kind }),
        }
        Ok(())
    }

    /// NEWLEADER (our log takes over from the tree) and UPTODATE (serve).
    fn syncing_end(&mut self, mut sync: Sync, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        // Observers never ack proposals; they still ack NEWLEADER and UPTODATE.
        let acks = !self.cfg.observer;
        if qp.kind == PacketType::NewLeader {
            if sync.snapshot_needed {
                out.push(Action::TakeSnapshot);
            }
            sync.write_to_log = true;
            sync.leader_config = qp.data.clone().filter(|d| d.len() > 1);
            for (zxid, txn) in sync.not_committed.drain(..) {
                out.push(Action::Log { zxid, txn });
                sync.to_ack.push(zxid);
            }
            self.cfg.current_epoch = sync.new_epoch;
            out.push(Action::SetCurrentEpoch(sync.new_epoch));
            out.push(Action::Send(QuorumPacket::new(PacketType::Ack, qp.zxid, None)));
            self.phase = Phase::Syncing(sync);
            return Ok(());
        }
        if let Some(config) = sync.leader_config.take() {
            out.push(Action::LeaderConfig(config));
        }
        out.push(Action::Send(QuorumPacket::new(PacketType::Ack, make_zxid(sync.new_epoch, 0), None)));
        out.push(Action::StartServing);
        for zxid in sync.to_ack.drain(..) {
            if acks {
                out.push(Action::Send(QuorumPacket::new(PacketType::Ack, zxid, None)));
            }
        }
        for (zxid, txn) in sync.not_committed.drain(..) {
            out.push(Action::Log { zxid, txn });
            if acks {
                out.push(Action::Send(QuorumPacket::new(PacketType::Ack, zxid, None)));
            }
        }
        out.extend(sync.committed.drain(..).map(|zxid| Action::Commit { zxid }));
        self.phase = Phase::Broadcast;
        Ok(())
    }

    fn broadcast(&mut self, qp: QuorumPacket, out: &mut Vec<Action>) -> Result<(), LearnerError> {
        match qp.kind {
            PacketType::Proposal => {
                self.queue(qp.zxid);
                out.push(Action::Log { zxid: qp.zxid, txn: qp.data.unwrap_or_default() });
                out.push(Action::Send(QuorumPacket::new(PacketType::Ack, qp.zxid, None)));
            }
            // An observer's commit, with its txn: logged, then applied.
            PacketType::Inform if qp.zxid <= self.covered => {}
            PacketType::Inform => {
                self.queue(qp.zxid);
                out.push(Action::Log { zxid: qp.zxid, txn: qp.data.unwrap_or_default() });
                out.push(Action::Commit { zxid: qp.zxid });
            }
            PacketType::Commit if qp.zxid <= self.covered => {}
            PacketType::Commit => out.push(Action::Commit { zxid: qp.zxid }),
            PacketType::CommitAndActivate => {
                let designated = qp.data.as_deref().and_then(read_long).ok_or(LearnerError::Malformed(qp.kind))?;
                if qp.zxid > self.covered {
                    out.push(Action::Commit { zxid: qp.zxid });
                }
                out.push(Action::Activate { zxid: qp.zxid, designated });
            }
            PacketType::InformAndActivate => {
                let (designated, txn) = activation(&qp).ok_or(LearnerError::Malformed(qp.kind))?;
                if qp.zxid > self.covered {
                    self.queue(qp.zxid);
                    out.push(Action::Log { zxid: qp.zxid, txn: txn.to_vec() });
                    out.push(Action::Commit { zxid: qp.zxid });
                }
                out.push(Action::Activate { zxid: qp.zxid, designated });
            }
            PacketType::Ping => out.push(Action::Ping(qp)),
            PacketType::Revalidate => out.push(Action::Revalidated { data: qp.data.unwrap_or_default() }),
            PacketType::Sync => out.push(Action::Synced),
            // Apache's Follower logs an unknown packet and reads on.
            kind => tracing::warn!(?kind, "unexpected packet from the leader ignored"),
        }
        Ok(())
    }

    /// Proposals come in zxid order; Apache only warns on a gap.
    fn queue(&mut self, zxid: i64) {
        // A new epoch's first proposal (counter 1) follows any earlier zxid.
        let new_epoch = epoch_of(zxid) > epoch_of(self.last_queued) && zxid & 0xffff_ffff == 1;
        if zxid != self.last_queued + 1 && !new_epoch {
            tracing::warn!(
                got = format_args!("{zxid:#x}"),
                expected = format_args!("{:#x}", self.last_queued + 1),
                "proposal out of sequence"
            );
        }
        self.last_queued = zxid;
    }
}

impl Sync {
    fn new(new_epoch: i64, snapshot_needed: bool) -> Sync {
        Sync {
            new_epoch,
            snapshot_needed,
            write_to_log: !snapshot_needed,
            not_committed: VecDeque::new(),
            committed: VecDeque::new(),
            to_ack: Vec::new(),
            leader_config: None,
        }
    }
}
