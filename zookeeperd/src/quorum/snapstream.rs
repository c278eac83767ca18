//! SNAP sync's byte stream: after a SNAP packet the leader writes its
//! database (`ZKDatabase.serializeSnapshot`: sessions, the ACL cache, the
//! nodes up to "/") and the signature string, with no length in front.
//! `StreamScan` finds where it ends as bytes arrive, item by item, so a
//! big snapshot is scanned once however it is cut; `decode` turns the
//! whole of it into a tree. No I/O.

use bytes::BytesMut;

use super::packet::{PacketError, SNAP_SIGNATURE};
use crate::jute::write_string;
use crate::persist::apache::ApacheError;
use crate::tree::DataTree;

/// Bytes of a node's StatPersisted.
const STAT_LEN: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    SessionCount,
    Sessions(usize),
    AclCount,
    Acls(usize),
    Nodes,
    Signature,
}

/// Where a streamed snapshot ends, found incrementally.
#[derive(Debug, Clone)]
pub struct StreamScan {
    pos: usize,
    stage: Stage,
    max: usize,
}

impl StreamScan {
    /// `max` bounds every length field (jute.maxbuffer and then some), so
    /// a garbled stream fails instead of making us wait for gigabytes.
    pub fn new(max: usize) -> StreamScan {
        StreamScan { pos: 0, stage: Stage::SessionCount, max }
    }

    /// Scan on over `buf` (the stream's bytes from its start, possibly
    /// more after it). `Ok(Some(len))` once the stream and its signature
    /// are whole: they are `buf[..len]`.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, PacketError> {
        loop {
            let at = self.pos;
            let (used, next) = match self.stage {
                Stage::SessionCount => match int_at(buf, at) {
                    Some(n) => (4, Stage::Sessions(n.max(0) as usize)),
                    None => return Ok(None),
                },
                Stage::Sessions(0) => (0, Stage::AclCount),
                Stage::Sessions(n) => match buf.len() >= at + 12 {
                    true => (12, Stage::Sessions(n - 1)),
                    false => return Ok(None),
                },
                Stage::AclCount => match int_at(buf, at) {
                    Some(n) => (4, Stage::Acls(n.max(0) as usize)),
                    None => return Ok(None),
                },
                Stage::Acls(0) => (0, Stage::Nodes),
                Stage::Acls(n) => match self.acl_entry(buf, at)? {
                    Some(used) => (used, Stage::Acls(n - 1)),
                    None => return Ok(None),
                },
                Stage::Nodes => match self.node(buf, at)? {
                    Some((used, true)) => (used, Stage::Signature),
                    Some((used, false)) => (used, Stage::Nodes),
                    None => return Ok(None),
                },
                Stage::Signature => match self.len_at(buf, at)? {
                    Some(s) if buf.len() >= at + 4 + s => return Ok(Some(at + 4 + s)),
                    _ => return Ok(None),
                },
            };
            self.pos += used;
            self.stage = next;
        }
    }

    /// A jute buffer/string length at `at`; -1 (null) is 0 bytes.
    fn len_at(&self, buf: &[u8], at: usize) -> Result<Option<usize>, PacketError> {
        let Some(len) = int_at(buf, at) else { return Ok(None) };
        if len == -1 {
            return Ok(Some(0));
        }
        if len < 0 || len as usize > self.max {
            return Err(PacketError::BadLength { len: len as i64, max: self.max });
        }
        Ok(Some(len as usize))
    }

    /// One ACL cache entry: a long, then a vector of (int, string, string).
    fn acl_entry(&self, buf: &[u8], at: usize) -> Result<Option<usize>, PacketError> {
        let mut p = at + 8;
        let Some(count) = int_at(buf, p) else { return Ok(None) };
        p += 4;
        if count < -1 || (count.max(0) as usize).saturating_mul(12) > self.max {
            return Err(PacketError::BadLength { len: count as i64, max: self.max });
        }
        for _ in 0..count.max(0) {
            p += 4;
            for _ in 0..2 {
                let Some(s) = self.len_at(buf, p)? else { return Ok(None) };
                p += 4 + s;
            }
        }
        Ok((buf.len() >= p).then_some(p - at))
    }

    /// One node (path, data, ACL reference, stat), or the "/" end marker
    /// (`Some((used, true))`).
    fn node(&self, buf: &[u8], at: usize) -> Result<Option<(usize, bool)>, PacketError> {
        let Some(s) = self.len_at(buf, at)? else { return Ok(None) };
        let mut p = at + 4 + s;
        if buf.len() < p {
            return Ok(None);
        }
        if &buf[at + 4..p] == b"/" {
            return Ok(Some((p - at, true)));
        }
        let Some(d) = self.len_at(buf, p)? else { return Ok(None) };
        p += 4 + d + 8 + STAT_LEN;
        Ok((buf.len() >= p).then_some((p - at, false)))
    }
}

fn int_at(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at + 4)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// What a leader writes after its SNAP packet: the tree, then the signature.
pub fn encode(tree: &DataTree) -> BytesMut {
    let mut w = crate::tree::snapshot::encode_stream(tree);
    write_string(&mut w, SNAP_SIGNATURE);
    w
}

/// A whole stream (as `StreamScan` delimited it) as a tree at `zxid`. A
/// missing or wrong signature fails the sync, as in Apache's Learner.
pub fn decode(buf: &[u8], zxid: i64) -> Result<DataTree, ApacheError> {
    let (tree, used) = crate::tree::snapshot::decode_stream(buf, zxid)?;
    let mut r = crate::jute::Reader::new(&buf[used..]);
    let sig = r.read_string()?;
    if sig != SNAP_SIGNATURE || r.remaining() != 0 {
        return Err(ApacheError::Malformed("missing signature after the snapshot"));
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::records::Acl;
    use crate::txn::{Txn, TxnEntry};

    pub(super) fn tree(n: usize) -> DataTree {
        let mut t = DataTree::new();
        let mut trig = Vec::new();
        let apply = |t: &mut DataTree, zxid: i64, txn: Txn, trig: &mut Vec<_>| {
            t.apply(&TxnEntry { zxid, time: 1, session_id: 7, cxid: 1, txn }, trig).expect("apply");
        };
        apply(&mut t, 1, Txn::CreateSession { timeout: 4000 }, &mut trig);
        for i in 0..n {
            let txn = Txn::Create {
                path: format!("/n{i}"),
                data: Some(vec![i as u8; i % 50]),
                acl: if i % 3 == 0 { Acl::read_unsafe() } else { Acl::open_unsafe() },
                ephemeral_owner: if i % 4 == 0 { 7 } else { 0 },
                parent_cversion: i as i32 + 1,
            };
            apply(&mut t, 2 + i as i64, txn, &mut trig);
        }
        t
    }

    #[test]
    fn the_scan_finds_the_end_however_the_bytes_are_cut() {
        let t = tree(40);
        let mut bytes = encode(&t).to_vec();
        let len = bytes.len();
        bytes.extend_from_slice(b"next packet");
        for step in [1, 7, 64, len] {
            let mut scan = StreamScan::new(1 << 20);
            let mut got = None;
            let mut have = 0;
            while got.is_none() {
                have = (have + step).min(bytes.len());
                got = scan.scan(&bytes[..have]).expect("well formed");
                assert!(got.is_some() || have < len, "step {step}: not found with {have} of {len}");
            }
            assert_eq!(got, Some(len), "step {step}");
        }
        let back = decode(&bytes[..len], t.last_zxid()).expect("decode");
        assert_eq!(back.sorted_paths(), t.sorted_paths());
        assert_eq!(back.sessions(), t.sessions());
        assert_eq!(back.ephemerals_of(7).map(|e| e.len()), t.ephemerals_of(7).map(|e| e.len()));
    }

    #[test]
    fn garbage_lengths_fail_and_a_wrong_signature_is_refused() {
        let mut scan = StreamScan::new(1024);
        let mut bad = vec![0, 0, 0, 0, 0, 0, 0, 0];
        bad.extend_from_slice(&(1_000_000i32).to_be_bytes());
        assert!(scan.scan(&bad).is_err());
        let mut bytes = crate::tree::snapshot::encode_stream(&tree(3)).to_vec();
        bytes.extend_from_slice(&3i32.to_be_bytes());
        bytes.extend_from_slice(b"Ben");
        assert!(decode(&bytes, 4).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Random bytes never panic the scanner, and an end it reports is
        /// inside what it was given.
        #[test]
        fn scanning_garbage_is_safe(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut scan = StreamScan::new(4096);
            if let Ok(Some(n)) = scan.scan(&bytes) {
                prop_assert!(n <= bytes.len());
                let _ = decode(&bytes[..n], 1);
            }
        }

        /// A stream cut anywhere is incomplete until its last byte, and
        /// whole after, whatever the steps it arrived in.
        #[test]
        fn a_stream_is_found_exactly_at_its_end(nodes in 0usize..30, step in 1usize..200) {
            let t = super::tests::tree(nodes);
            let bytes = encode(&t);
            let mut scan = StreamScan::new(1 << 20);
            let mut have = 0;
            let found = loop {
                have = (have + step).min(bytes.len());
                match scan.scan(&bytes[..have]).expect("well formed") {
                    Some(n) => break n,
                    None => prop_assert!(have < bytes.len()),
                }
            };
            prop_assert_eq!(found, bytes.len());
            let back = decode(&bytes, t.last_zxid()).expect("decodes");
            prop_assert_eq!(back.sorted_paths(), t.sorted_paths());
        }
    }
}
