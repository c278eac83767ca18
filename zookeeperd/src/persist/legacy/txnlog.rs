//! zookeeperd's txn log format before it took Apache's, kept only to
//! convert old dataDirs (and to make them in tests). Files: `log.<first
//! zxid, 16 hex digits>`, a header, then records `[u32 length][u32
//! crc32c][TxnEntry]`; a record that is short or fails its CRC ends the log.

use crate::error::ServerError;
use crate::txn::TxnEntry;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"ZKLG";
const FORMAT: u32 = 1;
pub const HEADER_LEN: u64 = 8;
/// A record larger than this cannot be ours: jute.maxbuffer bounds requests.
const MAX_RECORD: u32 = 64 << 20;

pub fn log_name(first_zxid: i64) -> String {
    format!("log.{first_zxid:016x}")
}

pub fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{zxid:016x}")
}

/// Parse `prefix.<hex>` file names.
pub fn parse_name(name: &str, prefix: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// Files named `prefix.<zxid>` in `dir`, sorted by zxid.
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, ServerError> {
    crate::persist::txnlog::list_by(dir, |n| parse_name(n, prefix))
}

/// Everything read from one log file.
pub struct ReadLog {
    pub entries: Vec<TxnEntry>,
    /// Byte offset just past the last good record.
    pub good_len: u64,
    /// True if bytes past `good_len` were not a valid record.
    pub torn: bool,
}

pub fn read_log(path: &Path) -> Result<ReadLog, ServerError> {
    let mut buf = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut buf)).map_err(|e| ServerError::io(path, e))?;
    if buf.len() < HEADER_LEN as usize {
        // A crash while creating the file: nothing was acknowledged from it.
        return Ok(ReadLog { entries: Vec::new(), good_len: 0, torn: !buf.is_empty() });
    }
    if &buf[..4] != MAGIC || u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != FORMAT {
        return Err(ServerError::Corrupt {
            what: "txn log",
            path: path.display().to_string(),
            reason: "bad header".into(),
        });
    }
    let mut pos = HEADER_LEN as usize;
    let mut entries = Vec::new();
    loop {
        if pos == buf.len() {
            return Ok(ReadLog { entries, good_len: pos as u64, torn: false });
        }
        if buf.len() - pos < 8 {
            break;
        }
        let len = u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
        let crc = u32::from_be_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]);
        if len == 0 || len > MAX_RECORD || buf.len() - pos - 8 < len as usize {
            break;
        }
        let body = &buf[pos + 8..pos + 8 + len as usize];
        if crc32c::crc32c(body) != crc {
            break;
        }
        match TxnEntry::decode(body) {
            Ok(e) => entries.push(e),
            Err(_) => break,
        }
        pos += 8 + len as usize;
    }
    Ok(ReadLog { entries, good_len: pos as u64, torn: true })
}

/// A whole log file in the old format, for tests that make old dataDirs
/// (zookeeperd no longer writes this format).
pub fn encode_log(entries: &[TxnEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * entries.len() + HEADER_LEN as usize);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_be_bytes());
    for e in entries {
        let mut buf = bytes::BytesMut::new();
        e.encode(&mut buf);
        out.extend_from_slice(&(buf.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&buf).to_be_bytes());
        out.extend_from_slice(&buf);
    }
    out
}
