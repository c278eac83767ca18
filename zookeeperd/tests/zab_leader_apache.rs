//! Apache ZooKeeper 3.8 servers follow a zookeeperd leader. Server 3 is
//! zookeeperd: its election (`quorum::peer`) wins (highest sid, equal
//! histories), and `quorum::leader` leads on its quorum port; the test is
//! only the driver that carries out the leader's actions. Apache's servers
//! 1 and 2 (QuorumPeerMain) elect it, register, sync and follow; a create
//! proposed by the leader commits with their acks, and Apache serves it.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::ensemble::{Ensemble, QuorumPeer};
use common::ZKCLI;
use zookeeperd::jute::records::Acl;
use zookeeperd::persist::apache::txn::TxnRecord;
use zookeeperd::quorum::leader::{Action, ConnId, Leader, LeaderConfig};
use zookeeperd::quorum::packet::{epoch_of, packet_len, QuorumPacket};
use zookeeperd::quorum::peer::{self, ElectionSetup};
use zookeeperd::quorum::ServerState;
use zookeeperd::txn::{Txn, TxnEntry};
use zookeeperd::ZkConfig;

/// What the driver hears: a learner connected (always before its first
/// packet), a packet, or the connection's end.
enum Event {
    Connected(ConnId, TcpStream),
    Packet(ConnId, QuorumPacket),
    Closed(ConnId),
}

/// Reads packets from one learner connection into the driver's channel.
fn reader(conn: ConnId, mut sock: TcpStream, tx: mpsc::Sender<Event>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some(n)) = packet_len(&buf, 1 << 20) {
            let (qp, _) = QuorumPacket::decode(&buf[..n]).expect("a whole packet decodes");
            buf.drain(..n);
            if tx.send(Event::Packet(conn, qp)).is_err() {
                return;
            }
        }
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Event::Closed(conn));
                return;
            }
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

fn create_txn(zxid: i64, path: &str, data: &[u8]) -> Vec<u8> {
    let entry = TxnEntry {
        zxid,
        time: now_ms(),
        session_id: 0,
        cxid: 0,
        txn: Txn::Create {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: -1,
        },
    };
    TxnRecord::from_entry(&entry).and_then(|r| r.encode()).expect("encodes").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_servers_follow_a_zookeeperd_leader() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ensemble = Ensemble::configure(tmp.path());

    // Our quorum port listens before anyone can elect us.
    let quorum = TcpListener::bind(("127.0.0.1", ensemble.ports[2].0)).expect("quorum port");
    let (tx, rx) = mpsc::channel::<Event>();
    std::thread::spawn(move || {
        for (id, sock) in quorum.incoming().enumerate() {
            let Ok(sock) = sock else { return };
            let Ok(read_half) = sock.try_clone() else { continue };
            if tx.send(Event::Connected(id as ConnId, sock)).is_err() {
                return;
            }
            let tx = tx.clone();
            std::thread::spawn(move || reader(id as ConnId, read_half, tx));
        }
    });

    let ours = ZkConfig::load(&ensemble.cfgs[2]).expect("zoo.cfg");
    let mut election = peer::start(ElectionSetup::from_config(&ours, 0, 0).expect("setup")).await.expect("election");
    let apache: Vec<QuorumPeer> = (1..=2).map(|sid| ensemble.start_apache(sid)).collect();
    let logs = || common::ensemble::logs(&apache);
    let decided = tokio::time::timeout(Duration::from_secs(60), election.decided()).await.ok().flatten();
    let (vote, state) = decided.unwrap_or_else(|| panic!("no decision:\n{}", logs()));
    assert_eq!((vote.leader, state), (3, ServerState::Leading));

    // Lead: the driver thread carries out the leader's actions until told
    // to stop; what commits is shared with the test.
    let committed = Arc::new(Mutex::new(Vec::<i64>::new()));
    let proposed = Arc::new(Mutex::new(None::<i64>));
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (committed, proposed, stop) = (committed.clone(), proposed.clone(), stop.clone());
        std::thread::spawn(move || lead(rx, committed, proposed, stop))
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let zxid = loop {
        let p = *proposed.lock().expect("lock");
        if let Some(z) = p.filter(|z| committed.lock().expect("lock").contains(z)) {
            break z;
        }
        assert!(!driver.is_finished(), "the leader stopped:\n{}", logs());
        assert!(Instant::now() < deadline, "the create did not commit:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(epoch_of(zxid) >= 1);

    // Both Apache servers follow, and serve what our leader committed.
    for a in &apache {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if driver.is_finished() {
                let ended = driver.join().expect("driver thread");
                panic!("the leader stopped: {ended:?}\n{}", logs());
            }
            let out = Command::new(ZKCLI)
                .args([
                    "-waitforconnection",
                    "-server",
                    &format!("127.0.0.1:{}", a.client_port),
                    "get",
                    "/from-zookeeperd",
                ])
                .output()
                .expect("zkCli.sh");
            if String::from_utf8_lossy(&out.stdout).lines().any(|l| l == "hello") {
                break;
            }
            if Instant::now() >= deadline {
                stop.store(true, Ordering::SeqCst);
                let ended = driver.join().expect("driver thread");
                panic!(
                    "Apache on {} does not serve the create (our leader: {ended:?}): {}{}\n{}",
                    a.client_port,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    logs()
                );
            }
        }
        assert_eq!(a.mode().as_deref(), Some("follower"));
    }
    stop.store(true, Ordering::SeqCst);
    let ended = driver.join().expect("driver thread");
    assert_eq!(ended, Ok(()), "the leader kept its quorum throughout");
}

/// The leader's driver: sockets in, actions out. Requests forwarded by the
/// followers (zkCli's session) are turned into txns here, as a leader's
/// request processor would; the test needs only sessions.
fn lead(
    rx: mpsc::Receiver<Event>,
    committed: Arc<Mutex<Vec<i64>>>,
    proposed: Arc<Mutex<Option<i64>>>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let t0 = Instant::now();
    let now = || t0.elapsed().as_millis() as u64;
    let mut leader = Leader::new(
        LeaderConfig {
            sid: 3,
            voters: [1, 2, 3].into(),
            accepted_epoch: 0,
            current_epoch: 0,
            last_zxid: 0,
            history: Vec::new(),
            verifier: None,
            stamp_version: false,
            tick_ms: 500,
            init_limit: 20,
            sync_limit: 10,
        },
        now(),
    );
    let mut socks: HashMap<ConnId, TcpStream> = HashMap::new();
    let mut actions = leader.start(now());
    let mut next_tick = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut requests = Vec::new();
        let mut logged = Vec::new();
        for a in actions.drain(..) {
            match a {
                Action::Send { to, packet } => {
                    if let Some(s) = socks.get_mut(&to) {
                        let _ = s.write_all(&packet.to_bytes());
                    }
                }
                Action::Commit { zxid } => committed.lock().map_err(|e| e.to_string())?.push(zxid),
                Action::StepDown(why) => return Err(format!("stepped down: {why}")),
                Action::SendSnapshot { .. } => return Err("fresh followers need no snapshot".into()),
                Action::Close { conn, reason } => return Err(format!("closed learner {conn}: {reason}")),
                Action::Request { request, .. } => requests.push(request),
                // Nothing is written here: "logged" at once.
                Action::Log { zxid, .. } => logged.push(zxid),
                _ => {}
            }
        }
        for z in logged.drain(..) {
            actions.extend(leader.logged(z));
        }
        for r in requests {
            let txn = match r.opcode {
                -10 => {
                    let timeout =
                        r.body.get(..4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(30000);
                    Txn::CreateSession { timeout }
                }
                -11 => Txn::CloseSession { paths: None },
                op => return Err(format!("the test forwards no opcode {op}")),
            };
            let entry =
                TxnEntry { zxid: leader.next_zxid(), time: now_ms(), session_id: r.session_id, cxid: r.cxid, txn };
            let bytes = TxnRecord::from_entry(&entry).and_then(|x| x.encode()).map_err(|e| e.to_string())?;
            let (_, out) = leader.propose(bytes.to_vec(), None).ok_or("not serving")?;
            actions.extend(out);
        }
        if leader.serving() && proposed.lock().map_err(|e| e.to_string())?.is_none() {
            let zxid = leader.next_zxid();
            let (z, out) = leader.propose(create_txn(zxid, "/from-zookeeperd", b"hello"), None).ok_or("not serving")?;
            *proposed.lock().map_err(|e| e.to_string())? = Some(z);
            actions.extend(out);
            continue;
        }
        if now() >= next_tick {
            next_tick = now() + 250;
            actions.extend(leader.on_tick(now()));
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Connected(conn, sock)) => {
                socks.insert(conn, sock);
                leader.on_connect(conn, now());
            }
            Ok(Event::Packet(conn, qp)) => actions.extend(leader.on_packet(now(), conn, qp)),
            Ok(Event::Closed(conn)) => leader.on_disconnect(conn),
            Err(_) => {}
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
