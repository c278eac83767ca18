//! A whole ensemble of our own state machines (election, leader, learner)
//! on a deterministic in-memory network, with crashes and restarts that
//! keep only what was written durably, and client writes at the leader.
//! It checks as it goes: at most one leader serves per epoch, nothing
//! committed is ever truncated, no zxid is committed with two txns.
//! `settled` says when one leader is followed by every server in sync with
//! identical logs. The tests are in `sim_tests`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::election::{Action as E, Election, ElectionConfig};
use super::leader::{Action as L, ConnId, Leader, LeaderConfig};
use super::learner::{Action as F, Learner, LearnerConfig};
use super::notification::Notification;
use super::packet::{touches_to_bytes, QuorumPacket};
use super::{ServerState, Sid};

const TICK: u64 = 100;

/// What survives a crash.
#[derive(Default, Clone)]
pub(super) struct Disk {
    accepted: i64,
    current: i64,
    pub(super) log: Vec<(i64, Vec<u8>)>,
    /// Last zxid known committed here (applied).
    committed: i64,
}

impl Disk {
    pub(super) fn last(&self) -> i64 {
        self.log.last().map(|(z, _)| *z).unwrap_or(0)
    }
}

pub(super) enum Role {
    Down,
    Looking,
    Leading(Leader),
    /// `since`: when it decided; until `connected` it keeps dialing, as
    /// Apache's learner does, for up to initLimit ticks.
    Following {
        learner: Learner,
        conn: ConnId,
        leader: Sid,
        connected: bool,
        since: u64,
    },
}

pub(super) struct Server {
    pub(super) disk: Disk,
    election: Option<Election>,
    timer: Option<u64>,
    pub(super) role: Role,
}

enum Msg {
    Vote { from: Sid, to: Sid, n: Notification },
    ToLeader { leader: Sid, conn: ConnId, qp: QuorumPacket },
    ToLearner { from: Sid, to: Sid, conn: ConnId, qp: QuorumPacket },
    Snapshot { from: Sid, to: Sid, conn: ConnId, zxid: i64, log: Vec<(i64, Vec<u8>)> },
    Closed { to: Sid, conn: ConnId },
}

pub(super) struct Sim {
    now: u64,
    rng: u64,
    pub(super) servers: BTreeMap<Sid, Server>,
    net: VecDeque<Msg>,
    next_conn: ConnId,
    /// Epoch -> the leader that served in it.
    pub(super) served: BTreeMap<i64, Sid>,
    /// Every txn a leader ever committed.
    pub(super) acked: BTreeMap<i64, Vec<u8>>,
    writes: u64,
}

impl Sim {
    pub(super) fn new(n: i64, seed: u64) -> Sim {
        let servers = (1..=n)
            .map(|sid| (sid, Server { disk: Disk::default(), election: None, timer: None, role: Role::Down }))
            .collect();
        let mut sim = Sim {
            now: 0,
            rng: seed.max(1),
            servers,
            net: VecDeque::new(),
            next_conn: 1,
            served: BTreeMap::new(),
            acked: BTreeMap::new(),
            writes: 0,
        };
        for sid in 1..=n {
            sim.boot(sid);
        }
        sim
    }

    pub(super) fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    pub(super) fn voters(&self) -> Vec<Sid> {
        self.servers.keys().copied().collect()
    }

    /// Start (or restart) with a fresh election from what is on disk.
    pub(super) fn boot(&mut self, sid: Sid) {
        let e = Election::new(ElectionConfig::new(sid, self.voters(), Vec::new()));
        let s = self.servers.get_mut(&sid).expect("server");
        s.election = Some(e);
        s.role = Role::Down;
        self.look(sid);
    }

    fn look(&mut self, sid: Sid) {
        let now = self.now;
        let s = self.servers.get_mut(&sid).expect("server");
        s.role = Role::Looking;
        let (last, epoch) = (s.disk.last(), s.disk.current);
        let acts = s.election.as_mut().expect("election").start_election(now, last, epoch);
        self.election_actions(sid, acts);
    }

    pub(super) fn crash(&mut self, sid: Sid) {
        self.drop_role(sid);
        let s = self.servers.get_mut(&sid).expect("server");
        s.role = Role::Down;
        s.election = None;
        s.timer = None;
    }

    /// A crash that also loses what the server had not sent yet.
    pub(super) fn crash_unsent(&mut self, sid: Sid) {
        let follower_conns: Vec<ConnId> = self
            .servers
            .get(&sid)
            .and_then(|s| if let Role::Following { conn, .. } = &s.role { Some(vec![*conn]) } else { None })
            .unwrap_or_default();
        self.net.retain(|m| match m {
            Msg::Vote { from, .. } | Msg::ToLearner { from, .. } | Msg::Snapshot { from, .. } => *from != sid,
            Msg::ToLeader { conn, .. } => !follower_conns.contains(conn),
            Msg::Closed { .. } => true,
        });
        self.crash(sid);
    }

    pub(super) fn leader(&self) -> Option<Sid> {
        self.servers.iter().find_map(|(sid, s)| match &s.role {
            Role::Leading(l) if l.serving() => Some(*sid),
            _ => None,
        })
    }

    pub(super) fn settle(&mut self, what: &str) {
        let mut steps = 0;
        while !self.settled() {
            self.step();
            steps += 1;
            assert!(steps < 200_000, "{what}: never settled\n{}", self.describe());
        }
    }

    /// Leaving a role closes its connections (as TCP would).
    fn drop_role(&mut self, sid: Sid) {
        let s = self.servers.get_mut(&sid).expect("server");
        match std::mem::replace(&mut s.role, Role::Down) {
            Role::Leading(_) => {
                let followers: Vec<(Sid, ConnId)> = self
                    .servers
                    .iter()
                    .filter_map(|(o, s)| match &s.role {
                        Role::Following { conn, leader, .. } if *leader == sid => Some((*o, *conn)),
                        _ => None,
                    })
                    .collect();
                for (to, conn) in followers {
                    self.net.push_back(Msg::Closed { to, conn });
                }
            }
            Role::Following { conn, leader, .. } => self.net.push_back(Msg::Closed { to: leader, conn }),
            _ => {}
        }
    }

    fn election_actions(&mut self, sid: Sid, acts: Vec<E>) {
        for a in acts {
            match a {
                E::Send { to, notification } => self.net.push_back(Msg::Vote { from: sid, to, n: notification }),
                E::SendToAll { notification } => {
                    for to in self.voters().into_iter().filter(|t| *t != sid) {
                        self.net.push_back(Msg::Vote { from: sid, to, n: notification.clone() });
                    }
                }
                E::SetTimer { at_ms } => self.servers.get_mut(&sid).expect("server").timer = Some(at_ms),
                E::Decided { vote, state } => self.decided(sid, vote.leader, state),
            }
        }
    }

    fn decided(&mut self, sid: Sid, leader: Sid, state: ServerState) {
        let now = self.now;
        let voters: BTreeSet<Sid> = self.voters().into_iter().collect();
        let s = self.servers.get_mut(&sid).expect("server");
        if !matches!(s.role, Role::Looking) {
            return;
        }
        match state {
            ServerState::Leading => {
                // A new leader takes everything it logged as committed.
                s.disk.committed = s.disk.last();
                let cfg = LeaderConfig {
                    sid,
                    voters,
                    accepted_epoch: s.disk.accepted,
                    current_epoch: s.disk.current,
                    last_zxid: s.disk.last(),
                    history: s.disk.log.clone(),
                    verifier: None,
                    stamp_version: false,
                    tick_ms: TICK,
                    init_limit: 10,
                    sync_limit: 5,
                };
                let mut l = Leader::new(cfg, now);
                let acts = l.start(now);
                s.role = Role::Leading(l);
                self.leader_actions(sid, acts);
            }
            ServerState::Following => {
                let conn = self.next_conn;
                self.next_conn += 1;
                let learner = Learner::new(LearnerConfig {
                    sid,
                    accepted_epoch: s.disk.accepted,
                    current_epoch: s.disk.current,
                    last_logged_zxid: s.disk.last(),
                    config_version: 0,
                    tick_ms: TICK,
                    init_limit: 10,
                    sync_limit: 5,
                    observer: false,
                });
                s.role = Role::Following { learner, conn, leader, connected: false, since: now };
                self.try_connect(sid);
            }
            _ => {}
        }
    }

    /// Dial the leader: once it leads, the learner registers; a leader that
    /// does not lead within initLimit ticks sends us back to election.
    fn try_connect(&mut self, sid: Sid) {
        let now = self.now;
        let Some(Role::Following { conn, leader, connected: false, since, .. }) =
            self.servers.get(&sid).map(|s| &s.role)
        else {
            return;
        };
        let (conn, leader, since) = (*conn, *leader, *since);
        match self.servers.get_mut(&leader).map(|l| &mut l.role) {
            Some(Role::Leading(l)) => l.on_connect(conn, now),
            _ => {
                if now.saturating_sub(since) > 10 * TICK {
                    self.lost(sid);
                }
                return;
            }
        }
        let Some(Role::Following { learner, connected, .. }) = self.servers.get_mut(&sid).map(|s| &mut s.role) else {
            return;
        };
        *connected = true;
        let acts = learner.start(now);
        self.learner_actions(sid, acts);
    }

    fn leader_actions(&mut self, sid: Sid, acts: Vec<L>) {
        for a in acts {
            let s = self.servers.get_mut(&sid).expect("server");
            match a {
                L::Send { to, packet } => {
                    if let Some(f) = self.follower_of(to) {
                        self.net.push_back(Msg::ToLearner { from: sid, to: f, conn: to, qp: packet });
                    }
                }
                L::SendSnapshot { to, zxid } => {
                    let log: Vec<(i64, Vec<u8>)> = s.disk.log.iter().filter(|(z, _)| *z <= zxid).cloned().collect();
                    if let Some(f) = self.follower_of(to) {
                        self.net.push_back(Msg::Snapshot { from: sid, to: f, conn: to, zxid, log });
                    }
                }
                // The simulated ensembles never reconfigure.
                L::Activate { .. } => {}
                L::SetAcceptedEpoch(e) => s.disk.accepted = e,
                L::SetCurrentEpoch(e) => s.disk.current = e,
                L::Log { zxid, txn } => {
                    assert!(zxid > s.disk.last(), "leader {sid} logs {zxid:#x} after {:#x}", s.disk.last());
                    s.disk.log.push((zxid, txn));
                    // The sim's disk is durable at once: the leader's own ack.
                    if let Role::Leading(l) = &mut s.role {
                        let more = l.logged(zxid);
                        self.leader_actions(sid, more);
                    }
                }
                L::Commit { zxid } => {
                    s.disk.committed = zxid;
                    let txn = s.disk.log.iter().find(|(z, _)| *z == zxid).map(|(_, t)| t.clone()).expect("logged");
                    if let Some(old) = self.acked.insert(zxid, txn.clone()) {
                        assert_eq!(old, txn, "two different txns committed as {zxid:#x}");
                    }
                }
                L::StartServing => {
                    let epoch = s.disk.current;
                    if let Some(other) = self.served.insert(epoch, sid) {
                        assert_eq!(other, sid, "two leaders served epoch {epoch}");
                    }
                    if let Some(e) = s.election.as_mut() {
                        e.update_election_vote(epoch);
                    }
                }
                L::Close { conn, .. } => {
                    if let Some(f) = self.follower_of(conn) {
                        self.net.push_back(Msg::Closed { to: f, conn });
                    }
                }
                L::StepDown(_) => {
                    self.drop_role(sid);
                    return self.look(sid);
                }
                L::Touch { .. } | L::Request { .. } | L::Revalidate { .. } => {}
            }
        }
    }

    fn follower_of(&self, conn: ConnId) -> Option<Sid> {
        self.servers.iter().find_map(|(sid, s)| match &s.role {
            Role::Following { conn: c, .. } if *c == conn => Some(*sid),
            _ => None,
        })
    }

    fn learner_actions(&mut self, sid: Sid, acts: Vec<F>) {
        for a in acts {
            let s = self.servers.get_mut(&sid).expect("server");
            let Role::Following { conn, leader, .. } = &s.role else { return };
            let (conn, leader) = (*conn, *leader);
            match a {
                F::Send(qp) => self.net.push_back(Msg::ToLeader { leader, conn, qp }),
                F::SetAcceptedEpoch(e) => s.disk.accepted = e,
                F::SetCurrentEpoch(e) => s.disk.current = e,
                F::ReadSnapshot { .. } => {} // the Snapshot message carries it
                F::Activate { .. } | F::LeaderConfig(_) => {}
                F::Truncate { zxid } => {
                    assert!(
                        s.disk.committed <= zxid,
                        "server {sid} truncates committed {:#x} to {zxid:#x}",
                        s.disk.committed
                    );
                    s.disk.log.retain(|(z, _)| *z <= zxid);
                }
                F::Apply { zxid, txn } | F::Log { zxid, txn } => {
                    assert!(zxid > s.disk.last(), "server {sid} logs {zxid:#x} after {:#x}", s.disk.last());
                    s.disk.log.push((zxid, txn));
                }
                F::Commit { zxid } => {
                    assert!(s.disk.log.iter().any(|(z, _)| *z == zxid), "server {sid} commits unlogged {zxid:#x}");
                    s.disk.committed = s.disk.committed.max(zxid);
                }
                F::StartServing => {
                    let epoch = s.disk.current;
                    if let Some(e) = s.election.as_mut() {
                        e.update_election_vote(epoch);
                    }
                }
                F::Ping(qp) => self.net.push_back(Msg::ToLeader {
                    leader,
                    conn,
                    qp: QuorumPacket { data: Some(touches_to_bytes(&[])), ..qp },
                }),
                F::TakeSnapshot | F::Revalidated { .. } | F::Synced => {}
            }
        }
    }

    /// Each message takes a millisecond; with none queued, time jumps to
    /// the next half tick. Timers run on every half tick.
    pub(super) fn step(&mut self) {
        let before = self.now / (TICK / 2);
        self.now = if self.net.is_empty() { (before + 1) * (TICK / 2) } else { self.now + 1 };
        if self.now / (TICK / 2) != before {
            self.tick();
        }
        let Some(msg) = self.net.pop_front() else { return };
        let now = self.now;
        match msg {
            Msg::Vote { from, to, n } => {
                let Some(e) = self.servers.get_mut(&to).and_then(|s| s.election.as_mut()) else { return };
                let acts = e.on_notification(now, from, n);
                self.election_actions(to, acts);
            }
            Msg::ToLeader { leader, conn, qp } => {
                let Some(Role::Leading(l)) = self.servers.get_mut(&leader).map(|s| &mut s.role) else { return };
                let acts = l.on_packet(now, conn, qp);
                self.leader_actions(leader, acts);
            }
            Msg::ToLearner { to, conn, qp, .. } => {
                let Some(Role::Following { learner, conn: c, .. }) = self.servers.get_mut(&to).map(|s| &mut s.role)
                else {
                    return;
                };
                if *c != conn {
                    return;
                }
                match learner.on_packet(now, qp) {
                    Ok(acts) => self.learner_actions(to, acts),
                    Err(_) => self.lost(to),
                }
            }
            Msg::Snapshot { to, conn, zxid, log, .. } => {
                let Some(s) = self.servers.get_mut(&to) else { return };
                let Role::Following { learner, conn: c, .. } = &mut s.role else { return };
                if *c != conn {
                    return;
                }
                let snap = QuorumPacket::new(super::packet::PacketType::Snap, zxid, None);
                if learner.on_packet(now, snap).is_err() || learner.snapshot_loaded(now).is_err() {
                    return self.lost(to);
                }
                assert!(
                    log.iter().any(|(z, _)| *z >= s.disk.committed) || s.disk.committed <= zxid,
                    "snapshot behind our commits"
                );
                s.disk.log = log;
                s.disk.committed = zxid;
            }
            Msg::Closed { to, conn } => {
                let Some(s) = self.servers.get_mut(&to) else { return };
                match &mut s.role {
                    Role::Following { conn: c, .. } if *c == conn => self.lost(to),
                    Role::Leading(l) => l.on_disconnect(conn),
                    _ => {}
                }
            }
        }
    }

    /// A learner lost its leader: back to election.
    fn lost(&mut self, sid: Sid) {
        self.drop_role(sid);
        self.look(sid);
    }

    fn tick(&mut self) {
        let now = self.now;
        for sid in self.voters() {
            let s = self.servers.get_mut(&sid).expect("server");
            if s.timer.is_some_and(|at| at <= now) {
                s.timer = None;
                if let Some(e) = s.election.as_mut() {
                    let acts = e.on_timer(now);
                    self.election_actions(sid, acts);
                }
            }
            let s = self.servers.get_mut(&sid).expect("server");
            match &mut s.role {
                Role::Leading(l) => {
                    let acts = l.on_tick(now);
                    self.leader_actions(sid, acts);
                }
                Role::Following { connected: false, .. } => self.try_connect(sid),
                Role::Following { learner, .. } if learner.on_tick(now).is_err() => self.lost(sid),
                _ => {}
            }
        }
    }

    pub(super) fn write(&mut self) {
        let Some(sid) = self.leader() else { return };
        self.writes += 1;
        let txn = format!("w{}", self.writes).into_bytes();
        let Some(Role::Leading(l)) = self.servers.get_mut(&sid).map(|s| &mut s.role) else { return };
        if let Some((_, acts)) = l.propose(txn, None) {
            self.leader_actions(sid, acts);
        }
    }

    pub(super) fn describe(&self) -> String {
        let mut out = format!("now {} net {}\n", self.now, self.net.len());
        for (sid, s) in &self.servers {
            let role = match &s.role {
                Role::Down => "down".to_string(),
                Role::Looking => format!("looking (timer {:?})", s.timer),
                Role::Leading(l) => format!("leading epoch {:?} serving {}", l.epoch(), l.serving()),
                Role::Following { learner, leader, .. } => {
                    format!("following {leader} in sync {}", learner.in_broadcast())
                }
            };
            let e = s.election.as_ref().map(|e| format!("{:?} vote {:?}", e.state(), e.current_vote().leader));
            out += &format!(
                "server {sid}: {role}; election {e:?}; epochs {}/{}; log {} last {:#x} committed {:#x}\n",
                s.disk.accepted,
                s.disk.current,
                s.disk.log.len(),
                s.disk.last(),
                s.disk.committed
            );
        }
        out
    }

    /// With the faults over: one serving leader, everyone else following
    /// it in sync, and all logs equal and holding every committed txn.
    pub(super) fn settled(&self) -> bool {
        let leaders: Vec<&Leader> =
            self.servers.values().filter_map(|s| if let Role::Leading(l) = &s.role { Some(l) } else { None }).collect();
        let [leader] = leaders[..] else { return false };
        let all_follow = self.servers.values().all(|s| match &s.role {
            Role::Leading(_) => true,
            Role::Following { learner, .. } => learner.in_broadcast(),
            _ => false,
        });
        let first = &self.servers.values().next().expect("servers").disk;
        leader.serving()
            && all_follow
            && self.net.is_empty()
            && self.servers.values().all(|s| s.disk.log == first.log && s.disk.committed == first.last())
    }
}
