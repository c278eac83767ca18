//! Kafka on a ZooKeeper ensemble: three brokers whose zookeeper.connect
//! lists all three zookeeperd members keep taking and serving records
//! while the ZooKeeper leader is killed and restarted, twice. No broker
//! loses its registration: each /brokers/ids/N stays the znode it created
//! at start (same czxid and owner), because its session moves to another
//! member within the session timeout.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{kcat, wait_for, Kafkad};
use system_tests::ZkEnsemble;
use zookeeper_client::Client;

const T: Duration = Duration::from_secs(60);

fn registration(rt: &tokio::runtime::Runtime, zk: &Client, id: i32) -> Option<(i64, i64)> {
    let (_, stat) = rt.block_on(zk.get_data(&format!("/brokers/ids/{id}"))).ok()?;
    Some((stat.czxid, stat.ephemeral_owner))
}

fn isr(rt: &tokio::runtime::Runtime, zk: &Client) -> Option<usize> {
    let (data, _) = rt.block_on(zk.get_data("/brokers/topics/t/partitions/0/state")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
    Some(v["isr"].as_array()?.len())
}

#[test]
fn brokers_keep_serving_while_the_zookeeper_leader_is_killed() {
    let mut ens = ZkEnsemble::start();
    let connect = ens.connect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let brokers: Vec<Kafkad> = (0..3)
        .map(|id| Kafkad::start_member(&tmp.path().join(format!("b{id}")), id, &connect, "min.insync.replicas=2"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let zk = rt.block_on(Client::connect(&connect)).expect("zookeeper client");
    let before: Vec<(i64, i64)> =
        (0..3).map(|id| wait_for(&format!("broker {id} registered"), T, || registration(&rt, &zk, id))).collect();
    common::create_topic(brokers[0].port, "t", 1, 3, &[]);
    wait_for("t-0 in sync on all three", T, || isr(&rt, &zk).filter(|n| *n == 3));

    // A producer that keeps going through the faults, acks=all.
    let boot: String = brokers.iter().map(Kafkad::bootstrap).collect::<Vec<_>>().join(",");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (boot, acked, stop) = (boot.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let value = format!("r{n}");
                let out = kcat(
                    &["-b", &boot, "-P", "-t", "t", "-p", "0", "-X", "acks=all"],
                    Some(format!("{value}\n").as_bytes()),
                );
                if out.status.success() {
                    acked.lock().expect("lock").push(value);
                }
            }
        })
    };
    let acked_now = || acked.lock().expect("lock").len();

    for round in 0..2 {
        let leader = ens.wait_quorum();
        let seen = acked_now();
        ens.kill9(leader);
        let new = wait_for("a new ZooKeeper leader of the two left", T, || ens.leader());
        assert_ne!(new, leader);
        // Records keep being acknowledged with the old leader dead.
        wait_for(&format!("round {round}: writes acked during the failover"), T, || {
            (acked_now() >= seen + 5).then_some(())
        });
        ens.restart(leader);
        wait_for("the killed member back as a follower", T, || {
            ens.leader().filter(|_| (0..3).all(|i| ens.mode(i).is_some()))
        });
    }
    let seen = acked_now();
    wait_for("writes acked after the faults", T, || (acked_now() >= seen + 5).then_some(()));
    stop.store(true, Ordering::SeqCst);
    producer.join().expect("producer");

    // The same registrations: no broker re-registered on a new session.
    for id in 0..3 {
        let now = wait_for(&format!("broker {id} registered"), T, || registration(&rt, &zk, id));
        assert_eq!(now, before[id as usize], "broker {id}'s registration changed: its session was lost");
    }
    assert_eq!(isr(&rt, &zk), Some(3), "all three stay in sync");
    // Every acknowledged record can be read back.
    let out = kcat(&["-b", &boot, "-C", "-t", "t", "-p", "0", "-o", "beginning", "-e", "-q"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: std::collections::HashSet<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    let acked = acked.lock().expect("lock");
    let lost: Vec<&String> = acked.iter().filter(|v| !got.contains(*v)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged records lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(10)]
    );
}
