//! zkCleanup.sh (bin/, running `zookeeperd --purge`) against what Apache's
//! zkCleanup.sh runs (PurgeTxnLog) on copies of one dataDir that zookeeperd
//! wrote with many snapshots: both keep exactly the same files, and the
//! server starts on what is left with every znode.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::ApacheZk;
use zookeeper_client::{Acls, Client, CreateMode};

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("version-2"))
        .expect("version-2")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("log.") || n.starts_with("snapshot."))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(ok.success());
}

fn cleanup(script: &str, dir: &Path, data: &Path, count: &str) -> std::process::Output {
    std::fs::write(dir.join("zoo.cfg"), format!("tickTime=2000\ndataDir={}\nclientPort=2181\n", data.display()))
        .expect("zoo.cfg");
    // Our script runs this build's zookeeperd (Apache's ignores the variable).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_zookeeperd")).parent().expect("bin dir");
    Command::new(script)
        .args(["-n", count])
        .env("KAFKA_TOOLS_BIN_DIR", bin_dir)
        .env("ZOOCFGDIR", dir)
        .env("ZOOCFG", "zoo.cfg")
        .output()
        .expect("run the cleanup script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_cleanup_keeps_what_apaches_keeps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut zk = ApacheZk::start_zookeeperd_with(tmp.path(), &data, "snapCount=10\n");
    let client = Client::connect(&format!("127.0.0.1:{}", zk.port)).await.expect("client");
    let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
    for i in 0..150 {
        client.create(&format!("/n{i}"), b"x", &opts).await.expect("create");
    }
    drop(client);
    zk.stop();
    let before = files(&data);
    let snaps = before.iter().filter(|n| n.starts_with("snapshot.")).count();
    assert!(snaps > 5, "enough snapshots to purge: {before:?}");

    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    std::fs::create_dir_all(&ours).expect("dir");
    std::fs::create_dir_all(&theirs).expect("dir");
    copy_dir(&data, &ours.join("data"));
    copy_dir(&data, &theirs.join("data"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bin/zkCleanup.sh");
    let out = cleanup(script, &ours, &ours.join("data"), "3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // What Apache's zkCleanup.sh runs (Debian's fixes its config path).
    let apache = Command::new("java")
        .args(["-cp", common::CLASSPATH, "org.apache.zookeeper.server.PurgeTxnLog"])
        .arg(theirs.join("data"))
        .args(["-n", "3"])
        .output()
        .expect("PurgeTxnLog");
    assert!(apache.status.success(), "{}", String::from_utf8_lossy(&apache.stderr));
    let kept = files(&ours.join("data"));
    assert_eq!(kept, files(&theirs.join("data")), "the same files kept as Apache's PurgeTxnLog");
    assert_eq!(kept.iter().filter(|n| n.starts_with("snapshot.")).count(), 3, "{kept:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removing file: "), "says what it removes");

    // Fewer than 3 is refused, as Apache's.
    let few = cleanup(script, &ours, &ours.join("data"), "2");
    assert!(!few.status.success());
    assert!(String::from_utf8_lossy(&few.stderr).contains("greater than or equal to 3"));

    // The server starts on what is left, with every znode.
    let zk = ApacheZk::start_zookeeperd_with(&ours, &ours.join("data"), "");
    let client = Client::connect(&format!("127.0.0.1:{}", zk.port)).await.expect("client");
    let children = tokio::time::timeout(Duration::from_secs(30), client.list_children("/")).await.expect("in time");
    assert_eq!(children.expect("children").iter().filter(|c| c.starts_with('n')).count(), 150);
}
