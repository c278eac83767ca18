//! Transactions: the deterministic inputs of the data tree. The prep step
//! turns a client request into a `Txn` against the current tree; the log
//! stores `TxnEntry`s; replaying them in zxid order rebuilds the same tree.
//! This is the unit the ensemble will replicate through openraft.

use crate::jute::records::{encode_acls, Acl};
use crate::jute::{write_buffer, write_int, write_long, write_string, DecodeError, Reader};
use bytes::BytesMut;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    CreateSession {
        timeout: i32,
    },
    /// Deletes every ephemeral of the entry's session.
    ///
    /// `paths`: the session's ephemerals when the leader closed it, as
    /// Apache 3.6+ logs them (`CloseSessionTxn`); `None` in older logs,
    /// and until `Core::commit_as` fills them in.
    CloseSession {
        paths: Option<Vec<String>>,
    },
    /// `ephemeral_owner` carries the session id for ephemerals and the
    /// container/TTL markers (see `tree::ephemeral`).
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral_owner: i64,
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    Multi(Vec<Txn>),
    /// A failed write: still ordered and logged, changes nothing.
    Error(i32),
    /// A new membership (`QuorumMaj.toString()` bytes, version = this
    /// txn's zxid): Apache logs it as a `SetDataTxn` of /zookeeper/config
    /// with version -1 under op code reconfig.
    Reconfig {
        data: Vec<u8>,
    },
}

/// One logged transaction with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub zxid: i64,
    /// Milliseconds since the epoch, chosen by the leader at prep time so
    /// that replay is deterministic.
    pub time: i64,
    pub session_id: i64,
    pub cxid: i32,
    pub txn: Txn,
}

const T_CREATE_SESSION: i32 = -10;
const T_CLOSE_SESSION: i32 = -11;
const T_CREATE: i32 = 1;
const T_DELETE: i32 = 2;
const T_SET_DATA: i32 = 5;
const T_SET_ACL: i32 = 7;
const T_CHECK: i32 = 13;
const T_MULTI: i32 = 14;
const T_ERROR: i32 = -1;
const T_RECONFIG: i32 = 16;

impl Txn {
    pub fn encode(&self, w: &mut BytesMut) {
        match self {
            Txn::CreateSession { timeout } => {
                write_int(w, T_CREATE_SESSION);
                write_int(w, *timeout);
            }
            Txn::CloseSession { .. } => write_int(w, T_CLOSE_SESSION),
            Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => {
                write_int(w, T_CREATE);
                write_string(w, path);
                write_buffer(w, data.as_deref());
                encode_acls(w, acl);
                write_long(w, *ephemeral_owner);
                write_int(w, *parent_cversion);
            }
            Txn::Delete { path } => {
                write_int(w, T_DELETE);
                write_string(w, path);
            }
            Txn::SetData { path, data, version } => {
                write_int(w, T_SET_DATA);
                write_string(w, path);
                write_buffer(w, data.as_deref());
                write_int(w, *version);
            }
            Txn::SetAcl { path, acl, version } => {
                write_int(w, T_SET_ACL);
                write_string(w, path);
                encode_acls(w, acl);
                write_int(w, *version);
            }
            Txn::Check { path, version } => {
                write_int(w, T_CHECK);
                write_string(w, path);
                write_int(w, *version);
            }
            Txn::Multi(txns) => {
                write_int(w, T_MULTI);
                write_int(w, txns.len() as i32);
                for t in txns {
                    t.encode(w);
                }
            }
            Txn::Error(code) => {
                write_int(w, T_ERROR);
                write_int(w, *code);
            }
            Txn::Reconfig { data } => {
                write_int(w, T_RECONFIG);
                write_buffer(w, Some(data));
            }
        }
    }

    pub fn decode(r: &mut Reader) -> Result<Txn, DecodeError> {
        Ok(match r.read_int()? {
            T_CREATE_SESSION => Txn::CreateSession { timeout: r.read_int()? },
            T_CLOSE_SESSION => Txn::CloseSession { paths: None },
            T_CREATE => Txn::Create {
                path: r.read_string()?,
                data: r.read_buffer()?,
                acl: Acl::decode_vec(r)?,
                ephemeral_owner: r.read_long()?,
                parent_cversion: r.read_int()?,
            },
            T_DELETE => Txn::Delete { path: r.read_string()? },
            T_SET_DATA => Txn::SetData { path: r.read_string()?, data: r.read_buffer()?, version: r.read_int()? },
            T_SET_ACL => Txn::SetAcl { path: r.read_string()?, acl: Acl::decode_vec(r)?, version: r.read_int()? },
            T_CHECK => Txn::Check { path: r.read_string()?, version: r.read_int()? },
            T_MULTI => {
                let txns = r.read_vec(4, Txn::decode)?.unwrap_or_default();
                if txns.iter().any(|t| matches!(t, Txn::Multi(_))) {
                    return Err(DecodeError::Malformed("nested multi txn"));
                }
                Txn::Multi(txns)
            }
            T_ERROR => Txn::Error(r.read_int()?),
            T_RECONFIG => Txn::Reconfig { data: r.read_buffer()?.unwrap_or_default() },
            other => return Err(DecodeError::UnknownOpcode(other)),
        })
    }
}

impl TxnEntry {
    pub fn encode(&self, w: &mut BytesMut) {
        write_long(w, self.zxid);
        write_long(w, self.time);
        write_long(w, self.session_id);
        write_int(w, self.cxid);
        self.txn.encode(w);
    }

    pub fn decode(buf: &[u8]) -> Result<TxnEntry, DecodeError> {
        let mut r = Reader::new(buf);
        let e = TxnEntry {
            zxid: r.read_long()?,
            time: r.read_long()?,
            session_id: r.read_long()?,
            cxid: r.read_int()?,
            txn: Txn::decode(&mut r)?,
        };
        if r.remaining() != 0 {
            return Err(DecodeError::Malformed("trailing bytes after txn"));
        }
        Ok(e)
    }
}
