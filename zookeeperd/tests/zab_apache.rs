//! The quorum port against Apache ZooKeeper 3.8 (Debian's package): two
//! Apache servers form a quorum of a three-server ensemble, and this test
//! takes the third seat as a follower with `quorum::learner` (the state
//! machine) over `quorum::packet` (the codec); the test is only the driver
//! that carries out the learner's actions. It registers, accepts the
//! epoch, syncs (DIFF or SNAP, NEWLEADER, UPTODATE), answers pings, and
//! then logs and commits a client's write. A leader that could not read
//! what we send would drop us, so each step proves both directions.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ensemble::Ensemble;
use common::ZKCLI;
use zookeeperd::quorum::learner::{Action, Learner, LearnerConfig};
use zookeeperd::quorum::packet::*;

const MAX: usize = 1 << 20;

/// A follower's end of the quorum connection.
struct Peer {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    fn send(&mut self, qp: &QuorumPacket) {
        self.sock.write_all(&qp.to_bytes()).expect("send to the leader");
    }

    /// Read what has arrived (up to the socket's short read timeout).
    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        match self.sock.read(&mut chunk) {
            Ok(0) => panic!("the leader closed the connection"),
            Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
    }

    fn recv(&mut self, deadline: Instant) -> QuorumPacket {
        loop {
            if let Some(n) = packet_len(&self.buf, MAX).expect("a well-formed packet from the leader") {
                let (qp, used) = QuorumPacket::decode(&self.buf[..n]).expect("decode");
                assert_eq!(used, n);
                self.buf.drain(..n);
                return qp;
            }
            assert!(Instant::now() < deadline, "no packet from the leader in time");
            self.fill();
        }
    }

    /// The database a SNAP is followed by, up to and including the
    /// signature string. Decoding it is the snapshot codec's business;
    /// here only the framing around it is checked.
    fn skip_snapshot_stream(&mut self, deadline: Instant) {
        let mut sig = (SNAP_SIGNATURE.len() as i32).to_be_bytes().to_vec();
        sig.extend_from_slice(SNAP_SIGNATURE.as_bytes());
        loop {
            if let Some(at) = self.buf.windows(sig.len()).position(|w| w == sig.as_slice()) {
                self.buf.drain(..at + sig.len());
                return;
            }
            assert!(Instant::now() < deadline, "no snapshot signature from the leader");
            self.fill();
        }
    }
}

#[test]
fn a_follower_speaking_our_codec_joins_an_apache_ensemble() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Servers 1 and 2 run; server 3's seat is ours.
    let ensemble = Ensemble::configure(tmp.path());
    let servers = [ensemble.start_apache(1), ensemble.start_apache(2)];
    let leader = common::wait_for("an Apache leader", Duration::from_secs(60), || {
        servers.iter().find(|s| s.mode().as_deref() == Some("leader"))
    });

    let sock = TcpStream::connect(("127.0.0.1", leader.quorum_port)).expect("connect to the quorum port");
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let mut peer = Peer { sock, buf: Vec::new() };
    let t0 = Instant::now();
    let now = || t0.elapsed().as_millis() as u64;
    let mut learner = Learner::new(LearnerConfig {
        sid: 3,
        accepted_epoch: 0,
        current_epoch: 0,
        last_logged_zxid: 0,
        config_version: 0,
        tick_ms: 500,
        init_limit: 20,
        sync_limit: 10,
        observer: false,
    });

    // What the learner asked for, in order.
    let mut accepted = None;
    let mut current = None;
    let mut serving = false;
    let mut logged: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut committed: Vec<i64> = Vec::new();
    let mut created = false;
    let mut actions = learner.start(now());
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe_committed = loop {
        for a in actions.drain(..) {
            match a {
                Action::Send(qp) => peer.send(&qp),
                Action::SetAcceptedEpoch(e) => accepted = Some(e),
                Action::SetCurrentEpoch(e) => current = Some(e),
                Action::ReadSnapshot { .. } => {
                    peer.skip_snapshot_stream(deadline);
                    learner.snapshot_loaded(now()).expect("snapshot read in order");
                }
                Action::Truncate { zxid } => panic!("a fresh follower is never truncated (to {zxid:#x})"),
                Action::Apply { zxid, .. } => committed.push(zxid),
                Action::Log { zxid, txn } => {
                    assert!(logged.last().is_none_or(|(z, _)| *z < zxid), "logged in zxid order");
                    logged.push((zxid, txn));
                }
                Action::Commit { zxid } => {
                    assert!(logged.iter().any(|(z, _)| *z == zxid), "commit of a logged txn {zxid:#x}");
                    committed.push(zxid);
                }
                Action::TakeSnapshot => {}
                Action::StartServing => serving = true,
                Action::Ping(ping) => peer.send(&QuorumPacket { data: Some(touches_to_bytes(&[])), ..ping }),
                Action::Revalidated { .. } | Action::Synced => panic!("nothing was asked of the leader"),
                // NEWLEADER's membership: the one we were configured with.
                Action::LeaderConfig(_) => {}
                Action::Activate { .. } => panic!("nobody reconfigured the ensemble"),
            }
        }
        let probe = logged.iter().find(|(_, txn)| txn.windows(10).any(|w| w == b"/zab-probe")).map(|(z, _)| *z);
        if let Some(z) = probe.filter(|z| committed.contains(z)) {
            break z;
        }
        if serving && !created {
            // In sync: a client's create, sent to the leader.
            created = true;
            let out = Command::new(ZKCLI)
                .args([
                    "-waitforconnection",
                    "-server",
                    &format!("127.0.0.1:{}", leader.client_port),
                    "create",
                    "/zab-probe",
                    "hello",
                ])
                .output()
                .expect("zkCli.sh");
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(said.contains("Created /zab-probe"), "{said}");
        }
        learner.on_tick(now()).expect("the leader keeps talking");
        let qp = peer.recv(deadline);
        actions = learner.on_packet(now(), qp).unwrap_or_else(|e| panic!("{e}\n{}", leader.log()));
    };

    let epoch = accepted.expect("the learner accepted the leader's epoch");
    assert!(epoch >= 1);
    assert_eq!(current, Some(epoch), "current epoch set at NEWLEADER");
    assert!(serving && learner.in_broadcast());
    assert_eq!(epoch_of(probe_committed), epoch, "the create is a txn of the new epoch");
}
