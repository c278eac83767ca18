//! FastLeaderElection (Apache ZooKeeper 3.8) as a sans-io state machine.
//!
//! One [`Election`] per server. It never reads a clock, touches a socket or
//! spawns anything: the driver feeds it inputs with the current time in
//! milliseconds and carries out the [`Action`]s it returns.
//!
//! - [`Election::start_election`]: the server went LOOKING (Apache's
//!   `lookForLeader`): the logical clock is incremented and our vote is sent.
//! - [`Election::on_notification`]: a decoded notification arrived on the
//!   connection to `from`. Covers both Apache's `WorkerReceiver` (immediate
//!   answers, which also run while the server is FOLLOWING/LEADING) and the
//!   `lookForLeader` loop.
//! - [`Election::on_timer`]: the single election timer (last
//!   [`Action::SetTimer`]) fired. Stale firings are ignored, so the driver may
//!   keep just one timer and overwrite it.
//!
//! Messages we send to ourselves (Apache loops them back through the
//! connection manager) are handled inside the machine and never appear as
//! actions; [`Action::SendToAll`] means every voter except ourselves.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::notification::{Notification, CURRENT_VERSION};
use super::{LearnerType, ServerState, Sid};

/// `FastLeaderElection.finalizeWait`: quiet time before a LOOKING vote with
/// a quorum behind it becomes final.
pub const FINALIZE_WAIT_MS: u64 = 200;
/// Default `zookeeper.fastleader.minNotificationInterval`.
pub const MIN_NOTIFICATION_INTERVAL_MS: u64 = FINALIZE_WAIT_MS;
/// Default `zookeeper.fastleader.maxNotificationInterval`.
pub const MAX_NOTIFICATION_INTERVAL_MS: u64 = 60_000;

/// Static inputs of the election (a single, non-reconfigured `QuorumMaj`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionConfig {
    /// Our `myid`.
    pub my_sid: Sid,
    /// Voting members (participants) of the ensemble, possibly including us.
    pub voters: BTreeSet<Sid>,
    /// Whether we vote (participant) or only learn (observer).
    pub learner_type: LearnerType,
    /// Our `QuorumVerifier` in Apache's string form (`server.N=...\nversion=...`),
    /// sent verbatim in every notification.
    pub config_data: Vec<u8>,
    pub min_notification_interval_ms: u64,
    pub max_notification_interval_ms: u64,
}

impl ElectionConfig {
    /// Defaults as Apache: participant iff `my_sid` is a voter, 200 ms..60 s backoff.
    pub fn new(my_sid: Sid, voters: impl IntoIterator<Item = Sid>, config_data: Vec<u8>) -> Self {
        let voters: BTreeSet<Sid> = voters.into_iter().collect();
        let learner_type = if voters.contains(&my_sid) { LearnerType::Participant } else { LearnerType::Observer };
        ElectionConfig {
            my_sid,
            voters,
            learner_type,
            config_data,
            min_notification_interval_ms: MIN_NOTIFICATION_INTERVAL_MS,
            max_notification_interval_ms: MAX_NOTIFICATION_INTERVAL_MS,
        }
    }
}

/// Apache's `Vote`: a proposed leader plus where it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub leader: Sid,
    pub zxid: i64,
    pub election_epoch: i64,
    pub peer_epoch: i64,
    pub state: ServerState,
    /// Notification format version the vote came with (0 when not recorded).
    pub version: i32,
}

impl Vote {
    /// Apache's `Vote.equals`, which decides whether two votes count toward
    /// the same quorum: LOOKING votes compare leader, zxid and both epochs;
    /// votes of servers out of election compare leader and peer epoch, or
    /// only the leader when exactly one of them has version 0 (ZOOKEEPER-1732
    /// / 1805).
    pub fn agrees_with(&self, other: &Vote) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch
        } else if (self.version > 0) ^ (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send to one server (queue it on the connection to `to`, connecting if needed).
    Send { to: Sid, notification: Notification },
    /// Send to every voter except ourselves.
    SendToAll { notification: Notification },
    /// (Re)arm the election timer to fire at `at_ms`, replacing any earlier one.
    SetTimer { at_ms: u64 },
    /// The election ended: follow/lead/observe `vote.leader`. `state` is our new
    /// `ServerState`; `vote` becomes our current vote.
    Decided { vote: Vote, state: ServerState },
}

/// The proposal triple `totalOrderPredicate` compares: (peer epoch, zxid, sid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proposal {
    leader: Sid,
    zxid: i64,
    peer_epoch: i64,
}

impl Proposal {
    /// `totalOrderPredicate(new, cur)`: higher peer epoch, then zxid, then
    /// sid. (`QuorumMaj` weighs every server 1, so the weight check never
    /// rejects.)
    fn beats(&self, cur: &Proposal) -> bool {
        (self.peer_epoch, self.zxid, self.leader) > (cur.peer_epoch, cur.zxid, cur.leader)
    }

    fn of(n: &Notification) -> Proposal {
        Proposal { leader: n.leader, zxid: n.zxid, peer_epoch: n.peer_epoch }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No `lookForLeader` running (not started, or decided).
    Idle,
    /// Exchanging notifications; the timer is the notification timeout.
    Looking { deadline: u64 },
    /// A quorum agrees with our proposal; decide at `deadline` unless a
    /// better proposal arrives first.
    Finalizing { deadline: u64 },
}

/// FastLeaderElection state of one server.
#[derive(Debug, Clone)]
pub struct Election {
    cfg: ElectionConfig,
    /// `QuorumPeer.getPeerState()`.
    state: ServerState,
    /// Election epoch (`logicalclock`).
    logical_clock: i64,
    proposal: Proposal,
    /// The vote we start from: (`getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`).
    initial: Proposal,
    /// `QuorumPeer.getCurrentVote()`: what we answer while not LOOKING.
    current_vote: Vote,
    /// Votes of this election round (`recvset`).
    recv_set: BTreeMap<Sid, Vote>,
    /// FOLLOWING/LEADING votes of any round (`outofelection`).
    out_of_election: BTreeMap<Sid, Vote>,
    not_timeout: u64,
    phase: Phase,
    /// Notifications we sent ourselves, not yet processed.
    loopback: VecDeque<Notification>,
}

impl Election {
    /// A server that is LOOKING but has not started its first round yet.
    pub fn new(cfg: ElectionConfig) -> Self {
        let initial = Proposal { leader: cfg.my_sid, zxid: -1, peer_epoch: -1 };
        let current_vote = Vote {
            leader: cfg.my_sid,
            zxid: -1,
            election_epoch: -1,
            peer_epoch: -1,
            state: ServerState::Looking,
            version: 0,
        };
        let not_timeout = cfg.min_notification_interval_ms;
        Election {
            cfg,
            state: ServerState::Looking,
            logical_clock: 0,
            proposal: initial,
            initial,
            current_vote,
            recv_set: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            not_timeout,
            phase: Phase::Idle,
            loopback: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.cfg
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The election epoch (Apache's `logicalclock`).
    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// Our current proposal (`getVote()`), stamped with the logical clock.
    pub fn proposal(&self) -> Vote {
        self.proposal_vote()
    }

    /// The vote we answer with while FOLLOWING/LEADING.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// Current notification timeout (grows 2x per silent period).
    pub fn notification_timeout_ms(&self) -> u64 {
        self.not_timeout
    }

    /// Start a round (`lookForLeader`): we are LOOKING, the logical clock
    /// goes up by one, and we propose ourselves with our last logged zxid and
    /// current (accepted) epoch. The vote maps start empty.
    pub fn start_election(&mut self, now_ms: u64, last_logged_zxid: i64, current_epoch: i64) -> Vec<Action> {
        let participant = self.cfg.learner_type == LearnerType::Participant;
        let me = self.cfg.my_sid;
        self.initial = Proposal {
            leader: if self.cfg.voters.contains(&me) { me } else { i64::MIN },
            zxid: if participant { last_logged_zxid } else { i64::MIN },
            peer_epoch: if participant { current_epoch } else { i64::MIN },
        };
        if self.logical_clock == 0 {
            // QuorumPeer.startLeaderElection: the first current vote is ourselves.
            self.current_vote.zxid = last_logged_zxid;
            self.current_vote.peer_epoch = current_epoch;
        }
        self.state = ServerState::Looking;
        self.recv_set.clear();
        self.out_of_election.clear();
        self.loopback.clear();
        self.not_timeout = self.cfg.min_notification_interval_ms;
        self.logical_clock += 1;
        self.proposal = self.initial;
        let mut out = Vec::new();
        self.send_notifications(&mut out);
        self.arm_notification_timer(now_ms, &mut out);
        self.drain_loopback(now_ms, &mut out);
        out
    }

    /// A notification from `from` (the sid of the connection it came on).
    pub fn on_notification(&mut self, now_ms: u64, from: Sid, n: Notification) -> Vec<Action> {
        let mut out = Vec::new();
        self.receive(now_ms, from, n, &mut out);
        self.drain_loopback(now_ms, &mut out);
        out
    }

    /// The election timer fired. Ignored unless a round is running and its
    /// deadline has passed.
    pub fn on_timer(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Finalizing { deadline } if now_ms >= deadline => {
                let p = self.proposal;
                self.decide(p.leader, p.zxid, self.logical_clock, p.peer_epoch, &mut out);
            }
            Phase::Looking { deadline } if now_ms >= deadline => {
                // Apache re-sends if its queues drained, else reconnects; a
                // driver should treat SendToAll as "connect if needed and send".
                self.send_notifications(&mut out);
                self.not_timeout = (self.not_timeout.saturating_mul(2)).min(self.cfg.max_notification_interval_ms);
                self.arm_notification_timer(now_ms, &mut out);
            }
            _ => {}
        }
        self.drain_loopback(now_ms, &mut out);
        out
    }

    /// Apache's election does not react to a lost connection (the connection
    /// manager redials on the next send); neither do we. Kept so drivers
    /// have one place to report it.
    pub fn on_connection_lost(&mut self, _now_ms: u64, _sid: Sid) -> Vec<Action> {
        Vec::new()
    }

    /// `QuorumPeer.updateElectionVote`: once a follower learns the new
    /// epoch, the vote it answers with carries it.
    pub fn update_election_vote(&mut self, peer_epoch: i64) {
        self.current_vote.peer_epoch = peer_epoch;
    }

    fn is_voter(&self, sid: Sid) -> bool {
        self.cfg.voters.contains(&sid)
    }

    fn proposal_vote(&self) -> Vote {
        Vote {
            leader: self.proposal.leader,
            zxid: self.proposal.zxid,
            election_epoch: self.logical_clock,
            peer_epoch: self.proposal.peer_epoch,
            state: ServerState::Looking,
            version: 0,
        }
    }

    fn notification(&self, leader: Sid, zxid: i64, election_epoch: i64, peer_epoch: i64) -> Notification {
        Notification {
            state: self.state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version: CURRENT_VERSION,
            config: self.cfg.config_data.clone(),
        }
    }

    fn send_to(&mut self, to: Sid, notification: Notification, out: &mut Vec<Action>) {
        if to == self.cfg.my_sid {
            self.loopback.push_back(notification);
        } else {
            out.push(Action::Send { to, notification });
        }
    }

    /// `sendNotifications`: our LOOKING proposal to every voter, ourselves included.
    fn send_notifications(&mut self, out: &mut Vec<Action>) {
        let p = self.proposal;
        let mut n = self.notification(p.leader, p.zxid, self.logical_clock, p.peer_epoch);
        n.state = ServerState::Looking;
        if self.is_voter(self.cfg.my_sid) {
            self.loopback.push_back(n.clone());
        }
        out.push(Action::SendToAll { notification: n });
    }

    fn arm_notification_timer(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        let deadline = now_ms.saturating_add(self.not_timeout);
        self.phase = Phase::Looking { deadline };
        out.push(Action::SetTimer { at_ms: deadline });
    }

    fn drain_loopback(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        while let Some(n) = self.loopback.pop_front() {
            let me = self.cfg.my_sid;
            self.receive(now_ms, me, n, out);
        }
    }

    /// `WorkerReceiver`: immediate answers, then hand LOOKING-time
    /// notifications to the round.
    fn receive(&mut self, now_ms: u64, from: Sid, n: Notification, out: &mut Vec<Action>) {
        if !self.is_voter(from) {
            // Observers and other non-voters get our current vote right away.
            let v = self.current_vote;
            let reply = self.notification(v.leader, v.zxid, self.logical_clock, v.peer_epoch);
            self.send_to(from, reply, out);
            return;
        }
        if self.state == ServerState::Looking {
            if n.state == ServerState::Looking && n.election_epoch < self.logical_clock {
                // A lagging LOOKING peer learns our round and proposal.
                let p = self.proposal;
                let reply = self.notification(p.leader, p.zxid, self.logical_clock, p.peer_epoch);
                self.send_to(from, reply, out);
            }
            self.round_input(now_ms, from, n, out);
        } else if n.state == ServerState::Looking {
            // We are out of election: tell the LOOKING peer whom we follow.
            let v = self.current_vote;
            let reply = self.notification(v.leader, v.zxid, v.election_epoch, v.peer_epoch);
            self.send_to(from, reply, out);
        }
    }

    /// One iteration of `lookForLeader`'s loop for a received notification.
    fn round_input(&mut self, now_ms: u64, from: Sid, n: Notification, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Idle => {}
            Phase::Finalizing { .. } => {
                if Proposal::of(&n).beats(&self.proposal) {
                    // Put it back and resume the main loop with it.
                    self.phase = Phase::Looking { deadline: now_ms };
                    self.process(now_ms, from, n, out);
                } else {
                    // Not better: dropped, and the finalize wait starts over.
                    let deadline = now_ms.saturating_add(FINALIZE_WAIT_MS);
                    self.phase = Phase::Finalizing { deadline };
                    out.push(Action::SetTimer { at_ms: deadline });
                }
            }
            Phase::Looking { .. } => self.process(now_ms, from, n, out),
        }
    }

    fn process(&mut self, now_ms: u64, from: Sid, n: Notification, out: &mut Vec<Action>) {
        if self.is_voter(n.leader) {
            match n.state {
                ServerState::Looking => self.looking_notification(now_ms, from, &n, out),
                ServerState::Observing => {}
                ServerState::Following | ServerState::Leading => self.out_of_election_notification(from, &n, out),
            }
        }
        if let Phase::Looking { .. } = self.phase {
            // The next poll waits a full notification timeout again.
            self.arm_notification_timer(now_ms, out);
        }
    }

    fn looking_notification(&mut self, now_ms: u64, from: Sid, n: &Notification, out: &mut Vec<Action>) {
        if self.initial.zxid == -1 || n.zxid == -1 {
            return;
        }
        let theirs = Proposal::of(n);
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.recv_set.clear();
            self.proposal = if theirs.beats(&self.initial) { theirs } else { self.initial };
            self.send_notifications(out);
        } else if n.election_epoch < self.logical_clock {
            return;
        } else if theirs.beats(&self.proposal) {
            self.proposal = theirs;
            self.send_notifications(out);
        }
        let vote = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: ServerState::Looking,
            version: 0,
        };
        self.recv_set.insert(from, vote);
        if self.has_quorum(&self.recv_set, &self.proposal_vote()) {
            let deadline = now_ms.saturating_add(FINALIZE_WAIT_MS);
            self.phase = Phase::Finalizing { deadline };
            out.push(Action::SetTimer { at_ms: deadline });
        }
    }

    fn out_of_election_notification(&mut self, from: Sid, n: &Notification, out: &mut Vec<Action>) {
        let seen = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
            version: n.version,
        };
        if n.election_epoch == self.logical_clock {
            // Stored without the version, compared with it, as Apache does.
            self.recv_set.insert(from, Vote { version: 0, ..seen });
            if self.has_quorum(&self.recv_set, &seen) && self.check_leader(&self.recv_set, n.leader, n.election_epoch) {
                self.decide(n.leader, n.zxid, n.election_epoch, n.peer_epoch, out);
                return;
            }
        }
        // Joining an established ensemble: a quorum must follow the same leader.
        self.out_of_election.insert(from, seen);
        if self.has_quorum(&self.out_of_election, &seen)
            && self.check_leader(&self.out_of_election, n.leader, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            self.decide(n.leader, n.zxid, n.election_epoch, n.peer_epoch, out);
        }
    }

    /// `getVoteTracker(...).hasAllQuorums()` for a single `QuorumMaj`: more
    /// than half of the voters cast a vote that agrees with `vote`.
    fn has_quorum(&self, votes: &BTreeMap<Sid, Vote>, vote: &Vote) -> bool {
        let acks = votes.iter().filter(|(sid, v)| self.is_voter(**sid) && vote.agrees_with(v)).count();
        acks > self.cfg.voters.len() / 2
    }

    /// `checkLeader`: someone else must have told us it is LEADING; if it is
    /// us, the round must be ours.
    fn check_leader(&self, votes: &BTreeMap<Sid, Vote>, leader: Sid, election_epoch: i64) -> bool {
        if leader != self.cfg.my_sid {
            votes.get(&leader).is_some_and(|v| v.state == ServerState::Leading)
        } else {
            self.logical_clock == election_epoch
        }
    }

    fn decide(&mut self, leader: Sid, zxid: i64, election_epoch: i64, peer_epoch: i64, out: &mut Vec<Action>) {
        self.state = if leader == self.cfg.my_sid {
            ServerState::Leading
        } else if self.cfg.learner_type == LearnerType::Participant {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.phase = Phase::Idle;
        self.loopback.clear();
        let vote = Vote { leader, zxid, election_epoch, peer_epoch, state: self.state, version: 0 };
        self.current_vote = vote;
        out.push(Action::Decided { vote, state: self.state });
    }
}
