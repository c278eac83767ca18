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
