//! zookeeperd and Apache ZooKeeper 3.8 servers in one ensemble:
//! {zookeeperd, zookeeperd, Apache} and {Apache, Apache, zookeeperd}.
//! Through the zookeeper-client crate, writes go through every member and
//! every member then serves the same znodes with the same Stat; the leader
//! is killed until each kind has led, and the killed member comes back on
//! its dataDir and catches up. Every member computes the same tree digest
//! after each txn: the `hash` lists agree and no member counts a mismatch
//! against its leader's. (tests/py/test_ensemble.py runs kazoo and
//! zkCli.sh against the same mixes.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::ensemble::{Ensemble, Kind, QuorumPeer};
use common::{four_letter_word, wait_for};
use zookeeper_client::{Acls, Client, CreateMode};

const ELECTION: Duration = Duration::from_secs(60);
/// A client's writes or reads that take longer have hung.
const OP: Duration = Duration::from_secs(30);

type Tree = BTreeMap<String, (Vec<u8>, i64, i64, i64, i32, i32, i32, i64)>;

fn leader(members: &[Option<QuorumPeer>]) -> Option<usize> {
    let modes: Vec<Option<String>> = members.iter().map(|m| m.as_ref().and_then(QuorumPeer::mode)).collect();
    let up = members.iter().filter(|m| m.is_some()).count();
    let leaders: Vec<usize> = (0..3).filter(|i| modes[*i].as_deref() == Some("leader")).collect();
    let followers = modes.iter().filter(|m| m.as_deref() == Some("follower")).count();
    (leaders.len() == 1 && followers + 1 == up).then(|| leaders[0])
}

async fn connect(port: u16) -> Client {
    let addr = format!("127.0.0.1:{port}");
    // A member may still be joining: retry until the election deadline,
    // polling faster first.
    let deadline = tokio::time::Instant::now() + ELECTION;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Ok(c) = Client::connector().with_session_timeout(Duration::from_secs(10)).connect(&addr).await {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "no session on {addr} within {ELECTION:?}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// The whole tree below "/" (without /zookeeper) as one member serves it
/// after a sync: data and Stat of every znode.
async fn tree(port: u16) -> Tree {
    tokio::time::timeout(OP, read_tree(port)).await.unwrap_or_else(|_| panic!("reading the tree on {port} hung"))
}

async fn read_tree(port: u16) -> Tree {
    let c = connect(port).await;
    c.sync("/").await.expect("sync");
    let mut out = Tree::new();
    let mut todo = vec!["/".to_string()];
    while let Some(p) = todo.pop() {
        for child in c.list_children(&p).await.expect("children") {
            let path = if p == "/" { format!("/{child}") } else { format!("{p}/{child}") };
            if path == "/zookeeper" {
                continue;
            }
            let (data, s) = c.get_data(&path).await.expect("get");
            out.insert(
                path.clone(),
                (data, s.czxid, s.mzxid, s.pzxid, s.version, s.cversion, s.num_children, s.ephemeral_owner),
            );
            todo.push(path);
        }
    }
    out
}

async fn write_through(port: u16, tag: &str) {
    let w = tokio::time::timeout(OP, write(port, tag));
    w.await.unwrap_or_else(|_| panic!("writes through {port} got no answer"));
}

async fn write(port: u16, tag: &str) {
    let c = connect(port).await;
    let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let _ = c.create("/seq", b"", &opts).await;
    c.create(&format!("/{tag}"), tag.as_bytes(), &opts).await.expect("create");
    let seq = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    c.create("/seq/n-", tag.as_bytes(), &seq).await.expect("sequential create");
    c.set_data(&format!("/{tag}"), b"changed", None).await.expect("set");
}

/// Writes enough txns through `port` that the zxid passes a multiple of
/// 128, where every member records its digest (the `hash` command).
async fn burst(port: u16) {
    let c = connect(port).await;
    let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let _ = c.create("/burst", b"", &opts).await;
    for i in 0..130 {
        let (path, data) = (format!("/burst/n{i}"), format!("{i}"));
        tokio::time::timeout(OP, c.create(&path, data.as_bytes(), &opts))
            .await
            .expect("burst write hung")
            .expect("burst create");
    }
}

/// `hash`: zxid (hex) -> digest.
fn hashes(m: &QuorumPeer) -> BTreeMap<String, String> {
    let out = four_letter_word(m.client_port, "hash").unwrap_or_default();
    out.lines().filter_map(|l| l.split_once(": ")).map(|(z, d)| (z.to_string(), d.to_string())).collect()
}

/// Members agree on the digest at every zxid they both recorded (with
/// `all_recorded`, at least one recorded by all: before any restart, whose
/// snapshot may leave a member's list short), and none saw its leader's
/// digest differ.
fn same_digests(members: &[Option<QuorumPeer>], all_recorded: bool) {
    let all: Vec<(&QuorumPeer, BTreeMap<String, String>)> = members.iter().flatten().map(|m| (m, hashes(m))).collect();
    let common = all[0].1.keys().filter(|z| all.iter().all(|(_, h)| h.contains_key(*z))).count();
    assert!(
        !all_recorded || common > 0,
        "no zxid in every member's hash list: {:?}",
        all.iter().map(|(m, h)| (m.sid, h)).collect::<Vec<_>>()
    );
    for (m, h) in &all[1..] {
        for (z, d) in h {
            if let Some(d0) = all[0].1.get(z) {
                assert_eq!(
                    d, d0,
                    "digest at {z}: member {} ({:?}) vs member {} ({:?})",
                    m.sid, m.kind, all[0].0.sid, all[0].0.kind
                );
            }
        }
    }
    for (m, _) in &all {
        let mntr = four_letter_word(m.client_port, "mntr").unwrap_or_default();
        let count = mntr.lines().find_map(|l| l.strip_prefix("zk_digest_mismatches_count\t")).map(str::trim);
        assert_eq!(count, Some("0"), "member {} ({:?}) counted digest mismatches", m.sid, m.kind);
    }
}

async fn same_tree_everywhere(members: &[Option<QuorumPeer>], expect_at_least: usize) -> Tree {
    let mut trees = Vec::new();
    for m in members.iter().flatten() {
        trees.push((m.sid, m.kind, tree(m.client_port).await));
    }
    for (sid, kind, t) in &trees[1..] {
        assert_eq!(
            t, &trees[0].2,
            "member {sid} ({kind:?}) serves another tree than member {} ({:?})",
            trees[0].0, trees[0].1
        );
    }
    assert!(trees[0].2.len() >= expect_at_least, "{} znodes, expected {expect_at_least}", trees[0].2.len());
    trees.swap_remove(0).2
}

async fn run(kinds: [Kind; 3]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ens = Ensemble::configure(tmp.path());
    let mut members: Vec<Option<QuorumPeer>> = (1..=3).map(|sid| Some(ens.start(sid, kinds[sid - 1]))).collect();
    let logs = |m: &[Option<QuorumPeer>]| m.iter().flatten().map(QuorumPeer::log).collect::<Vec<_>>().join("\n---\n");
    wait_for("one leader, two followers", ELECTION, || leader(&members));
    for m in members.iter().flatten() {
        write_through(m.client_port, &format!("via-{}", m.sid)).await;
    }
    let first = wait_for("one leader, two followers", ELECTION, || leader(&members));
    burst(members[first].as_ref().map(|m| m.client_port).expect("leader")).await;
    let mut written = same_tree_everywhere(&members, 7 + 131).await.len();
    same_digests(&members, true);
    let mut led: Vec<Kind> = Vec::new();
    for round in 0..6 {
        let l = wait_for("one leader, two followers", ELECTION, || leader(&members));
        let kind = members[l].as_ref().map(|m| m.kind).expect("leader");
        if !led.contains(&kind) {
            led.push(kind);
        }
        if kinds.iter().all(|k| led.contains(k)) {
            break;
        }
        // The leader dies; the other two elect one of themselves and serve.
        drop(members[l].take());
        let new = wait_for("a new leader of the two left", ELECTION, || leader(&members));
        let port = members[new].as_ref().map(|m| m.client_port).expect("member");
        write_through(port, &format!("round-{round}")).await;
        // The dead member returns on its dataDir and catches up.
        members[l] = Some(ens.start(l + 1, kinds[l]));
        wait_for("the returning member to follow", ELECTION, || {
            leader(&members).filter(|_| members.iter().all(Option::is_some))
        });
        let now = same_tree_everywhere(&members, written + 2).await.len();
        assert!(now >= written + 2, "round {round}: {now} znodes after {written}\n{}", logs(&members));
        written = now;
        same_digests(&members, false);
    }
    assert!(kinds.iter().all(|k| led.contains(k)), "kinds that led: {led:?}\n{}", logs(&members));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zookeeperd_and_one_apache_are_one_ensemble() {
    run([Kind::Zookeeperd, Kind::Zookeeperd, Kind::Apache]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apache_and_one_zookeeperd_are_one_ensemble() {
    run([Kind::Apache, Kind::Apache, Kind::Zookeeperd]).await;
}
