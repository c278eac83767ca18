//! Apache's data tree digest (`DigestCalculator`, version 2, and
//! `NodeHashMapImpl`): each node's CRC32 of its path, data and stat fields,
//! summed over the tree with wrapping adds (`AdHash`), so a change only
//! takes out the node's old digest and puts in its new one. Servers that
//! applied the same txns have the same digest: it goes with every txn in
//! the log and in proposals (`TxnDigest`), and into snapshots
//! (`ZxidDigest`), and the `hash` command lists it every 128 zxids.

use super::{DataTree, Node};
use std::collections::VecDeque;

/// `DigestCalculator.DIGEST_VERSION`.
pub const VERSION: i32 = 2;
/// `DataTree.DIGEST_LOG_INTERVAL` and `DIGEST_LOG_LIMIT`.
const LOG_INTERVAL: i64 = 128;
const LOG_LIMIT: usize = 1024;

/// One node's digest. Nodes under /zookeeper/ count for nothing (Apache
/// keeps quota stats there outside txns); the root is hashed as "".
pub fn node_digest(path: &str, n: &Node) -> i64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let s = &n.stat;
    let mut b = [0u8; 60];
    let fields: [&[u8]; 9] = [
        &s.czxid.to_be_bytes(),
        &s.mzxid.to_be_bytes(),
        &s.pzxid.to_be_bytes(),
        &s.ctime.to_be_bytes(),
        &s.mtime.to_be_bytes(),
        &s.version.to_be_bytes(),
        &s.cversion.to_be_bytes(),
        &s.aversion.to_be_bytes(),
        &s.ephemeral_owner.to_be_bytes(),
    ];
    let mut at = 0;
    for f in fields {
        b[at..at + f.len()].copy_from_slice(f);
        at += f.len();
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(d) = &n.data {
        crc.update(d);
    }
    crc.update(&b);
    i64::from(crc.finalize())
}

/// The digest after each txn, kept every `LOG_INTERVAL` zxids.
#[derive(Debug, Default)]
pub struct DigestLog {
    last: Option<(i64, i64)>,
    log: VecDeque<(i64, i64)>,
}

impl DigestLog {
    pub fn record(&mut self, zxid: i64, digest: i64) {
        self.last = Some((zxid, digest));
        if zxid % LOG_INTERVAL == 0 {
            self.log.push_back((zxid, digest));
            if self.log.len() > LOG_LIMIT {
                self.log.pop_front();
            }
        }
    }
}

impl DataTree {
    /// The tree digest now.
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// (zxid, digest) after the last txn applied, if any was.
    pub fn last_digest(&self) -> Option<(i64, i64)> {
        self.digests.last
    }

    /// The recorded (zxid, digest) pairs, oldest first (the `hash` command).
    pub fn digest_log(&self) -> impl Iterator<Item = &(i64, i64)> {
        self.digests.log.iter()
    }

    /// Take a node's digest out before it changes...
    pub(super) fn unhash(&mut self, path: &str) {
        if let Some(n) = self.nodes.get(path) {
            self.digest = self.digest.wrapping_sub(node_digest(path, n));
        }
    }

    /// ...and put it back after.
    pub(super) fn rehash(&mut self, path: &str) {
        if let Some(n) = self.nodes.get(path) {
            self.digest = self.digest.wrapping_add(node_digest(path, n));
        }
    }

    pub(super) fn recompute_digest(&mut self) {
        self.digest = self.nodes.iter().fold(0i64, |d, (p, n)| d.wrapping_add(node_digest(p, n)));
    }
}
