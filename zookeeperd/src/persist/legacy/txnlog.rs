//! zookeeperd's txn log format before it took Apache's (kept only to
//! convert old dataDirs, and to write them in tests). Files: `log.<first zxid, 16 hex digits>`, a header then
//! records `[u32 length][u32 crc32c][TxnEntry]`. A record that is short or
//! fails its CRC ends the log; in the newest file that is a torn tail from
//! a crash and is truncated away.

use crate::error::ServerError;
use crate::txn::TxnEntry;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
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
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| ServerError::io(dir, e))?;
    for e in rd {
        let e = e.map_err(|e| ServerError::io(dir, e))?;
        if let Some(z) = e.file_name().to_str().and_then(|n| parse_name(n, prefix)) {
            out.push((z, e.path()));
        }
    }
    out.sort();
    Ok(out)
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

/// Cut a torn tail off so appends continue from the last good record.
pub fn truncate(path: &Path, len: u64) -> Result<(), ServerError> {
    let f = OpenOptions::new().write(true).open(path).map_err(|e| ServerError::io(path, e))?;
    f.set_len(len).map_err(|e| ServerError::io(path, e))?;
    f.sync_all().map_err(|e| ServerError::io(path, e))
}

/// An open log being appended to.
pub struct LogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pub first_zxid: i64,
    pub bytes: u64,
}

impl LogWriter {
    /// Create a new log whose first entry will be `first_zxid`.
    pub fn create(dir: &Path, first_zxid: i64) -> Result<LogWriter, ServerError> {
        let path = dir.join(log_name(first_zxid));
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| ServerError::io(&path, e))?;
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(MAGIC);
        hdr[4..].copy_from_slice(&FORMAT.to_be_bytes());
        f.write_all(&hdr).map_err(|e| ServerError::io(&path, e))?;
        f.sync_all().map_err(|e| ServerError::io(&path, e))?;
        sync_dir(dir)?;
        Ok(LogWriter { path, out: BufWriter::with_capacity(256 * 1024, f), first_zxid, bytes: HEADER_LEN })
    }

    /// Reopen an existing log at `len` for appending.
    pub fn reopen(path: &Path, first_zxid: i64, len: u64) -> Result<LogWriter, ServerError> {
        let mut f = OpenOptions::new().write(true).open(path).map_err(|e| ServerError::io(path, e))?;
        f.seek(SeekFrom::Start(len)).map_err(|e| ServerError::io(path, e))?;
        Ok(LogWriter { path: path.to_path_buf(), out: BufWriter::with_capacity(256 * 1024, f), first_zxid, bytes: len })
    }

    /// Append one encoded `TxnEntry`.
    pub fn append(&mut self, entry: &[u8]) -> Result<(), ServerError> {
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(&(entry.len() as u32).to_be_bytes());
        hdr[4..].copy_from_slice(&crc32c::crc32c(entry).to_be_bytes());
        self.out.write_all(&hdr).and_then(|_| self.out.write_all(entry)).map_err(|e| ServerError::io(&self.path, e))?;
        self.bytes += 8 + entry.len() as u64;
        Ok(())
    }

    /// Hand buffered entries to the OS (no fsync).
    pub fn flush(&mut self) -> Result<(), ServerError> {
        self.out.flush().map_err(|e| ServerError::io(&self.path, e))
    }

    /// A second handle on the same open file, for syncing from another
    /// thread while this one keeps appending.
    pub fn sync_handle(&self) -> Result<std::sync::Arc<File>, ServerError> {
        self.out.get_ref().try_clone().map(std::sync::Arc::new).map_err(|e| ServerError::io(&self.path, e))
    }

    /// Flush and fsync: after this every appended entry is durable.
    pub fn sync(&mut self, force: bool) -> Result<(), ServerError> {
        self.out.flush().map_err(|e| ServerError::io(&self.path, e))?;
        if force {
            self.out.get_ref().sync_data().map_err(|e| ServerError::io(&self.path, e))?;
        }
        Ok(())
    }
}

pub fn sync_dir(dir: &Path) -> Result<(), ServerError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| ServerError::io(dir, e))
}
