//! Apache snapshots: the layout by hand, seals, and property tests.

use super::snapshot::{Snapshot, SnapshotNode, ZxidDigest, OPEN_UNSAFE_ACL_REF, SNAP_MAGIC};
use super::{adler32, ApacheError};
use crate::jute::records::{Acl, Id};
use crate::tree::StatPersisted;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn node(path: &str, acl: i64) -> SnapshotNode {
    SnapshotNode { path: path.into(), data: Some(Vec::new()), acl, stat: StatPersisted::default() }
}

#[test]
fn layout_by_hand() {
    let mut snap = Snapshot::default();
    snap.sessions.insert(0x77, 4000);
    let r = snap.intern_acl(&Acl::read_unsafe());
    assert_eq!(r, 1);
    assert_eq!(snap.intern_acl(&Acl::read_unsafe()), 1);
    snap.nodes = vec![node("", OPEN_UNSAFE_ACL_REF), node("/a", r)];
    let bytes = snap.encode();

    let mut want = Vec::new();
    let int = |w: &mut Vec<u8>, v: i32| w.extend_from_slice(&v.to_be_bytes());
    let long = |w: &mut Vec<u8>, v: i64| w.extend_from_slice(&v.to_be_bytes());
    let string = |w: &mut Vec<u8>, s: &str| {
        w.extend_from_slice(&(s.len() as i32).to_be_bytes());
        w.extend_from_slice(s.as_bytes());
    };
    want.extend_from_slice(b"ZKSN");
    int(&mut want, 2);
    long(&mut want, -1);
    int(&mut want, 1); // sessions
    long(&mut want, 0x77);
    int(&mut want, 4000);
    int(&mut want, 1); // ACL cache entries
    long(&mut want, 1);
    int(&mut want, 1);
    int(&mut want, 1);
    string(&mut want, "world");
    string(&mut want, "anyone");
    for (path, acl) in [("", -1), ("/a", 1)] {
        string(&mut want, path);
        int(&mut want, 0); // empty data
        long(&mut want, acl);
        want.extend_from_slice(&[0; 60]); // StatPersisted
    }
    string(&mut want, "/");
    let sum = adler32(&want);
    long(&mut want, sum);
    string(&mut want, "/");
    long(&mut want, 0); // ZxidDigest{zxid, digestVersion, digest}
    int(&mut want, 2);
    long(&mut want, 0);
    let sum = adler32(&want);
    long(&mut want, sum);
    string(&mut want, "/");
    assert_eq!(&bytes[..], &want[..]);
    assert_eq!(i32::from_be_bytes(*b"ZKSN"), SNAP_MAGIC);

    let back = Snapshot::decode(&want).unwrap();
    assert_eq!(back, snap);
    assert_eq!(back.acl_of(1), Some(Acl::read_unsafe()));
    assert_eq!(back.acl_of(-1), Some(Acl::open_unsafe()));
    assert_eq!(back.acl_of(7), None);

    // Without the 3.6+ digest (older Apache): everything up to the first seal.
    let first_seal_end = want.len() - (8 + 4 + 8 + 8 + 5);
    let old = Snapshot::decode(&want[..first_seal_end]).unwrap();
    assert_eq!(old.digest, None);
    assert_eq!(old.nodes, snap.nodes);

    // Any flipped byte before a seal is caught.
    for i in 16..first_seal_end - 13 {
        let mut bad = want.clone();
        bad[i] ^= 0x40;
        assert!(Snapshot::decode(&bad).is_err(), "flip at {i}");
    }
}

#[test]
fn orphans_and_trailing_bytes_are_refused() {
    let mut snap = Snapshot { nodes: vec![node("", -1), node("/a/b", -1)], ..Default::default() };
    let err = Snapshot::decode(&snap.encode()).unwrap_err();
    assert_eq!(err, ApacheError::Malformed("node before its parent"));
    snap.nodes.truncate(1);
    let mut bytes = snap.encode().to_vec();
    bytes.push(0);
    assert!(Snapshot::decode(&bytes).is_err());
}

fn stat() -> impl Strategy<Value = StatPersisted> {
    (any::<[i64; 6]>(), any::<[i32; 3]>()).prop_map(|(l, i)| StatPersisted {
        czxid: l[0],
        mzxid: l[1],
        ctime: l[2],
        mtime: l[3],
        version: i[0],
        cversion: i[1],
        aversion: i[2],
        ephemeral_owner: l[4],
        pzxid: l[5],
    })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let acl = (0..32i32, "[a-z]{1,6}", "[a-z0-9:.]{0,10}")
        .prop_map(|(perms, scheme, id)| Acl { perms, id: Id { scheme, id } });
    (
        any::<i64>(),
        proptest::collection::btree_map(any::<i64>(), any::<i32>(), 0..5),
        proptest::collection::btree_map(any::<i64>(), proptest::collection::vec(acl, 0..3), 0..4),
        proptest::collection::vec(
            ("[a-z]{1,4}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)), any::<i64>(), stat()),
            0..8,
        ),
        proptest::option::of((any::<i64>(), 2..100i32, any::<i64>())),
    )
        .prop_map(|(dbid, sessions, acls, kids, digest): (_, _, BTreeMap<_, _>, Vec<_>, _)| {
            let mut nodes = vec![node("", -1)];
            // Each new node goes under the previous one or the root.
            for (i, (name, data, acl, stat)) in kids.into_iter().enumerate() {
                let parent = if i % 2 == 0 { String::new() } else { nodes[nodes.len() - 1].path.clone() };
                nodes.push(SnapshotNode { path: format!("{parent}/{name}{i}"), data, acl, stat });
            }
            let digest = digest.map(|(zxid, version, digest)| ZxidDigest { zxid, version, digest });
            Snapshot { dbid, sessions, acls, nodes, digest }
        })
}

proptest! {
    #[test]
    fn snapshot_round_trips(s in snapshot()) {
        prop_assert_eq!(Snapshot::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn decoding_arbitrary_snapshots_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Snapshot::decode(&tail);
        let mut with_header = b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff".to_vec();
        with_header.extend_from_slice(&tail);
        let _ = Snapshot::decode(&with_header);
    }

    #[test]
    fn corrupted_snapshots_never_panic(s in snapshot(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = s.encode().to_vec();
        let i = at % bytes.len();
        bytes[i] = byte;
        let _ = Snapshot::decode(&bytes);
        let _ = Snapshot::decode(&bytes[..i]);
    }
}
