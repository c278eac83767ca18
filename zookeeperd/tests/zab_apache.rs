//! The quorum port's codec against Apache ZooKeeper 3.8 (Debian's package):
//! two Apache servers form a quorum of a three-server ensemble, and this
//! test takes the third seat as a follower using only `quorum::packet`.
//! It registers (FOLLOWERINFO), learns the epoch (LEADERINFO), acks it
//! (ACKEPOCH), syncs (DIFF, NEWLEADER, UPTODATE), answers pings, and
//! then sees a client's write arrive as PROPOSAL and COMMIT. A leader that
//! could not read what we send would drop us, so each step proves both
//! directions.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeperd::quorum::packet::*;

const CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";
const MAX: usize = 1 << 20;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn four_letter(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Apache {
    child: Child,
    client_port: u16,
    quorum_port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Apache {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default()
    }
}

/// Servers 1 and 2 run; server 3's ports are reserved for the test.
fn start_ensemble(root: &Path) -> (Vec<Apache>, u16) {
    let ports: Vec<(u16, u16, u16)> = (0..3).map(|_| (free_port(), free_port(), free_port())).collect();
    let servers: String =
        ports.iter().enumerate().map(|(i, (q, e, _))| format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1)).collect();
    let mut out = Vec::new();
    for sid in 1..=2usize {
        let dir = root.join(format!("zk{sid}"));
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        std::fs::write(dir.join("data/myid"), format!("{sid}\n")).expect("myid");
        let (q, _, client) = ports[sid - 1];
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={client}\n\
                 clientPortAddress=127.0.0.1\nadmin.enableServer=false\n{servers}",
                dir.join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let log = std::fs::File::create(dir.join("zookeeper.log")).expect("log");
        let child = Command::new("java")
            .args(["-cp", CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain"])
            .arg(dir.join("zoo.cfg"))
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("java and Debian's zookeeper are installed");
        out.push(Apache { child, client_port: client, quorum_port: q, dir });
    }
    (out, ports[2].2)
}

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

    /// The next packet that is not a PING; pings are answered as
    /// Learner.ping does (no sessions touched).
    fn recv_skipping_pings(&mut self, deadline: Instant) -> QuorumPacket {
        loop {
            let qp = self.recv(deadline);
            if qp.kind != PacketType::Ping {
                return qp;
            }
            let reply = QuorumPacket { data: Some(touches_to_bytes(&[])), ..qp };
            self.send(&reply);
        }
    }
}

#[test]
fn a_follower_speaking_our_codec_joins_an_apache_ensemble() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (servers, _) = start_ensemble(tmp.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        if let Some(l) =
            servers.iter().find(|s| four_letter(s.client_port, "srvr").is_some_and(|o| o.contains("Mode: leader")))
        {
            break l;
        }
        assert!(Instant::now() < deadline, "no Apache leader:\n{}\n{}", servers[0].log(), servers[1].log());
        std::thread::sleep(Duration::from_millis(100));
    };

    let sock = TcpStream::connect(("127.0.0.1", leader.quorum_port)).expect("connect to the quorum port");
    sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let mut peer = Peer { sock, buf: Vec::new() };
    let deadline = Instant::now() + Duration::from_secs(30);

    // Discovery: we have accepted no epoch and logged nothing.
    peer.send(&QuorumPacket::new(PacketType::FollowerInfo, make_zxid(0, 0), Some(LearnerInfo::new(3, 0).to_bytes())));
    let info = peer.recv(deadline);
    assert_eq!(info.kind, PacketType::LeaderInfo, "{info:?}\n{}", leader.log());
    assert_eq!(read_int_payload(info.data.as_deref()), Some(PROTOCOL_VERSION));
    let epoch = epoch_of(info.zxid);
    assert!(epoch >= 1 && counter_of(info.zxid) == 0, "new epoch zxid {:#x}", info.zxid);
    peer.send(&QuorumPacket::new(PacketType::AckEpoch, 0, Some(int_payload(0))));

    // Synchronization: DIFF (nothing to send) or SNAP, as the leader
    // chooses, then NEWLEADER (acked with its zxid) and UPTODATE (acked
    // with the epoch).
    let sync = peer.recv(deadline);
    match sync.kind {
        PacketType::Diff => {}
        PacketType::Snap => peer.skip_snapshot_stream(deadline),
        _ => panic!("expected DIFF or SNAP, got {sync:?}\n{}", leader.log()),
    }
    assert!(epoch_of(sync.zxid) <= epoch, "the sync point {:#x} is past the new epoch", sync.zxid);
    let newleader = peer.recv_skipping_pings(deadline);
    assert_eq!(newleader.kind, PacketType::NewLeader, "{newleader:?}");
    assert_eq!(epoch_of(newleader.zxid), epoch);
    peer.send(&QuorumPacket::new(PacketType::Ack, newleader.zxid, None));
    let uptodate = peer.recv_skipping_pings(deadline);
    assert_eq!(uptodate.kind, PacketType::UpToDate, "{uptodate:?}\n{}", leader.log());
    peer.send(&QuorumPacket::new(PacketType::Ack, make_zxid(epoch, 0), None));

    // Broadcast: a client's create reaches us as a proposal; we ack it and
    // the leader commits it.
    let out = Command::new("/usr/share/zookeeper/bin/zkCli.sh")
        .args(["-server", &format!("127.0.0.1:{}", leader.client_port), "create", "/zab-probe", "hello"])
        .output()
        .expect("zkCli.sh");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("Created /zab-probe"), "{said}");
    // Every proposal is acked (the session's creation comes first); the
    // create's proposal must carry its path and be committed after it.
    let mut create = None;
    let mut last = 0;
    loop {
        let qp = peer.recv_skipping_pings(deadline);
        match qp.kind {
            PacketType::Proposal => {
                assert_eq!(epoch_of(qp.zxid), epoch);
                assert!(qp.zxid > last, "proposals in zxid order");
                last = qp.zxid;
                let txn = qp.data.clone().unwrap_or_default();
                if txn.windows(10).any(|w| w == b"/zab-probe") {
                    create = Some(qp.zxid);
                }
                peer.send(&QuorumPacket::new(PacketType::Ack, qp.zxid, None));
            }
            PacketType::Commit if Some(qp.zxid) == create => break,
            PacketType::Commit => assert!(qp.zxid <= last, "a commit of a proposal we saw"),
            other => panic!("unexpected {other:?} in broadcast"),
        }
    }

    // The leader keeps us: a PING comes, we answer, and the connection
    // stays up through the next one.
    for _ in 0..2 {
        let ping = peer.recv(deadline);
        if ping.kind == PacketType::Ping {
            let reply = QuorumPacket { data: Some(touches_to_bytes(&[])), ..ping };
            peer.send(&reply);
        }
    }
}
