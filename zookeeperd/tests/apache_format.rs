//! Interop of `persist::apache` with the real Apache ZooKeeper 3.8 installed
//! on this machine (Debian's zookeeper package): we decode the txn log and
//! snapshots Apache writes, and Apache reads (and serves) a dataDir we
//! write. Waits poll with deadlines; servers are killed on drop.

mod common;

use common::{files, four_letter_word, java_tool, ApacheZk};
use std::path::Path;
use zookeeperd::jute::records::{perms, Acl, Id};
use zookeeperd::persist::apache::snapshot::{Snapshot, SnapshotNode, ZxidDigest, OPEN_UNSAFE_ACL_REF};
use zookeeperd::persist::apache::txn::{ApacheTxn, TxnRecord};
use zookeeperd::persist::apache::txnlog::{decode_log, encode_log, LogEnd};
use zookeeperd::persist::apache::{log_file_name, snapshot_file_name};
use zookeeperd::tree::ephemeral::{self, NodeKind};
use zookeeperd::tree::StatPersisted;
use zookeeperd::txn::{Txn, TxnEntry};

fn node<'a>(snap: &'a Snapshot, path: &str) -> Option<&'a SnapshotNode> {
    snap.nodes.iter().find(|n| n.path == path)
}

#[test]
fn we_read_what_apache_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut zk = ApacheZk::start(tmp.path(), &data);
    let out = zk.cli("create /a hello");
    assert!(out.contains("Created /a"), "{out}");
    let out = zk.cli(
        "create -e /a/eph e1\ncreate -s /a/seq- s1\ncreate -c /cont\ncreate /cont/kid k\n\
         create -t 5000 /ttl t\nset /a world\nsetAcl /a world:anyone:cdrwa,ip:127.0.0.1:r\ndelete /cont/kid",
    );
    assert!(out.contains("Created /ttl"), "{out}");
    zk.stop();

    let v2 = data.join("version-2");
    let logs = files(&v2, "log");
    assert_eq!(logs.len(), 1, "{logs:?}");
    let bytes = std::fs::read(&logs[0].1).expect("read log");
    let log = decode_log(&bytes).expect("decode Apache's log");
    // Apache preallocates 64 MiB of zeros.
    assert_eq!(log.end, LogEnd::Padding);
    assert!(bytes.len() > log.good_len);
    // Our encoder reproduces Apache's bytes, digests included.
    assert_eq!(&encode_log(log.header.dbid, &log.records).expect("encode")[..], &bytes[..log.good_len]);
    assert!(log.records.iter().all(|r| r.digest.is_some()), "3.8 logs digests by default");
    let closes: Vec<_> = log.records.iter().filter(|r| matches!(r.txn, ApacheTxn::CloseSession { .. })).collect();
    assert_eq!(closes.len(), 2);
    assert_eq!(closes[1].txn, ApacheTxn::CloseSession { paths: Some(vec!["/a/eph".into()]) });

    let entries = log.entries().expect("map to our txns");
    let txns: Vec<&Txn> = entries.iter().map(|e| &e.txn).collect();
    let second = entries[3].session_id;
    assert_ne!(second, entries[0].session_id);
    let acl = Acl::open_unsafe();
    let create = |path: &str, data: &[u8], owner: i64, pcv: i32| Txn::Create {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: acl.clone(),
        ephemeral_owner: owner,
        parent_cversion: pcv,
    };
    let want = vec![
        Txn::CreateSession { timeout: 30000 },
        create("/a", b"hello", 0, 1),
        Txn::CloseSession { paths: Some(vec![]) },
        Txn::CreateSession { timeout: 30000 },
        create("/a/eph", b"e1", second, 1),
        create("/a/seq-0000000001", b"s1", 0, 2),
        Txn::Create {
            path: "/cont".into(),
            data: None,
            acl: acl.clone(),
            ephemeral_owner: ephemeral::CONTAINER,
            parent_cversion: 2,
        },
        create("/cont/kid", b"k", 0, 1),
        create("/ttl", b"t", ephemeral::ttl_owner(5000), 3),
        Txn::SetData { path: "/a".into(), data: Some(b"world".to_vec()), version: 1 },
        Txn::SetAcl {
            path: "/a".into(),
            acl: vec![
                Acl { perms: perms::ALL, id: Id::new("world", "anyone") },
                Acl { perms: perms::READ, id: Id::new("ip", "127.0.0.1") },
            ],
            version: 1,
        },
        Txn::Delete { path: "/cont/kid".into() },
        Txn::CloseSession { paths: Some(vec!["/a/eph".into()]) },
    ];
    assert_eq!(txns, want.iter().collect::<Vec<_>>());
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.zxid, i as i64 + 1);
    }

    // snapshot.0, taken when the empty database was created.
    let snaps = files(&v2, "snapshot");
    let first = Snapshot::decode(&std::fs::read(&snaps[0].1).expect("read")).expect("decode snapshot.0");
    let paths: Vec<&str> = first.nodes.iter().map(|n| n.path.as_str()).collect();
    assert!(paths.starts_with(&["", "/zookeeper"]), "{paths:?}");
    assert!(paths.contains(&"/zookeeper/quota"), "{paths:?}");
    assert!(first.digest.is_some(), "3.8 snapshots carry the zxid digest");

    // Restarting replays the log and snapshots the result.
    let mut zk = ApacheZk::start(tmp.path(), &data);
    zk.stop();
    let snaps = files(&v2, "snapshot");
    let (zxid, path) = snaps.last().expect("a snapshot");
    assert_eq!(*zxid, 13, "{snaps:?}");
    let raw = std::fs::read(path).expect("read snapshot");
    let snap = Snapshot::decode(&raw).expect("decode Apache's snapshot");
    assert_eq!(&snap.encode()[..], &raw[..], "re-encoding gives Apache's bytes");
    let a = node(&snap, "/a").expect("/a");
    assert_eq!(a.data.as_deref(), Some(&b"world"[..]));
    assert_eq!((a.stat.version, a.stat.aversion, a.stat.czxid, a.stat.mzxid), (1, 1, 2, 10));
    assert_eq!(snap.acl_of(a.acl).expect("acl").len(), 2);
    assert!(node(&snap, "/a/eph").is_none() && node(&snap, "/cont/kid").is_none());
    assert!(node(&snap, "/a/seq-0000000001").is_some());
    assert_eq!(node(&snap, "/cont").map(|n| ephemeral::kind(n.stat.ephemeral_owner)), Some(NodeKind::Container));
    assert_eq!(node(&snap, "/ttl").map(|n| ephemeral::kind(n.stat.ephemeral_owner)), Some(NodeKind::Ttl(5000)));
    assert!(snap.sessions.is_empty(), "{:?}", snap.sessions);
}

fn stat(zxid: i64, time: i64) -> StatPersisted {
    StatPersisted { czxid: zxid, mzxid: zxid, ctime: time, mtime: time, pzxid: zxid, ..Default::default() }
}

/// The tree Apache creates for an empty database: root, /zookeeper,
/// /zookeeper/quota and /zookeeper/config.
fn empty_database() -> Snapshot {
    let mut snap = Snapshot::default();
    let sys = |path: &str| SnapshotNode {
        path: path.into(),
        data: Some(Vec::new()),
        acl: OPEN_UNSAFE_ACL_REF,
        stat: StatPersisted::default(),
    };
    snap.nodes = vec![sys(""), sys("/zookeeper"), sys("/zookeeper/quota"), sys("/zookeeper/config")];
    let read_all = snap.intern_acl(&Acl::read_unsafe());
    snap.nodes[3].acl = read_all;
    snap.nodes[3].stat.aversion = -1;
    snap.digest = Some(ZxidDigest::EMPTY);
    snap
}

#[test]
fn apache_reads_and_serves_what_we_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let v2 = data.join("version-2");
    std::fs::create_dir_all(&v2).expect("mkdir");

    let snap0 = v2.join(snapshot_file_name(0));
    std::fs::write(&snap0, empty_database().encode()).expect("write snapshot");

    let (s1, s2, s3) = (0x100_0000_0000_0500i64, 0x600i64, 0x700i64);
    let t = 1_700_000_000_000i64;
    let mut zxid = 0;
    let mut entry = |session_id: i64, txn: Txn| {
        zxid += 1;
        TxnEntry { zxid, time: t + zxid, session_id, cxid: zxid as i32, txn }
    };
    let open = Acl::open_unsafe();
    let create = |path: &str, data: &str, owner: i64, pcv: i32| Txn::Create {
        path: path.into(),
        data: Some(data.as_bytes().to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral_owner: owner,
        parent_cversion: pcv,
    };
    let entries = vec![
        entry(s1, Txn::CreateSession { timeout: 30000 }),
        entry(s1, create("/app", "v1", 0, 1)),
        entry(s1, create("/app/kid", "k", 0, 1)),
        entry(s1, create("/app/eph", "e", s1, 2)),
        entry(s1, create("/box", "", ephemeral::CONTAINER, 2)),
        entry(s1, Txn::SetData { path: "/app".into(), data: Some(b"v2".to_vec()), version: 1 }),
        entry(s1, Txn::SetAcl { path: "/app/kid".into(), acl: Acl::read_unsafe(), version: 1 }),
        entry(
            s1,
            Txn::Multi(vec![
                create("/box/x", "x", 0, 1),
                create("/box/y", "y", 0, 2),
                Txn::Check { path: "/app".into(), version: 1 },
                Txn::SetData { path: "/app".into(), data: Some(b"v3".to_vec()), version: 2 },
            ]),
        ),
        entry(s1, Txn::Delete { path: "/box/y".into() }),
        entry(s1, Txn::Error(-110)),
        entry(s1, create("/ttl", "t", ephemeral::ttl_owner(600_000), 3)),
        entry(s2, Txn::CreateSession { timeout: 30000 }),
        entry(s2, create("/gone2", "", s2, 4)),
        entry(s2, Txn::CloseSession { paths: None }),
        entry(s3, Txn::CreateSession { timeout: 30000 }),
        entry(s3, create("/gone3", "", s3, 5)),
        // Session 3 closes the 3.6+ way, naming its ephemerals; session 2
        // the older way, leaving Apache to find them.
        entry(s3, Txn::CloseSession { paths: Some(vec!["/gone3".into()]) }),
    ];
    let records: Vec<TxnRecord> = entries.iter().map(|e| TxnRecord::from_entry(e).expect("mappable")).collect();
    let last = records.len() - 1;
    assert_eq!(records[last].txn, ApacheTxn::CloseSession { paths: Some(vec!["/gone3".into()]) });
    let log1 = v2.join(log_file_name(1));
    let mut bytes = encode_log(0, &records).expect("encode").to_vec();
    bytes.resize(bytes.len() + 4096, 0); // as if preallocated
    std::fs::write(&log1, &bytes).expect("write log");
    assert_eq!(decode_log(&bytes).expect("our own log").entries().expect("entries"), entries);

    let dumped = java_tool("org.apache.zookeeper.server.persistence.TxnLogToolkit", &[Path::new("-d"), &log1]);
    assert!(dumped.contains(&format!("EOF reached after {} txns", entries.len())), "{dumped}");
    for needle in ["/app/kid", "/app/eph", "/box", "/ttl", "closeSession v{'/gone3}", "setACL '/app/kid"] {
        assert!(dumped.contains(needle), "TxnLogToolkit lacks {needle}:\n{dumped}");
    }
    let formatted = java_tool("org.apache.zookeeper.server.SnapshotFormatter", &[&snap0]);
    assert!(formatted.contains("/zookeeper/quota"), "{formatted}");

    let mut zk = ApacheZk::start(tmp.path(), &data);
    let out = zk.cli("get /app\nstat /app\ngetAcl /app/kid\nstat /app/eph\nls /box\nls /\nstat /ttl");
    let after = |cmd_out: &str, key: &str| cmd_out.lines().find(|l| l.starts_with(key)).map(str::to_string);
    assert!(out.lines().any(|l| l == "v3"), "get /app:\n{out}");
    assert_eq!(after(&out, "dataVersion").as_deref(), Some("dataVersion = 2"), "{out}");
    assert!(out.contains("'world,'anyone\n: r"), "getAcl /app/kid:\n{out}");
    assert!(out.contains(&format!("ephemeralOwner = 0x{s1:x}")), "stat /app/eph:\n{out}");
    assert!(out.contains("[x]"), "ls /box:\n{out}");
    let root = out.lines().find(|l| l.starts_with('[') && l.contains("zookeeper")).expect("ls /");
    for (name, present) in [("app", true), ("box", true), ("ttl", true), ("gone2", false), ("gone3", false)] {
        assert_eq!(root.contains(name), present, "ls / has {name}? {root}");
    }
    let dump = four_letter_word(zk.port, "dump").expect("dump");
    assert!(dump.contains("/app/eph"), "dump:\n{dump}");

    // Apache snapshotted what it loaded; that decodes to our tree.
    zk.stop();
    let snaps = files(&v2, "snapshot");
    let (z, path) = snaps.last().expect("snapshot");
    assert_eq!(*z, entries.len() as i64, "{snaps:?}\n{}", zk.log());
    let snap = Snapshot::decode(&std::fs::read(path).expect("read")).expect("decode Apache's snapshot");
    let app = node(&snap, "/app").expect("/app");
    assert_eq!(app.data.as_deref(), Some(&b"v3"[..]));
    assert_eq!((app.stat.version, app.stat.cversion, app.stat.mzxid), (2, 2, 8));
    assert_eq!(snap.acl_of(app.acl), Some(open));
    let kid = node(&snap, "/app/kid").expect("/app/kid");
    assert_eq!((snap.acl_of(kid.acl), kid.stat.aversion), (Some(Acl::read_unsafe()), 1));
    assert_eq!(node(&snap, "/app/eph").map(|n| n.stat.ephemeral_owner), Some(s1));
    assert!(node(&snap, "/gone2").is_none() && node(&snap, "/gone3").is_none() && node(&snap, "/box/y").is_none());
    assert_eq!(snap.sessions.get(&s1), Some(&30000));
    assert_eq!(
        node(&snap, "/ttl").map(|n| n.stat),
        Some(StatPersisted { ephemeral_owner: ephemeral::ttl_owner(600_000), ..stat(11, t + 11) })
    );
}
