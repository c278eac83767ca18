//! Apache ZooKeeper 3.8's on-disk formats, as a sans-io codec: the txn log
//! (`version-2/log.<hex zxid>`) and the snapshot
//! (`version-2/snapshot.<hex zxid>`, uncompressed "CHECKED" stream mode).
//! Functions take and return bytes; reading and writing files is the
//! caller's business. Decoders never panic and check every length against
//! the input before allocating.
//!
//! Layouts (from Apache's `FileTxnLog`, `Util`, `FileSnap`, `SnapStream`,
//! `SerializeUtils`, `DataTree` and `zookeeper.jute`):
//!
//! ```text
//! log      = FileHeader{magic "ZKLG", version 2, dbid} record* zero-padding
//! record   = adler32(entry) as long, entry as jute buffer, 'B'
//! entry    = TxnHeader{clientId, cxid, zxid, time, type} txn-record [TxnDigest]
//!
//! snapshot = FileHeader{magic "ZKSN", version 2, dbid -1}
//!            int count, {long session, int timeout}*
//!            int count, {long ref, vector<ACL>}*          (ACL cache)
//!            {ustring path, buffer data, long aclRef, StatPersisted}* ustring "/"
//!            long adler32(all bytes so far), ustring "/"
//!            [long zxid, int digestVersion, long digest,
//!             long adler32(all bytes so far), ustring "/"]  (3.6+ digest)
//! ```

pub mod snapshot;
pub mod txn;
pub mod txnlog;

#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod txn_tests;
#[cfg(test)]
mod txnlog_tests;

use crate::jute::DecodeError;

/// `FileHeader.version` in both file kinds.
pub const FORMAT_VERSION: i32 = 2;

/// Errors decoding or encoding Apache's files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApacheError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("bad magic 0x{found:08x}, expected 0x{expected:08x}")]
    BadMagic { expected: i32, found: i32 },
    #[error("checksum mismatch at byte {offset}: stored 0x{stored:x}, computed 0x{computed:x}")]
    Checksum { offset: usize, stored: i64, computed: i64 },
    #[error("unsupported txn type {0}")]
    UnsupportedTxnType(i32),
    #[error("malformed: {0}")]
    Malformed(&'static str),
    #[error("txn log record at byte {offset}: {source}")]
    Record { offset: usize, source: Box<ApacheError> },
    /// A transaction one side can express and the other cannot.
    #[error("cannot map transaction: {0}")]
    Unmappable(String),
}

/// java.util.zip.Adler32 of `bytes`, as Java's `Checksum.getValue()` long.
pub fn adler32(bytes: &[u8]) -> i64 {
    adler2::adler32_slice(bytes) as i64
}

/// `log.<hex zxid>` (Apache's `Util.makeLogName`).
pub fn log_file_name(zxid: i64) -> String {
    format!("log.{zxid:x}")
}

/// `snapshot.<hex zxid>` (Apache's `Util.makeSnapshotName`, CHECKED mode).
pub fn snapshot_file_name(zxid: i64) -> String {
    format!("snapshot.{zxid:x}")
}

/// The zxid in `log.<hex>` / `snapshot.<hex>` (Apache's
/// `Util.getZxidFromName`); `None` if the name has another prefix.
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    // As Java's Long.parseLong(hex, 16).
    i64::from_str_radix(parts.next()?, 16).ok()
}
