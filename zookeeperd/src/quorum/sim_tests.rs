//! Whole ensembles of our election, leader and learner state machines
//! (`sim`) through random crashes, restarts and writes, and one targeted
//! failover: every txn ever committed survives, and nothing else does.

use super::sim::{Role, Sim};

fn run(seed: u64, servers: i64) {
    let mut sim = Sim::new(servers, seed);
    let sids = sim.voters();
    // Faults and writes.
    for _ in 0..6000 {
        match sim.rand(1000) {
            0..=3 => {
                let victim = sids[sim.rand(sids.len() as u64) as usize];
                if matches!(sim.servers[&victim].role, Role::Down) {
                    sim.boot(victim);
                } else {
                    sim.crash(victim);
                }
            }
            4..=80 => sim.write(),
            _ => {}
        }
        sim.step();
    }
    // Everyone back up; no more faults. A few writes, then quiet.
    for sid in sids.clone() {
        if matches!(sim.servers[&sid].role, Role::Down) {
            sim.boot(sid);
        }
    }
    let mut steps = 0;
    while !sim.settled() {
        if steps % 97 == 0 && steps < 5000 {
            sim.write();
        }
        sim.step();
        steps += 1;
        assert!(steps < 200_000, "seed {seed}: the ensemble never settled\n{}", sim.describe());
    }
    let log = &sim.servers[&sids[0]].disk.log;
    for (zxid, txn) in &sim.acked {
        assert!(log.contains(&(*zxid, txn.clone())), "seed {seed}: committed {zxid:#x} lost");
    }
    assert!(!sim.acked.is_empty(), "seed {seed}: nothing was ever committed");
}

#[test]
fn three_servers_keep_every_commit_through_crashes() {
    for seed in 1..=20 {
        run(seed, 3);
    }
}

#[test]
fn five_servers_keep_every_commit_through_crashes() {
    for seed in 100..=110 {
        run(seed, 5);
    }
}

/// The leader logs a proposal and dies before sending it; the others elect
/// a new leader, and when the old one returns its extra txn is truncated
/// (TRUNC), as it was never committed.
#[test]
fn a_txn_only_the_dead_leader_logged_is_truncated_when_it_returns() {
    let mut sim = Sim::new(3, 7);
    sim.settle("start");
    for _ in 0..5 {
        sim.write();
    }
    sim.settle("first writes");
    let old = sim.leader().expect("a leader");
    sim.write();
    let orphan = sim.servers[&old].disk.log.last().cloned().expect("logged");
    assert!(!sim.acked.contains_key(&orphan.0));
    sim.crash_unsent(old);
    let mut steps = 0;
    while sim.leader().is_none() {
        sim.step();
        steps += 1;
        assert!(steps < 100_000, "no new leader\n{}", sim.describe());
    }
    sim.boot(old);
    sim.settle("the old leader's return");
    for s in sim.servers.values() {
        assert!(!s.disk.log.contains(&orphan), "the uncommitted txn {:#x} survived", orphan.0);
    }
    assert_ne!(sim.leader(), Some(old));
}
