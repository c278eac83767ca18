//! Helpers shared by the interop tests: Apache ZooKeeper 3.8 installed on
//! this machine (Debian's zookeeper package), zookeeperd's binary, zkCli.sh
//! and Apache's tool classes. Waits poll with deadlines; servers are killed
//! on drop.
#![allow(dead_code)]

pub mod ensemble;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind 127.0.0.1:0")
}

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

pub fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Apache ZooKeeperServerMain (or, with `start_zookeeperd`, our server's
/// binary) on a free port and the given dataDir.
pub struct ApacheZk {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    log_name: &'static str,
}

impl ApacheZk {
    pub fn start(dir: &Path, data_dir: &Path) -> ApacheZk {
        let mut cmd = Command::new("java");
        cmd.args(["-cp", CLASSPATH, "org.apache.zookeeper.server.ZooKeeperServerMain"]);
        Self::spawn(dir, data_dir, cmd, "zk.log", "tickTime=2000\n")
    }

    /// zookeeperd's binary, configured as `start` configures Apache.
    pub fn start_zookeeperd(dir: &Path, data_dir: &Path) -> ApacheZk {
        Self::start_zookeeperd_with(dir, data_dir, "")
    }

    /// zookeeperd with more zoo.cfg lines.
    pub fn start_zookeeperd_with(dir: &Path, data_dir: &Path, extra: &str) -> ApacheZk {
        let cmd = Command::new(env!("CARGO_BIN_EXE_zookeeperd"));
        Self::spawn(dir, data_dir, cmd, "zookeeperd.log", &format!("tickTime=3000\n{extra}"))
    }

    fn spawn(dir: &Path, data_dir: &Path, mut cmd: Command, log_name: &'static str, extra: &str) -> ApacheZk {
        let port = free_port();
        let cfg = dir.join(format!("{log_name}.cfg"));
        std::fs::write(
            &cfg,
            format!(
                "{extra}dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=srvr,dump\nextendedTypesEnabled=true\n",
                data_dir.display()
            ),
        )
        .expect("zoo.cfg");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(log_name)).expect("zk log");
        let child = cmd
            .arg(&cfg)
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("java and Debian's zookeeper package are installed, and zookeeperd is built");
        let mut zk = ApacheZk { port, dir: dir.to_path_buf(), child: Some(child), log_name };
        wait_for("the server to serve", Duration::from_secs(60), || {
            if let Some(Ok(Some(st))) = zk.child.as_mut().map(|c| c.try_wait()) {
                panic!("server exited with {st}: {}", zk.log());
            }
            four_letter_word(port, "srvr").filter(|a| a.contains("Mode:")).map(|_| ())
        });
        zk
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(self.log_name)).unwrap_or_default()
    }

    /// SIGTERM, then wait for the JVM to exit.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let exited = (|| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })();
        if !exited {
            let _ = c.kill();
            let _ = c.wait();
            panic!("server did not exit on SIGTERM: {}", self.log());
        }
    }

    /// Run zkCli.sh with `commands` on stdin (one session); its output.
    pub fn cli(&self, commands: &str) -> String {
        let mut child = Command::new("timeout")
            .args(["120", ZKCLI, "-waitforconnection", "-server", &format!("127.0.0.1:{}", self.port)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zkCli.sh");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("{commands}\nquit\n").as_bytes()).expect("write zkCli stdin");
        drop(stdin);
        let out = child.wait_with_output().expect("zkCli output");
        assert!(out.status.success(), "zkCli failed: {}", String::from_utf8_lossy(&out.stderr));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

impl Drop for ApacheZk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run an Apache tool class; its stdout and stderr together.
pub fn java_tool(class: &str, args: &[&Path]) -> String {
    let out = Command::new("timeout").args(["120", "java", "-cp", CLASSPATH, class]).args(args).output().expect("java");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{class} failed:\n{text}");
    text
}

/// `prefix.*` files in `dir`, by zxid.
pub fn files(dir: &Path, prefix: &str) -> Vec<(i64, PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read version-2")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            zookeeperd::persist::apache::zxid_from_name(&e.file_name().to_string_lossy(), prefix).map(|z| (z, e.path()))
        })
        .collect();
    v.sort();
    v
}
