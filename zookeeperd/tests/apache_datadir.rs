//! zookeeperd and Apache ZooKeeper 3.8 start on each other's dataDir: the
//! real servers, one after the other on one directory, serve the same
//! znodes with the same stats (compared through zkCli.sh). And a dataDir in
//! zookeeperd's old private format is converted once, on first start.

mod common;

use common::{files, four_letter_word, wait_for, ApacheZk, ZKCLI};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zookeeperd::persist::apache::snapshot::Snapshot;
use zookeeperd::persist::legacy;
use zookeeperd::tree::DataTree;
use zookeeperd::txn::{Txn, TxnEntry};

const STAT_KEYS: &[&str] = &[
    "cZxid",
    "ctime",
    "mZxid",
    "mtime",
    "pZxid",
    "cversion",
    "dataVersion",
    "aclVersion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
];

/// What a client sees of `paths`: stats, data (all values start "v-"),
/// ACLs and children, as zkCli prints them, without its log noise.
fn view(zk: &ApacheZk, paths: &[&str]) -> Vec<String> {
    let mut cmds = String::new();
    for p in paths {
        cmds.push_str(&format!("stat {p}\nget {p}\ngetAcl {p}\nls {p}\n"));
    }
    let out = zk.cli(&cmds);
    let keep = |l: &str| {
        STAT_KEYS.iter().any(|k| l.starts_with(&format!("{k} = ")))
            || l.starts_with("v-")
            || l == "null"
            || l.starts_with('[')
            || l.starts_with('\'')
            || l.starts_with(": ")
            || l.contains("does not exist")
    };
    let lines: Vec<String> = out.lines().map(str::trim).filter(|l| keep(l)).map(str::to_string).collect();
    assert!(!lines.iter().any(|l| l.contains("does not exist")), "a node is missing:\n{out}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("cZxid")).count(), paths.len(), "{out}");
    lines
}

/// A zkCli session that stays open (and is killed, never closed).
struct HeldSession(Child);

impl HeldSession {
    fn open(port: u16, commands: &str) -> HeldSession {
        let mut child = Command::new(ZKCLI)
            .args(["-timeout", "60000", "-waitforconnection", "-server", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("zkCli.sh");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("{commands}\n").as_bytes()).expect("write zkCli stdin");
        // Keep stdin open: the shell waits for more, the session lives on.
        std::mem::forget(stdin);
        HeldSession(child)
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dump_has(zk: &ApacheZk, path: &str) -> bool {
    four_letter_word(zk.port, "dump").is_some_and(|d| d.contains(path))
}

#[test]
fn zookeeperd_and_apache_serve_each_others_data_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut ours = ApacheZk::start_zookeeperd(tmp.path(), &data);
    let out = ours.cli(
        "create /p v-p\ncreate /p/kid v-kid\nset /p v-p2\ncreate -s /p/seq- v-seq\ncreate -c /cont v-cont\n\
         create /cont/kid v-ck\ncreate -t 600000 /ttl v-ttl\ncreate /acl v-acl ip:127.0.0.1:cdrwa\n\
         setAcl /p/kid world:anyone:rw\ncreate /null\ncreate /gone v-gone\ndelete /gone",
    );
    assert!(out.contains("Created /null"), "{out}");
    let held = HeldSession::open(ours.port, "create -e /eph v-eph");
    wait_for("the ephemeral", Duration::from_secs(60), || dump_has(&ours, "/eph").then_some(()));
    let paths = ["/", "/p", "/p/kid", "/p/seq-0000000001", "/cont", "/cont/kid", "/ttl", "/acl", "/null", "/eph"];
    let before = view(&ours, &paths);
    ours.stop();
    drop(held);

    let v2 = data.join("version-2");
    assert!(files(&v2, "snapshot").iter().any(|(z, _)| *z == 0), "snapshot.0 of the new database");
    let mut apache = ApacheZk::start(tmp.path(), &data);
    assert!(dump_has(&apache, "/eph"), "Apache restored the open session's ephemeral");
    assert_eq!(view(&apache, &paths), before, "Apache serves what zookeeperd wrote\n{}", apache.log());
    let out = apache.cli("create /from-apache v-fa\nset /p v-p3\ndelete /p/kid\ncreate -s /p/seq- v-seq2");
    assert!(out.contains("Created /from-apache"), "{out}");
    let paths = ["/", "/p", "/p/seq-0000000001", "/p/seq-0000000002", "/from-apache", "/eph", "/acl", "/ttl"];
    let before = view(&apache, &paths);
    apache.stop();

    let mut ours = ApacheZk::start_zookeeperd(tmp.path(), &data);
    assert!(dump_has(&ours, "/eph"), "zookeeperd restored the open session's ephemeral");
    assert_eq!(view(&ours, &paths), before, "zookeeperd serves what Apache wrote\n{}", ours.log());
    let out = ours.cli("create /again v-again");
    assert!(out.contains("Created /again"), "{out}");
    ours.stop();
    // And Apache once more, on what zookeeperd appended to Apache's files.
    let apache = ApacheZk::start(tmp.path(), &data);
    let out = apache.cli("get /again\nget /from-apache");
    assert!(out.contains("v-again") && out.contains("v-fa"), "{out}");
}

fn entry(zxid: i64, txn: Txn) -> TxnEntry {
    TxnEntry { zxid, time: 1_700_000_000_000 + zxid, session_id: 0x77, cxid: zxid as i32, txn }
}

fn create(path: &str, data: &str, pcv: i32) -> Txn {
    Txn::Create {
        path: path.into(),
        data: Some(data.as_bytes().to_vec()),
        acl: zookeeperd::jute::records::Acl::open_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: pcv,
    }
}

/// A dataDir as zookeeperd wrote it before it took Apache's format: a
/// snapshot at zxid 2 and a log from 3 on.
fn write_old_format(v2: &Path) {
    std::fs::create_dir_all(v2).expect("mkdir");
    let mut tree = DataTree::new();
    let mut trig = Vec::new();
    let txns = [
        entry(1, create("/old", "v-old", 1)),
        entry(2, create("/old/a", "v-a", 1)),
        entry(3, create("/old/b", "v-b", 2)),
        entry(4, Txn::SetData { path: "/old".into(), data: Some(b"v-old2".to_vec()), version: 0 }),
    ];
    for e in &txns[..2] {
        tree.apply(e, &mut trig).expect("apply");
    }
    let snap = legacy::snapshot::encode(&tree);
    std::fs::write(v2.join(legacy::txnlog::snapshot_name(2)), &snap).expect("write old snapshot");
    std::fs::write(v2.join(legacy::txnlog::log_name(3)), legacy::txnlog::encode_log(&txns[2..])).expect("old log");
}

#[test]
fn old_private_format_is_converted_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let v2 = data.join("version-2");
    write_old_format(&v2);
    let old_names: Vec<String> = std::fs::read_dir(&v2)
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(old_names.len(), 2, "{old_names:?}");

    let mut ours = ApacheZk::start_zookeeperd(tmp.path(), &data);
    let out = ours.cli("get /old\nget /old/a\nget /old/b\nls /old");
    assert!(out.contains("v-old2") && out.contains("v-a") && out.contains("v-b"), "{out}");
    assert!(out.contains("[a, b]"), "{out}");
    ours.cli("create /new v-new");
    ours.stop();
    let converted = "converted the old on-disk format";
    assert_eq!(ours.log().matches(converted).count(), 1, "{}", ours.log());
    for name in &old_names {
        assert!(v2.join("pre-apache-format").join(name).exists(), "{name} moved aside");
        assert!(!v2.join(name).exists(), "{name} still in version-2");
    }
    let snap4 = v2.join("snapshot.4");
    Snapshot::decode(&std::fs::read(&snap4).expect("snapshot.4 written")).expect("an Apache snapshot");

    let ours = ApacheZk::start_zookeeperd(tmp.path(), &data);
    let out = ours.cli("get /old\nget /new");
    assert!(out.contains("v-old2") && out.contains("v-new"), "{out}");
    assert_eq!(ours.log().matches(converted).count(), 1, "converted only once:\n{}", ours.log());
    drop(ours);

    let apache = ApacheZk::start(tmp.path(), &data);
    let out = apache.cli("get /old/b\nget /new");
    assert!(out.contains("v-b") && out.contains("v-new"), "{out}");
}
