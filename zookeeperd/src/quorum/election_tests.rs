//! FastLeaderElection tests: single-machine behaviours, then a deterministic
//! in-memory network of 3 and 5 peers (messages go through the codec).

use std::collections::{BTreeMap, BTreeSet};

use super::election::{Action, Election, ElectionConfig, Vote, FINALIZE_WAIT_MS, MAX_NOTIFICATION_INTERVAL_MS};
use super::notification::{decode_frame, encode_frame, Notification, CURRENT_VERSION};
use super::{ServerState, Sid};

const CFG: &[u8] = b"server.1=h1:2888:3888:participant\nversion=0";

fn machine(me: Sid, voters: &[Sid]) -> Election {
    Election::new(ElectionConfig::new(me, voters.iter().copied(), CFG.to_vec()))
}

fn note(state: ServerState, leader: Sid, zxid: i64, ee: i64, pe: i64) -> Notification {
    Notification {
        state,
        leader,
        zxid,
        election_epoch: ee,
        peer_epoch: pe,
        version: CURRENT_VERSION,
        config: CFG.to_vec(),
    }
}

fn sends(actions: &[Action]) -> Vec<(Option<Sid>, Notification)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, notification } => Some((Some(*to), notification.clone())),
            Action::SendToAll { notification } => Some((None, notification.clone())),
            _ => None,
        })
        .collect()
}

fn decided(actions: &[Action]) -> Option<(Vote, ServerState)> {
    actions.iter().find_map(|a| match a {
        Action::Decided { vote, state } => Some((*vote, *state)),
        _ => None,
    })
}

fn last_timer(actions: &[Action]) -> Option<u64> {
    actions.iter().rev().find_map(|a| match a {
        Action::SetTimer { at_ms } => Some(*at_ms),
        _ => None,
    })
}

#[test]
fn start_broadcasts_own_vote_and_arms_min_timeout() {
    let mut e = machine(2, &[1, 2, 3]);
    let out = e.start_election(1000, 0x1_0000_0005, 1);
    assert_eq!(e.logical_clock(), 1);
    assert_eq!(e.state(), ServerState::Looking);
    assert_eq!(sends(&out), vec![(None, note(ServerState::Looking, 2, 0x1_0000_0005, 1, 1))]);
    assert_eq!(last_timer(&out), Some(1000 + FINALIZE_WAIT_MS));
    assert_eq!(decided(&out), None);
}

#[test]
fn notification_timeout_backs_off_exponentially_to_sixty_seconds() {
    let mut e = machine(1, &[1, 2, 3]);
    let mut now = 0;
    let mut at = last_timer(&e.start_election(now, 1, 1)).unwrap();
    let mut waits = Vec::new();
    // A stale firing does nothing.
    assert!(e.on_timer(at - 1).is_empty());
    for _ in 0..12 {
        now = at;
        let out = e.on_timer(now);
        assert_eq!(sends(&out).len(), 1, "re-sends its vote on each timeout");
        at = last_timer(&out).unwrap();
        waits.push(at - now);
    }
    assert_eq!(&waits[..9], &[400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000]);
    assert!(waits[9..].iter().all(|w| *w == MAX_NOTIFICATION_INTERVAL_MS));
}

#[test]
fn lagging_looking_peer_gets_our_round_and_proposal() {
    let mut e = machine(3, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    e.start_election(0, 10, 1); // round 2
    let out = e.on_notification(5, 1, note(ServerState::Looking, 1, 10, 1, 1));
    assert_eq!(sends(&out), vec![(Some(1), note(ServerState::Looking, 3, 10, 2, 1))]);
}

#[test]
fn higher_round_resets_votes_and_compares_against_initial_vote() {
    let mut e = machine(1, &[1, 2, 3, 4, 5]);
    e.start_election(0, 50, 1);
    // Same round: 3 proposes something better; we adopt it.
    let out = e.on_notification(1, 3, note(ServerState::Looking, 3, 60, 1, 1));
    assert_eq!(e.proposal().leader, 3);
    assert_eq!(sends(&out)[0].1.leader, 3);
    // A higher round with a worse proposal than ours: back to our own vote.
    let out = e.on_notification(2, 2, note(ServerState::Looking, 2, 40, 5, 1));
    assert_eq!(e.logical_clock(), 5);
    assert_eq!(e.proposal().leader, 1);
    assert_eq!(sends(&out), vec![(None, note(ServerState::Looking, 1, 50, 5, 1))]);
    assert_eq!(decided(&out), None);
}

#[test]
fn quorum_then_finalize_wait_then_decide() {
    let mut e = machine(1, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    let out = e.on_notification(10, 2, note(ServerState::Looking, 2, 10, 1, 1));
    // {1, 2} agree on 2 after the loopback: finalize wait starts.
    assert_eq!(last_timer(&out), Some(10 + FINALIZE_WAIT_MS));
    // A worse notification restarts the wait.
    let out = e.on_notification(100, 2, note(ServerState::Looking, 1, 10, 1, 1));
    assert_eq!(last_timer(&out), Some(100 + FINALIZE_WAIT_MS));
    assert!(e.on_timer(210).is_empty());
    // A better one interrupts finalizing.
    let out = e.on_notification(150, 3, note(ServerState::Looking, 3, 10, 1, 1));
    assert_eq!(e.proposal().leader, 3);
    assert_eq!(last_timer(&out), Some(150 + FINALIZE_WAIT_MS), "1 and 3 agree on 3");
    let out = e.on_timer(350);
    assert_eq!(decided(&out).unwrap().1, ServerState::Following);
    assert_eq!(decided(&out).unwrap().0.leader, 3);
    assert_eq!(e.state(), ServerState::Following);
}

#[test]
fn out_of_election_peer_answers_looking_peers_with_current_vote() {
    let mut e = machine(3, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    e.on_notification(1, 1, note(ServerState::Looking, 3, 10, 1, 1));
    let out = e.on_timer(1 + FINALIZE_WAIT_MS);
    assert_eq!(decided(&out).unwrap().1, ServerState::Leading);
    // A LOOKING peer in any round learns our vote, with our election epoch.
    let out = e.on_notification(500, 2, note(ServerState::Looking, 2, 10, 7, 1));
    assert_eq!(sends(&out), vec![(Some(2), note(ServerState::Leading, 3, 10, 1, 1))]);
    assert_eq!(e.logical_clock(), 1);
    // Non-LOOKING senders get nothing.
    assert!(e.on_notification(501, 1, note(ServerState::Following, 3, 10, 1, 1)).is_empty());
    e.update_election_vote(2);
    let out = e.on_notification(502, 2, note(ServerState::Looking, 2, 10, 7, 1));
    assert_eq!(sends(&out)[0].1.peer_epoch, 2);
}

#[test]
fn non_voter_gets_an_immediate_answer_and_is_not_counted() {
    let mut e = machine(1, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    let out = e.on_notification(1, 9, note(ServerState::Looking, 9, 99, 1, 9));
    assert_eq!(sends(&out), vec![(Some(9), note(ServerState::Looking, 1, 10, 1, 1))]);
    assert_eq!(e.proposal().leader, 1);
    // A vote for a non-voter from a voter is ignored too.
    e.on_notification(2, 2, note(ServerState::Looking, 9, 99, 1, 9));
    assert_eq!(e.proposal().leader, 1);
}

#[test]
fn minus_one_zxid_notifications_are_ignored() {
    let mut e = machine(1, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    e.on_notification(1, 3, note(ServerState::Looking, 3, -1, 4, 1));
    assert_eq!((e.logical_clock(), e.proposal().leader), (1, 1));
    let mut empty = machine(1, &[1, 2, 3]);
    empty.start_election(0, -1, 0);
    empty.on_notification(1, 3, note(ServerState::Looking, 3, 5, 4, 1));
    assert_eq!((empty.logical_clock(), empty.proposal().leader), (1, 1));
}

#[test]
fn vote_equality_follows_apache_quirks() {
    let v = |state, version, pe, zxid| Vote { leader: 3, zxid, election_epoch: 1, peer_epoch: pe, state, version };
    use ServerState::*;
    assert!(!v(Looking, 0, 1, 5).agrees_with(&v(Following, 0, 1, 6)), "LOOKING compares zxid");
    assert!(v(Following, 2, 1, 5).agrees_with(&v(Leading, 2, 1, 6)), "out of election ignores zxid");
    assert!(!v(Following, 2, 1, 5).agrees_with(&v(Leading, 2, 2, 5)), "same versions compare peer epoch");
    assert!(v(Following, 0, 1, 5).agrees_with(&v(Leading, 2, 2, 5)), "mixed versions compare leader only");
}

#[test]
fn observer_learns_the_leader_and_observes() {
    let mut e = machine(9, &[1, 2, 3]);
    let out = e.start_election(0, 10, 1);
    assert_eq!(sends(&out)[0].1.leader, i64::MIN, "a non-voter proposes nobody");
    e.on_notification(1, 1, note(ServerState::Following, 3, 10, 1, 1));
    let out = e.on_notification(2, 3, note(ServerState::Leading, 3, 10, 1, 1));
    assert_eq!(decided(&out).map(|d| (d.0.leader, d.1)), Some((3, ServerState::Observing)));
}

#[test]
fn connection_loss_is_not_an_election_event() {
    let mut e = machine(1, &[1, 2, 3]);
    e.start_election(0, 10, 1);
    assert!(e.on_connection_lost(5, 2).is_empty());
}

// ---------------------------------------------------------------------------
// Deterministic network.

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

struct Msg {
    at: u64,
    seq: u64,
    from: Sid,
    to: Sid,
    frame: Vec<u8>,
}

struct Net {
    nodes: BTreeMap<Sid, Election>,
    timers: BTreeMap<Sid, u64>,
    /// Servers not running: messages to and from them are lost.
    down: BTreeSet<Sid>,
    /// Extra one-way latency on every link touching these servers.
    slow: BTreeMap<Sid, u64>,
    in_flight: Vec<Msg>,
    /// Apache's per-peer send queue (capacity 1): the latest message for a
    /// server that is not up goes out when it comes up.
    parked: BTreeMap<(Sid, Sid), Notification>,
    decisions: BTreeMap<Sid, (Vote, ServerState)>,
    now: u64,
    seq: u64,
    rng: Rng,
    max_latency: u64,
    drop_percent: u64,
}

impl Net {
    fn new(sids: &[Sid], seed: u64) -> Net {
        Net {
            nodes: sids.iter().map(|s| (*s, machine(*s, sids))).collect(),
            timers: BTreeMap::new(),
            down: sids.iter().copied().collect(),
            slow: BTreeMap::new(),
            in_flight: Vec::new(),
            parked: BTreeMap::new(),
            decisions: BTreeMap::new(),
            now: 0,
            seq: 0,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            max_latency: 50,
            drop_percent: 0,
        }
    }

    fn start(&mut self, sid: Sid, zxid: i64, epoch: i64) {
        self.down.remove(&sid);
        self.decisions.remove(&sid);
        let out = self.nodes.get_mut(&sid).unwrap().start_election(self.now, zxid, epoch);
        self.apply(sid, out);
        let waiting: Vec<(Sid, Sid)> = self.parked.keys().filter(|(_, to)| *to == sid).copied().collect();
        for key in waiting {
            let n = self.parked.remove(&key).unwrap();
            self.post(key.0, key.1, &n);
        }
    }

    fn post(&mut self, from: Sid, to: Sid, n: &Notification) {
        if self.down.contains(&from) || self.rng.below(100) < self.drop_percent {
            return;
        }
        if self.down.contains(&to) {
            self.parked.insert((from, to), n.clone());
            return;
        }
        let extra = self.slow.get(&from).copied().unwrap_or(0) + self.slow.get(&to).copied().unwrap_or(0);
        let at = self.now + 1 + self.rng.below(self.max_latency) + extra;
        self.seq += 1;
        self.in_flight.push(Msg { at, seq: self.seq, from, to, frame: encode_frame(&n.encode()) });
    }

    fn apply(&mut self, sid: Sid, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, notification } => self.post(sid, to, &notification),
                Action::SendToAll { notification } => {
                    let voters: Vec<Sid> = self.nodes[&sid].config().voters.iter().copied().collect();
                    for to in voters.into_iter().filter(|v| *v != sid) {
                        self.post(sid, to, &notification);
                    }
                }
                Action::SetTimer { at_ms } => {
                    self.timers.insert(sid, at_ms);
                }
                Action::Decided { vote, state } => {
                    assert_eq!(state, self.nodes[&sid].state());
                    self.decisions.insert(sid, (vote, state));
                }
            }
        }
    }

    /// Deliver the next message or fire the next timer, whichever is first.
    fn step(&mut self) -> bool {
        let msg = self.in_flight.iter().enumerate().min_by_key(|(_, m)| (m.at, m.seq)).map(|(i, m)| (i, m.at));
        let timer = self.timers.iter().filter(|(s, _)| !self.down.contains(s)).min_by_key(|(_, t)| **t);
        let timer = timer.map(|(s, t)| (*s, *t));
        match (msg, timer) {
            (Some((i, at)), t) if t.is_none_or(|(_, tat)| at <= tat) => {
                let m = self.in_flight.swap_remove(i);
                self.now = self.now.max(at);
                if self.down.contains(&m.to) {
                    return true;
                }
                let (payload, _) = decode_frame(&m.frame).unwrap().unwrap();
                let n = Notification::decode(payload).unwrap();
                if std::env::var("FLE_TRACE").is_ok() {
                    eprintln!(
                        "t={} {}->{} {:?} {} {} ee{}",
                        self.now, m.from, m.to, n.state, n.leader, n.zxid, n.election_epoch
                    );
                }
                let out = self.nodes.get_mut(&m.to).unwrap().on_notification(self.now, m.from, n);
                self.apply(m.to, out);
                true
            }
            (_, Some((sid, at))) => {
                self.timers.remove(&sid);
                self.now = self.now.max(at);
                let out = self.nodes.get_mut(&sid).unwrap().on_timer(self.now);
                self.apply(sid, out);
                true
            }
            _ => false,
        }
    }

    fn run_until(&mut self, end: u64) {
        while self.now <= end && self.step() {}
    }

    fn leaders(&self) -> BTreeSet<Sid> {
        self.decisions.values().map(|(v, _)| v.leader).collect()
    }

    /// Everyone running decided, on one leader, which is LEADING itself.
    fn assert_settled(&self, ctx: &str) -> Sid {
        let running: Vec<Sid> = self.nodes.keys().filter(|s| !self.down.contains(s)).copied().collect();
        for s in &running {
            assert!(self.decisions.contains_key(s), "{ctx}: {s} undecided; decisions {:?}", self.decisions);
        }
        let leaders = self.leaders();
        assert_eq!(leaders.len(), 1, "{ctx}: split decision {:?}", self.decisions);
        let leader = *leaders.iter().next().unwrap();
        assert_eq!(self.nodes[&leader].state(), ServerState::Leading, "{ctx}");
        for s in running.iter().filter(|s| **s != leader) {
            assert_eq!(self.nodes[s].state(), ServerState::Following, "{ctx}: {s}");
        }
        leader
    }
}

/// Random histories: (peer epoch, zxid) per sid, with ties likely.
fn histories(rng: &mut Rng, sids: &[Sid]) -> BTreeMap<Sid, (i64, i64)> {
    sids.iter()
        .map(|s| {
            let epoch = 1 + rng.below(2) as i64;
            (*s, (epoch, (epoch << 32) | rng.below(3) as i64))
        })
        .collect()
}

fn best(h: &BTreeMap<Sid, (i64, i64)>, among: impl Fn(Sid) -> bool) -> Sid {
    h.iter().filter(|(s, _)| among(**s)).max_by_key(|(s, (e, z))| (*e, *z, **s)).map(|(s, _)| *s).unwrap()
}

fn elect_highest(sids: &[Sid], seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let mut net = Net::new(sids, seed);
        let h = histories(&mut net.rng, sids);
        // Staggered starts, shorter than the finalize wait.
        let mut order: Vec<Sid> = sids.to_vec();
        for i in (1..order.len()).rev() {
            let j = net.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        for s in order {
            net.now += net.rng.below(20);
            net.start(s, h[&s].1, h[&s].0);
        }
        net.run_until(30_000);
        let leader = net.assert_settled(&format!("seed {seed}"));
        assert_eq!(leader, best(&h, |_| true), "seed {seed}: histories {h:?}");
    }
}

#[test]
fn three_peers_elect_the_most_up_to_date_server() {
    elect_highest(&[1, 2, 3], 0..60);
}

#[test]
fn five_peers_elect_the_most_up_to_date_server() {
    elect_highest(&[1, 2, 3, 4, 5], 0..60);
}

#[test]
fn equal_histories_elect_the_highest_sid() {
    let mut net = Net::new(&[1, 2, 3, 4, 5], 7);
    for s in [3, 1, 5, 2, 4] {
        net.start(s, 0x1_0000_0000, 1);
    }
    net.run_until(10_000);
    assert_eq!(net.assert_settled("equal"), 5);
}

#[test]
fn lossy_network_still_converges_after_restarts() {
    for seed in 0..30 {
        let sids = [1, 2, 3, 4, 5];
        let mut net = Net::new(&sids, 100 + seed);
        net.drop_percent = 15;
        let h = histories(&mut net.rng, &sids);
        for s in sids {
            net.start(s, h[&s].1, h[&s].0);
        }
        net.run_until(120_000);
        // With loss a peer may decide before hearing the best vote. As in
        // Apache, whoever cannot join its leader (not LEADING, or not the
        // majority's leader) goes LOOKING again and must learn the leader.
        let mut count: BTreeMap<Sid, usize> = BTreeMap::new();
        for (v, _) in net.decisions.values() {
            *count.entry(v.leader).or_default() += 1;
        }
        let (&major, &n) = count.iter().max_by_key(|(_, n)| **n).expect("someone decided");
        assert!(n >= 3, "seed {seed}: no majority {:?}", net.decisions);
        net.drop_percent = 0;
        let losers: Vec<Sid> =
            sids.iter().copied().filter(|s| net.decisions.get(s).map(|d| d.0.leader) != Some(major)).collect();
        for s in losers {
            net.start(s, h[&s].1, h[&s].0);
        }
        net.run_until(net.now + 120_000);
        assert_eq!(net.assert_settled(&format!("seed {seed}")), major);
    }
}

#[test]
fn slow_peer_learns_the_leader_the_others_chose() {
    for seed in 0..20 {
        let sids = [1, 2, 3, 4, 5];
        let mut net = Net::new(&sids, 500 + seed);
        let h = histories(&mut net.rng, &sids);
        let slowest = best(&h, |_| true); // even the best history cannot win if it is slow
        net.slow.insert(slowest, 2_000);
        for s in sids {
            net.start(s, h[&s].1, h[&s].0);
        }
        net.run_until(60_000);
        let leader = net.assert_settled(&format!("seed {seed}"));
        assert_eq!(leader, best(&h, |s| s != slowest), "seed {seed}");
    }
}

#[test]
fn late_joiner_learns_the_existing_leader() {
    for (sids, late) in [(&[1, 2, 3][..], 3), (&[1, 2, 3, 4, 5][..], 5)] {
        let mut net = Net::new(sids, 42);
        for s in sids.iter().copied().filter(|s| *s != late) {
            net.start(s, 0x1_0000_0010, 1);
        }
        net.run_until(10_000);
        let leader = net.assert_settled("before join");
        assert_ne!(leader, late);
        // The joiner has the highest sid and a newer zxid, yet must follow.
        net.start(late, 0x1_0000_0020, 1);
        net.run_until(20_000);
        assert_eq!(net.assert_settled("after join"), leader);
        assert_eq!(net.nodes[&late].state(), ServerState::Following);
    }
}

#[test]
fn joiner_ahead_in_election_rounds_adopts_the_ensemble_round() {
    let sids = [1, 2, 3];
    let mut net = Net::new(&sids, 3);
    net.start(1, 5, 1);
    net.start(2, 5, 1);
    net.run_until(10_000);
    let leader = net.assert_settled("pair");
    let ensemble_round = net.decisions[&leader].0.election_epoch;
    // Peer 3 already ran several rounds alone (its clock is ahead).
    for _ in 0..4 {
        let e = net.nodes.get_mut(&3).unwrap();
        e.start_election(net.now, 5, 1);
    }
    net.start(3, 5, 1);
    net.run_until(30_000);
    assert_eq!(net.assert_settled("joined"), leader);
    assert_eq!(net.nodes[&3].logical_clock(), ensemble_round);
}

#[test]
fn without_a_quorum_nobody_decides() {
    for (sids, alive) in [(&[1, 2, 3][..], &[2][..]), (&[1, 2, 3, 4, 5][..], &[1, 4][..])] {
        let mut net = Net::new(sids, 9);
        for s in alive {
            net.start(*s, 0x1_0000_0001, 1);
        }
        net.run_until(600_000);
        assert!(net.decisions.is_empty(), "{:?}", net.decisions);
        for s in alive {
            assert_eq!(net.nodes[s].state(), ServerState::Looking);
            assert_eq!(net.nodes[s].notification_timeout_ms(), MAX_NOTIFICATION_INTERVAL_MS);
        }
        // Once a quorum is up they elect the best of those present.
        let extra = sids.iter().copied().find(|s| !alive.contains(s)).unwrap();
        net.start(extra, 0x1_0000_0001, 1);
        if sids.len() == 5 {
            let more = sids.iter().copied().filter(|s| !alive.contains(s) && *s != extra).max().unwrap();
            net.start(more, 0x1_0000_0001, 1);
        }
        net.run_until(net.now + 200_000);
        net.assert_settled("quorum restored");
    }
}
