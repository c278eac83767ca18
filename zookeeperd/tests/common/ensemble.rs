//! A three-server ensemble on 127.0.0.1 for the interop tests: every
//! member's zoo.cfg and myid (the seeds' settings, short ticks), and
//! Apache's QuorumPeerMain or zookeeperd as members. Whichever seats a test does not
//! start are its own to take (zookeeperd's election, leader or learner).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{four_letter_word, free_port, CLASSPATH};

pub struct Ensemble {
    /// Per member (sid 1, 2, 3): quorum, election and client port.
    pub ports: Vec<(u16, u16, u16)>,
    pub cfgs: Vec<PathBuf>,
}

impl Ensemble {
    /// Members' dirs are `root/s1` .. `root/s3`, each with `zoo.cfg` and
    /// `data/myid`; the `server.N=host:quorum:election;host:client` lines
    /// are those the seeds' playbook writes.
    pub fn configure(root: &Path) -> Ensemble {
        let ports: Vec<(u16, u16, u16)> = (0..3).map(|_| (free_port(), free_port(), free_port())).collect();
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, (q, e, c))| format!("server.{}=127.0.0.1:{q}:{e};127.0.0.1:{c}\n", i + 1))
            .collect();
        let cfgs = (0..3)
            .map(|i| {
                let dir = root.join(format!("s{}", i + 1));
                std::fs::create_dir_all(dir.join("data")).expect("data dir");
                std::fs::write(dir.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
                let cfg = dir.join("zoo.cfg");
                std::fs::write(
                    &cfg,
                    format!(
                        "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={}\n\
                         clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                        dir.join("data").display(),
                        ports[i].2
                    ),
                )
                .expect("zoo.cfg");
                cfg
            })
            .collect();
        Ensemble { ports, cfgs }
    }

    /// Apache's QuorumPeerMain as member `sid` (1-based).
    pub fn start_apache(&self, sid: usize) -> QuorumPeer {
        let mut cmd = Command::new("java");
        cmd.args(["-cp", CLASSPATH, "org.apache.zookeeper.server.quorum.QuorumPeerMain"]);
        self.spawn(sid, cmd, Kind::Apache)
    }

    /// zookeeperd as member `sid`, on the same zoo.cfg and dataDir.
    pub fn start_zookeeperd(&self, sid: usize) -> QuorumPeer {
        self.spawn(sid, Command::new(env!("CARGO_BIN_EXE_zookeeperd")), Kind::Zookeeperd)
    }

    pub fn start(&self, sid: usize, kind: Kind) -> QuorumPeer {
        match kind {
            Kind::Apache => self.start_apache(sid),
            Kind::Zookeeperd => self.start_zookeeperd(sid),
        }
    }

    fn spawn(&self, sid: usize, mut cmd: Command, kind: Kind) -> QuorumPeer {
        let cfg = &self.cfgs[sid - 1];
        let dir = cfg.parent().expect("member dir").to_path_buf();
        // Appended to, so a restarted member's log follows the earlier run's.
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("zookeeper.log")).expect("log");
        let child = cmd
            .arg(cfg)
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("java and Debian's zookeeper are installed, and zookeeperd is built");
        let (quorum_port, _, client_port) = self.ports[sid - 1];
        QuorumPeer { child, dir, client_port, quorum_port, kind, sid }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Apache,
    Zookeeperd,
}

/// A member, killed (SIGKILL) on drop.
pub struct QuorumPeer {
    child: Child,
    dir: PathBuf,
    pub client_port: u16,
    pub quorum_port: u16,
    pub kind: Kind,
    pub sid: usize,
}

impl QuorumPeer {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default()
    }

    /// `srvr`'s Mode: leader, follower, ...
    pub fn mode(&self) -> Option<String> {
        let out = four_letter_word(self.client_port, "srvr")?;
        out.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
    }
}

impl Drop for QuorumPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every member's log, for failure messages.
pub fn logs(members: &[QuorumPeer]) -> String {
    members.iter().map(QuorumPeer::log).collect::<Vec<_>>().join("\n----\n")
}
