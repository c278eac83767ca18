//! Apache's snapshot file (`FileSnap`, CHECKED stream mode): header,
//! sessions (`SerializeUtils.serializeSnapshot`), the ACL cache
//! (`ReferenceCountedACLCache.serialize`), the nodes parents first
//! (`DataTree.serializeNodes`, root as "" and "/" as end marker), a seal
//! (`SnapStream.sealStream`: Adler32 of every byte before it as a long,
//! then "/"), and from 3.6 the zxid digest (`DataTree.serializeZxidDigest`)
//! with a second seal. The snapshot's zxid is only in its file name.

use super::txnlog::FileHeader;
use super::{adler32, ApacheError, FORMAT_VERSION};
use crate::jute::records::{encode_acls, Acl};
use crate::jute::{write_buffer, write_int, write_long, write_string, Reader};
use crate::tree::StatPersisted;
use bytes::BytesMut;
use std::collections::{BTreeMap, HashSet};

/// "ZKSN" as a big-endian int (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// The dbid Apache writes in snapshot headers (`FileSnap.dbId`).
pub const SNAP_DBID: i64 = -1;
/// The ACL reference for world:anyone with all permissions that needs no
/// cache entry (`ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`).
pub const OPEN_UNSAFE_ACL_REF: i64 = -1;
/// `DigestCalculator.DIGEST_VERSION` in 3.8.
pub const DIGEST_VERSION: i32 = 2;
/// Bytes of a jute `StatPersisted`.
const STAT_LEN: usize = 60;

/// One znode as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotNode {
    /// The root is stored as "", everything else as its absolute path.
    pub path: String,
    pub data: Option<Vec<u8>>,
    /// A key of `Snapshot::acls`, or `OPEN_UNSAFE_ACL_REF`.
    pub acl: i64,
    pub stat: StatPersisted,
}

/// `DataTree.ZxidDigest`: the tree digest as of `zxid`. Apache writes
/// zxid 0 ("empty") when it has none; it then checks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

impl ZxidDigest {
    pub const EMPTY: ZxidDigest = ZxidDigest { zxid: 0, version: DIGEST_VERSION, digest: 0 };
}

/// A whole snapshot as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The header's dbid; Apache writes `SNAP_DBID`.
    pub dbid: i64,
    /// Session id -> timeout.
    pub sessions: BTreeMap<i64, i32>,
    /// The ACL cache: reference -> ACL list.
    pub acls: BTreeMap<i64, Vec<Acl>>,
    /// Parents before their children, the root first.
    pub nodes: Vec<SnapshotNode>,
    /// Present in 3.6+ snapshots (`zookeeper.digest.enabled`, default on).
    pub digest: Option<ZxidDigest>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            dbid: SNAP_DBID,
            sessions: BTreeMap::new(),
            acls: BTreeMap::new(),
            nodes: Vec::new(),
            digest: Some(ZxidDigest::EMPTY),
        }
    }
}

impl Snapshot {
    /// The ACL list a node reference names; `None` if the cache lacks it.
    pub fn acl_of(&self, reference: i64) -> Option<Vec<Acl>> {
        if reference == OPEN_UNSAFE_ACL_REF {
            return Some(Acl::open_unsafe());
        }
        self.acls.get(&reference).cloned()
    }

    /// The reference for `acl`, adding it to the cache if new, numbered as
    /// Apache's `convertAcls` does (one more than the highest).
    pub fn intern_acl(&mut self, acl: &[Acl]) -> i64 {
        if let Some((k, _)) = self.acls.iter().find(|(_, v)| v.as_slice() == acl) {
            return *k;
        }
        let next = self.acls.keys().next_back().map_or(1, |k| k.saturating_add(1).max(1));
        self.acls.insert(next, acl.to_vec());
        next
    }

    pub fn encode(&self) -> BytesMut {
        let mut w = SnapshotWriter::new(self.dbid, &self.sessions, &self.acls, 4096);
        for n in &self.nodes {
            w.node(&n.path, n.data.as_deref(), n.acl, &n.stat);
        }
        w.finish(self.digest)
    }

    pub fn decode(buf: &[u8]) -> Result<Snapshot, ApacheError> {
        let mut r = Reader::new(buf);
        let header = FileHeader::decode(&mut r, SNAP_MAGIC)?;
        let (sessions, acls, nodes) = decode_body(&mut r)?;
        check_seal(buf, &mut r)?;
        let digest = if r.remaining() == 0 {
            None
        } else {
            let zxid = r.read_long()?;
            let version = r.read_int()?;
            if version < DIGEST_VERSION {
                // Pre-3.6.0 release candidates wrote the digest as a hex string.
                return Err(ApacheError::Malformed("zxid digest version below 2"));
            }
            let d = ZxidDigest { zxid, version, digest: r.read_long()? };
            check_seal(buf, &mut r)?;
            Some(d)
        };
        if r.remaining() != 0 {
            return Err(ApacheError::Malformed("trailing bytes after snapshot"));
        }
        Ok(Snapshot { dbid: header.dbid, sessions, acls, nodes, digest })
    }

    /// The database as a leader streams it after SNAP
    /// (`ZKDatabase.serializeSnapshot`): the body alone, with no header,
    /// seal or digest. Returns it and the bytes it took.
    pub fn decode_stream(buf: &[u8]) -> Result<(Snapshot, usize), ApacheError> {
        let mut r = Reader::new(buf);
        let (sessions, acls, nodes) = decode_body(&mut r)?;
        Ok((Snapshot { dbid: SNAP_DBID, sessions, acls, nodes, digest: None }, r.position()))
    }
}

type Body = (BTreeMap<i64, i32>, BTreeMap<i64, Vec<Acl>>, Vec<SnapshotNode>);

/// Sessions, the ACL cache and the nodes up to the "/" end marker.
fn decode_body(r: &mut Reader) -> Result<Body, ApacheError> {
    let mut sessions = BTreeMap::new();
    // Apache reads `while (count > 0)`: a negative count is none.
    for _ in 0..r.read_int()?.max(0) {
        let id = r.read_long()?;
        sessions.insert(id, r.read_int()?);
    }
    let mut acls = BTreeMap::new();
    for _ in 0..r.read_int()?.max(0) {
        let reference = r.read_long()?;
        let list = r.read_vec(12, Acl::decode)?.ok_or(ApacheError::Malformed("null ACL list"))?;
        acls.insert(reference, list);
    }
    let mut nodes = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let path = r.read_string()?;
        if path == "/" {
            break;
        }
        // As DataTree.deserialize: no '/' makes the root, else the
        // parent must already be there.
        if let Some(slash) = path.rfind('/') {
            if !seen.contains(&path[..slash]) {
                return Err(ApacheError::Malformed("node before its parent"));
            }
        }
        let data = r.read_buffer()?;
        let acl = r.read_long()?;
        if r.remaining() < STAT_LEN {
            return Err(ApacheError::Malformed("truncated node stat"));
        }
        let stat = StatPersisted::decode(r)?;
        seen.insert(path.clone());
        nodes.push(SnapshotNode { path, data, acl, stat });
    }
    Ok((sessions, acls, nodes))
}

/// Writes a snapshot piece by piece, so a caller with its own tree need
/// not build a `Snapshot` first; `Snapshot::encode` is built on it.
pub struct SnapshotWriter {
    w: BytesMut,
}

impl SnapshotWriter {
    /// The header, the sessions and the ACL cache.
    pub fn new(dbid: i64, sessions: &BTreeMap<i64, i32>, acls: &BTreeMap<i64, Vec<Acl>>, capacity: usize) -> Self {
        let mut w = BytesMut::with_capacity(capacity);
        FileHeader { magic: SNAP_MAGIC, version: FORMAT_VERSION, dbid }.encode(&mut w);
        Self::body(w, sessions, acls)
    }

    /// For SNAP sync's stream: no header; end with `finish_stream`.
    pub fn stream(sessions: &BTreeMap<i64, i32>, acls: &BTreeMap<i64, Vec<Acl>>, capacity: usize) -> Self {
        Self::body(BytesMut::with_capacity(capacity), sessions, acls)
    }

    fn body(mut w: BytesMut, sessions: &BTreeMap<i64, i32>, acls: &BTreeMap<i64, Vec<Acl>>) -> Self {
        write_int(&mut w, sessions.len() as i32);
        for (id, timeout) in sessions {
            write_long(&mut w, *id);
            write_int(&mut w, *timeout);
        }
        write_int(&mut w, acls.len() as i32);
        for (reference, list) in acls {
            write_long(&mut w, *reference);
            encode_acls(&mut w, list);
        }
        SnapshotWriter { w }
    }

    /// One node; parents must come before their children, the root ("") first.
    pub fn node(&mut self, path: &str, data: Option<&[u8]>, acl: i64, stat: &StatPersisted) {
        encode_node(&mut self.w, path, data, acl, stat);
    }

    /// Nodes already encoded with `encode_node`, in order.
    pub fn encoded_nodes(&mut self, nodes: &[u8]) {
        self.w.extend_from_slice(nodes);
    }

    /// The end marker alone: the stream a leader sends after SNAP.
    pub fn finish_stream(mut self) -> BytesMut {
        write_string(&mut self.w, "/");
        self.w
    }

    /// The end marker, the seal, and the digest with its own seal.
    pub fn finish(mut self, digest: Option<ZxidDigest>) -> BytesMut {
        write_string(&mut self.w, "/");
        seal(&mut self.w);
        if let Some(d) = digest {
            write_long(&mut self.w, d.zxid);
            write_int(&mut self.w, d.version);
            write_long(&mut self.w, d.digest);
            seal(&mut self.w);
        }
        self.w
    }
}

/// One node record as `SnapshotWriter::node` writes it, into any buffer.
pub fn encode_node(w: &mut BytesMut, path: &str, data: Option<&[u8]>, acl: i64, stat: &StatPersisted) {
    write_string(w, path);
    write_buffer(w, data);
    write_long(w, acl);
    stat.encode(w);
}

/// `SnapStream.sealStream`: the checksum of everything so far, then "/".
fn seal(w: &mut BytesMut) {
    let sum = adler32(w);
    write_long(w, sum);
    write_string(w, "/");
}

/// `SnapStream.checkSealIntegrity`: the stored checksum must match the
/// bytes before it; the string after it is read and ignored.
fn check_seal(buf: &[u8], r: &mut Reader) -> Result<(), ApacheError> {
    let offset = r.position();
    let computed = adler32(&buf[..offset]);
    let stored = r.read_long()?;
    r.read_opt_string()?;
    if stored != computed {
        return Err(ApacheError::Checksum { offset, stored, computed });
    }
    Ok(())
}
