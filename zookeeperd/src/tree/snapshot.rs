//! The data tree as an Apache ZooKeeper 3.8 snapshot (`persist::apache`):
//! sessions, the ACL cache (each distinct ACL list once, nodes holding a
//! reference), the nodes parents first with the root stored as "", two
//! seals and an empty zxid digest. The snapshot's zxid is in its file name,
//! not in its bytes, so `decode` takes it.

use super::{DataTree, Node, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};
use crate::jute::records::Acl;
use crate::persist::apache::snapshot::{Snapshot, SnapshotWriter, ZxidDigest, OPEN_UNSAFE_ACL_REF, SNAP_DBID};
use crate::persist::apache::ApacheError;
use bytes::BytesMut;
use std::collections::{BTreeMap, HashMap};

/// Apache's path for a node: the root is "".
fn stored_path(path: &str) -> &str {
    if path == "/" {
        ""
    } else {
        path
    }
}

/// The built-in nodes Apache gives no cache entry (`new DataNode(.., -1L, ..)`).
fn uses_open_unsafe_ref(path: &str, acl: &[Acl]) -> bool {
    matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH) && acl == Acl::open_unsafe().as_slice()
}

/// Encode the tree as a snapshot file, without copying node data into an
/// intermediate value.
pub fn encode(tree: &DataTree) -> BytesMut {
    encode_as(tree, false)
}

/// The tree as a leader streams it after SNAP: the snapshot's body alone.
pub fn encode_stream(tree: &DataTree) -> BytesMut {
    encode_as(tree, true)
}

/// Decode a SNAP stream's body (see `encode_stream`) into a tree as of
/// `zxid`; returns the tree and the bytes it took.
pub fn decode_stream(buf: &[u8], zxid: i64) -> Result<(DataTree, usize), ApacheError> {
    let (snap, used) = Snapshot::decode_stream(buf)?;
    Ok((from_snapshot(&snap, zxid)?, used))
}

fn encode_as(tree: &DataTree, stream: bool) -> BytesMut {
    let paths = tree.sorted_paths();
    let nodes = tree.nodes();
    // ACL lists are interned in the tree, so equal lists mostly share one
    // allocation; key by contents all the same.
    let mut refs: HashMap<&[Acl], i64> = HashMap::new();
    let mut acls: BTreeMap<i64, Vec<Acl>> = BTreeMap::new();
    let mut node_refs = Vec::with_capacity(paths.len());
    let mut size = 64;
    for p in &paths {
        let n = &nodes[*p];
        size += p.len() + n.data.as_ref().map_or(0, |d| d.len()) + 80;
        let r = if uses_open_unsafe_ref(p, &n.acl) {
            OPEN_UNSAFE_ACL_REF
        } else {
            let next = acls.len() as i64 + 1;
            *refs.entry(&n.acl[..]).or_insert_with(|| {
                acls.insert(next, n.acl.to_vec());
                next
            })
        };
        node_refs.push(r);
    }
    let capacity = size + 16 * tree.sessions().len();
    let mut w = if stream {
        SnapshotWriter::stream(tree.sessions(), &acls, capacity)
    } else {
        SnapshotWriter::new(SNAP_DBID, tree.sessions(), &acls, capacity)
    };
    for (p, r) in paths.iter().zip(node_refs) {
        let n = &nodes[*p];
        w.node(stored_path(p), n.data.as_deref(), r, &n.stat);
    }
    if stream {
        w.finish_stream()
    } else {
        w.finish(Some(ZxidDigest::EMPTY))
    }
}

/// Decode a snapshot taken at `zxid` into a tree.
pub fn decode(buf: &[u8], zxid: i64) -> Result<DataTree, ApacheError> {
    from_snapshot(&Snapshot::decode(buf)?, zxid)
}

pub fn from_snapshot(snap: &Snapshot, zxid: i64) -> Result<DataTree, ApacheError> {
    let mut tree = DataTree::new();
    let builtin: Vec<(&str, Node)> = [ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH]
        .iter()
        .filter_map(|p| tree.get(p).map(|n| (*p, Node { children: Default::default(), ..n.clone() })))
        .collect();
    tree.clear_for_load();
    tree.set_last_zxid(zxid);
    let mut interned: HashMap<i64, std::sync::Arc<[Acl]>> = HashMap::new();
    for n in &snap.nodes {
        let path = if n.path.is_empty() { "/".to_string() } else { n.path.clone() };
        let acl = match interned.get(&n.acl) {
            Some(a) => a.clone(),
            None => {
                let list = snap.acl_of(n.acl).ok_or(ApacheError::Malformed("node names an ACL not in the cache"))?;
                let a = tree.intern_acl(list);
                interned.insert(n.acl, a.clone());
                a
            }
        };
        if path != "/" {
            let parent = super::parent_of(&path);
            let name: Box<str> = super::name_of(&path).into();
            match tree.node_mut(parent) {
                Some(p) => {
                    p.children.insert(name);
                }
                None => return Err(ApacheError::Malformed("node before its parent")),
            }
        }
        let node = Node {
            data: n.data.as_ref().map(|d| d.clone().into_boxed_slice()),
            acl,
            stat: n.stat,
            children: Default::default(),
        };
        tree.load_node(path, node);
    }
    if !tree.contains("/") {
        return Err(ApacheError::Malformed("snapshot without a root"));
    }
    // Snapshots from before /zookeeper/config existed lack it.
    for (path, node) in builtin {
        if !tree.contains(path) {
            if let Some(p) = tree.node_mut(super::parent_of(path)) {
                p.children.insert(super::name_of(path).into());
                tree.load_node(path.to_string(), node);
            }
        }
    }
    for (id, timeout) in &snap.sessions {
        tree.load_session(*id, *timeout);
    }
    tree.finish_load();
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::records::{perms, Id};
    use crate::txn::{Txn, TxnEntry};

    #[test]
    fn round_trips_a_tree_with_every_kind_of_node() {
        let mut t = DataTree::new();
        let mut trig = Vec::new();
        let mut z = 0;
        let mut apply = |t: &mut DataTree, session_id: i64, txn: Txn| {
            z += 1;
            t.apply(&TxnEntry { zxid: z, time: 1000 + z, session_id, cxid: 1, txn }, &mut trig).expect("apply");
        };
        let mine = vec![Acl { perms: perms::READ, id: Id::new("digest", "u:x") }];
        let create = |path: &str, owner: i64, acl: Vec<Acl>| Txn::Create {
            path: path.into(),
            data: Some(path.as_bytes().to_vec()),
            acl,
            ephemeral_owner: owner,
            parent_cversion: 1,
        };
        apply(&mut t, 7, Txn::CreateSession { timeout: 5000 });
        apply(&mut t, 7, create("/a", 0, Acl::open_unsafe()));
        apply(&mut t, 7, create("/a/e", 7, mine.clone()));
        apply(&mut t, 7, create("/c", crate::tree::ephemeral::CONTAINER, mine.clone()));
        apply(&mut t, 7, create("/t", crate::tree::ephemeral::ttl_owner(9000), Acl::read_unsafe()));
        let bytes = encode(&t);
        let snap = Snapshot::decode(&bytes).expect("decodes as Apache's");
        assert_eq!(snap.nodes[0].path, "");
        assert_eq!(snap.acls.len(), 3, "{:?}", snap.acls);
        assert_eq!(&snap.encode()[..], &bytes[..]);
        let back = decode(&bytes, t.last_zxid()).expect("decode");
        assert_eq!(back.last_zxid(), 5);
        assert_eq!(back.sessions(), t.sessions());
        assert_eq!(back.sorted_paths(), t.sorted_paths());
        for p in t.sorted_paths() {
            let (a, b) = (t.get(p).expect("a"), back.get(p).expect("b"));
            assert_eq!((&a.data, &a.acl, a.stat, &a.children), (&b.data, &b.acl, b.stat, &b.children), "{p}");
        }
        assert_eq!(back.ephemerals_of(7).map(|s| s.len()), Some(1));
        assert_eq!(back.containers().len(), 1);
        assert_eq!(back.ttls().len(), 1);
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        // The SNAP stream is the same body without header, seals or digest.
        let stream = encode_stream(&t);
        assert_eq!(&bytes[16..16 + stream.len()], &stream[..]);
        let (streamed, used) = decode_stream(&stream, 5).expect("stream decodes");
        assert_eq!(used, stream.len());
        assert_eq!(streamed.sorted_paths(), t.sorted_paths());
        assert_eq!(streamed.sessions(), t.sessions());
    }
}
