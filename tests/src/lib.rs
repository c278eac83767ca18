//! The harness for system tests: start the real daemons as processes on
//! free ports in temp dirs, wait for them with deadlines, kill -9 and
//! restart them on the same data.

pub mod zkraw;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing is bound to right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind 127.0.0.1:0")
}

/// The workspace's built binary `name`: `$NAME_BIN` (upper-cased) if set,
/// else next to the test executable's profile dir (target/<profile>/name).
pub fn binary(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"));
    if let Ok(p) = std::env::var(&var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> or target/<profile>/<bin> -> target/<profile>/<name>
    let mut profile_dir = exe.parent().expect("exe dir");
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir = profile_dir.parent().expect("target profile dir");
    }
    let p = profile_dir.join(name);
    assert!(p.exists(), "{} not built at {} (run `cargo build --bins` first or set {var})", name, p.display());
    p
}

/// Poll `f` until it returns Some, or panic after `timeout`. The pause
/// between polls grows from 20 ms to 250 ms.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Send a four-letter word and read the whole answer.
pub fn four_letter(port: u16, cmd: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A zookeeperd process with its own data dir.
pub struct ZkServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    extra: Vec<(String, String)>,
    /// A whole config file (name, text) instead of the default zoo.cfg;
    /// `{dataDir}` and `{port}` are filled in.
    custom: Option<(String, String)>,
    env: Vec<(String, String)>,
}

impl ZkServer {
    /// Start with default test settings plus `extra` zoo.cfg lines.
    pub fn start(extra: &[(&str, &str)]) -> ZkServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = ZkServer {
            child: None,
            port: free_port(),
            dir,
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            custom: None,
            env: Vec::new(),
        };
        s.spawn();
        s
    }

    /// Start from a config file of our own (`name` decides the format, e.g.
    /// `zoo.toml`), with extra environment variables.
    pub fn start_with_file(name: &str, text: &str, env: &[(&str, &str)]) -> ZkServer {
        let mut s = ZkServer {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            extra: Vec::new(),
            custom: Some((name.to_string(), text.to_string())),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        s.spawn();
        s
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        if let Some((name, text)) = &self.custom {
            let cfg = self.dir.path().join(name);
            let text = text
                .replace("{dataDir}", &self.data_dir().display().to_string())
                .replace("{port}", &self.port.to_string());
            std::fs::write(&cfg, text).expect("write config");
            return self.exec(&cfg);
        }
        let cfg = self.dir.path().join("zoo.cfg");
        let mut text = format!(
            "tickTime=200\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
            self.data_dir().display(),
            self.port
        );
        for (k, v) in &self.extra {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(&cfg, text).expect("write zoo.cfg");
        self.exec(&cfg);
    }

    fn exec(&mut self, cfg: &std::path::Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        let child = Command::new(binary("zookeeperd"))
            .arg(cfg)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zookeeperd");
        self.child = Some(child);
        let port = self.port;
        // srvr is answered whatever the whitelist, and says Mode: only once
        // the server serves sessions.
        wait_for("zookeeperd to answer srvr", Duration::from_secs(20), || {
            four_letter(port, "srvr").ok().filter(|r| r.contains("Mode:"))
        });
    }

    /// SIGKILL: no chance to flush anything not already fsynced.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let status = wait_for("zookeeperd to exit", Duration::from_secs(20), || c.try_wait().ok().flatten());
        Some(status)
    }

    /// Start again on the same port and data.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// (quorum, election, client) ports for `n` members on 127.0.0.1.
pub fn ensemble_ports(n: usize) -> Vec<(u16, u16, u16)> {
    (0..n).map(|_| (free_port(), free_port(), free_port())).collect()
}

/// zoo.cfg's `server.N=127.0.0.1:quorum:election;127.0.0.1:client` lines.
pub fn server_lines(ports: &[(u16, u16, u16)]) -> String {
    ports
        .iter()
        .enumerate()
        .map(|(i, (q, e, c))| format!("server.{}=127.0.0.1:{q}:{e};127.0.0.1:{c}\n", i + 1))
        .collect()
}

/// A three-member zookeeperd ensemble on 127.0.0.1 (zoo.cfg with
/// `server.N` lines and `myid`, the seeds' shape with short ticks).
pub struct ZkEnsemble {
    pub dir: tempfile::TempDir,
    /// Client port of each member (sid = index + 1).
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
}

impl ZkEnsemble {
    /// Start all three and wait for one leader and two followers.
    pub fn start() -> ZkEnsemble {
        let mut e = ZkEnsemble::configure();
        for i in 0..3 {
            e.start_member(i, &[]);
        }
        e.wait_quorum();
        e
    }

    /// Write every member's zoo.cfg and myid; start none.
    pub fn configure() -> ZkEnsemble {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports = ensemble_ports(3);
        let servers = server_lines(&ports);
        for (i, (_, _, client)) in ports.iter().enumerate() {
            let member = dir.path().join(format!("s{}", i + 1));
            std::fs::create_dir_all(member.join("data")).expect("data dir");
            std::fs::write(member.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
            std::fs::write(
                member.join("zoo.cfg"),
                format!(
                    "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={client}\n\
                     clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                    member.join("data").display()
                ),
            )
            .expect("zoo.cfg");
        }
        ZkEnsemble { dir, ports: ports.iter().map(|p| p.2).collect(), children: vec![None, None, None] }
    }

    /// Start member `i` (0-based) with extra environment variables.
    pub fn start_member(&mut self, i: usize, env: &[(&str, &str)]) {
        self.spawn(i, env);
    }

    fn spawn(&mut self, i: usize, env: &[(&str, &str)]) {
        let member = self.dir.path().join(format!("s{}", i + 1));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(member.join("server.log")).expect("log");
        let child = Command::new(binary("zookeeperd"))
            .arg(member.join("zoo.cfg"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zookeeperd");
        self.children[i] = Some(child);
    }

    /// `hosts:ports` of all members, for zookeeper.connect.
    pub fn connect(&self) -> String {
        self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// srvr's Mode of member `i` (None when down or not serving).
    pub fn mode(&self, i: usize) -> Option<String> {
        self.children[i].as_ref()?;
        let out = four_letter(self.ports[i], "srvr").ok()?;
        out.lines().find_map(|l| l.strip_prefix("Mode: ")).map(str::to_string)
    }

    /// The leader's index once the running members are one leader and
    /// followers.
    pub fn leader(&self) -> Option<usize> {
        let modes: Vec<Option<String>> = (0..3).map(|i| self.mode(i)).collect();
        let running = self.children.iter().filter(|c| c.is_some()).count();
        let leaders: Vec<usize> = (0..3).filter(|i| modes[*i].as_deref() == Some("leader")).collect();
        let followers = modes.iter().filter(|m| m.as_deref() == Some("follower")).count();
        (leaders.len() == 1 && leaders.len() + followers == running).then(|| leaders[0])
    }

    pub fn wait_quorum(&self) -> usize {
        wait_for("one ZooKeeper leader and the rest following", Duration::from_secs(60), || self.leader())
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start member `i` again on its dataDir.
    pub fn restart(&mut self, i: usize) {
        self.kill9(i);
        self.spawn(i, &[]);
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("s{}/server.log", i + 1))).unwrap_or_default()
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill9(i);
        }
    }
}
