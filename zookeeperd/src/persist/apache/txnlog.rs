//! Apache's txn log file (`FileTxnLog`): a `FileHeader`, then records of
//! `long adler32(entry)`, `buffer entry`, `byte 'B'`, then zeros up to the
//! preallocated size. Reading stops, as Apache's iterator does, at the end
//! of the bytes, at a record of length 0 (the zero padding), or at a torn
//! record (short, or without its 'B'). A checksum mismatch is an error, as
//! in Apache.

use super::txn::TxnRecord;
use super::{adler32, ApacheError, FORMAT_VERSION};
use crate::jute::{write_buffer, write_int, write_long, Reader};
use crate::txn::TxnEntry;
use bytes::{BufMut, BytesMut};

/// "ZKLG" as a big-endian int (`FileTxnLog.TXNLOG_MAGIC`).
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// The end-of-record byte (`Util.writeTxnBytes`).
pub const EOR: u8 = b'B';
/// Bytes in a `FileHeader`.
pub const HEADER_LEN: usize = 16;
/// Checksum and length that precede each entry.
const RECORD_PREFIX: usize = 12;

/// jute `FileHeader`, shared with snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    pub magic: i32,
    pub version: i32,
    pub dbid: i64,
}

impl FileHeader {
    pub fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.magic);
        write_int(w, self.version);
        write_long(w, self.dbid);
    }

    /// Reads a header and checks its magic (Apache ignores the version).
    pub fn decode(r: &mut Reader, magic: i32) -> Result<FileHeader, ApacheError> {
        let h = FileHeader { magic: r.read_int()?, version: r.read_int()?, dbid: r.read_long()? };
        if h.magic != magic {
            return Err(ApacheError::BadMagic { expected: magic, found: h.magic });
        }
        Ok(h)
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEnd {
    /// The bytes ended right after a record (or the header).
    Eof,
    /// A record of length 0: the preallocated zero tail.
    Padding,
    /// A record cut short or missing its end-of-record byte.
    Torn,
}

/// A decoded log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub header: FileHeader,
    pub records: Vec<TxnRecord>,
    /// Bytes up to the end of the last whole record.
    pub good_len: usize,
    pub end: LogEnd,
}

impl LogFile {
    /// The records as our entries.
    pub fn entries(&self) -> Result<Vec<TxnEntry>, ApacheError> {
        self.records.iter().map(TxnRecord::to_entry).collect()
    }
}

/// A log's `FileHeader` (Apache's `FileTxnLog` writes dbid 0).
pub fn encode_header(dbid: i64, w: &mut BytesMut) {
    FileHeader { magic: TXNLOG_MAGIC, version: FORMAT_VERSION, dbid }.encode(w);
}

/// One framed record: checksum, entry as a buffer, 'B'.
pub fn encode_record(rec: &TxnRecord, w: &mut BytesMut) -> Result<(), ApacheError> {
    frame_entry(&rec.encode()?, w);
    Ok(())
}

/// Frame an entry's bytes (`TxnRecord::encode`, or a proposal's data as
/// a leader sent it) as a log record.
pub fn frame_entry(entry: &[u8], w: &mut BytesMut) {
    write_long(w, adler32(entry));
    write_buffer(w, Some(entry));
    w.put_u8(EOR);
}

/// A whole log file without padding.
pub fn encode_log(dbid: i64, records: &[TxnRecord]) -> Result<BytesMut, ApacheError> {
    let mut w = BytesMut::with_capacity(HEADER_LEN + 64 * records.len());
    encode_header(dbid, &mut w);
    for r in records {
        encode_record(r, &mut w)?;
    }
    Ok(w)
}

/// Our entries as a log file; see `TxnRecord::from_entry` for what
/// cannot be written.
pub fn encode_entries(dbid: i64, entries: &[TxnEntry]) -> Result<BytesMut, ApacheError> {
    let records = entries.iter().map(TxnRecord::from_entry).collect::<Result<Vec<_>, _>>()?;
    encode_log(dbid, &records)
}

/// Decode a whole log file.
pub fn decode_log(buf: &[u8]) -> Result<LogFile, ApacheError> {
    let mut r = Reader::new(buf);
    let header = FileHeader::decode(&mut r, TXNLOG_MAGIC)?;
    let mut records = Vec::new();
    let mut pos = HEADER_LEN;
    let end = loop {
        let rest = &buf[pos..];
        match next_record(rest) {
            Next::End(end) => break end,
            Next::Record { entry, stored, used } => {
                let computed = adler32(entry);
                if computed != stored {
                    return Err(ApacheError::Checksum { offset: pos, stored, computed });
                }
                let rec =
                    TxnRecord::decode(entry).map_err(|e| ApacheError::Record { offset: pos, source: Box::new(e) })?;
                records.push(rec);
                pos += used;
            }
            Next::Bad(reason) => {
                return Err(ApacheError::Record { offset: pos, source: Box::new(ApacheError::Malformed(reason)) })
            }
        }
    };
    Ok(LogFile { header, records, good_len: pos, end })
}

enum Next<'a> {
    End(LogEnd),
    Record { entry: &'a [u8], stored: i64, used: usize },
    Bad(&'static str),
}

/// Frame the record at the start of `rest` (`FileTxnLog.FileTxnIterator.next`
/// and `Util.readTxnBytes`).
fn next_record(rest: &[u8]) -> Next<'_> {
    if rest.is_empty() {
        return Next::End(LogEnd::Eof);
    }
    if rest.len() < RECORD_PREFIX {
        let end = if rest.iter().all(|b| *b == 0) { LogEnd::Padding } else { LogEnd::Torn };
        return Next::End(end);
    }
    let mut r = Reader::new(rest);
    let (Ok(stored), Ok(len)) = (r.read_long(), r.read_int()) else {
        return Next::End(LogEnd::Torn);
    };
    if len == 0 {
        return Next::End(LogEnd::Padding);
    }
    if len < 0 {
        return Next::Bad("negative record length");
    }
    let len = len as usize;
    match rest.get(RECORD_PREFIX + len) {
        Some(&EOR) => {
            Next::Record { entry: &rest[RECORD_PREFIX..RECORD_PREFIX + len], stored, used: RECORD_PREFIX + len + 1 }
        }
        _ => Next::End(LogEnd::Torn),
    }
}
