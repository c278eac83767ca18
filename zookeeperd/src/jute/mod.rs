//! The jute codec: ZooKeeper's wire records. Pure functions over byte
//! slices, no I/O, so the decoder can be fuzzed and property-tested alone.

pub mod records;
pub mod request;
pub mod response;

use bytes::{BufMut, BytesMut};

/// Decoding failure. Any of these closes the connection that sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("negative or oversize length {len} at offset {offset}")]
    BadLength { offset: usize, len: i64 },
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("unknown opcode {0}")]
    UnknownOpcode(i32),
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// A cursor over one frame's payload.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { offset: self.pos, needed: n });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }

    pub fn read_int(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_long(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A length prefix; -1 means null. The claimed length is checked
    /// against what is left in the frame before anything is allocated.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let len = self.read_int()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.remaining() {
            return Err(DecodeError::BadLength { offset, len: len as i64 });
        }
        Ok(Some(len as usize))
    }

    /// A buffer; null reads as `None`.
    pub fn read_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    /// A ustring; null reads as the empty string, as Java's jute does when
    /// the field is later used as a path.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_opt_string()?.unwrap_or_default())
    }

    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                // Java decodes bad UTF-8 to U+FFFD; path checks then refuse it.
                let b = self.take(n)?;
                Ok(Some(String::from_utf8_lossy(b).into_owned()))
            }
        }
    }

    /// A vector of records. Each element needs at least `min_elem` bytes,
    /// so a hostile count cannot make us pre-allocate beyond the frame.
    pub fn read_vec<T>(
        &mut self,
        min_elem: usize,
        mut f: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let offset = self.pos;
        let count = self.read_int()?;
        if count == -1 {
            return Ok(None);
        }
        if count < 0 || (count as usize).saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(DecodeError::BadLength { offset, len: count as i64 });
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            out.push(f(self)?);
        }
        Ok(Some(out))
    }

    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        Ok(self.read_vec(4, |r| r.read_string())?.unwrap_or_default())
    }
}

/// Encoding side: every record writes itself into a `BytesMut`.
pub trait Encode {
    fn encode(&self, w: &mut BytesMut);
}

pub fn write_bool(w: &mut BytesMut, v: bool) {
    w.put_u8(v as u8);
}
pub fn write_int(w: &mut BytesMut, v: i32) {
    w.put_i32(v);
}
pub fn write_long(w: &mut BytesMut, v: i64) {
    w.put_i64(v);
}
pub fn write_buffer(w: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => w.put_i32(-1),
        Some(b) => {
            w.put_i32(b.len() as i32);
            w.put_slice(b);
        }
    }
}
pub fn write_string(w: &mut BytesMut, v: &str) {
    write_buffer(w, Some(v.as_bytes()));
}
pub fn write_string_vec(w: &mut BytesMut, v: &[String]) {
    w.put_i32(v.len() as i32);
    for s in v {
        write_string(w, s);
    }
}

/// Frame a payload: int32 length then the bytes.
pub fn frame(payload: &[u8]) -> bytes::Bytes {
    let mut w = BytesMut::with_capacity(payload.len() + 4);
    w.put_i32(payload.len() as i32);
    w.put_slice(payload);
    w.freeze()
}

/// Encode a record into a length-prefixed frame.
pub fn encode_framed(parts: &[&dyn Encode]) -> bytes::Bytes {
    let mut w = BytesMut::with_capacity(64);
    w.put_i32(0);
    for p in parts {
        p.encode(&mut w);
    }
    let len = (w.len() - 4) as i32;
    w[0..4].copy_from_slice(&len.to_be_bytes());
    w.freeze()
}
