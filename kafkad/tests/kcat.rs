//! kafkad driven by kcat (librdkafka 2.0.2) and raw sockets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{kcat, wait_for, Kafkad};

#[test]
fn kcat_metadata_produce_consume() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=1");
    let b = k.bootstrap();
    let lines: Vec<String> = (0..300).map(|i| format!("line-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let out = kcat(&["-b", &b, "-P", "-t", "kt"], Some(input.as_bytes()));
    assert!(out.status.success(), "produce: {}", String::from_utf8_lossy(&out.stderr));
    let out = kcat(&["-b", &b, "-C", "-t", "kt", "-o", "beginning", "-e", "-f", "%o %s\n"], None);
    assert!(out.status.success(), "consume: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    let want: Vec<String> = lines.iter().enumerate().map(|(i, l)| format!("{i} {l}")).collect();
    assert_eq!(got, want);
    let md = kcat(&["-b", &b, "-L", "-t", "kt"], None);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("topic \"kt\" with 1 partitions"), "{md}");
    assert!(md.contains("leader 1, replicas: 1, isrs: 1"), "{md}");
    // On-disk format a Kafka operator recognises.
    let pdir = tmp.path().join("logs/kt-0");
    for f in [
        "00000000000000000000.log",
        "00000000000000000000.index",
        "00000000000000000000.timeindex",
        "leader-epoch-checkpoint",
        "partition.metadata",
    ] {
        assert!(pdir.join(f).exists(), "missing {f}");
    }
    let meta = std::fs::read_to_string(tmp.path().join("logs/meta.properties")).expect("meta.properties");
    assert!(meta.contains("version=0") && meta.contains("broker.id=1") && meta.contains("cluster.id="), "{meta}");
}

#[test]
fn clean_stop_writes_checkpoints_and_restart_serves_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut k = Kafkad::start(tmp.path(), "");
    let b = k.bootstrap();
    let out = kcat(&["-b", &b, "-P", "-t", "cs"], Some(b"a\nb\nc\n"));
    assert!(out.status.success());
    assert!(k.stop().success());
    let logs = tmp.path().join("logs");
    assert!(logs.join(".kafka_cleanshutdown").exists());
    let rp = std::fs::read_to_string(logs.join("recovery-point-offset-checkpoint")).expect("checkpoint");
    assert_eq!(rp, "0\n1\ncs 0 3\n");
    let hw = std::fs::read_to_string(logs.join("replication-offset-checkpoint")).expect("checkpoint");
    assert_eq!(hw, "0\n1\ncs 0 3\n");
    k.restart();
    let out = kcat(&["-b", &k.bootstrap(), "-C", "-t", "cs", "-o", "beginning", "-e"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
    assert!(!logs.join(".kafka_cleanshutdown").exists(), "marker removed after start");
}

fn closes_connection(port: u16, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn bad_frames_close_only_that_connection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "socket.request.max.bytes=1000");
    // Negative size, oversized, garbage header, unknown api key, truncated body.
    assert!(closes_connection(k.port, &(-1i32).to_be_bytes()));
    assert!(closes_connection(k.port, &2000i32.to_be_bytes()));
    assert!(closes_connection(k.port, &[0, 0, 0, 3, 1, 2, 3]));
    assert!(closes_connection(k.port, &[0, 0, 0, 10, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]));
    // Metadata v1 claiming a topics array of 1000 entries that is not there.
    assert!(closes_connection(k.port, &[0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 3, 0xe8]));
    let out = kcat(&["-b", &k.bootstrap(), "-L"], None);
    assert!(out.status.success(), "broker still serves");
}

#[test]
fn api_versions_unknown_version_gets_v0_error_35() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "");
    let mut s = TcpStream::connect(("127.0.0.1", k.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // ApiVersions v99, correlation id 7, client id "x", some body bytes.
    let req: &[u8] = &[0, 18, 0, 99, 0, 0, 0, 7, 0, 1, b'x', 0, 1, 2, 3];
    s.write_all(&(req.len() as i32).to_be_bytes()).expect("write");
    s.write_all(req).expect("write");
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("len");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("body");
    assert_eq!(&body[0..4], &7i32.to_be_bytes(), "correlation id, header v0");
    assert_eq!(&body[4..6], &35i16.to_be_bytes(), "UNSUPPORTED_VERSION");
    let n = i32::from_be_bytes([body[6], body[7], body[8], body[9]]);
    assert!(n >= 10, "api list present ({n})");
}

#[test]
fn two_listeners_advertise_their_own_address() {
    // Seed 002: Confluent-style env configuration with two listeners.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (p1, p2) = (common::free_port(), common::free_port());
    let env = vec![
        ("KAFKA_BROKER_ID".to_string(), "1".to_string()),
        (
            "KAFKA_ADVERTISED_LISTENERS".to_string(),
            format!("PLAINTEXT://127.0.0.1:{p1},PLAINTEXT_HOST://localhost:{p2}"),
        ),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".to_string(),
            "PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT".to_string(),
        ),
        ("KAFKA_INTER_BROKER_LISTENER_NAME".to_string(), "PLAINTEXT".to_string()),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR".to_string(), "1".to_string()),
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS".to_string(), "0".to_string()),
        ("KAFKA_LOG_DIRS".to_string(), tmp.path().join("logs").display().to_string()),
    ];
    let _k = Kafkad::start_with(tmp.path(), p1, String::new(), env);
    let a = kcat(&["-b", &format!("127.0.0.1:{p1}"), "-L"], None);
    assert!(String::from_utf8_lossy(&a.stdout).contains(&format!("broker 1 at 127.0.0.1:{p1}")));
    let b = kcat(&["-b", &format!("127.0.0.1:{p2}"), "-L"], None);
    let text = String::from_utf8_lossy(&b.stdout);
    assert!(text.contains(&format!("broker 1 at localhost:{p2}")), "{text}");
    let out = kcat(&["-b", &format!("localhost:{p2}"), "-P", "-t", "host"], Some(b"x\n"));
    assert!(out.status.success());
    let out = wait_for("consume via second listener", Duration::from_secs(20), || {
        let o = kcat(&["-b", &format!("localhost:{p2}"), "-C", "-t", "host", "-o", "beginning", "-e"], None);
        (o.status.success()).then_some(o)
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), "x\n");
}

/// `kcat -G` (a balanced KafkaConsumer) runs until killed: its stdout lines
/// arrive on a channel; Drop kills it if the test fails first.
struct GroupConsumer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl GroupConsumer {
    fn start(bootstrap: &str, group: &str, topic: &str) -> GroupConsumer {
        use std::io::BufRead;
        let mut child = std::process::Command::new("timeout")
            .args(["120", "kcat", "-u", "-b", bootstrap, "-G", group, topic, "-f", "%p %o %s\\n"])
            // -u: unbuffered, lines reach the pipe as consumed. A short
            // commit interval so the committed offsets catch up while we
            // watch; the clean close commits the rest anyway.
            .args(["-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=100"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kcat is installed");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        GroupConsumer { child, lines }
    }

    /// The next `n` records as (partition, offset, value), within a deadline.
    fn take(&self, n: usize) -> Vec<(i32, i64, String)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("kcat -G gave {got:?} of {n}"));
            let mut f = line.splitn(3, ' ');
            let p = f.next().and_then(|s| s.parse().ok()).expect("partition");
            let o = f.next().and_then(|s| s.parse().ok()).expect("offset");
            got.push((p, o, f.next().unwrap_or_default().to_string()));
        }
        got
    }

    /// SIGTERM (to `timeout`, which passes it on): kcat closes its consumer,
    /// committing and leaving the group.
    fn stop(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let st = wait_for("kcat -G to exit", Duration::from_secs(30), || self.child.try_wait().ok().flatten());
        assert!(st.code().is_some(), "kcat exited by signal {st:?}");
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Committed offsets of `group` for partitions 0..n of `topic`, through
/// OffsetFetch v7 on the wire.
fn committed(port: u16, group: &str, topic: &str, n: i32) -> Vec<i64> {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let mut t = OffsetFetchRequestTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_indexes = (0..n).collect();
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(StrBytes::from_string(group.to_string()));
    req.topics = Some(vec![t]);
    let resp: OffsetFetchResponse = common::rpc(port, 7, &req);
    assert_eq!(resp.error_code, 0, "OffsetFetch group error");
    let mut out = vec![-1; n as usize];
    for p in &resp.topics[0].partitions {
        assert_eq!(p.error_code, 0);
        out[p.partition_index as usize] = p.committed_offset;
    }
    out
}

#[test]
fn kcat_consumer_group_commits_and_second_run_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Kafkad::start(tmp.path(), "num.partitions=2");
    let b = k.bootstrap();
    let produce = |from: usize, to: usize| {
        // Keyed, so both partitions get records.
        let input: String = (from..to).map(|i| format!("k{i}:g-{i}\n")).collect();
        let out = kcat(&["-b", &b, "-P", "-t", "kg", "-K", ":"], Some(input.as_bytes()));
        assert!(out.status.success(), "produce: {}", String::from_utf8_lossy(&out.stderr));
    };
    produce(0, 200);
    let per_partition = |recs: &[(i32, i64, String)]| {
        let mut ends = vec![0i64; 2];
        for (p, o, _) in recs {
            ends[*p as usize] = ends[*p as usize].max(o + 1);
        }
        ends
    };

    let first = GroupConsumer::start(&b, "kg-group", "kg");
    let recs = first.take(200);
    let mut values: Vec<String> = recs.iter().map(|r| r.2.clone()).collect();
    values.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("g-{i}")).collect();
    want.sort();
    assert_eq!(values, want, "each record once");
    let ends = per_partition(&recs);
    assert!(ends.iter().all(|e| *e > 0) && ends.iter().sum::<i64>() == 200, "{ends:?}");
    // Auto-commit catches up with what was consumed while kcat still runs.
    wait_for("kcat's auto-commit", Duration::from_secs(30), || {
        (committed(k.port, "kg-group", "kg", 2) == ends).then_some(())
    });
    first.stop();

    produce(200, 250);
    let second = GroupConsumer::start(&b, "kg-group", "kg");
    let recs = second.take(50);
    let mut values: Vec<String> = recs.iter().map(|r| r.2.clone()).collect();
    values.sort();
    let mut want: Vec<String> = (200..250).map(|i| format!("g-{i}")).collect();
    want.sort();
    // Offsets within a partition are in order, so an old record would have
    // come before these: the second run starts at the committed offsets.
    assert_eq!(values, want, "the second run reads only the new records");
    for (p, o, _) in &recs {
        assert!(*o >= ends[*p as usize], "partition {p} offset {o} re-read (committed {})", ends[*p as usize]);
    }
    second.stop();
    let total: i64 = committed(k.port, "kg-group", "kg", 2).iter().sum();
    assert_eq!(total, 250, "the clean close committed everything");
}
