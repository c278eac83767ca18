//! Apache's txn records (`org.apache.zookeeper.txn` in zookeeper.jute), the
//! entry layout of one log record (`Util.marshallTxnEntry` /
//! `SerializeUtils.deserializeTxn`), and the mapping to and from our
//! `TxnEntry`.

use super::ApacheError;
use crate::jute::records::{encode_acls, Acl};
use crate::jute::{write_buffer, write_int, write_long, write_string, Reader};
use crate::tree::ephemeral::{self, NodeKind};
use crate::txn::{Txn, TxnEntry};
use bytes::BytesMut;

/// `ZooDefs.OpCode` values that appear in the txn log.
pub mod op {
    pub const ERROR: i32 = -1;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
}

/// jute `TxnHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    /// The `ZooDefs.OpCode`; selects the record that follows.
    pub op: i32,
}

/// jute `TxnDigest`, written after the record when
/// `zookeeper.digest.enabled` (the default in 3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

impl TxnDigest {
    /// Appended to an encoded record (it comes last).
    pub fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.version);
        write_long(w, self.tree_digest);
    }
}

/// The txn records, one variant per jute class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApacheTxn {
    /// `CreateSessionTxn`.
    CreateSession { timeout: i32 },
    /// `CloseSessionTxn`. `None`: no record at all, as written before 3.6
    /// or with `zookeeper.closeSessionTxn.enabled=false`; Apache then
    /// deletes the session's ephemerals from its own bookkeeping.
    CloseSession { paths: Option<Vec<String>> },
    /// `CreateTxn` (ops create and create2).
    Create { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, ephemeral: bool, parent_cversion: i32 },
    /// `CreateContainerTxn`.
    CreateContainer { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, parent_cversion: i32 },
    /// `CreateTTLTxn`.
    CreateTtl { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, parent_cversion: i32, ttl: i64 },
    /// `DeleteTxn` (ops delete and deleteContainer).
    Delete { path: String },
    /// `SetDataTxn` (ops setData and reconfig).
    SetData { path: String, data: Option<Vec<u8>>, version: i32 },
    /// `SetACLTxn`.
    SetAcl { path: String, acl: Vec<Acl>, version: i32 },
    /// `CheckVersionTxn`; only inside a multi.
    CheckVersion { path: String, version: i32 },
    /// `ErrorTxn`.
    Error { err: i32 },
    /// `MultiTxn`: a vector of `Txn{int type, buffer data}`.
    Multi(Vec<SubTxn>),
}

/// One `Txn` of a `MultiTxn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTxn {
    pub op: i32,
    pub txn: ApacheTxn,
}

/// Everything inside one log record's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    pub header: TxnHeader,
    pub txn: ApacheTxn,
    pub digest: Option<TxnDigest>,
}

/// Whether `op` is written with the record `txn`. Top level follows
/// `SerializeUtils.deserializeTxn`, multi entries `DataTree.processTxn`.
fn op_fits(op: i32, txn: &ApacheTxn, in_multi: bool) -> bool {
    use ApacheTxn as A;
    match txn {
        A::CreateSession { .. } => !in_multi && op == op::CREATE_SESSION,
        A::CloseSession { .. } => !in_multi && op == op::CLOSE_SESSION,
        A::Create { .. } => op == op::CREATE || (!in_multi && op == op::CREATE2),
        A::CreateContainer { .. } => op == op::CREATE_CONTAINER,
        A::CreateTtl { .. } => op == op::CREATE_TTL,
        A::Delete { .. } => op == op::DELETE || op == op::DELETE_CONTAINER,
        A::SetData { .. } => op == op::SET_DATA || (!in_multi && op == op::RECONFIG),
        A::SetAcl { .. } => !in_multi && op == op::SET_ACL,
        A::CheckVersion { .. } => in_multi && op == op::CHECK,
        A::Error { .. } => op == op::ERROR,
        A::Multi(_) => !in_multi && op == op::MULTI,
    }
}

impl ApacheTxn {
    /// The record's fields, without the op code.
    pub fn encode(&self, w: &mut BytesMut) {
        use ApacheTxn as A;
        match self {
            A::CreateSession { timeout } => write_int(w, *timeout),
            A::CloseSession { paths: None } => {}
            A::CloseSession { paths: Some(paths) } => crate::jute::write_string_vec(w, paths),
            A::Create { path, data, acl, ephemeral, parent_cversion } => {
                create_fields(w, path, data, acl);
                crate::jute::write_bool(w, *ephemeral);
                write_int(w, *parent_cversion);
            }
            A::CreateContainer { path, data, acl, parent_cversion } => {
                create_fields(w, path, data, acl);
                write_int(w, *parent_cversion);
            }
            A::CreateTtl { path, data, acl, parent_cversion, ttl } => {
                create_fields(w, path, data, acl);
                write_int(w, *parent_cversion);
                write_long(w, *ttl);
            }
            A::Delete { path } => write_string(w, path),
            A::SetData { path, data, version } => {
                write_string(w, path);
                write_buffer(w, data.as_deref());
                write_int(w, *version);
            }
            A::SetAcl { path, acl, version } => {
                write_string(w, path);
                encode_acls(w, acl);
                write_int(w, *version);
            }
            A::CheckVersion { path, version } => {
                write_string(w, path);
                write_int(w, *version);
            }
            A::Error { err } => write_int(w, *err),
            A::Multi(subs) => {
                write_int(w, subs.len() as i32);
                for s in subs {
                    write_int(w, s.op);
                    let mut body = BytesMut::new();
                    s.txn.encode(&mut body);
                    write_buffer(w, Some(&body));
                }
            }
        }
    }

    /// The record for `op`. `CloseSession` is decoded by the caller, which
    /// knows whether the record is present.
    fn decode(op: i32, r: &mut Reader, in_multi: bool) -> Result<ApacheTxn, ApacheError> {
        use ApacheTxn as A;
        // Refuse before recursing: nested multis would otherwise nest as
        // deep as the input allows.
        if in_multi && op == op::MULTI {
            return Err(ApacheError::UnsupportedTxnType(op));
        }
        let txn = match op {
            op::CREATE_SESSION => A::CreateSession { timeout: r.read_int()? },
            op::CREATE | op::CREATE2 => A::Create {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: Acl::decode_vec(r)?,
                ephemeral: r.read_bool()?,
                parent_cversion: r.read_int()?,
            },
            op::CREATE_CONTAINER => A::CreateContainer {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: Acl::decode_vec(r)?,
                parent_cversion: r.read_int()?,
            },
            op::CREATE_TTL => A::CreateTtl {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: Acl::decode_vec(r)?,
                parent_cversion: r.read_int()?,
                ttl: r.read_long()?,
            },
            op::DELETE | op::DELETE_CONTAINER => A::Delete { path: r.read_string()? },
            op::SET_DATA | op::RECONFIG => {
                A::SetData { path: r.read_string()?, data: r.read_buffer()?, version: r.read_int()? }
            }
            op::SET_ACL => A::SetAcl { path: r.read_string()?, acl: Acl::decode_vec(r)?, version: r.read_int()? },
            op::CHECK => A::CheckVersion { path: r.read_string()?, version: r.read_int()? },
            op::ERROR => A::Error { err: r.read_int()? },
            op::MULTI => {
                // Each entry is at least an int type and a buffer length.
                let subs = r.read_vec(8, |r| Ok((r.read_int()?, r.read_buffer()?)))?.unwrap_or_default();
                let mut out = Vec::with_capacity(subs.len());
                for (op, data) in subs {
                    let data = data.ok_or(ApacheError::Malformed("null data in a multi entry"))?;
                    let mut sr = Reader::new(&data);
                    let txn = ApacheTxn::decode(op, &mut sr, true)?;
                    if sr.remaining() != 0 {
                        return Err(ApacheError::Malformed("trailing bytes in a multi entry"));
                    }
                    out.push(SubTxn { op, txn });
                }
                A::Multi(out)
            }
            other => return Err(ApacheError::UnsupportedTxnType(other)),
        };
        if !op_fits(op, &txn, in_multi) {
            return Err(ApacheError::UnsupportedTxnType(op));
        }
        Ok(txn)
    }
}

fn create_fields(w: &mut BytesMut, path: &str, data: &Option<Vec<u8>>, acl: &[Acl]) {
    write_string(w, path);
    write_buffer(w, data.as_deref());
    encode_acls(w, acl);
}

const DIGEST_LEN: usize = 12;

impl TxnHeader {
    pub fn encode(&self, w: &mut BytesMut) {
        write_long(w, self.client_id);
        write_int(w, self.cxid);
        write_long(w, self.zxid);
        write_long(w, self.time);
        write_int(w, self.op);
    }

    pub fn decode(r: &mut Reader) -> Result<TxnHeader, ApacheError> {
        Ok(TxnHeader {
            client_id: r.read_long()?,
            cxid: r.read_int()?,
            zxid: r.read_long()?,
            time: r.read_long()?,
            op: r.read_int()?,
        })
    }
}

impl TxnRecord {
    /// The bytes Apache's `Util.marshallTxnEntry` produces: header, record,
    /// then the digest if any. Refuses an op that does not fit the record.
    pub fn encode(&self) -> Result<BytesMut, ApacheError> {
        check_ops(self.header.op, &self.txn, false)?;
        let mut w = BytesMut::with_capacity(128);
        self.header.encode(&mut w);
        self.txn.encode(&mut w);
        if let Some(d) = self.digest {
            d.encode(&mut w);
        }
        Ok(w)
    }

    /// Parse one entry as `SerializeUtils.deserializeTxn` does, with the
    /// digest optional. Bytes left over after a digest are an error.
    pub fn decode(buf: &[u8]) -> Result<TxnRecord, ApacheError> {
        let mut r = Reader::new(buf);
        let header = TxnHeader::decode(&mut r)?;
        let body = &buf[r.position()..];
        let (txn, used) = if header.op == op::CLOSE_SESSION {
            decode_close_session(body)
        } else {
            let mut br = Reader::new(body);
            let txn = ApacheTxn::decode(header.op, &mut br, false)?;
            (txn, br.position())
        };
        let digest = match body.len() - used {
            0 => None,
            DIGEST_LEN => {
                let mut dr = Reader::new(&body[used..]);
                Some(TxnDigest { version: dr.read_int()?, tree_digest: dr.read_long()? })
            }
            _ => return Err(ApacheError::Malformed("trailing bytes after txn")),
        };
        Ok(TxnRecord { header, txn, digest })
    }

    /// Our entry for this record. Apache's digest is dropped.
    pub fn to_entry(&self) -> Result<TxnEntry, ApacheError> {
        let h = &self.header;
        Ok(TxnEntry {
            zxid: h.zxid,
            time: h.time,
            session_id: h.client_id,
            cxid: h.cxid,
            txn: match &self.txn {
                ApacheTxn::SetData { data, .. } if h.op == op::RECONFIG => {
                    Txn::Reconfig { data: data.clone().unwrap_or_default() }
                }
                txn => to_txn(txn, h.client_id)?,
            },
        })
    }

    /// Apache's record for our entry, without a digest. A `CloseSession`
    /// without paths becomes `CloseSessionTxn` without a record, as
    /// before 3.6.
    pub fn from_entry(e: &TxnEntry) -> Result<TxnRecord, ApacheError> {
        let (op, txn) = from_txn(&e.txn, e.session_id, false)?;
        Ok(TxnRecord {
            header: TxnHeader { client_id: e.session_id, cxid: e.cxid, zxid: e.zxid, time: e.time, op },
            txn,
            digest: None,
        })
    }
}

fn check_ops(op: i32, txn: &ApacheTxn, in_multi: bool) -> Result<(), ApacheError> {
    if !op_fits(op, txn, in_multi) {
        return Err(ApacheError::Unmappable(format!("op {op} does not fit {txn:?}")));
    }
    if let ApacheTxn::Multi(subs) = txn {
        for s in subs {
            check_ops(s.op, &s.txn, true)?;
        }
    }
    Ok(())
}

/// A `CloseSessionTxn` is optional: try it, else read no record. Returns
/// the txn and the bytes it used.
fn decode_close_session(body: &[u8]) -> (ApacheTxn, usize) {
    let mut r = Reader::new(body);
    if let Ok(paths) = r.read_string_vec() {
        let left = r.remaining();
        if left == 0 || left == DIGEST_LEN {
            return (ApacheTxn::CloseSession { paths: Some(paths) }, r.position());
        }
    }
    (ApacheTxn::CloseSession { paths: None }, 0)
}

fn to_txn(txn: &ApacheTxn, client_id: i64) -> Result<Txn, ApacheError> {
    use ApacheTxn as A;
    Ok(match txn {
        A::CreateSession { timeout } => Txn::CreateSession { timeout: *timeout },
        A::CloseSession { paths } => Txn::CloseSession { paths: paths.clone() },
        A::Create { path, data, acl, ephemeral, parent_cversion } => Txn::Create {
            path: path.clone(),
            data: data.clone(),
            acl: acl.clone(),
            ephemeral_owner: if *ephemeral { client_id } else { 0 },
            parent_cversion: *parent_cversion,
        },
        A::CreateContainer { path, data, acl, parent_cversion } => Txn::Create {
            path: path.clone(),
            data: data.clone(),
            acl: acl.clone(),
            ephemeral_owner: ephemeral::CONTAINER,
            parent_cversion: *parent_cversion,
        },
        A::CreateTtl { path, data, acl, parent_cversion, ttl } => {
            // EphemeralType.TTL.toEphemeralOwner refuses these.
            if *ttl <= 0 || *ttl > ephemeral::MAX_TTL {
                return Err(ApacheError::Unmappable(format!("ttl {ttl} out of range")));
            }
            Txn::Create {
                path: path.clone(),
                data: data.clone(),
                acl: acl.clone(),
                ephemeral_owner: ephemeral::ttl_owner(*ttl),
                parent_cversion: *parent_cversion,
            }
        }
        A::Delete { path } => Txn::Delete { path: path.clone() },
        A::SetData { path, data, version } => {
            Txn::SetData { path: path.clone(), data: data.clone(), version: *version }
        }
        A::SetAcl { path, acl, version } => Txn::SetAcl { path: path.clone(), acl: acl.clone(), version: *version },
        A::CheckVersion { path, version } => Txn::Check { path: path.clone(), version: *version },
        A::Error { err } => Txn::Error(*err),
        A::Multi(subs) => Txn::Multi(subs.iter().map(|s| to_txn(&s.txn, client_id)).collect::<Result<_, _>>()?),
    })
}

fn from_txn(txn: &Txn, session_id: i64, in_multi: bool) -> Result<(i32, ApacheTxn), ApacheError> {
    use ApacheTxn as A;
    let refuse = |what: &str| Err(ApacheError::Unmappable(format!("{what} has no Apache form")));
    Ok(match txn {
        Txn::CreateSession { .. } | Txn::CloseSession { .. } | Txn::SetAcl { .. } | Txn::Multi(_) if in_multi => {
            return refuse("this txn inside a multi");
        }
        Txn::Check { .. } if !in_multi => return refuse("a check outside a multi"),
        Txn::CreateSession { timeout } => (op::CREATE_SESSION, A::CreateSession { timeout: *timeout }),
        Txn::CloseSession { paths } => (op::CLOSE_SESSION, A::CloseSession { paths: paths.clone() }),
        Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => {
            let (path, data, acl, parent_cversion) = (path.clone(), data.clone(), acl.clone(), *parent_cversion);
            match ephemeral::kind(*ephemeral_owner) {
                NodeKind::Persistent => (op::CREATE, A::Create { path, data, acl, ephemeral: false, parent_cversion }),
                NodeKind::Ephemeral(owner) if owner == session_id => {
                    (op::CREATE, A::Create { path, data, acl, ephemeral: true, parent_cversion })
                }
                NodeKind::Ephemeral(owner) => {
                    return Err(ApacheError::Unmappable(format!(
                        "ephemeral owner 0x{owner:x} is not the txn's session 0x{session_id:x}"
                    )))
                }
                NodeKind::Container => (op::CREATE_CONTAINER, A::CreateContainer { path, data, acl, parent_cversion }),
                NodeKind::Ttl(ttl) => (op::CREATE_TTL, A::CreateTtl { path, data, acl, parent_cversion, ttl }),
            }
        }
        Txn::Delete { path } => (op::DELETE, A::Delete { path: path.clone() }),
        Txn::SetData { path, data, version } => {
            (op::SET_DATA, A::SetData { path: path.clone(), data: data.clone(), version: *version })
        }
        Txn::SetAcl { path, acl, version } => {
            (op::SET_ACL, A::SetAcl { path: path.clone(), acl: acl.clone(), version: *version })
        }
        Txn::Check { path, version } => (op::CHECK, A::CheckVersion { path: path.clone(), version: *version }),
        Txn::Error(err) => (op::ERROR, A::Error { err: *err }),
        Txn::Reconfig { .. } if in_multi => return refuse("a reconfig inside a multi"),
        Txn::Reconfig { data } => (
            op::RECONFIG,
            A::SetData { path: crate::tree::CONFIG_PATH.to_string(), data: Some(data.clone()), version: -1 },
        ),
        Txn::Multi(txns) => {
            let mut subs = Vec::with_capacity(txns.len());
            for t in txns {
                let (op, txn) = from_txn(t, session_id, true)?;
                subs.push(SubTxn { op, txn });
            }
            (op::MULTI, A::Multi(subs))
        }
    })
}
