//! ZooKeeper session expiry: the broker opens a new session, re-registers
//! /brokers/ids/N and becomes controller again instead of exiting. The
//! session is expired for real: a TCP relay between broker and zookeeperd
//! cuts the broker off for longer than the session timeout, so zookeeperd
//! expires it and deletes its ephemeral nodes.

mod common;

use std::time::Duration;

use common::relay::Relay;
use common::{kcat, start_zookeeperd, wait_for, Kafkad};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_reregisters_and_keeps_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let relay = Relay::start(zk.client_addr);
    let dir = tmp.path().join("broker");
    let extra = format!("zookeeper.connect={}\nzookeeper.session.timeout.ms=4000", relay.addr());
    let k = tokio::task::spawn_blocking(move || Kafkad::start(&dir, &extra)).await.expect("start");
    let b = k.bootstrap();

    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    let (_, before) = client.get_data("/brokers/ids/1").await.expect("registered");
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || {
        assert!(kcat(&["-b", &b2, "-P", "-t", "s1"], Some(b"before\n")).status.success());
    })
    .await
    .expect("produce");

    relay.set_cut(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.check_stat("/brokers/ids/1").await.expect("stat").is_some() {
        assert!(tokio::time::Instant::now() < deadline, "session never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    relay.set_cut(false);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let after = loop {
        if let Ok((_, st)) = client.get_data("/brokers/ids/1").await {
            break st;
        }
        assert!(tokio::time::Instant::now() < deadline, "broker did not re-register:\n{}", k.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(after.ephemeral_owner, before.ephemeral_owner, "a new session");
    assert!(after.czxid > before.czxid, "new broker epoch");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((d, st)) = client.get_data("/controller").await {
            let v: serde_json::Value = serde_json::from_slice(&d).expect("json");
            if v["brokerid"] == 1 && st.ephemeral_owner == after.ephemeral_owner {
                break;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no controller after expiry:\n{}", k.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = k.log();
    tokio::task::spawn_blocking(move || {
        wait_for("produce after session expiry", Duration::from_secs(30), || {
            kcat(&["-b", &b, "-P", "-t", "s1"], Some(b"after\n")).status.success().then_some(())
        });
        let out = kcat(&["-b", &b, "-C", "-t", "s1", "-o", "beginning", "-e"], None);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.starts_with("before\n") && text.contains("after\n"), "{text}");
        wait_for("topic created after expiry", Duration::from_secs(30), || {
            kcat(&["-b", &b, "-P", "-t", "s2"], Some(b"new\n")).status.success().then_some(())
        });
    })
    .await
    .expect("serve after expiry");
    assert!(log.contains("re-registered in zookeeper"), "{log}");
    drop(k);
    let _ = zk.stop().await;
}

/// After kill -9 a broker restarted at once serves within seconds, not
/// after its old session's timeout: its log dir recorded that session, and
/// holding the log dir's lock proves the old run is gone, so the new run
/// removes the registration the old session left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_after_kill9_registers_before_its_old_session_expires() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zk = start_zookeeperd(&tmp.path().join("zk")).await;
    let dir = tmp.path().join("broker");
    let extra = format!("zookeeper.connect={}\nzookeeper.session.timeout.ms=30000", zk.client_addr);
    let mut k = tokio::task::spawn_blocking(move || Kafkad::start(&dir, &extra)).await.expect("start");
    let client = zookeeper_client::Client::connect(&zk.client_addr.to_string()).await.expect("zk client");
    let (_, before) = client.get_data("/brokers/ids/1").await.expect("registered");

    k.restart_no_wait();
    // Well inside the old session's 30 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((_, st)) = client.get_data("/brokers/ids/1").await {
            if st.ephemeral_owner != before.ephemeral_owner {
                break;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "not registered again in time:\n{}", k.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(k.log().contains("removing registration left by this broker's previous run"), "{}", k.log());
    let b = k.bootstrap();
    tokio::task::spawn_blocking(move || {
        wait_for("produce after the restart", Duration::from_secs(10), || {
            kcat(&["-b", &b, "-P", "-t", "restarted"], Some(b"x\n")).status.success().then_some(())
        });
    })
    .await
    .expect("produce");
    drop(k);
    let _ = zk.stop().await;
}

/// A ZooKeeper that accepts and never answers: the broker gives up after
/// zookeeper.connection.timeout.ms (not twice that), with Kafka's words,
/// and exits with an error.
#[test]
fn an_unanswering_zookeeper_fails_the_start_after_the_connection_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let zk = silent.local_addr().expect("addr");
    // Accepted connections are held open and never read.
    let held = std::thread::spawn(move || silent.incoming().take(4).filter_map(Result::ok).collect::<Vec<_>>());
    let cfg = tmp.path().join("server.properties");
    let props = format!(
        "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:{}\nlog.dirs={}\nzookeeper.connect={zk}\n\
         zookeeper.connection.timeout.ms=3000\n",
        system_tests::free_port(),
        tmp.path().join("logs").display()
    );
    std::fs::write(&cfg, props).expect("config");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafkad")).arg(&cfg).output().expect("run kafkad");
    let took = started.elapsed();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("Timed out waiting for connection while in state: CONNECTING"), "{text}");
    // At least the timeout; well under twice it.
    assert!(took >= Duration::from_millis(3000) && took < Duration::from_millis(5500), "{took:?}\n{text}");
    drop(held);
}
