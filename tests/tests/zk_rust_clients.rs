//! The Rust zookeeper-client crate (full 3.5+ feature set) and
//! tokio-zookeeper against a real zookeeperd process.

use std::time::Duration;
use system_tests::ZkServer;
use zookeeper_client as zk;

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(server: &ZkServer) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&server.addr())
        .await
        .expect("connect")
}

async fn next_event(w: &mut zk::PersistentWatcher) -> zk::WatchedEvent {
    tokio::time::timeout(Duration::from_secs(10), w.changed()).await.expect("watch event within 10s")
}

#[tokio::test]
async fn persistent_and_recursive_watches() {
    let server = ZkServer::start(&[]);
    let client = connect(&server).await;
    client.create("/w", b"", &open()).await.unwrap();
    // One mode per (connection, path) on the server, so use two sessions.
    let mut recursive = client.watch("/w", zk::AddWatchMode::PersistentRecursive).await.unwrap();
    let other = connect(&server).await;
    let mut persistent = other.watch("/w", zk::AddWatchMode::Persistent).await.unwrap();

    client.create("/w/a", b"1", &open()).await.unwrap();
    client.create("/w/a/b", b"2", &open()).await.unwrap();
    client.set_data("/w/a/b", b"3", None).await.unwrap();
    client.delete("/w/a/b", None).await.unwrap();

    // Recursive: every create/change/delete below /w, never children-changed.
    let got: Vec<(zk::EventType, String)> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let e = next_event(&mut recursive).await;
            v.push((e.event_type, e.path));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            (zk::EventType::NodeCreated, "/w/a".to_string()),
            (zk::EventType::NodeCreated, "/w/a/b".to_string()),
            (zk::EventType::NodeDataChanged, "/w/a/b".to_string()),
            (zk::EventType::NodeDeleted, "/w/a/b".to_string()),
        ]
    );
    // Persistent (non-recursive) on /w: only /w's own children changed.
    let e = next_event(&mut persistent).await;
    assert_eq!((e.event_type, e.path.as_str()), (zk::EventType::NodeChildrenChanged, "/w"));
    // It stays registered: another change fires again.
    client.create("/w/c", b"", &open()).await.unwrap();
    let e = next_event(&mut persistent).await;
    assert_eq!((e.event_type, e.path.as_str()), (zk::EventType::NodeChildrenChanged, "/w"));
}

#[tokio::test]
async fn multi_and_multi_read() {
    let server = ZkServer::start(&[]);
    let client = connect(&server).await;
    let mut w = client.new_multi_writer();
    w.add_create("/m", b"0", &open()).unwrap();
    w.add_create("/m/x", b"x", &open()).unwrap();
    w.add_set_data("/m", b"1", Some(0)).unwrap();
    w.add_check_version("/m", 1).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[0], zk::MultiWriteResult::Create { path, .. } if path == "/m"));
    assert!(matches!(&results[2], zk::MultiWriteResult::SetData { stat } if stat.version == 1));
    assert!(matches!(results[3], zk::MultiWriteResult::Check));

    // A failing op rolls back the whole multi and names its index.
    w.add_create("/m/y", b"", &open()).unwrap();
    w.add_check_version("/m", 7).unwrap();
    let err = w.commit().await.unwrap_err();
    assert_eq!(err, zk::MultiWriteError::OperationFailed { index: 1, source: zk::Error::BadVersion });
    assert_eq!(client.check_stat("/m/y").await.unwrap(), None);

    let mut r = client.new_multi_reader();
    r.add_get_data("/m").unwrap();
    r.add_get_children("/m").unwrap();
    r.add_get_data("/nope").unwrap();
    let results = r.commit().await.unwrap();
    assert!(matches!(&results[0], zk::MultiReadResult::Data { data, stat } if data == b"1" && stat.num_children == 1));
    assert!(matches!(&results[1], zk::MultiReadResult::Children { children } if children == &vec!["x".to_string()]));
    assert!(matches!(&results[2], zk::MultiReadResult::Error { err } if *err == zk::Error::NoNode));
}

#[tokio::test]
async fn ttl_and_container_nodes_are_reaped() {
    let server = ZkServer::start(&[("extendedTypesEnabled", "true"), ("znode.container.checkIntervalMs", "100")]);
    let client = connect(&server).await;
    let ttl = open().with_ttl(Duration::from_millis(300));
    let (stat, _) = client.create("/ttl", b"t", &ttl).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "clients see 0 for TTL nodes");
    let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
    client.create("/box", b"", &container).await.unwrap();
    client.create("/box/item", b"", &open()).await.unwrap();
    client.create("/never-used", b"", &container).await.unwrap();
    client.delete("/box/item", None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ttl_gone = client.check_stat("/ttl").await.unwrap().is_none();
        let box_gone = client.check_stat("/box").await.unwrap().is_none();
        if ttl_gone && box_gone {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "TTL node and emptied container were not reaped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A container that never had a child stays.
    assert!(client.check_stat("/never-used").await.unwrap().is_some());
}

#[tokio::test]
async fn ttl_refused_without_extended_types() {
    let server = ZkServer::start(&[]);
    let client = connect(&server).await;
    let ttl = open().with_ttl(Duration::from_millis(300));
    assert_eq!(client.create("/ttl", b"t", &ttl).await.unwrap_err(), zk::Error::Unimplemented);
}

#[tokio::test]
async fn who_am_i_and_digest_auth() {
    let server = ZkServer::start(&[]);
    let client = connect(&server).await;
    let users = client.list_auth_users().await.unwrap();
    assert_eq!(users, vec![zk::AuthUser::new("ip", "127.0.0.1")]);
    client.auth("digest", b"alice:secret").await.unwrap();
    let mut users = client.list_auth_users().await.unwrap();
    users.sort_by(|a, b| a.scheme().cmp(b.scheme()));
    assert_eq!(users, vec![zk::AuthUser::new("digest", "alice"), zk::AuthUser::new("ip", "127.0.0.1")]);
    // creator_all expands "auth" to the digest identity; others are refused.
    client.create("/private", b"p", &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all())).await.unwrap();
    let other = connect(&server).await;
    assert_eq!(other.get_data("/private").await.unwrap_err(), zk::Error::NoAuth);
    assert_eq!(client.get_data("/private").await.unwrap().0, b"p");
}

#[tokio::test]
async fn ephemerals_and_descendant_counts() {
    let server = ZkServer::start(&[]);
    let client = connect(&server).await;
    client.create("/e", b"", &open()).await.unwrap();
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    client.create("/e/1", b"", &eph).await.unwrap();
    client.create("/e/2", b"", &eph).await.unwrap();
    let mut list = client.list_ephemerals("/").await.unwrap();
    list.sort();
    assert_eq!(list, vec!["/e/1", "/e/2"]);
    assert_eq!(client.create("/e/1/x", b"", &open()).await.unwrap_err(), zk::Error::NoChildrenForEphemerals);
    // /zookeeper, /zookeeper/quota, /zookeeper/config and our three.
    assert_eq!(client.count_descendants_number("/").await.unwrap(), 6);
    assert_eq!(client.count_descendants_number("/e").await.unwrap(), 2);
}

#[tokio::test]
async fn tokio_zookeeper_basic_ops() {
    use tokio_zookeeper::{Acl, CreateMode, ZooKeeper};
    let server = ZkServer::start(&[]);
    let addr = server.addr().parse().unwrap();
    let (zk, _default_watcher) = ZooKeeper::connect(&addr).await.expect("connect");
    let path = zk.create("/tz", &b"hello"[..], Acl::open_unsafe(), CreateMode::Persistent).await.unwrap();
    assert_eq!(path.as_deref(), Ok("/tz"));
    let (data, stat) = zk.get_data("/tz").await.unwrap().expect("node exists");
    assert_eq!(data, b"hello");
    assert_eq!(stat.version, 0);
    let stat = zk.set_data("/tz", Some(0), &b"world"[..]).await.unwrap().expect("set");
    assert_eq!(stat.version, 1);
    let children = zk.get_children("/").await.unwrap().expect("root");
    assert!(children.contains(&"tz".to_string()));
    zk.delete("/tz", Some(1)).await.unwrap().expect("delete");
    assert!(zk.exists("/tz").await.unwrap().is_none());
}
