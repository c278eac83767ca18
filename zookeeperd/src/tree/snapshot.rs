//! The data tree as an Apache ZooKeeper 3.8 snapshot (`persist::apache`):
//! sessions, the ACL cache (each distinct ACL list once, nodes holding a
//! reference), the nodes parents first with the root stored as "", two
//! seals and the zxid digest (`tree::digest`). The snapshot's zxid is in its file name,
//! not in its bytes, so `decode` takes it.

use super::{DataTree, Node, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};
use crate::jute::records::Acl;
use crate::persist::apache::snapshot::{
    encode_node, Snapshot, SnapshotWriter, ZxidDigest, OPEN_UNSAFE_ACL_REF, SNAP_DBID,
};
use crate::persist::apache::ApacheError;
use bytes::BytesMut;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

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

/// Encode the tree as a snapshot file, in one go.
pub fn encode(tree: &DataTree) -> BytesMut {
    let mut s = FuzzySnapshot::start(tree);
    s.step(tree, usize::MAX);
    s.finish(tree).into_file()
}

/// The tree as a leader streams it after SNAP: the snapshot's body alone.
pub fn encode_stream(tree: &DataTree) -> BytesMut {
    let mut s = FuzzySnapshot::start(tree);
    s.step(tree, usize::MAX);
    s.finish(tree).into_stream()
}

/// Decode a SNAP stream's body (see `encode_stream`) into a tree as of
/// `zxid`; returns the tree and the bytes it took.
pub fn decode_stream(buf: &[u8], zxid: i64) -> Result<(DataTree, usize), ApacheError> {
    let (snap, used) = Snapshot::decode_stream(buf)?;
    Ok((from_snapshot(&snap, zxid)?, used))
}

/// A snapshot taken a few nodes at a time while the tree keeps changing,
/// as Apache's fuzzy snapshot: named after the last zxid applied when it
/// starts, so recovery replays every later txn over it.
///
/// The walk is depth first, parents before children, resuming by name so
/// the tree may change between steps. A node is written only if it has
/// existed since the start (czxid at or below the snapshot's zxid): one
/// created later is left to the replay of its create, which then never
/// meets it already there. Each node is written as it is when visited;
/// later txns replayed over it set absolute values, as with Apache's.
pub struct FuzzySnapshot {
    zxid: i64,
    sessions: BTreeMap<i64, i32>,
    refs: HashMap<Arc<[Acl]>, i64>,
    acls: BTreeMap<i64, Vec<Acl>>,
    nodes: BytesMut,
    /// Resume points: a written node and the last child visited under it.
    stack: Vec<(String, Option<Box<str>>)>,
    written: usize,
}

/// A finished walk, to be laid out as a file (off the core's thread).
pub struct SnapshotParts {
    sessions: BTreeMap<i64, i32>,
    acls: BTreeMap<i64, Vec<Acl>>,
    nodes: BytesMut,
    digest: ZxidDigest,
}

impl FuzzySnapshot {
    /// Begin at the tree's current zxid: the sessions and the root now.
    pub fn start(tree: &DataTree) -> FuzzySnapshot {
        let mut s = FuzzySnapshot {
            zxid: tree.last_zxid(),
            sessions: tree.sessions().clone(),
            refs: HashMap::new(),
            acls: BTreeMap::new(),
            nodes: BytesMut::with_capacity(
                (tree.approximate_data_size().max(0) as usize) + 80 * tree.node_count() + 64,
            ),
            stack: Vec::new(),
            written: 0,
        };
        if let Some(root) = tree.get("/") {
            s.write("/", root);
            s.stack.push(("/".to_string(), None));
        }
        s
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Nodes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Write up to `budget` more nodes; true once the walk is done.
    pub fn step(&mut self, tree: &DataTree, budget: usize) -> bool {
        let mut left = budget;
        while left > 0 {
            let Some((parent, last)) = self.stack.last_mut() else { return true };
            // A parent deleted since it was written takes its subtree with it.
            let Some(node) = tree.get(parent) else {
                self.stack.pop();
                continue;
            };
            let next = match last {
                None => node.children.iter().next(),
                Some(l) => node.children.range::<str, _>((Bound::Excluded(&**l), Bound::Unbounded)).next(),
            };
            let Some(name) = next else {
                self.stack.pop();
                continue;
            };
            *last = Some(name.clone());
            let path = if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") };
            let Some(child) = tree.get(&path) else { continue };
            if child.stat.czxid > self.zxid {
                continue;
            }
            self.write(&path, child);
            self.stack.push((path, None));
            left -= 1;
        }
        self.stack.is_empty()
    }

    fn write(&mut self, path: &str, n: &Node) {
        let r = if uses_open_unsafe_ref(path, &n.acl) {
            OPEN_UNSAFE_ACL_REF
        } else {
            let next = self.acls.len() as i64 + 1;
            *self.refs.entry(n.acl.clone()).or_insert_with(|| {
                self.acls.insert(next, n.acl.to_vec());
                next
            })
        };
        encode_node(&mut self.nodes, stored_path(path), n.data.as_deref(), r, &n.stat);
        self.written += 1;
    }

    /// The walk's parts; the digest is the tree's as it is now, at the
    /// end, as Apache records it.
    pub fn finish(self, tree: &DataTree) -> SnapshotParts {
        let digest = tree.last_digest().map_or(ZxidDigest::EMPTY, |(zxid, digest)| ZxidDigest {
            zxid,
            version: super::digest::VERSION,
            digest,
        });
        SnapshotParts { sessions: self.sessions, acls: self.acls, nodes: self.nodes, digest }
    }
}

impl SnapshotParts {
    /// The snapshot file: header, sessions, ACL cache, nodes, seals, digest.
    pub fn into_file(self) -> BytesMut {
        let mut w = SnapshotWriter::new(SNAP_DBID, &self.sessions, &self.acls, self.nodes.len() + 4096);
        w.encoded_nodes(&self.nodes);
        w.finish(Some(self.digest))
    }

    /// The body alone, as a leader streams it after SNAP.
    pub fn into_stream(self) -> BytesMut {
        let mut w = SnapshotWriter::stream(&self.sessions, &self.acls, self.nodes.len() + 4096);
        w.encoded_nodes(&self.nodes);
        w.finish_stream()
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
