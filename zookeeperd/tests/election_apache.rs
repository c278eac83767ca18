//! zookeeperd's leader election in one ensemble with Apache ZooKeeper 3.8
//! servers (Debian's package). Server 1 is zookeeperd's election
//! (`quorum::peer`, read from a zoo.cfg and myid as the seeds write them);
//! servers 2 and 3 are Apache's QuorumPeerMain. All three must agree on
//! the leader, from scratch and when zookeeperd joins a settled ensemble,
//! and Apache must accept everything we send (connections, initial
//! messages, notifications and their config bytes).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeperd::quorum::peer::{self, ElectionSetup};
use zookeeperd::quorum::ServerState;
use zookeeperd::ZkConfig;

const CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn srvr(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Apache {
    child: Child,
    dir: PathBuf,
    client_port: u16,
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

    fn mode(&self) -> Option<String> {
        let out = srvr(self.client_port)?;
        out.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
    }
}

/// One zoo.cfg for a server of the ensemble: the seeds' settings, the
/// three `server.N=host:quorum:election;client` lines, and its myid.
fn write_server(dir: &Path, sid: u64, servers: &str, client_port: u16) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    std::fs::write(dir.join("data/myid"), format!("{sid}\n")).expect("myid");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={client_port}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n{servers}",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    cfg
}

fn start_apache(cfg: &Path, dir: &Path, client_port: u16) -> Apache {
    let log = std::fs::File::create(dir.join("zookeeper.log")).expect("log");
    let child = Command::new("java")
        .args(["-cp", CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain"])
        .arg(cfg)
        .stdout(Stdio::from(log.try_clone().expect("clone")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("java and Debian's zookeeper are installed");
    Apache { child, dir: dir.to_path_buf(), client_port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeperd_and_apache_servers_elect_one_leader() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ports: Vec<(u16, u16, u16)> = (0..3).map(|_| (free_port(), free_port(), free_port())).collect();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, (q, e, c))| format!("server.{}=127.0.0.1:{q}:{e};127.0.0.1:{c}\n", i + 1))
        .collect();
    let cfgs: Vec<PathBuf> = (0..3)
        .map(|i| write_server(&tmp.path().join(format!("s{}", i + 1)), i as u64 + 1, &servers, ports[i].2))
        .collect();

    // zookeeperd's server 1 starts alone: no quorum, so no decision.
    let ours = ZkConfig::load(&cfgs[0]).expect("zoo.cfg loads");
    let setup = ElectionSetup::from_config(&ours, 0, 0).expect("election setup");
    assert_eq!((setup.my_sid, setup.voters.clone()), (1, vec![1, 2, 3]));
    let mut election = peer::start(setup.clone()).await.expect("election port");
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), election.decided()).await.is_err(),
        "no decision without a quorum"
    );

    // Apache's servers 2 and 3 join; all three pick server 3 (equal
    // histories: the highest sid wins).
    let apache: Vec<Apache> =
        (1..3).map(|i| start_apache(&cfgs[i], &tmp.path().join(format!("s{}", i + 1)), ports[i].2)).collect();
    let logs = |a: &[Apache]| a.iter().map(|s| s.log()).collect::<Vec<_>>().join("\n----\n");
    let decided = tokio::time::timeout(Duration::from_secs(60), election.decided()).await;
    let (vote, state) = decided.ok().flatten().unwrap_or_else(|| panic!("no decision:\n{}", logs(&apache)));
    assert_eq!((vote.leader, state), (3, ServerState::Following), "{vote:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let modes = (apache[0].mode(), apache[1].mode());
        if modes == (Some("follower".into()), Some("leader".into())) {
            break;
        }
        assert!(Instant::now() < deadline, "Apache modes {modes:?}:\n{}", logs(&apache));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // zookeeperd's server restarts its election against the settled
    // ensemble: the others answer with their FOLLOWING/LEADING votes and
    // it follows the same leader.
    election.stop().await;
    let mut again = peer::start(setup).await.expect("election port again");
    let decided = tokio::time::timeout(Duration::from_secs(30), again.decided()).await;
    let (vote, state) = decided.ok().flatten().unwrap_or_else(|| panic!("no decision on rejoin:\n{}", logs(&apache)));
    assert_eq!((vote.leader, state), (3, ServerState::Following), "{vote:?}");

    // Apache parsed every notification's config bytes.
    for a in &apache {
        let log = a.log();
        assert!(!log.contains("Something went wrong while processing config"), "{log}");
        assert!(!log.contains("Exception while listening"), "{log}");
    }
}
