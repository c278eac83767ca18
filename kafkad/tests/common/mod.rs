//! Test harness: runs the real kafkad binary (embedded or external
//! zookeeperd) on free 127.0.0.1 ports in a temp dir, and real clients
//! (kcat, confluent-kafka). Waits poll with deadlines; no fixed sleeps.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Poll `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

pub struct Kafkad {
    pub dir: PathBuf,
    pub port: u16,
    pub child: Option<Child>,
    props: String,
    env: Vec<(String, String)>,
}

impl Kafkad {
    /// Start with the embedded zookeeperd unless `extra` sets zookeeper.connect.
    pub fn start(dir: &Path, extra: &str) -> Kafkad {
        let port = free_port();
        let props = format!(
            "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n\
             group.initial.rebalance.delay.ms=0\nzookeeper.session.timeout.ms=6000\n{extra}\n",
            dir.join("logs").display()
        );
        Self::start_with(dir, port, props, Vec::new())
    }

    pub fn start_with(dir: &Path, port: u16, props: String, env: Vec<(String, String)>) -> Kafkad {
        let mut k = Kafkad { dir: dir.to_path_buf(), port, child: None, props, env };
        k.spawn();
        k
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("dir");
        let cfg = self.dir.join("server.properties");
        std::fs::write(&cfg, &self.props).expect("write config");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("kafkad.log")).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafkad"));
        cmd.arg(&cfg)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn kafkad"));
        let port = self.port;
        wait_for("kafkad to serve metadata", Duration::from_secs(40), || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("kafkad exited early with {status}; log:\n{}", self.log());
                }
            }
            let out = kcat(&["-b", &format!("127.0.0.1:{port}"), "-L", "-m", "2"], None);
            (out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 brokers")).then_some(())
        });
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kafkad.log")).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let c = self.child.as_mut().expect("running");
        let pid = c.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return st;
            }
            if Instant::now() > deadline {
                panic!("kafkad did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Kafkad {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn kcat(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("30").arg("kcat").args(args);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kcat is installed (apt-get install -y kcat)");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().expect("stdin");
        s.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("kcat output")
}

pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}

/// One request/response over a fresh connection with kafka-protocol's own
/// encoders (for APIs no installed client exposes).
pub fn rpc<Req, Resp>(port: u16, version: i16, req: &Req) -> Resp
where
    Req: kafka_protocol::protocol::Encodable + kafka_protocol::protocol::Request,
    Resp: kafka_protocol::protocol::Decodable + kafka_protocol::protocol::HeaderVersion,
{
    use kafka_protocol::protocol::{Decodable, Encodable};
    use std::io::Read;
    let mut header = kafka_protocol::messages::RequestHeader::default();
    header.request_api_key = Req::KEY;
    header.request_api_version = version;
    header.correlation_id = 42;
    header.client_id = Some(kafka_protocol::protocol::StrBytes::from_static_str("kafkad-test"));
    let mut buf = bytes::BytesMut::new();
    header.encode(&mut buf, Req::header_version(version)).expect("encode header");
    req.encode(&mut buf, version).expect("encode body");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    s.write_all(&(buf.len() as i32).to_be_bytes()).expect("write");
    s.write_all(&buf).expect("write");
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("response length");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("response body");
    let mut b = bytes::Bytes::from(body);
    let h = kafka_protocol::messages::ResponseHeader::decode(&mut b, Resp::header_version(version)).expect("header");
    assert_eq!(h.correlation_id, 42);
    Resp::decode(&mut b, version).expect("decode response")
}

/// Start a standalone zookeeperd on a free port (for tests that look at
/// or write znodes themselves).
pub async fn start_zookeeperd(dir: &Path) -> zookeeperd::Running {
    let mut map = shared::ConfigMap::new();
    map.set("dataDir", dir.display().to_string());
    map.set("clientPort", "0");
    map.set("clientPortAddress", "127.0.0.1");
    map.set("admin.enableServer", "false");
    zookeeperd::start(zookeeperd::ZkConfig::from_map(&map).expect("zk config")).await.expect("zookeeperd")
}

/// Run a Python script from tests/py; panics with its output and the
/// broker log tail unless it prints "ALL OK".
pub fn run_py(k: &Kafkad, script: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["300", "python3"])
        .arg(py_script(script))
        .arg(k.bootstrap())
        .args(args)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "{script} stdout:\n{stdout}\nstderr:\n{}\nbroker log tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log().lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    stdout
}
