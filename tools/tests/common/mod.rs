//! Harness for the tools' system tests: a throwaway "Kafka home" (bin/ ->
//! the repository's wrappers, config/ with the test's ports) where the
//! tutorials' command lines run verbatim through bash, against real
//! zookeeperd and kafkad processes on free 127.0.0.1 ports. Every wait
//! polls with a deadline; nothing sleeps a fixed time.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Shared with the other system tests.
pub use system_tests::{free_port, wait_for};

/// Directory holding kafka-tools, kafkad and zookeeperd.
pub fn bin_dir() -> PathBuf {
    let tools = PathBuf::from(env!("CARGO_BIN_EXE_kafka-tools"));
    let dir = tools.parent().expect("bin dir").to_path_buf();
    for b in ["kafkad", "zookeeperd"] {
        let var = format!("{}_BIN", b.to_ascii_uppercase());
        if let Ok(p) = std::env::var(&var) {
            assert!(Path::new(&p).exists(), "{var}={p} does not exist");
        } else {
            assert!(
                dir.join(b).exists(),
                "{b} is not built in {} (build it with the same CARGO_TARGET_DIR: cargo build -p kafkad -p zookeeperd)",
                dir.display()
            );
        }
    }
    dir
}

/// A Kafka-home-like directory: bin/ (the wrappers), config/, logs/.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub zk_port: u16,
    pub kafka_ports: Vec<u16>,
    children: Vec<Child>,
    pub zk_server_sh_started: bool,
}

impl Home {
    pub fn new(brokers: usize) -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo_bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bin").canonicalize().expect("repo bin/");
        std::os::unix::fs::symlink(&repo_bin, dir.path().join("bin")).expect("symlink bin");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("conf dir");
        let h = Home {
            dir,
            zk_port: free_port(),
            kafka_ports: (0..brokers).map(|_| free_port()).collect(),
            children: Vec::new(),
            zk_server_sh_started: false,
        };
        let zk = format!(
            "dataDir={}\nclientPort={}\nmaxClientCnxns=0\nadmin.enableServer=false\n",
            h.path("zkdata").display(),
            h.zk_port
        );
        std::fs::write(h.path("config/zookeeper.properties"), &zk).expect("zookeeper.properties");
        std::fs::write(h.path("conf/zoo.cfg"), format!("tickTime=2000\n{zk}")).expect("zoo.cfg");
        for (i, port) in h.kafka_ports.iter().enumerate() {
            let name = if i == 0 { "server.properties".to_string() } else { format!("server{i}.properties") };
            let props = format!(
                "broker.id={i}\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nnum.partitions=1\n\
                 offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
                 zookeeper.connect=localhost:{}\nzookeeper.connection.timeout.ms=18000\n\
                 group.initial.rebalance.delay.ms=0\n",
                h.path(&format!("kafka-logs{}", if i == 0 { String::new() } else { i.to_string() })).display(),
                h.zk_port
            );
            std::fs::write(h.path(&format!("config/{name}")), props).expect("server.properties");
        }
        h
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The tutorial's line with its host:ports mapped to this test's ports.
    pub fn localize(&self, line: &str) -> String {
        let mut s = line.replace("localhost:2181", &format!("localhost:{}", self.zk_port));
        for (i, base) in [9092, 9093, 9094].iter().enumerate() {
            if let Some(p) = self.kafka_ports.get(i) {
                s = s.replace(&format!("localhost:{base}"), &format!("localhost:{p}"));
            }
        }
        s
    }

    fn command(&self, line: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c").arg(self.localize(line)).current_dir(self.dir.path());
        c.env("KAFKA_TOOLS_BIN_DIR", bin_dir());
        c.env("KAFKA_TOOLS_CONNECT_TIMEOUT_MS", "3000");
        c.env("LOG_DIR", self.path("logs"));
        c.env_remove("CARGO_TARGET_DIR");
        c
    }

    /// Run a command line to completion with `stdin`, bounded by `timeout`.
    pub fn run(&self, line: &str, stdin: &str, timeout: Duration) -> Output {
        let mut child = self
            .command(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bash");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.as_bytes().to_vec();
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "`{line}` did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("output")
    }

    /// Run and require exit status 0; returns stdout.
    pub fn ok(&self, line: &str, stdin: &str) -> String {
        let out = self.run(line, stdin, Duration::from_secs(90));
        assert!(
            out.status.success(),
            "`{line}` failed with {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start a long-running command (a server) in the background.
    pub fn spawn(&mut self, line: &str, log: &str) {
        let f = std::fs::File::create(self.path(log)).expect("log file");
        let child = self
            .command(&format!("exec {line}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().expect("clone")))
            .stderr(Stdio::from(f))
            .spawn()
            .expect("spawn server");
        self.children.push(child);
    }

    pub fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.path(log)).unwrap_or_default()
    }

    /// The tutorials' stack: `zookeeper-server-start.sh` and then
    /// `kafka-server-start.sh` for every broker's config (server.properties,
    /// server1.properties, ...), waiting until each one serves.
    pub fn start_stack(&mut self) {
        self.spawn("bin/zookeeper-server-start.sh config/zookeeper.properties", "zk.out");
        self.wait_zk();
        for i in 0..self.kafka_ports.len() {
            let cfg = if i == 0 { "server".to_string() } else { format!("server{i}") };
            self.spawn(&format!("bin/kafka-server-start.sh config/{cfg}.properties"), &format!("kafka{i}.out"));
        }
        for i in 0..self.kafka_ports.len() {
            self.wait_broker(i);
        }
        // Each broker learns of the others through ZooKeeper a moment after
        // it serves; a tutorial step that names a broker (a replica
        // assignment) must find it in the first broker's metadata.
        let n = self.kafka_ports.len();
        if n > 1 {
            let port = self.kafka_ports[0];
            wait_for(&format!("all {n} brokers in broker 0's metadata"), Duration::from_secs(60), || {
                let out = self.run(
                    &format!("bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:{port}"),
                    "",
                    Duration::from_secs(20),
                );
                (String::from_utf8_lossy(&out.stdout).matches("(id: ").count() == n).then_some(())
            });
        }
    }

    /// Wait until broker `i` answers metadata through kafka-topics.
    pub fn wait_broker(&self, i: usize) {
        let port = self.kafka_ports[i];
        wait_for(&format!("broker {i} on port {port}"), Duration::from_secs(60), || {
            let out = self.run(
                &format!("bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:{port}"),
                "",
                Duration::from_secs(20),
            );
            out.status.success().then_some(())
        });
    }

    pub fn wait_zk(&self) {
        let port = self.zk_port;
        wait_for("zookeeperd", Duration::from_secs(30), || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(b"srvr").ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            out.contains("Mode: ").then_some(())
        });
    }

    /// Send a signal (e.g. "-STOP", "-CONT") to the `n`th spawned process.
    pub fn signal(&self, n: usize, sig: &str) {
        let pid = self.children[n].id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().expect("kill").success());
    }

    /// Kill -9 the `n`th spawned process.
    pub fn kill9(&mut self, n: usize) {
        let c = &mut self.children[n];
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the server logs of a failed test for the reader.
            let keep = std::env::temp_dir().join(format!("failed-home-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&keep);
            for e in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().ends_with(".out") {
                    let _ = std::fs::copy(e.path(), keep.join(e.file_name()));
                }
            }
            eprintln!("server logs kept in {}", keep.display());
        }
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.zk_server_sh_started {
            let _ = self.command("bin/zkServer.sh stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// A console consumer (or any line producer) read line by line.
pub struct Streaming {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Streaming {
    pub fn start(home: &Home, line: &str) -> Streaming {
        let mut child = home
            .command(&format!("exec {line}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(|l| l.ok()) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let mut r = BufReader::new(err);
            while let Ok(n) = r.read_line(&mut s) {
                if n == 0 {
                    break;
                }
                e2.lock().expect("lock").push_str(&s);
                s.clear();
            }
        });
        Streaming { child, lines: rx, stderr }
    }

    /// The next `n` stdout lines, within `timeout`.
    pub fn take(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut v = Vec::new();
        while v.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => v.push(l),
                Err(_) => panic!(
                    "got only {v:?} of {n} lines within {timeout:?}; stderr: {}",
                    self.stderr.lock().expect("lock")
                ),
            }
        }
        v
    }

    /// SIGINT (Ctrl-C) and wait for the exit; returns (status, stderr).
    pub fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let st = wait_for("the consumer to exit after Ctrl-C", Duration::from_secs(20), || {
            self.child.try_wait().ok().flatten()
        });
        // Let the stderr reader drain.
        wait_for("stderr to close", Duration::from_secs(5), || {
            let s = self.stderr.lock().expect("lock").clone();
            (s.contains("Processed a total of") || s.contains("ERROR")).then_some(())
        });
        let s = self.stderr.lock().expect("lock").clone();
        (st, s)
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
