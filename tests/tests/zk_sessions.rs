//! Sessions: expiry deletes ephemerals and fires watches; a client that
//! reconnects in time keeps its session and ephemerals; sessions survive
//! a server restart; a wrong password gets the "expired" answer.

use std::time::Duration;
use system_tests::zkraw::RawSession;
use system_tests::ZkServer;
use zookeeper_client as zk;

async fn connect(addr: &str) -> zk::Client {
    zk::Client::connector().with_session_timeout(Duration::from_secs(10)).connect(addr).await.expect("connect")
}

#[tokio::test]
async fn silent_client_expires_and_its_ephemerals_go() {
    let server = ZkServer::start(&[]);
    // tickTime=200: the 400 ms minimum applies.
    let mut raw = RawSession::connect(&server.addr(), 100, 0, &[]).unwrap();
    assert_eq!(raw.timeout, 400, "timeout clamped to minSessionTimeout = 2 x tickTime");
    assert_eq!(raw.create("/eph", b"", 1).unwrap(), 0);
    let watcher = connect(&server.addr()).await;
    let (stat, w) = watcher.check_and_watch_stat("/eph").await.unwrap();
    assert_eq!(stat.map(|s| s.ephemeral_owner), Some(raw.session_id));
    // No pings from `raw` from now on.
    let event = tokio::time::timeout(Duration::from_secs(10), w.changed()).await.expect("NodeDeleted within 10s");
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    assert_eq!(event.path, "/eph");
    // The expired session cannot be resumed.
    let again = RawSession::connect(&server.addr(), 400, raw.session_id, &raw.passwd).unwrap();
    assert_eq!((again.timeout, again.session_id), (0, 0));
}

#[tokio::test]
async fn reconnect_within_timeout_keeps_session_and_ephemerals() {
    let server = ZkServer::start(&[]);
    let mut raw = RawSession::connect(&server.addr(), 4000, 0, &[]).unwrap();
    assert_eq!(raw.create("/mine", b"", 1).unwrap(), 0);
    let (id, pw) = (raw.session_id, raw.passwd.clone());
    drop(raw); // connection lost, session alive
    let mut back = RawSession::connect(&server.addr(), 4000, id, &pw).unwrap();
    assert_eq!(back.session_id, id);
    assert_eq!(back.timeout, 4000);
    // Still the owner: a second create of the same name is NodeExists.
    assert_eq!(back.create("/mine", b"", 1).unwrap(), -110);
    let c = connect(&server.addr()).await;
    assert_eq!(c.check_stat("/mine").await.unwrap().map(|s| s.ephemeral_owner), Some(id));
    // Wrong password: the expired answer.
    let bad = RawSession::connect(&server.addr(), 4000, id, &[0; 16]).unwrap();
    assert_eq!((bad.timeout, bad.session_id), (0, 0));
}

#[tokio::test]
async fn sessions_and_ephemerals_survive_restart() {
    let mut server = ZkServer::start(&[]);
    let mut raw = RawSession::connect(&server.addr(), 8000, 0, &[]).unwrap();
    assert_eq!(raw.create("/survivor", b"", 1).unwrap(), 0);
    let (id, pw) = (raw.session_id, raw.passwd.clone());
    drop(raw);
    server.restart();
    let back = RawSession::connect(&server.addr(), 8000, id, &pw).unwrap();
    assert_eq!(back.session_id, id, "session restored from the log");
    let c = connect(&server.addr()).await;
    assert_eq!(c.check_stat("/survivor").await.unwrap().map(|s| s.ephemeral_owner), Some(id));
}
