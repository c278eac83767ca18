//! Test harness: runs the real kafkad binary (embedded or external
//! zookeeperd) on free 127.0.0.1 ports in a temp dir, and real clients
//! (kcat, confluent-kafka). Waits poll with deadlines; no fixed sleeps.
#![allow(dead_code)]

pub mod relay;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Shared with the other system tests.
pub use system_tests::{free_port, wait_for};

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
            "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nembedded.zookeeper.port=0\n\
             group.initial.rebalance.delay.ms=0\nzookeeper.session.timeout.ms=6000\n{extra}\n",
            dir.join("logs").display()
        );
        Self::start_with(dir, port, props, Vec::new())
    }

    /// Broker `id` of a cluster on the external ZooKeeper `zk_connect`.
    pub fn start_member(dir: &Path, id: i32, zk_connect: &str, extra: &str) -> Kafkad {
        let port = free_port();
        let props = format!(
            "broker.id={id}\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nzookeeper.connect={zk_connect}\n\
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
            // Registered: the broker lists itself in its metadata.
            let out = kcat(&["-b", &format!("127.0.0.1:{port}"), "-L", "-m", "2"], None);
            (out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&format!("at 127.0.0.1:{port}")))
                .then_some(())
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

    /// kill -9 (if running) and start again without waiting for it.
    pub fn restart_no_wait(&mut self) {
        self.kill9();
        let cfg = self.dir.join("server.properties");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("kafkad.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_kafkad"))
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn kafkad");
        self.child = Some(child);
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

/// Apache ZooKeeper (Debian's zookeeper package) on a free port, killed on
/// drop. Ready once `srvr` reports a Mode (`ruok` answers before the
/// server accepts sessions).
pub struct ApacheZk {
    pub port: u16,
    child: Option<Child>,
    pub dir: PathBuf,
}

impl ApacheZk {
    pub fn start(dir: &Path) -> ApacheZk {
        std::fs::create_dir_all(dir.join("data")).expect("zk dir");
        let port = free_port();
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=srvr,ruok\n",
                dir.join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let mut zk = ApacheZk { port, child: None, dir: dir.to_path_buf() };
        zk.spawn();
        zk
    }

    fn spawn(&mut self) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("zookeeper.log")).expect("zk log");
        let child = Command::new("java")
            .args(["-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(self.dir.join("zoo.cfg"))
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("java (default-jre-headless) and zookeeper are installed");
        self.child = Some(child);
        let port = self.port;
        wait_for("Apache ZooKeeper srvr Mode:", Duration::from_secs(60), || {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("zookeeper exited with {st}: {}", self.log());
            }
            four_letter_word(port, "srvr").filter(|a| a.contains("Mode:")).map(|_| ())
        });
    }

    /// kill -9, then start again on the same port and dataDir.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default()
    }

    pub fn connect(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ApacheZk {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn four_letter_word(port: u16, word: &str) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn zk_json(data: &[u8], what: &str) -> serde_json::Value {
    serde_json::from_slice(data)
        .unwrap_or_else(|e| panic!("{what} is not JSON ({e}): {}", String::from_utf8_lossy(data)))
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

fn recent_ms_string(v: &serde_json::Value, what: &str) {
    let s = v.as_str().unwrap_or_else(|| panic!("{what} must be a string of digits, got {v}"));
    let ms: i64 = s.parse().unwrap_or_else(|_| panic!("{what} {s:?} is not decimal"));
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    assert!((now - 3_600_000..=now + 60_000).contains(&ms), "{what} {ms} is not a recent epoch-ms timestamp");
}

/// What kafkad (broker 1, one PLAINTEXT listener on `broker_port`) must
/// have written under `chroot` ("" for none), in Kafka 3.x's exact formats.
/// `topic` has partitions 0 and 1 on broker 1 and config `topic_config`.
/// Returns (cluster id, topic id) for comparison with Metadata.
pub async fn check_kafka_znodes(
    client: &zookeeper_client::Client,
    chroot: &str,
    broker_port: u16,
    topic: &str,
    topic_config: serde_json::Value,
) -> (String, String) {
    use serde_json::json;
    let p = |s: &str| format!("{chroot}{s}");
    for path in [
        "/consumers",
        "/brokers/ids",
        "/brokers/topics",
        "/brokers/seqid",
        "/config/changes",
        "/admin/delete_topics",
        "/isr_change_notification",
        "/latest_producer_id_block",
        "/log_dir_event_notification",
        "/config/topics",
        "/config/clients",
        "/config/users",
        "/config/brokers",
        "/config/ips",
    ] {
        assert!(client.check_stat(&p(path)).await.expect("stat").is_some(), "{path} exists");
    }

    let (data, stat) = client.get_data(&p("/brokers/ids/1")).await.expect("/brokers/ids/1");
    assert_ne!(stat.ephemeral_owner, 0, "/brokers/ids/1 is ephemeral");
    let v = zk_json(&data, "/brokers/ids/1");
    assert_eq!(
        keys(&v),
        ["endpoints", "features", "host", "jmx_port", "listener_security_protocol_map", "port", "timestamp", "version"],
        "{v}"
    );
    assert_eq!(v["version"], json!(5));
    assert_eq!(v["host"], json!("127.0.0.1"));
    assert_eq!(v["port"], json!(broker_port));
    assert_eq!(v["endpoints"], json!([format!("PLAINTEXT://127.0.0.1:{broker_port}")]));
    assert_eq!(v["listener_security_protocol_map"], json!({"PLAINTEXT": "PLAINTEXT"}));
    assert_eq!(v["jmx_port"], json!(-1));
    assert!(v["features"].is_object(), "{v}");
    recent_ms_string(&v["timestamp"], "/brokers/ids/1 timestamp");

    let (data, stat) = client.get_data(&p("/controller")).await.expect("/controller");
    assert_ne!(stat.ephemeral_owner, 0, "/controller is ephemeral");
    let v = zk_json(&data, "/controller");
    assert_eq!(keys(&v), ["brokerid", "kraftControllerEpoch", "timestamp", "version"], "{v}");
    assert_eq!(
        (v["version"].clone(), v["brokerid"].clone(), v["kraftControllerEpoch"].clone()),
        (json!(2), json!(1), json!(-1))
    );
    recent_ms_string(&v["timestamp"], "/controller timestamp");

    let (data, stat) = client.get_data(&p("/controller_epoch")).await.expect("/controller_epoch");
    assert_eq!(stat.ephemeral_owner, 0, "/controller_epoch is persistent");
    let text = String::from_utf8(data).expect("utf8");
    assert!(!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()), "decimal text: {text:?}");
    let controller_epoch: i64 = text.parse().expect("epoch");
    assert!(controller_epoch >= 1);
    // Created as "0", then bumped by each election with a versioned write.
    assert_eq!(stat.version as i64, controller_epoch, "zkVersion tracks the epoch");

    let (data, _) = client.get_data(&p(&format!("/brokers/topics/{topic}"))).await.expect("topic znode");
    let v = zk_json(&data, "topic");
    assert_eq!(keys(&v), ["adding_replicas", "partitions", "removing_replicas", "topic_id", "version"], "{v}");
    assert_eq!(v["version"], json!(3));
    assert_eq!(v["partitions"], json!({"0": [1], "1": [1]}));
    assert_eq!((v["adding_replicas"].clone(), v["removing_replicas"].clone()), (json!({}), json!({})));
    let topic_id = v["topic_id"].as_str().expect("topic_id string").to_string();
    assert_eq!(topic_id.len(), 22, "base64url uuid without padding");
    assert!(topic_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{topic_id}");

    let mut parts = client.list_children(&p(&format!("/brokers/topics/{topic}/partitions"))).await.expect("partitions");
    parts.sort();
    assert_eq!(parts, ["0", "1"]);
    for part in parts {
        let (data, stat) =
            client.get_data(&p(&format!("/brokers/topics/{topic}/partitions/{part}/state"))).await.expect("state");
        assert_eq!(stat.ephemeral_owner, 0);
        let v = zk_json(&data, "partition state");
        assert_eq!(keys(&v), ["controller_epoch", "isr", "leader", "leader_epoch", "version"], "{v}");
        assert_eq!(v["version"], json!(1));
        assert_eq!(
            (v["leader"].clone(), v["leader_epoch"].clone(), v["isr"].clone()),
            (json!(1), json!(0), json!([1]))
        );
        assert_eq!(v["controller_epoch"], json!(controller_epoch));
    }

    let (data, _) = client.get_data(&p(&format!("/config/topics/{topic}"))).await.expect("topic config");
    assert_eq!(zk_json(&data, "topic config"), json!({"version": 1, "config": topic_config}));

    let (data, _) = client.get_data(&p("/cluster/id")).await.expect("/cluster/id");
    let v = zk_json(&data, "/cluster/id");
    assert_eq!(keys(&v), ["id", "version"], "{v}");
    assert_eq!(v["version"], json!("1"), "version is a string");
    let cluster_id = v["id"].as_str().expect("id").to_string();
    assert_eq!(cluster_id.len(), 22);
    (cluster_id, topic_id)
}

/// GET /metrics from the broker's metrics.port: the body.
pub fn scrape(port: u16) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect metrics");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// `name{labels} value` lines of a scrape, keyed by the series text.
pub fn series(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v))))
        .collect()
}

/// CreateTopics through kafka-protocol (v5), asserting success.
pub fn create_topic(port: u16, name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) {
    use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
    use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(name.to_string()));
    t.num_partitions = partitions;
    t.replication_factor = rf;
    for (k, v) in configs {
        let mut c = CreatableTopicConfig::default();
        c.name = StrBytes::from_string(k.to_string());
        c.value = Some(StrBytes::from_string(v.to_string()));
        t.configs.push(c);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let resp: CreateTopicsResponse = rpc(port, 5, &req);
    assert_eq!(resp.topics[0].error_code, 0, "create {name}: {:?}", resp.topics[0].error_message);
}

/// One batch of `records` to partition 0 of `topic` through kafka-protocol;
/// the partition's answer.
pub fn produce_records(
    port: u16,
    topic: &str,
    records: &[kafka_protocol::records::Record],
    compression: kafka_protocol::records::Compression,
    acks: i16,
    version: i16,
) -> kafka_protocol::messages::produce_response::PartitionProduceResponse {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{RecordBatchEncoder, RecordEncodeOptions};
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, records, &RecordEncodeOptions { version: 2, compression }).expect("encode");
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(buf.freeze());
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 10_000;
    req.topic_data.push(td);
    let resp: ProduceResponse = rpc(port, version, &req);
    resp.responses[0].partition_responses[0].clone()
}

/// ListOffsets v5 for partition 0 of `topic` at `timestamp` (-1 latest,
/// -2 earliest): the partition's answer.
pub fn list_offset(
    port: u16,
    topic: &str,
    timestamp: i64,
) -> kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let mut p = ListOffsetsPartition::default();
    p.partition_index = 0;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions.push(p);
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics.push(t);
    let resp: ListOffsetsResponse = rpc(port, 5, &req);
    resp.topics[0].partitions[0].clone()
}
