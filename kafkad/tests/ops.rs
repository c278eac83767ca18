//! Operations: Prometheus /metrics, systemd readiness (NOTIFY_SOCKET) and
//! clean shutdown on SIGTERM.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, kcat, rpc, scrape, series, start_zookeeperd, wait_for, Kafkad};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_traffic_requests_replication_and_lag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let mport = free_port();
    let dir = tmp.path().join("broker");
    let port = free_port();
    let props = format!(
        "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nzookeeper.connect={}\n\
         group.initial.rebalance.delay.ms=0\nnum.partitions=1\n",
        dir.join("logs").display(),
        zk.client_addr
    );
    // The Confluent-image spelling of metrics.port.
    let env = vec![("KAFKA_METRICS_PORT".to_string(), mport.to_string())];
    let d2 = dir.clone();
    let k = tokio::task::spawn_blocking(move || Kafkad::start_with(&d2, port, props, env)).await.expect("start");

    // A partition whose second replica (broker 2) never registers stays
    // under-replicated.
    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk");
    let opts = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    client.create("/config/topics/ur", br#"{"version":1,"config":{}}"#, &opts).await.expect("config");
    client.create("/brokers/topics/ur", br#"{"version":1,"partitions":{"0":[1,2]}}"#, &opts).await.expect("topic");

    let logs = dir.join("logs");
    let body = tokio::task::spawn_blocking(move || {
        let b = format!("127.0.0.1:{port}");
        let input: String = (0..10).map(|i| format!("value-{i:02}\n")).collect();
        assert!(kcat(&["-b", &b, "-P", "-t", "m", "-p", "0"], Some(input.as_bytes())).status.success());
        let out = kcat(&["-b", &b, "-C", "-t", "m", "-p", "0", "-o", "beginning", "-e"], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout), input);

        // Group "lagg" commits offset 4 of 10: lag 6.
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = 0;
        p.committed_offset = 4;
        let mut t = OffsetCommitRequestTopic::default();
        t.name = TopicName(StrBytes::from_static_str("m"));
        t.partitions.push(p);
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(StrBytes::from_static_str("lagg"));
        req.generation_id_or_member_epoch = -1;
        req.topics.push(t);
        let resp: OffsetCommitResponse = rpc(port, 2, &req);
        assert_eq!(resp.topics[0].partitions[0].error_code, 0);

        wait_for("ur partition online and under-replicated", Duration::from_secs(20), || {
            let s = series(&scrape(mport));
            (s.get("kafka_under_replicated_partitions") == Some(&1.0)).then_some(())
        });
        scrape(mport)
    })
    .await
    .expect("traffic");

    let s = series(&body);
    let log_bytes = std::fs::metadata(logs.join("m-0/00000000000000000000.log")).expect("segment").len() as f64;
    let get = |k: &str| *s.get(k).unwrap_or_else(|| panic!("{k} missing from:\n{body}"));
    assert_eq!(get(r#"kafka_topic_messages_in_total{topic="m"}"#), 10.0);
    assert_eq!(get(r#"kafka_topic_bytes_in_total{topic="m"}"#), log_bytes, "bytes in = bytes appended");
    assert_eq!(get(r#"kafka_topic_messages_out_total{topic="m"}"#), 10.0);
    assert_eq!(get(r#"kafka_topic_bytes_out_total{topic="m"}"#), log_bytes, "bytes out = the log, read once");
    assert!(get(r#"kafka_requests_total{api="Produce"}"#) >= 1.0);
    assert!(get(r#"kafka_requests_total{api="Fetch"}"#) >= 1.0);
    assert_eq!(get(r#"kafka_requests_total{api="OffsetCommit"}"#), 1.0);
    assert_eq!(
        get(r#"kafka_request_duration_seconds_count{api="OffsetCommit"}"#),
        1.0,
        "one latency observation per request"
    );
    assert!(get(r#"kafka_request_duration_seconds_bucket{le="+Inf",api="Produce"}"#) >= 1.0, "{body}");
    assert_eq!(get("kafka_under_replicated_partitions"), 1.0);
    assert_eq!(get(r#"kafka_consumergroup_lag{group="lagg",topic="m",partition="0"}"#), 6.0);
    assert_eq!(get(r#"kafka_consumergroup_current_offset{group="lagg",topic="m",partition="0"}"#), 4.0);
    assert!(body.trim_end().ends_with("# EOF"), "OpenMetrics text");
    drop(k);
    let _ = zk.stop().await;
}

#[test]
fn notify_ready_after_bind_and_sigterm_is_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sock_path = tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(250))).expect("timeout");
    let port = free_port();
    let dir = tmp.path().join("broker");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("server.properties");
    std::fs::write(
        &cfg,
        format!(
            "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nembedded.zookeeper.port=0\n",
            dir.join("logs").display()
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("kafkad.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkad"))
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().expect("clone")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn kafkad");
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut buf = [0u8; 256];
    let ready = loop {
        assert!(Instant::now() < deadline, "no READY=1 on NOTIFY_SOCKET");
        if let Ok(Some(st)) = child.try_wait() {
            panic!("kafkad exited early: {st}");
        }
        if let Ok(n) = sock.recv(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).to_string();
        }
    };
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    // READY comes after the listener is bound and the broker serves:
    // the very first request succeeds without retrying.
    let av: ApiVersionsResponse = rpc(port, 3, &ApiVersionsRequest::default());
    assert_eq!(av.error_code, 0);
    let b = format!("127.0.0.1:{port}");
    wait_for("produce", Duration::from_secs(20), || {
        kcat(&["-b", &b, "-P", "-t", "t"], Some(b"x\n")).status.success().then_some(())
    });
    // systemctl status shows the broker's role, and the watchdog is fed.
    let mut heard = String::new();
    let want = "STATUS=broker 1, controller, 1 partitions led, 0 under-replicated";
    wait_for("the broker's STATUS and watchdog pings", Duration::from_secs(20), || {
        if let Ok(n) = sock.recv(&mut buf) {
            heard.push_str(&String::from_utf8_lossy(&buf[..n]));
            heard.push('\n');
        }
        (heard.lines().any(|l| l == want) && heard.matches("WATCHDOG=1").count() >= 2).then_some(())
    });
    assert_eq!(heard.matches("READY=1").count(), 0, "one READY only (none from the embedded zookeeperd): {heard}");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = wait_for("exit after SIGTERM", Duration::from_secs(30), || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(0), "clean exit status");
    assert!(dir.join("logs/.kafka_cleanshutdown").exists(), "clean shutdown marker written");
    let mut stopping = String::new();
    while let Ok(n) = sock.recv(&mut buf) {
        stopping.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(stopping.contains("STOPPING=1"), "{stopping:?}");
}

/// Without zookeeper.connect the embedded zookeeperd serves on
/// embedded.zookeeper.port (2181 by default, where the tutorials' tools
/// look) and says so; when that port is taken it serves on a free one.
#[test]
fn embedded_zookeeper_serves_on_its_port_or_a_free_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk_port = free_port();
    let extra = format!("embedded.zookeeper.port={zk_port}");
    let first = Kafkad::start(&tmp.path().join("a"), &extra);
    let srvr = common::four_letter_word(zk_port, "srvr").expect("srvr on the embedded port");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(first.log().contains(&format!("serving on 127.0.0.1:{zk_port}")), "{}", first.log());

    let second = Kafkad::start(&tmp.path().join("b"), &extra);
    let log = second.log();
    assert!(log.contains("embedded zookeeper cannot use its port"), "{log}");
    let served = log
        .lines()
        .find_map(|l| l.split("serving on 127.0.0.1:").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse::<u16>().ok())
        .expect("the log names the port");
    assert_ne!(served, zk_port);
    let srvr = common::four_letter_word(served, "srvr").expect("srvr on the fallback port");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
}
