//! Txn log files in Apache ZooKeeper 3.8's format (`persist::apache::txnlog`):
//! `log.<hex zxid of the first record>`, a `FileHeader`, framed records, and
//! a zero tail preallocated in `zookeeper.preAllocSize` steps as Apache's
//! `FilePadding` does, so Apache's reader (and ours) stops at the first
//! record of length 0. A record cut short by a crash ends the log; in the
//! newest file it is truncated away.

use super::apache::txnlog::{decode_log, encode_header, LogEnd, HEADER_LEN};
use super::apache::{log_file_name, zxid_from_name, ApacheError};
use crate::error::ServerError;
use crate::txn::TxnEntry;
use bytes::BytesMut;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Apache's default `zookeeper.preAllocSize`: 64 MiB.
pub const DEFAULT_PREALLOC: u64 = 64 << 20;
/// Apache pads when a write comes within this many bytes of the end.
const PAD_MARGIN: u64 = 4096;

/// Files named `prefix.<hex zxid>` in `dir` (Apache's names), by zxid.
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, ServerError> {
    list_by(dir, |n| zxid_from_name(n, prefix))
}

/// The files in `dir` whose name `zxid_of` reads a zxid from, by zxid.
pub fn list_by(dir: &Path, zxid_of: impl Fn(&str) -> Option<i64>) -> Result<Vec<(i64, PathBuf)>, ServerError> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| ServerError::io(dir, e))?;
    for e in rd {
        let e = e.map_err(|e| ServerError::io(dir, e))?;
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(z) = e.file_name().to_str().and_then(&zxid_of) {
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
    /// True if the bytes after `good_len` are neither the end nor zeros.
    pub torn: bool,
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> ServerError {
    ServerError::Corrupt { what: "txn log", path: path.display().to_string(), reason: e.to_string() }
}

/// Read a log. With `newest`, a bad record (a crash mid-write) ends the
/// log and is reported as a torn tail; elsewhere it is corruption.
pub fn read_log(path: &Path, newest: bool) -> Result<ReadLog, ServerError> {
    let mut buf = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut buf)).map_err(|e| ServerError::io(path, e))?;
    if buf.len() < HEADER_LEN {
        // A crash while creating the file: nothing was acknowledged from it.
        return Ok(ReadLog { entries: Vec::new(), good_len: 0, torn: !buf.is_empty() });
    }
    let (log, torn) = match decode_log(&buf) {
        Ok(log) => {
            let torn = log.end == LogEnd::Torn;
            (log, torn)
        }
        Err(ApacheError::Record { offset, .. } | ApacheError::Checksum { offset, .. }) if newest => {
            (decode_log(&buf[..offset]).map_err(|e| corrupt(path, e))?, true)
        }
        Err(e) => return Err(corrupt(path, e)),
    };
    let entries = log.entries().map_err(|e| corrupt(path, e))?;
    Ok(ReadLog { entries, good_len: log.good_len as u64, torn })
}

/// Cut a torn tail off at the last good record.
pub fn truncate(path: &Path, len: u64) -> Result<(), ServerError> {
    let f = OpenOptions::new().write(true).open(path).map_err(|e| ServerError::io(path, e))?;
    f.set_len(len).map_err(|e| ServerError::io(path, e))?;
    f.sync_all().map_err(|e| ServerError::io(path, e))
}

/// Where to cut `path` so it keeps only records up to `zxid`: `None` if
/// no record after `zxid` is in it. Records are walked by their framing
/// (checksum, length, entry, end byte); the zxid sits at bytes 12..20 of
/// an entry's TxnHeader.
pub fn end_of(path: &Path, zxid: i64) -> Result<Option<u64>, ServerError> {
    let buf = std::fs::read(path).map_err(|e| ServerError::io(path, e))?;
    let mut at = crate::persist::apache::txnlog::HEADER_LEN;
    while let Some(len) = buf.get(at + 8..at + 12).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) {
        let start = at + 12;
        if len < 20 || buf.len() < start + len as usize + 1 {
            break;
        }
        let z = &buf[start + 12..start + 20];
        if i64::from_be_bytes([z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7]]) > zxid {
            return Ok(Some(at as u64));
        }
        at = start + len as usize + 1;
    }
    Ok(None)
}

/// An open log being appended to.
pub struct LogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pub first_zxid: i64,
    /// Bytes written (header and records), not counting the zero tail.
    pub bytes: u64,
    /// The file's size including the preallocated zeros.
    allocated: u64,
    prealloc: u64,
}

impl LogWriter {
    /// Create `log.<first_zxid>`: header, first zero tail, fsync, dir fsync.
    pub fn create(dir: &Path, first_zxid: i64, prealloc: u64) -> Result<LogWriter, ServerError> {
        let path = dir.join(log_file_name(first_zxid));
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| ServerError::io(&path, e))?;
        let mut hdr = BytesMut::with_capacity(HEADER_LEN);
        // Apache's FileTxnLog writes dbid 0.
        encode_header(0, &mut hdr);
        let mut w = LogWriter {
            path,
            out: BufWriter::with_capacity(256 * 1024, f),
            first_zxid,
            bytes: 0,
            allocated: 0,
            prealloc,
        };
        w.write(&hdr)?;
        w.sync(true)?;
        sync_dir(dir)?;
        Ok(w)
    }

    /// Append one framed record (`apache::txnlog::encode_record`).
    pub fn append(&mut self, record: &[u8]) -> Result<(), ServerError> {
        self.write(record)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ServerError> {
        self.pad(bytes.len() as u64)?;
        self.out.write_all(bytes).map_err(|e| ServerError::io(&self.path, e))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Grow the zero tail before a write gets near its end, as Apache's
    /// `FilePadding.padFile`: the file stays larger than what is written,
    /// so its end reads as a record of length 0. The new size is set
    /// without writing zeros (a sparse extension reads as zeros).
    fn pad(&mut self, len: u64) -> Result<(), ServerError> {
        if self.prealloc == 0 {
            return Ok(());
        }
        let end = self.bytes + len;
        if end + PAD_MARGIN < self.allocated {
            return Ok(());
        }
        let mut size = self.allocated.max(self.prealloc);
        while end + PAD_MARGIN >= size {
            size += self.prealloc;
        }
        self.out.get_ref().set_len(size).map_err(|e| ServerError::io(&self.path, e))?;
        self.allocated = size;
        Ok(())
    }

    /// Hand buffered records to the OS (no fsync).
    pub fn flush(&mut self) -> Result<(), ServerError> {
        self.out.flush().map_err(|e| ServerError::io(&self.path, e))
    }

    /// A second handle on the same open file, for syncing from another
    /// thread while this one keeps appending.
    pub fn sync_handle(&self) -> Result<std::sync::Arc<File>, ServerError> {
        self.out.get_ref().try_clone().map(std::sync::Arc::new).map_err(|e| ServerError::io(&self.path, e))
    }

    /// Flush and fsync: after this every appended record is durable.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::apache::txn::TxnRecord;
    use crate::persist::apache::txnlog::encode_record;
    use crate::txn::Txn;

    fn record(zxid: i64) -> BytesMut {
        let e = TxnEntry { zxid, time: 5, session_id: 1, cxid: 1, txn: Txn::Delete { path: format!("/n{zxid}") } };
        let mut w = BytesMut::new();
        encode_record(&TxnRecord::from_entry(&e).expect("map"), &mut w).expect("encode");
        w
    }

    #[test]
    fn pads_with_zeros_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = LogWriter::create(dir.path(), 1, 8192).expect("create");
        for z in 1..=100 {
            w.append(&record(z)).expect("append");
        }
        w.sync(true).expect("sync");
        let path = dir.path().join("log.1");
        let size = std::fs::metadata(&path).expect("meta").len();
        assert!(size > w.bytes + PAD_MARGIN && size.is_multiple_of(8192), "{size} vs {}", w.bytes);
        let read = read_log(&path, true).expect("read");
        assert_eq!((read.entries.len(), read.good_len, read.torn), (100, w.bytes, false));
        // A record cut short inside the zero tail is a torn tail.
        let mut f = OpenOptions::new().write(true).open(&path).expect("open");
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(w.bytes)).expect("seek");
        f.write_all(&record(101)[..20]).expect("write");
        let read = read_log(&path, true).expect("read");
        assert_eq!((read.entries.len(), read.good_len, read.torn), (100, w.bytes, true));
        assert_eq!(list(dir.path(), "log").expect("list"), vec![(1, path)]);
    }
}
