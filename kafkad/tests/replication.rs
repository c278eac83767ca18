//! Replication between brokers: three kafkad processes on one zookeeperd.
//! Followers copy the leader's batches byte for byte, the ISR shrinks and
//! grows as Kafka's does, acks=all survives a kill -9 of the leader, and
//! min.insync.replicas refuses writes the ISR cannot cover.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{kcat, py_script, rpc, wait_for, Kafkad};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use system_tests::ZkServer;

const T: Duration = Duration::from_secs(60);

struct Cluster {
    _zk: ZkServer,
    brokers: Vec<Kafkad>,
    /// Each broker's /metrics port.
    metrics: Vec<u16>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start(n: i32, extra: &str) -> Cluster {
        let zk = ZkServer::start(&[]);
        let tmp = tempfile::tempdir().expect("tempdir");
        let metrics: Vec<u16> = (0..n).map(|_| common::free_port()).collect();
        let brokers = (0..n)
            .map(|id| {
                let extra = format!("{extra}\nmetrics.port={}", metrics[id as usize]);
                Kafkad::start_member(&tmp.path().join(format!("b{id}")), id, &zk.addr(), &extra)
            })
            .collect();
        Cluster { _zk: zk, brokers, metrics, _tmp: tmp }
    }

    /// kafka_under_replicated_partitions on broker `b` (leaders only).
    fn under_replicated(&self, b: i32) -> f64 {
        let text = common::scrape(self.metrics[b as usize]);
        common::series(&text).get("kafka_under_replicated_partitions").copied().unwrap_or(-1.0)
    }

    fn bootstrap(&self) -> String {
        self.brokers.iter().filter(|b| b.child.is_some()).map(|b| b.bootstrap()).collect::<Vec<_>>().join(",")
    }

    /// A running broker's port, for requests.
    fn any_port(&self) -> u16 {
        self.brokers.iter().find(|b| b.child.is_some()).expect("a running broker").port
    }

    fn broker(&mut self, id: i32) -> &mut Kafkad {
        &mut self.brokers[id as usize]
    }

    /// (leader, isr) of a partition as the cluster reports it.
    fn state(&self, topic: &str, p: i32) -> Option<(i32, Vec<i32>)> {
        let mut t = MetadataRequestTopic::default();
        t.name = Some(TopicName(StrBytes::from_string(topic.to_string())));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        let resp: MetadataResponse = rpc(self.any_port(), 9, &req);
        let pm = resp.topics.first()?.partitions.iter().find(|x| x.partition_index == p)?;
        let mut isr: Vec<i32> = pm.isr_nodes.iter().map(|b| b.0).collect();
        isr.sort();
        Some((pm.leader_id.0, isr))
    }

    fn wait_isr(&self, topic: &str, p: i32, isr: &[i32]) -> i32 {
        wait_for(&format!("{topic}-{p} ISR {isr:?}"), T, || {
            self.state(topic, p).filter(|(l, i)| *l >= 0 && i == isr).map(|(l, _)| l)
        })
    }

    fn create_topic(&self, name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) {
        common::create_topic(self.any_port(), name, partitions, rf, configs);
    }
}

/// counted_producer.py writing `n` records with acks=all, and its output
/// lines as they come.
fn counted_producer(bootstrap: &str, topic: &str, n: usize) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut producer = Command::new("timeout")
        .args(["300", "python3"])
        .arg(py_script("counted_producer.py"))
        .args([bootstrap, topic, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = producer.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (producer, rx)
}

/// The partition's log as one byte string: every segment in offset order.
fn log_bytes(broker_dir: &Path, topic: &str, p: i32) -> Vec<u8> {
    let dir: PathBuf = broker_dir.join("logs").join(format!("{topic}-{p}"));
    let mut segs: Vec<(i64, PathBuf)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.strip_suffix(".log").and_then(|s| s.parse().ok()).map(|b| (b, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    segs.sort();
    segs.into_iter().flat_map(|(_, path)| std::fs::read(path).unwrap_or_default()).collect()
}

fn signal(k: &Kafkad, sig: &str) {
    let pid = k.child.as_ref().expect("running").id().to_string();
    assert!(Command::new("kill").args([sig, &pid]).status().expect("kill").success());
}

/// Offsets and values of everything in the partition, via kcat.
fn consume_all(bootstrap: &str, topic: &str, expected: usize) -> Vec<(i64, String)> {
    wait_for(&format!("{expected} records in {topic}"), T, || {
        let out =
            kcat(&["-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%o %s\n"], None);
        let recs: Vec<(i64, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' ').and_then(|(o, v)| Some((o.parse().ok()?, v.to_string()))))
            .collect();
        (recs.len() >= expected).then_some(recs)
    })
}

#[test]
fn acks_all_survives_leader_kill9_and_the_old_leader_rejoins() {
    let mut c = Cluster::start(3, "replica.lag.time.max.ms=10000\nmin.insync.replicas=2");
    c.create_topic("replicated", 1, 3, &[]);
    let leader = c.wait_isr("replicated", 0, &[0, 1, 2]);

    const N: usize = 3000;
    let (mut producer, rx) = counted_producer(&c.bootstrap(), "replicated", N);
    let mut acked: Vec<(i64, String)> = Vec::new();
    let mut errors = Vec::new();
    let mut killed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(170);
    loop {
        let line =
            rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).unwrap_or_else(|_| {
                panic!("producer stalled after {} acks; leader log:\n{}", acked.len(), c.broker(leader).log())
            });
        if line == "DONE" {
            break;
        }
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        match f.as_slice() {
            ["ACK", _, off, v] => acked.push((off.parse().expect("offset"), v.to_string())),
            _ => errors.push(line.clone()),
        }
        if !killed && acked.len() >= N / 4 {
            // Mid-stream: the leader dies without a word.
            c.broker(leader).kill9();
            killed = true;
        }
    }
    let _ = producer.wait();
    assert!(killed);
    assert!(errors.is_empty(), "delivery failures: {:?}", &errors[..errors.len().min(5)]);
    assert_eq!(acked.len(), N, "every record acknowledged once");

    // A survivor leads, and the dead broker is out of the ISR.
    let survivors: Vec<i32> = (0..3).filter(|b| *b != leader).collect();
    let new_leader = c.wait_isr("replicated", 0, &survivors);
    assert_ne!(new_leader, leader);

    // Every acknowledged record is there, at the offset it was acknowledged
    // with; offsets are contiguous and nothing is duplicated.
    let got = consume_all(&c.bootstrap(), "replicated", N);
    assert_eq!(got.len(), N, "idempotence: no duplicates after the failover");
    for (i, (o, _)) in got.iter().enumerate() {
        assert_eq!(*o, i as i64, "contiguous offsets");
    }
    for (o, v) in &acked {
        assert_eq!(&got[*o as usize].1, v, "acknowledged record at offset {o}");
    }

    // The old leader comes back, truncates what it alone had, catches up
    // and rejoins the ISR; all three logs are then the same bytes.
    c.broker(leader).restart();
    c.wait_isr("replicated", 0, &[0, 1, 2]);
    let dirs: Vec<PathBuf> = c.brokers.iter().map(|b| b.dir.clone()).collect();
    wait_for("identical logs on all three brokers", T, || {
        let logs: Vec<Vec<u8>> = dirs.iter().map(|d| log_bytes(d, "replicated", 0)).collect();
        (!logs[0].is_empty() && logs.iter().all(|l| *l == logs[0])).then_some(())
    });
    // Kafka's own files on the followers too.
    for d in &dirs {
        let p = d.join("logs/replicated-0");
        assert!(p.join("leader-epoch-checkpoint").exists() && p.join("partition.metadata").exists());
    }
}

#[test]
fn lagging_follower_leaves_the_isr_and_min_insync_refuses_acks_all() {
    // A long ZooKeeper session: the ISR shrinks by replica lag, not because
    // the stopped brokers lost their sessions.
    let mut c =
        Cluster::start(3, "replica.lag.time.max.ms=2000\nmin.insync.replicas=2\nzookeeper.session.timeout.ms=60000");
    c.create_topic("lagging", 1, 3, &[]);
    let leader = c.wait_isr("lagging", 0, &[0, 1, 2]);
    let b = c.brokers[leader as usize].bootstrap();
    let out = kcat(&["-b", &b, "-P", "-t", "lagging", "-p", "0", "-X", "acks=all"], Some(b"one\ntwo\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let followers: Vec<i32> = (0..3).filter(|x| *x != leader).collect();
    signal(&c.brokers[followers[0] as usize], "-STOP");
    let mut rest = vec![leader, followers[1]];
    rest.sort();
    c.wait_isr("lagging", 0, &rest);
    assert!(c.broker(leader).log().contains("shrinking ISR"), "the leader shrank the ISR");
    wait_for("the leader to report an under-replicated partition", T, || {
        (c.under_replicated(leader) == 1.0).then_some(())
    });
    // Two in sync: acks=all still works.
    let out = kcat(&["-b", &b, "-P", "-t", "lagging", "-p", "0", "-X", "acks=all"], Some(b"three\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    signal(&c.brokers[followers[1] as usize], "-STOP");
    c.wait_isr("lagging", 0, &[leader]);
    // One in sync, min.insync.replicas=2: refused, and nothing is stored.
    let out = kcat(
        &["-b", &b, "-P", "-t", "lagging", "-p", "0", "-X", "acks=all", "-X", "message.send.max.retries=0"],
        Some(b"refused\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Not enough in-sync replicas"), "{err}");
    // acks=1 still goes through.
    let out = kcat(&["-b", &b, "-P", "-t", "lagging", "-p", "0", "-X", "acks=1"], Some(b"four\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Both resume, catch up, and rejoin.
    signal(&c.brokers[followers[0] as usize], "-CONT");
    signal(&c.brokers[followers[1] as usize], "-CONT");
    c.wait_isr("lagging", 0, &[0, 1, 2]);
    wait_for("no under-replicated partition", T, || (c.under_replicated(leader) == 0.0).then_some(()));
    let got: Vec<String> = consume_all(&b, "lagging", 4).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, vec!["one", "two", "three", "four"]);
    let dirs: Vec<PathBuf> = c.brokers.iter().map(|b| b.dir.clone()).collect();
    wait_for("followers hold the same bytes", T, || {
        let logs: Vec<Vec<u8>> = dirs.iter().map(|d| log_bytes(d, "lagging", 0)).collect();
        logs.iter().all(|l| *l == logs[0]).then_some(())
    });
}

/// A group's committed offsets live in a replicated __consumer_offsets: kill
/// -9 the group coordinator and the group resumes at its commit on the
/// broker that takes over the offsets partition.
#[test]
fn group_coordinator_fails_over_with_its_committed_offsets() {
    let mut c = Cluster::start(3, "offsets.topic.replication.factor=3\noffsets.topic.num.partitions=1");
    c.create_topic("orders", 1, 3, &[]);
    c.wait_isr("orders", 0, &[0, 1, 2]);
    let input: String = (0..100).map(|i| format!("o{i}\n")).collect();
    let out = kcat(&["-b", &c.bootstrap(), "-P", "-t", "orders", "-p", "0", "-X", "acks=all"], Some(input.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let py = |bootstrap: &str, count: &str| {
        let out = Command::new("timeout")
            .args(["120", "python3"])
            .arg(py_script("group_resume.py"))
            .args([bootstrap, "orders", "billing", count])
            .output()
            .expect("python3");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(stdout.contains("ALL OK"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let first = py(&c.bootstrap(), "40");
    assert!(first.contains("FIRST 0\n") && first.contains("COMMITTED 40\n"), "{first}");
    // The offsets partition is replicated everywhere before its leader dies.
    c.wait_isr("__consumer_offsets", 0, &[0, 1, 2]);
    let coordinator = c.state("__consumer_offsets", 0).expect("offsets partition").0;
    c.broker(coordinator).kill9();
    let survivors: Vec<i32> = (0..3).filter(|b| *b != coordinator).collect();
    c.wait_isr("__consumer_offsets", 0, &survivors);
    let second = py(&c.bootstrap(), "60");
    assert!(second.contains("FIRST 40\n") && second.contains("COMMITTED 100\n"), "{second}");
}

/// Kill -9 each broker in turn (and bring it back) while an acks=all
/// idempotent producer writes three partitions: nothing acknowledged is
/// lost, nothing is written twice, offsets stay contiguous, and the three
/// brokers end with identical logs.
#[test]
fn rolling_kill9_loses_and_duplicates_nothing() {
    let mut c = Cluster::start(3, "replica.lag.time.max.ms=5000\nmin.insync.replicas=2");
    c.create_topic("rolling", 3, 3, &[]);
    for p in 0..3 {
        c.wait_isr("rolling", p, &[0, 1, 2]);
    }
    const N: usize = 9000;
    let (mut producer, rx) = counted_producer(&c.bootstrap(), "rolling", N);
    // Delivered records, and those librdkafka knows the offset of (after a
    // retry it may report a delivered record without one).
    let (mut delivered, mut with_offset, mut errors) = (0usize, Vec::new(), Vec::new());
    // Broker k dies once N*(k+1)/4 records are delivered and comes back
    // after N/10 more: progress without it proves the failover.
    let mut down: Option<(i32, usize)> = None;
    let mut next = 0i32;
    let deadline = std::time::Instant::now() + Duration::from_secs(280);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("producer stalled after {delivered} deliveries"));
        if line == "DONE" {
            break;
        }
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        match f.as_slice() {
            ["ACK", p, off, v] => {
                delivered += 1;
                if let (Ok(p), Ok(off)) = (p.parse::<i32>(), off.parse::<i64>()) {
                    with_offset.push((p, off, v.to_string()));
                }
            }
            _ => errors.push(line.clone()),
        }
        match down {
            Some((b, at)) if delivered >= at + N / 10 => {
                c.broker(b).restart_no_wait();
                down = None;
            }
            None if next < 3 && delivered >= N * (next as usize + 1) / 4 => {
                c.broker(next).kill9();
                down = Some((next, delivered));
                next += 1;
            }
            _ => {}
        }
    }
    let _ = producer.wait();
    if let Some((b, _)) = down {
        c.broker(b).restart_no_wait();
    }
    assert_eq!(next, 3, "every broker was killed once");
    assert!(errors.is_empty(), "delivery failures: {:?}", &errors[..errors.len().min(5)]);
    assert_eq!(delivered, N);
    for p in 0..3 {
        c.wait_isr("rolling", p, &[0, 1, 2]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for p in 0..3 {
        let out = kcat(
            &[
                "-b",
                &c.bootstrap(),
                "-C",
                "-t",
                "rolling",
                "-p",
                &p.to_string(),
                "-o",
                "beginning",
                "-e",
                "-f",
                "%o %s\n",
            ],
            None,
        );
        let recs: Vec<(i64, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' ').and_then(|(o, v)| Some((o.parse().ok()?, v.to_string()))))
            .collect();
        for (i, (o, v)) in recs.iter().enumerate() {
            assert_eq!(*o, i as i64, "contiguous offsets in partition {p}");
            assert!(seen.insert(v.clone()), "{v} written twice");
        }
        for (_, o, v) in with_offset.iter().filter(|a| a.0 == p) {
            assert_eq!(recs.get(*o as usize).map(|r| &r.1), Some(v), "partition {p} offset {o}");
        }
        total += recs.len();
    }
    assert_eq!(total, N, "every record stored once");
    let dirs: Vec<PathBuf> = c.brokers.iter().map(|b| b.dir.clone()).collect();
    for p in 0..3 {
        wait_for("identical logs", T, || {
            let logs: Vec<Vec<u8>> = dirs.iter().map(|d| log_bytes(d, "rolling", p)).collect();
            logs.iter().all(|l| *l == logs[0]).then_some(())
        });
    }
}

/// With no in-sync replica alive the partition goes offline (no clean
/// leader); an unclean ElectLeaders brings back the out-of-sync replica,
/// losing what only the dead leader had, and that leader, on return,
/// truncates its diverged tail and follows.
#[test]
fn unclean_election_on_request_and_the_old_leader_truncates_its_diverged_tail() {
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
    let mut c = Cluster::start(2, "replica.lag.time.max.ms=2000\nmin.insync.replicas=1");
    c.create_topic("edge", 1, 2, &[]);
    let leader = c.wait_isr("edge", 0, &[0, 1]);
    let follower = 1 - leader;
    let produce = |c: &Cluster, b: i32, lines: &str| {
        let bs = c.brokers[b as usize].bootstrap();
        let out = kcat(&["-b", &bs, "-P", "-t", "edge", "-p", "0", "-X", "acks=all"], Some(lines.as_bytes()));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    produce(&c, leader, "both1\nboth2\n");
    wait_for("the follower to have both records", T, || {
        (log_bytes(&c.brokers[follower as usize].dir, "edge", 0)
            == log_bytes(&c.brokers[leader as usize].dir, "edge", 0))
        .then_some(())
    });
    // The follower dies; the leader goes on alone.
    c.broker(follower).kill9();
    c.wait_isr("edge", 0, &[leader]);
    produce(&c, leader, "only-leader1\nonly-leader2\nonly-leader3\n");
    // The leader dies too, and only the out-of-sync follower comes back:
    // no clean leader, so the partition stays offline.
    c.broker(leader).kill9();
    c.broker(follower).restart();
    wait_for("the partition offline", T, || c.state("edge", 0).filter(|(l, _)| *l == -1).map(|_| ()));
    let mut tp = TopicPartitions::default();
    tp.topic = TopicName(StrBytes::from_static_str("edge"));
    tp.partitions = vec![0];
    let mut req = ElectLeadersRequest::default();
    req.election_type = 1;
    req.topic_partitions = Some(vec![tp]);
    req.timeout_ms = 10_000;
    let resp: ElectLeadersResponse = rpc(c.any_port(), 1, &req);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.replica_election_results[0].partition_result[0].error_code, 0, "{resp:?}");
    c.wait_isr("edge", 0, &[follower]);
    // The records only the dead leader had are gone; new ones follow.
    let bs = c.brokers[follower as usize].bootstrap();
    produce(&c, follower, "after\n");
    let got: Vec<String> = consume_all(&bs, "edge", 3).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, vec!["both1", "both2", "after"]);
    // The old leader returns as a follower: it cuts its three diverged
    // records (by leader epoch), copies "after", and rejoins the ISR.
    c.broker(leader).restart();
    c.wait_isr("edge", 0, &[0, 1]);
    let dirs: Vec<PathBuf> = c.brokers.iter().map(|b| b.dir.clone()).collect();
    wait_for("identical logs", T, || (log_bytes(&dirs[0], "edge", 0) == log_bytes(&dirs[1], "edge", 0)).then_some(()));
    assert!(c.brokers[leader as usize].log().contains("truncating log"), "the old leader truncated");
}
