//! Failover after a ZooKeeper reconnect on the same session. A client that
//! reconnects (ZooKeeper restarted, the broker paused, its link dropped)
//! keeps its session, and must keep its watches too: kafkad's one
//! persistent recursive watch is how its controller and metadata sync hear
//! that a broker died. Each scenario runs once on zookeeperd and once on
//! Apache ZooKeeper; every broker reaches ZooKeeper through a relay
//! (common::relay), so one broker's link can be cut.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::relay::Relay;
use common::{kcat, rpc, wait_for, ApacheZk, Kafkad};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use system_tests::ZkServer;
use zookeeper_client::{AddWatchMode, Client, EventType, PersistentWatcher, SessionState, WatchedEvent};

const SESSION_MS: u64 = 6000;
/// "Within the session timeout plus a few seconds" of the kill.
const FAILOVER: Duration = Duration::from_millis(SESSION_MS + 8000);
const T: Duration = Duration::from_secs(60);
/// Longer than the client's ping timeout (so it reconnects once it runs
/// again), shorter than the session timeout (so the session is kept).
const PAUSE: Duration = Duration::from_millis(4000);
/// How often a deadline loop looks again.
const POLL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
enum Kind {
    Zookeeperd,
    Apache,
}

enum Server {
    Ours(ZkServer),
    /// The server and the temp dir it lives in.
    Apache(ApacheZk, #[allow(dead_code)] tempfile::TempDir),
}

impl Server {
    fn start(kind: Kind) -> Server {
        match kind {
            Kind::Zookeeperd => Server::Ours(ZkServer::start(&[("maxSessionTimeout", "20000")])),
            Kind::Apache => {
                let tmp = tempfile::tempdir().expect("tempdir");
                Server::Apache(ApacheZk::start(tmp.path()), tmp)
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        let s = match self {
            Server::Ours(z) => z.addr(),
            Server::Apache(z, _) => z.connect(),
        };
        s.parse().expect("socket address")
    }

    /// kill -9, then start again on the same port and dataDir.
    fn restart(&mut self) {
        match self {
            Server::Ours(z) => z.restart(),
            Server::Apache(z, _) => z.restart(),
        }
    }
}

/// The watcher's next event, or the panic message `what` after 15 s.
async fn next(w: &mut PersistentWatcher, what: &str) -> WatchedEvent {
    tokio::time::timeout(Duration::from_secs(15), w.changed()).await.unwrap_or_else(|_| panic!("no event: {what}"))
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all())
}

async fn connect(addr: &str) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_millis(SESSION_MS))
        .connect(addr)
        .await
        .expect("zookeeper client")
}

/// The bug this guards against was in the client crate: after a reconnect
/// it re-sent only the one-shot watches, so the server forgot persistent
/// ones while the client still waited on them.
async fn persistent_watch_fires_after_reconnect(kind: Kind) {
    let server = tokio::task::spawn_blocking(move || Server::start(kind)).await.expect("start");
    let relay = Relay::start(server.addr());
    let watching = connect(&relay.addr()).await;
    let writer = connect(&server.addr().to_string()).await;
    let mut watch = watching.watch("/", AddWatchMode::PersistentRecursive).await.expect("add watch");
    writer.create("/before", b"", &persistent()).await.expect("create");
    let ev = next(&mut watch, "event before the reconnect").await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeCreated, "/before"));

    let session = watching.session_id();
    let links = relay.links();
    relay.set_cut(true);
    let ev = next(&mut watch, "the watcher hears the disconnect").await;
    assert_eq!(ev.session_state, SessionState::Disconnected, "{ev:?}");
    relay.set_cut(false);
    let ev = next(&mut watch, "the watcher hears the reconnect").await;
    assert_eq!(ev.session_state, SessionState::SyncConnected, "{ev:?}");
    assert!(relay.links() > links, "a new connection");
    assert_eq!(watching.session_id(), session, "the same session");

    writer.create("/after", b"", &persistent()).await.expect("create");
    let ev = next(&mut watch, "the persistent watch fires after the reconnect").await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeCreated, "/after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch_fires_after_reconnect_zookeeperd() {
    persistent_watch_fires_after_reconnect(Kind::Zookeeperd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch_fires_after_reconnect_apache() {
    persistent_watch_fires_after_reconnect(Kind::Apache).await;
}

/// Three brokers, each behind its own relay to one ZooKeeper, and the
/// test's own ZooKeeper session for reading what the controller wrote.
struct Cluster {
    zk: Server,
    relays: Vec<Relay>,
    brokers: Vec<Kafkad>,
    rt: tokio::runtime::Runtime,
    client: Client,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    fn start(kind: Kind) -> Cluster {
        let zk = Server::start(kind);
        let tmp = tempfile::tempdir().expect("tempdir");
        let relays: Vec<Relay> = (0..3).map(|_| Relay::start(zk.addr())).collect();
        let brokers = (0..3)
            .map(|id| {
                let extra = format!("zookeeper.session.timeout.ms={SESSION_MS}");
                let dir = tmp.path().join(format!("b{id}"));
                Kafkad::start_member(&dir, id, &relays[id as usize].addr(), &extra)
            })
            .collect();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let client = rt.block_on(connect(&zk.addr().to_string()));
        Cluster { zk, relays, brokers, rt, client, _tmp: tmp }
    }

    fn get(&self, path: &str) -> Option<serde_json::Value> {
        let (data, _) = self.rt.block_on(self.client.get_data(path)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// /controller's broker id.
    fn controller(&self) -> Option<i32> {
        self.get("/controller").and_then(|v| v["brokerid"].as_i64()).map(|b| b as i32)
    }

    /// (leader, ISR) of t-p as the state znode has it.
    fn zk_state(&self, p: i32) -> Option<(i32, Vec<i32>)> {
        let v = self.get(&format!("/brokers/topics/t/partitions/{p}/state"))?;
        let isr = v["isr"].as_array()?.iter().filter_map(|b| b.as_i64()).map(|b| b as i32).collect();
        Some((v["leader"].as_i64()? as i32, isr))
    }

    /// The leader of t-p in broker `b`'s Metadata answer.
    fn leader_seen_by(&self, b: i32, p: i32) -> Option<i32> {
        let mut t = MetadataRequestTopic::default();
        t.name = Some(TopicName(StrBytes::from_static_str("t")));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        let resp: MetadataResponse = rpc(self.brokers[b as usize].port, 9, &req);
        let pm = resp.topics.first()?.partitions.iter().find(|x| x.partition_index == p)?;
        Some(pm.leader_id.0)
    }

    fn signal(&self, b: i32, sig: &str) {
        let pid = self.brokers[b as usize].child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().expect("kill").success());
    }

    /// Wait until each relay in `which` has linked a new connection since
    /// `before`: those brokers have reconnected.
    fn wait_relinked(&self, which: &[i32], before: &[u64]) {
        for &b in which {
            wait_for(&format!("broker {b} to reconnect to ZooKeeper"), T, || {
                (self.relays[b as usize].links() > before[b as usize]).then_some(())
            });
        }
    }

    fn links(&self) -> Vec<u64> {
        self.relays.iter().map(Relay::links).collect()
    }

    /// Wait until `done`, at most FAILOVER after `killed`; the logs on failure.
    fn within_failover(&self, killed: Instant, what: &str, mut done: impl FnMut() -> bool) {
        while !done() {
            assert!(killed.elapsed() < FAILOVER, "{what}: none within {FAILOVER:?}\n{}", self.logs());
            std::thread::sleep(POLL);
        }
    }

    fn logs(&self) -> String {
        let zk = match &self.zk {
            Server::Ours(z) => z.log(),
            Server::Apache(z, _) => z.log(),
        };
        let brokers: String =
            self.brokers.iter().enumerate().map(|(i, b)| format!("--- broker {i}\n{}\n", tail(&b.log()))).collect();
        format!("{brokers}--- zookeeper\n{}", tail(&zk))
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// ZooKeeper is killed and restarted on the same dataDir and port; every
    /// broker reconnects on its old session. Then the controller dies.
    ZooKeeperRestart,
    /// The controller is paused (SIGSTOP) for less than the session
    /// timeout, then continued. Then another broker dies.
    ControllerPaused,
    /// The controller's ZooKeeper link is reset; it reconnects. Then
    /// another broker dies.
    ControllerLinkReset,
}

/// A fault that makes brokers reconnect on their sessions, then kill -9 of
/// a partition leader: the survivors must elect a new controller (if the
/// dead broker was one) and give its partitions new leaders from the ISR,
/// within the session timeout plus a few seconds.
fn failover_after(kind: Kind, fault: Fault) {
    let mut c = Cluster::start(kind);
    // Three partitions, RF 3: each broker is the first replica, so the
    // leader, of one of them.
    common::create_topic(c.brokers[0].port, "t", 3, 3, &[]);
    for p in 0..3 {
        wait_for(&format!("t-{p} fully in sync"), T, || {
            c.zk_state(p).filter(|(l, isr)| *l >= 0 && isr.len() == 3).map(|_| ())
        });
    }
    let controller = wait_for("a controller", T, || c.controller());

    let victim = match fault {
        Fault::ZooKeeperRestart => {
            let before = c.links();
            c.zk.restart();
            c.wait_relinked(&[0, 1, 2], &before);
            controller
        }
        Fault::ControllerPaused => {
            c.signal(controller, "-STOP");
            // The fault is a pause of this length; nothing to wait on.
            std::thread::sleep(PAUSE);
            c.signal(controller, "-CONT");
            // Whether the client now reconnects (its ping timed out) or
            // reads the answers waiting in its socket is a race inside the
            // client; the failover below must work either way.
            (controller + 1) % 3
        }
        Fault::ControllerLinkReset => {
            let before = c.links();
            let relay = &c.relays[controller as usize];
            let refused = relay.refused();
            relay.set_cut(true);
            // Down until the broker has tried again and been refused.
            wait_for("the controller to retry its lost link", T, || (relay.refused() > refused).then_some(()));
            relay.set_cut(false);
            c.wait_relinked(&[controller], &before);
            (controller + 1) % 3
        }
    };

    let led: Vec<i32> = (0..3).filter(|p| c.zk_state(*p).is_some_and(|(l, _)| l == victim)).collect();
    assert!(!led.is_empty(), "broker {victim} leads a partition");
    let killed = Instant::now();
    c.brokers[victim as usize].kill9();
    let survivors: Vec<i32> = (0..3).filter(|b| *b != victim).collect();
    for &p in &led {
        let what = format!("a new leader of t-{p} from the ISR after broker {victim} died ({fault:?} on {kind:?})");
        c.within_failover(killed, &what, || {
            c.zk_state(p).is_some_and(|(l, isr)| survivors.contains(&l) && !isr.contains(&victim))
        });
        // Every survivor's metadata (its own watch) shows the new leader.
        for &b in &survivors {
            wait_for(&format!("broker {b} to see the new leader of t-{p}"), FAILOVER, || {
                c.leader_seen_by(b, p).filter(|l| survivors.contains(l)).map(|_| ())
            });
        }
        // And the partition takes acks=all writes again.
        let boot = c.brokers[survivors[0] as usize].bootstrap();
        let ps = p.to_string();
        wait_for(&format!("an acks=all write to t-{p}"), T, || {
            let out = kcat(&["-b", &boot, "-P", "-t", "t", "-p", &ps, "-X", "acks=all"], Some(b"after\n"));
            out.status.success().then_some(())
        });
    }
    if victim == controller {
        c.within_failover(killed, "a new controller", || c.controller().is_some_and(|b| survivors.contains(&b)));
    }
}

#[test]
fn failover_after_zookeeper_restart_zookeeperd() {
    failover_after(Kind::Zookeeperd, Fault::ZooKeeperRestart);
}

#[test]
fn failover_after_zookeeper_restart_apache() {
    failover_after(Kind::Apache, Fault::ZooKeeperRestart);
}

#[test]
fn failover_after_controller_paused_zookeeperd() {
    failover_after(Kind::Zookeeperd, Fault::ControllerPaused);
}

#[test]
fn failover_after_controller_paused_apache() {
    failover_after(Kind::Apache, Fault::ControllerPaused);
}

#[test]
fn failover_after_controller_link_reset_zookeeperd() {
    failover_after(Kind::Zookeeperd, Fault::ControllerLinkReset);
}

#[test]
fn failover_after_controller_link_reset_apache() {
    failover_after(Kind::Apache, Fault::ControllerLinkReset);
}
