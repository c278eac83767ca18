//! Acknowledged means fsynced: kill -9 under write load loses nothing that
//! was acknowledged; a torn log tail is cut, not fatal; snapshots + log
//! recover the same tree; autopurge keeps what recovery needs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system_tests::{wait_for, ZkServer};
use zookeeper_client as zk;

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(addr: &str) -> zk::Client {
    zk::Client::connector().with_session_timeout(Duration::from_secs(10)).connect(addr).await.expect("connect")
}

async fn children(addr: &str, path: &str) -> BTreeSet<String> {
    let c = connect(addr).await;
    c.list_children(path).await.expect("list").into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_under_write_load_keeps_every_acknowledged_write() {
    let mut server = ZkServer::start(&[("snapCount", "500")]);
    let addr = server.addr();
    connect(&addr).await.create("/d", b"", &open()).await.unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let acked = acked.clone();
        let addr = addr.clone();
        writers.push(tokio::spawn(async move {
            let c = connect(&addr).await;
            for n in 0.. {
                let name = format!("w{w}-{n}");
                match c.create(&format!("/d/{name}"), name.as_bytes(), &open()).await {
                    Ok(_) => acked.lock().unwrap().push(name),
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 3000 {
        assert!(tokio::time::Instant::now() < deadline, "writers too slow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Writes are still in flight when the server dies.
    server.kill9();
    let acked_before: Vec<String> = acked.lock().unwrap().clone();
    for w in writers {
        w.abort();
    }
    server.restart();
    let present = children(&server.addr(), "/d").await;
    let missing: Vec<&String> = acked_before.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // And the data is right, not just the names.
    let c = connect(&server.addr()).await;
    let (data, _) = c.get_data(&format!("/d/{}", acked_before[0])).await.unwrap();
    assert_eq!(data, acked_before[0].as_bytes());
}

fn newest_log(dir: &std::path::Path) -> std::path::PathBuf {
    let v2 = dir.join("version-2");
    let mut logs: Vec<_> = std::fs::read_dir(&v2)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            zookeeperd::persist::apache::zxid_from_name(e.file_name().to_str()?, "log").map(|z| (z, e.path()))
        })
        .collect();
    logs.sort();
    logs.pop().expect("a txn log").1
}

#[tokio::test]
async fn torn_log_tail_is_truncated_and_writes_continue() {
    let mut server = ZkServer::start(&[]);
    let c = connect(&server.addr()).await;
    for i in 0..20 {
        c.create(&format!("/n{i}"), b"v", &open()).await.unwrap();
    }
    drop(c);
    server.kill9();
    // A crash mid-append leaves a partial record in the zero tail.
    let log = newest_log(&server.data_dir());
    let bytes = std::fs::read(&log).unwrap();
    let good = zookeeperd::persist::apache::txnlog::decode_log(&bytes).unwrap().good_len as u64;
    assert!(good > 16 && (bytes.len() as u64) > good, "no records, or no zero tail");
    let mut f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(good)).unwrap();
    std::io::Write::write_all(&mut f, &[0, 0, 0, 99, 1, 2, 3, 4, 0, 0, 0, 7, 1, 2]).unwrap();
    drop(f);
    server.restart();
    assert!(server.log().contains("truncating torn log tail"), "{}", server.log());
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good);
    let c = connect(&server.addr()).await;
    for i in 0..20 {
        assert!(c.check_stat(&format!("/n{i}")).await.unwrap().is_some(), "/n{i} lost");
    }
    c.create("/after", b"a", &open()).await.unwrap();
    drop(c);
    server.restart();
    let c = connect(&server.addr()).await;
    assert_eq!(c.get_data("/after").await.unwrap().0, b"a");
}

#[tokio::test]
async fn snapshots_recover_and_autopurge_keeps_retain_count() {
    let mut server =
        ZkServer::start(&[("snapCount", "25"), ("autopurge.snapRetainCount", "3"), ("autopurge.purgeInterval", "1")]);
    let c = connect(&server.addr()).await;
    c.create("/s", b"", &open()).await.unwrap();
    for i in 0..300 {
        c.create(&format!("/s/{i}"), format!("{i}").as_bytes(), &open()).await.unwrap();
        if i % 3 == 0 {
            c.set_data(&format!("/s/{i}"), b"changed", None).await.unwrap();
        }
    }
    let (_, before) = c.get_data("/s").await.unwrap();
    drop(c);
    let v2 = server.data_dir().join("version-2");
    let count = |prefix: &str| {
        std::fs::read_dir(&v2)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_str().unwrap().starts_with(prefix))
            .count()
    };
    wait_for("snapshots to be purged to 3", Duration::from_secs(10), || (count("snapshot.") == 3).then_some(()));
    server.restart();
    let c = connect(&server.addr()).await;
    let (_, after) = c.get_data("/s").await.unwrap();
    assert_eq!(before, after, "stat of /s differs after recovery");
    assert_eq!(c.list_children("/s").await.unwrap().len(), 300);
    assert_eq!(c.get_data("/s/3").await.unwrap().0, b"changed");
    assert_eq!(c.get_data("/s/4").await.unwrap().0, b"4");
}
