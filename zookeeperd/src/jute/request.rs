//! Client request bodies, decoded by opcode.

use super::records::{Acl, RequestHeader};
use super::{DecodeError, Reader};

/// Opcodes as ZooKeeper numbers them.
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Only for createTTL.
    pub ttl: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetWatchesRequest {
    pub relative_zxid: i64,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

/// One operation inside multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create { opcode: i32, req: CreateRequest },
    Delete { path: String, version: i32 },
    SetData { path: String, data: Option<Vec<u8>>, version: i32 },
    Check { path: String, version: i32 },
    GetChildren { path: String, watch: bool },
    GetData { path: String, watch: bool },
}

/// A decoded request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create {
        opcode: i32,
        req: CreateRequest,
    },
    Delete {
        path: String,
        version: i32,
    },
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    GetAcl {
        path: String,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    GetChildren {
        path: String,
        watch: bool,
        with_stat: bool,
    },
    Sync {
        path: String,
    },
    Ping,
    Check {
        path: String,
        version: i32,
    },
    Multi {
        read_only: bool,
        ops: Vec<MultiOp>,
    },
    /// A body that could not be decoded (bad lengths, truncated, unknown or
    /// misplaced multi ops). The frame boundary is intact, so as ZooKeeper
    /// does, only this request fails: MarshallingError, connection kept;
    /// a write still takes a zxid.
    Malformed {
        opcode: i32,
    },
    /// `ReconfigRequest`: incremental (`joining`/`leaving`, comma-separated)
    /// or a whole `new_members` list; `cur_config_id` -1 for any version.
    Reconfig {
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        cur_config_id: i64,
    },
    CheckWatches {
        path: String,
        watch_type: i32,
        remove: bool,
    },
    DeleteContainer {
        path: String,
    },
    Auth {
        auth_type: i32,
        scheme: String,
        auth: Vec<u8>,
    },
    SetWatches(SetWatchesRequest),
    Sasl,
    GetEphemerals {
        prefix: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    AddWatch {
        path: String,
        mode: i32,
    },
    WhoAmI,
    CloseSession,
}

impl Request {
    /// Whether this request changes the data tree (and so needs a zxid).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Multi { read_only: false, .. }
                | Request::Malformed {
                    opcode: op::CREATE
                        | op::CREATE2
                        | op::CREATE_CONTAINER
                        | op::CREATE_TTL
                        | op::DELETE
                        | op::SET_DATA
                        | op::SET_ACL
                        | op::MULTI
                        | op::CHECK
                        | op::DELETE_CONTAINER
                        | op::RECONFIG
                }
                | Request::DeleteContainer { .. }
                | Request::CloseSession
                | Request::Reconfig { .. }
        )
    }
}

fn decode_create(r: &mut Reader, ttl: bool) -> Result<CreateRequest, DecodeError> {
    let path = r.read_string()?;
    let data = r.read_buffer()?;
    let acl = Acl::decode_vec(r)?;
    let flags = r.read_int()?;
    let ttl = if ttl { Some(r.read_long()?) } else { None };
    Ok(CreateRequest { path, data, acl, flags, ttl })
}

/// `Ok(None)` when an op type is unknown or not allowed in this kind of
/// multi; the frame boundary is known, so only this request fails.
fn decode_multi(r: &mut Reader, read_only: bool) -> Result<Option<Vec<MultiOp>>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let opcode = r.read_int()?;
        let done = r.read_bool()?;
        let _err = r.read_int()?;
        if done {
            break;
        }
        let op = match opcode {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                MultiOp::Create { opcode, req: decode_create(r, false)? }
            }
            op::CREATE_TTL => MultiOp::Create { opcode, req: decode_create(r, true)? },
            op::DELETE => MultiOp::Delete { path: r.read_string()?, version: r.read_int()? },
            op::SET_DATA => MultiOp::SetData { path: r.read_string()?, data: r.read_buffer()?, version: r.read_int()? },
            op::CHECK => MultiOp::Check { path: r.read_string()?, version: r.read_int()? },
            op::GET_CHILDREN => MultiOp::GetChildren { path: r.read_string()?, watch: r.read_bool()? },
            op::GET_DATA => MultiOp::GetData { path: r.read_string()?, watch: r.read_bool()? },
            _ => return Ok(None),
        };
        // multi takes writes and check, multiRead takes reads only.
        let is_read = matches!(op, MultiOp::GetChildren { .. } | MultiOp::GetData { .. });
        if is_read != read_only {
            return Ok(None);
        }
        ops.push(op);
    }
    Ok(Some(ops))
}

fn decode_set_watches(r: &mut Reader, v2: bool) -> Result<SetWatchesRequest, DecodeError> {
    let relative_zxid = r.read_long()?;
    let data = r.read_string_vec()?;
    let exist = r.read_string_vec()?;
    let child = r.read_string_vec()?;
    let (persistent, persistent_recursive) =
        if v2 { (r.read_string_vec()?, r.read_string_vec()?) } else { (Vec::new(), Vec::new()) };
    Ok(SetWatchesRequest { relative_zxid, data, exist, child, persistent, persistent_recursive })
}

/// Decode one post-connect frame: header then body. The header is returned
/// on its own so that an unknown opcode can still be answered by xid; a
/// body that does not decode becomes `Request::Malformed`.
pub fn decode_request(buf: &[u8]) -> Result<(RequestHeader, Result<Request, DecodeError>), DecodeError> {
    let mut r = Reader::new(buf);
    let header = RequestHeader::decode(&mut r)?;
    let body = match decode_body(header.opcode, &mut r) {
        Err(DecodeError::UnknownOpcode(o)) => Err(DecodeError::UnknownOpcode(o)),
        Err(_) => Ok(Request::Malformed { opcode: header.opcode }),
        ok => ok,
    };
    Ok((header, body))
}

/// Decode a request body for `opcode`.
pub fn decode_body(opcode: i32, r: &mut Reader) -> Result<Request, DecodeError> {
    let header = RequestHeader { xid: 0, opcode };
    let req = match header.opcode {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
            Request::Create { opcode: header.opcode, req: decode_create(r, false)? }
        }
        op::CREATE_TTL => Request::Create { opcode: header.opcode, req: decode_create(r, true)? },
        op::DELETE => Request::Delete { path: r.read_string()?, version: r.read_int()? },
        op::EXISTS => Request::Exists { path: r.read_string()?, watch: r.read_bool()? },
        op::GET_DATA => Request::GetData { path: r.read_string()?, watch: r.read_bool()? },
        op::SET_DATA => Request::SetData { path: r.read_string()?, data: r.read_buffer()?, version: r.read_int()? },
        op::GET_ACL => Request::GetAcl { path: r.read_string()? },
        op::SET_ACL => Request::SetAcl { path: r.read_string()?, acl: Acl::decode_vec(r)?, version: r.read_int()? },
        op::GET_CHILDREN => Request::GetChildren { path: r.read_string()?, watch: r.read_bool()?, with_stat: false },
        op::GET_CHILDREN2 => Request::GetChildren { path: r.read_string()?, watch: r.read_bool()?, with_stat: true },
        op::SYNC => Request::Sync { path: r.read_string()? },
        op::PING => Request::Ping,
        op::CHECK => Request::Check { path: r.read_string()?, version: r.read_int()? },
        op::MULTI | op::MULTI_READ => {
            let read_only = header.opcode == op::MULTI_READ;
            match decode_multi(r, read_only)? {
                Some(ops) => Request::Multi { read_only, ops },
                None => Request::Malformed { opcode: header.opcode },
            }
        }
        op::RECONFIG => Request::Reconfig {
            joining: r.read_opt_string()?,
            leaving: r.read_opt_string()?,
            new_members: r.read_opt_string()?,
            cur_config_id: r.read_long()?,
        },
        op::CHECK_WATCHES | op::REMOVE_WATCHES => Request::CheckWatches {
            path: r.read_string()?,
            watch_type: r.read_int()?,
            remove: header.opcode == op::REMOVE_WATCHES,
        },
        op::DELETE_CONTAINER => Request::DeleteContainer { path: r.read_string()? },
        op::AUTH => Request::Auth {
            auth_type: r.read_int()?,
            scheme: r.read_string()?,
            auth: r.read_buffer()?.unwrap_or_default(),
        },
        op::SET_WATCHES => Request::SetWatches(decode_set_watches(r, false)?),
        op::SET_WATCHES2 => Request::SetWatches(decode_set_watches(r, true)?),
        op::SASL => Request::Sasl,
        op::GET_EPHEMERALS => Request::GetEphemerals { prefix: r.read_string()? },
        op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber { path: r.read_string()? },
        op::ADD_WATCH => Request::AddWatch { path: r.read_string()?, mode: r.read_int()? },
        op::WHO_AM_I => Request::WhoAmI,
        op::CLOSE_SESSION => Request::CloseSession,
        other => return Err(DecodeError::UnknownOpcode(other)),
    };
    Ok(req)
}

// Encoding requests: the server only decodes them, but clients (the
// benchmark load generator, the raw test client) and the round-trip
// property tests need the other direction.
mod encode {
    use super::*;
    use crate::jute::records::encode_acls;
    use crate::jute::{write_bool, write_buffer, write_int, write_long, write_string, write_string_vec, Encode};
    use bytes::BytesMut;

    fn create(w: &mut BytesMut, c: &CreateRequest) {
        write_string(w, &c.path);
        write_buffer(w, c.data.as_deref());
        encode_acls(w, &c.acl);
        write_int(w, c.flags);
        if let Some(ttl) = c.ttl {
            write_long(w, ttl);
        }
    }

    type BodyWriter<'a> = Box<dyn Fn(&mut BytesMut) + 'a>;

    fn multi_op(w: &mut BytesMut, o: &MultiOp) {
        let (opcode, f): (i32, BodyWriter) = match o {
            MultiOp::Create { opcode, req } => (*opcode, Box::new(move |w| create(w, req))),
            MultiOp::Delete { path, version } => (
                op::DELETE,
                Box::new(move |w| {
                    write_string(w, path);
                    write_int(w, *version);
                }),
            ),
            MultiOp::SetData { path, data, version } => (
                op::SET_DATA,
                Box::new(move |w| {
                    write_string(w, path);
                    write_buffer(w, data.as_deref());
                    write_int(w, *version);
                }),
            ),
            MultiOp::Check { path, version } => (
                op::CHECK,
                Box::new(move |w| {
                    write_string(w, path);
                    write_int(w, *version);
                }),
            ),
            MultiOp::GetChildren { path, watch } => (
                op::GET_CHILDREN,
                Box::new(move |w| {
                    write_string(w, path);
                    write_bool(w, *watch);
                }),
            ),
            MultiOp::GetData { path, watch } => (
                op::GET_DATA,
                Box::new(move |w| {
                    write_string(w, path);
                    write_bool(w, *watch);
                }),
            ),
        };
        write_int(w, opcode);
        write_bool(w, false);
        write_int(w, -1);
        f(w);
    }

    impl Request {
        /// The znode path a single-path request is about.
        pub fn path(&self) -> Option<&str> {
            match self {
                Request::Create { req, .. } => Some(&req.path),
                Request::Delete { path, .. }
                | Request::Exists { path, .. }
                | Request::GetData { path, .. }
                | Request::SetData { path, .. }
                | Request::GetAcl { path }
                | Request::SetAcl { path, .. }
                | Request::GetChildren { path, .. }
                | Request::GetAllChildrenNumber { path } => Some(path),
                _ => None,
            }
        }

        /// The opcode this request is sent with.
        pub fn opcode(&self) -> i32 {
            match self {
                Request::Create { opcode, .. } => *opcode,
                Request::Delete { .. } => op::DELETE,
                Request::Exists { .. } => op::EXISTS,
                Request::GetData { .. } => op::GET_DATA,
                Request::SetData { .. } => op::SET_DATA,
                Request::GetAcl { .. } => op::GET_ACL,
                Request::SetAcl { .. } => op::SET_ACL,
                Request::GetChildren { with_stat: false, .. } => op::GET_CHILDREN,
                Request::GetChildren { with_stat: true, .. } => op::GET_CHILDREN2,
                Request::Sync { .. } => op::SYNC,
                Request::Ping => op::PING,
                Request::Check { .. } => op::CHECK,
                Request::Multi { read_only: false, .. } => op::MULTI,
                Request::Multi { read_only: true, .. } => op::MULTI_READ,
                Request::Malformed { opcode } => *opcode,
                Request::Reconfig { .. } => op::RECONFIG,
                Request::CheckWatches { remove: false, .. } => op::CHECK_WATCHES,
                Request::CheckWatches { remove: true, .. } => op::REMOVE_WATCHES,
                Request::DeleteContainer { .. } => op::DELETE_CONTAINER,
                Request::Auth { .. } => op::AUTH,
                Request::SetWatches(sw) if sw.persistent.is_empty() && sw.persistent_recursive.is_empty() => {
                    op::SET_WATCHES
                }
                Request::SetWatches(_) => op::SET_WATCHES2,
                Request::Sasl => op::SASL,
                Request::GetEphemerals { .. } => op::GET_EPHEMERALS,
                Request::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
                Request::AddWatch { .. } => op::ADD_WATCH,
                Request::WhoAmI => op::WHO_AM_I,
                Request::CloseSession => op::CLOSE_SESSION,
            }
        }
    }

    impl Encode for Request {
        fn encode(&self, w: &mut BytesMut) {
            match self {
                Request::Create { req, .. } => create(w, req),
                Request::Delete { path, version } | Request::Check { path, version } => {
                    write_string(w, path);
                    write_int(w, *version);
                }
                Request::Exists { path, watch }
                | Request::GetData { path, watch }
                | Request::GetChildren { path, watch, .. } => {
                    write_string(w, path);
                    write_bool(w, *watch);
                }
                Request::SetData { path, data, version } => {
                    write_string(w, path);
                    write_buffer(w, data.as_deref());
                    write_int(w, *version);
                }
                Request::GetAcl { path }
                | Request::Sync { path }
                | Request::DeleteContainer { path }
                | Request::GetAllChildrenNumber { path } => write_string(w, path),
                Request::GetEphemerals { prefix } => write_string(w, prefix),
                Request::SetAcl { path, acl, version } => {
                    write_string(w, path);
                    encode_acls(w, acl);
                    write_int(w, *version);
                }
                Request::Multi { ops, .. } => {
                    for o in ops {
                        multi_op(w, o);
                    }
                    write_int(w, -1);
                    write_bool(w, true);
                    write_int(w, -1);
                }
                Request::CheckWatches { path, watch_type, .. } => {
                    write_string(w, path);
                    write_int(w, *watch_type);
                }
                Request::Auth { auth_type, scheme, auth } => {
                    write_int(w, *auth_type);
                    write_string(w, scheme);
                    write_buffer(w, Some(auth));
                }
                Request::SetWatches(sw) => {
                    write_long(w, sw.relative_zxid);
                    write_string_vec(w, &sw.data);
                    write_string_vec(w, &sw.exist);
                    write_string_vec(w, &sw.child);
                    if !(sw.persistent.is_empty() && sw.persistent_recursive.is_empty()) {
                        write_string_vec(w, &sw.persistent);
                        write_string_vec(w, &sw.persistent_recursive);
                    }
                }
                Request::AddWatch { path, mode } => {
                    write_string(w, path);
                    write_int(w, *mode);
                }
                Request::Reconfig { joining, leaving, new_members, cur_config_id } => {
                    for s in [joining, leaving, new_members] {
                        write_buffer(w, s.as_deref().map(str::as_bytes));
                    }
                    write_long(w, *cur_config_id);
                }
                Request::Ping | Request::Sasl | Request::WhoAmI | Request::CloseSession | Request::Malformed { .. } => {
                }
            }
        }
    }
}
