//! zkbench: the same load against Apache ZooKeeper (Debian) and zookeeperd,
//! side by side, same zoo.cfg (fsync on). Phases create, set, get, exists,
//! delete; each client keeps `--pipeline` requests in flight (1: synchronous,
//! as most ZooKeeper clients are). `--ensemble` runs three members of each
//! kind and spreads the clients over them. Prints a markdown table for
//! BENCHMARKS.md.
//!
//!     zkbench [--clients 32] [--ops 40000] [--size 100] [--pipeline 1] [--ensemble]
//!             [--only zookeeperd|apache]

use bytes::BytesMut;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use system_tests::{binary, four_letter, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeperd::jute::records::{Acl, ConnectRequest, ReplyHeader, RequestHeader};
use zookeeperd::jute::request::{op, CreateRequest, Request};
use zookeeperd::jute::{Encode, Reader};

const APACHE_CP: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";

struct Args {
    clients: usize,
    ops: usize,
    size: usize,
    only: Option<String>,
    pipeline: usize,
    ensemble: bool,
}

fn args() -> Args {
    let mut a = Args { clients: 32, ops: 40_000, size: 100, only: None, pipeline: 1, ensemble: false };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--clients" => a.clients = val.parse().expect("--clients N"),
            "--ops" => a.ops = val.parse().expect("--ops N"),
            "--size" => a.size = val.parse().expect("--size BYTES"),
            "--only" => a.only = Some(val),
            "--pipeline" => a.pipeline = val.parse::<usize>().expect("--pipeline N").max(1),
            "--ensemble" => {
                a.ensemble = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(kind: &str) -> (Server, Duration) {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let t0 = Instant::now();
        let s = Self::spawn(kind, dir, port, "");
        s.wait_serving(kind, t0);
        (s, t0.elapsed())
    }

    /// Three members of `kind` (server lines + myid, as the seeds' zoo.cfg).
    fn start_ensemble(kind: &str) -> (Vec<Server>, Duration) {
        let ports = system_tests::ensemble_ports(3);
        let lines = system_tests::server_lines(&ports);
        let t0 = Instant::now();
        let members: Vec<Server> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, _, c))| {
                let dir = tempfile::tempdir().expect("tempdir");
                std::fs::create_dir_all(dir.path().join("data")).expect("data");
                std::fs::write(dir.path().join("data/myid"), format!("{}\n", i + 1)).expect("myid");
                Self::spawn(kind, dir, *c, &lines)
            })
            .collect();
        for m in &members {
            m.wait_serving(kind, t0);
        }
        (members, t0.elapsed())
    }

    fn spawn(kind: &str, dir: tempfile::TempDir, port: u16, servers: &str) -> Server {
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                dir.path().join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let main = if servers.is_empty() { "ZooKeeperServerMain" } else { "quorum.QuorumPeerMain" };
        let mut cmd = if kind == "apache" {
            let mut c = Command::new("java");
            c.args(["-Xmx1g", "-Dzookeeper.jmx.log4j.disable=true", "-cp", APACHE_CP])
                .arg(format!("org.apache.zookeeper.server.{main}"));
            c
        } else {
            Command::new(binary("zookeeperd"))
        };
        let child = cmd.arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn server");
        Server { child, port, _dir: dir }
    }

    fn wait_serving(&self, kind: &str, t0: Instant) {
        loop {
            // Apache answers ruok before it serves sessions; srvr says Mode:
            // only once it does.
            if four_letter(self.port, "srvr").map(|r| r.contains("Mode:")).unwrap_or(false) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "{kind} did not start");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One synchronous session over a socket.
struct Client {
    s: TcpStream,
    xid: i32,
    buf: BytesMut,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        s.set_nodelay(true).ok();
        let mut b = BytesMut::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut b);
        let mut c = Client { s, xid: 0, buf: BytesMut::new() };
        c.send(&b).await;
        c.frame().await;
        c
    }

    async fn send(&mut self, payload: &[u8]) {
        let mut out = Vec::with_capacity(payload.len() + 4);
        out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        out.extend_from_slice(payload);
        self.s.write_all(&out).await.expect("write");
    }

    async fn frame(&mut self) -> Vec<u8> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).await.expect("read");
        let mut f = vec![0u8; i32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut f).await.expect("read");
        f
    }

    /// Send `req`, wait for its reply; returns the error code.
    async fn call(&mut self, req: &Request) -> i32 {
        self.submit(req).await;
        self.reply().await
    }

    async fn submit(&mut self, req: &Request) {
        self.xid += 1;
        self.buf.clear();
        RequestHeader { xid: self.xid, opcode: req.opcode() }.encode(&mut self.buf);
        req.encode(&mut self.buf);
        let b = std::mem::take(&mut self.buf);
        self.send(&b).await;
        self.buf = b;
    }

    /// The next reply's error code (watch events skipped).
    async fn reply(&mut self) -> i32 {
        loop {
            let f = self.frame().await;
            let h = ReplyHeader::decode(&mut Reader::new(&f)).expect("reply header");
            if h.xid >= 0 {
                return h.err;
            }
        }
    }
}

fn req(phase: &str, path: String, data: &[u8]) -> Request {
    match phase {
        "create" => Request::Create {
            opcode: op::CREATE,
            req: CreateRequest { path, data: Some(data.to_vec()), acl: Acl::open_unsafe(), flags: 0, ttl: None },
        },
        "set" => Request::SetData { path, data: Some(data.to_vec()), version: -1 },
        "get" => Request::GetData { path, watch: false },
        "exists" => Request::Exists { path, watch: false },
        _ => Request::Delete { path, version: -1 },
    }
}

struct PhaseResult {
    ops_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
}

async fn phase(ports: &[u16], name: &str, a: &Args) -> PhaseResult {
    let per_client = a.ops / a.clients;
    let data = vec![b'x'; a.size];
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    let depth = a.pipeline;
    for c in 0..a.clients {
        let name = name.to_string();
        let data = data.clone();
        // Clients spread over the members, as a connect string would.
        let port = ports[c % ports.len()];
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(port).await;
            let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("hist");
            // Up to `depth` requests in flight; replies come in order.
            let mut sent = std::collections::VecDeque::new();
            let mut next = 0;
            while next < per_client || !sent.is_empty() {
                while next < per_client && sent.len() < depth {
                    let r = req(&name, format!("/bench/c{c}-{next}"), &data);
                    client.submit(&r).await;
                    sent.push_back(Instant::now());
                    next += 1;
                }
                let err = client.reply().await;
                let t = sent.pop_front().expect("a request in flight");
                h.record(t.elapsed().as_micros().max(1) as u64).ok();
                assert_eq!(err, 0, "{name} failed with {err}");
            }
            h
        }));
    }
    let mut all = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("hist");
    for t in tasks {
        all.add(t.await.expect("client task")).ok();
    }
    let secs = t0.elapsed().as_secs_f64();
    PhaseResult {
        ops_per_sec: (per_client * a.clients) as f64 / secs,
        p50_us: all.value_at_quantile(0.5),
        p99_us: all.value_at_quantile(0.99),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let kinds: Vec<&str> = match a.only.as_deref() {
        Some(k) => vec![if k == "apache" { "apache" } else { "zookeeperd" }],
        None => vec!["apache", "zookeeperd"],
    };
    println!(
        "clients={} in flight each={} ops/phase={} value={}B fsync=on{}\n",
        a.clients,
        a.pipeline,
        a.clients * (a.ops / a.clients),
        a.size,
        if a.ensemble { " ensemble=3 members (RSS: mean per member)" } else { "" }
    );
    println!("| server | phase | ops/s | p50 ms | p99 ms | RSS after phase MB |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for kind in kinds {
        let (servers, ready_in) = if a.ensemble {
            Server::start_ensemble(kind)
        } else {
            let (s, t) = Server::start(kind);
            (vec![s], t)
        };
        let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
        let rss = || servers.iter().map(Server::rss_kb).sum::<u64>() / servers.len() as u64;
        // Idle: a moment after serving, before any session.
        let idle = rss();
        {
            let mut c = Client::connect(ports[0]).await;
            assert_eq!(c.call(&req("create", "/bench".into(), b"")).await, 0);
        }
        let mut peak = idle;
        for p in ["create", "set", "get", "exists", "delete"] {
            let r = phase(&ports, p, &a).await;
            let rss = rss();
            peak = peak.max(rss);
            println!(
                "| {kind} | {p} | {:.0} | {:.2} | {:.2} | {:.1} |",
                r.ops_per_sec,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                rss as f64 / 1024.0
            );
        }
        summary.push(format!(
            "{kind}: serving {:.0} ms after start, idle RSS {:.1} MB, peak RSS {:.1} MB",
            ready_in.as_secs_f64() * 1000.0,
            idle as f64 / 1024.0,
            peak as f64 / 1024.0
        ));
    }
    println!();
    for s in summary {
        println!("- {s}");
    }
}
