//! Records shared by requests, replies and the txn log.

use super::{write_bool, write_buffer, write_int, write_long, write_string, DecodeError, Encode, Reader};
use bytes::BytesMut;

/// An identity: `world:anyone`, `digest:user:hash`, `ip:10.0.0.1`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id { scheme: scheme.to_string(), id: id.to_string() }
    }
    pub fn decode(r: &mut Reader) -> Result<Id, DecodeError> {
        Ok(Id { scheme: r.read_string()?, id: r.read_string()? })
    }
}

impl Encode for Id {
    fn encode(&self, w: &mut BytesMut) {
        write_string(w, &self.scheme);
        write_string(w, &self.id);
    }
}

/// Permission bits.
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::ALL, id: Id::new("world", "anyone") }]
    }
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::READ, id: Id::new("world", "anyone") }]
    }
    pub fn decode(r: &mut Reader) -> Result<Acl, DecodeError> {
        Ok(Acl { perms: r.read_int()?, id: Id::decode(r)? })
    }
    pub fn decode_vec(r: &mut Reader) -> Result<Vec<Acl>, DecodeError> {
        Ok(r.read_vec(12, Acl::decode)?.unwrap_or_default())
    }
}

impl Encode for Acl {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.perms);
        self.id.encode(w);
    }
}

pub fn encode_acls(w: &mut BytesMut, acls: &[Acl]) {
    write_int(w, acls.len() as i32);
    for a in acls {
        a.encode(w);
    }
}

/// The client-visible Stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl Stat {
    pub fn decode(r: &mut Reader) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: r.read_long()?,
            mzxid: r.read_long()?,
            ctime: r.read_long()?,
            mtime: r.read_long()?,
            version: r.read_int()?,
            cversion: r.read_int()?,
            aversion: r.read_int()?,
            ephemeral_owner: r.read_long()?,
            data_length: r.read_int()?,
            num_children: r.read_int()?,
            pzxid: r.read_long()?,
        })
    }
}

impl Encode for Stat {
    fn encode(&self, w: &mut BytesMut) {
        write_long(w, self.czxid);
        write_long(w, self.mzxid);
        write_long(w, self.ctime);
        write_long(w, self.mtime);
        write_int(w, self.version);
        write_int(w, self.cversion);
        write_int(w, self.aversion);
        write_long(w, self.ephemeral_owner);
        write_int(w, self.data_length);
        write_int(w, self.num_children);
        write_long(w, self.pzxid);
    }
}

/// The first packet of a session. `read_only` is a trailing byte outside
/// the jute record that newer clients send; `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn decode(buf: &[u8]) -> Result<ConnectRequest, DecodeError> {
        let mut r = Reader::new(buf);
        let protocol_version = r.read_int()?;
        let last_zxid_seen = r.read_long()?;
        let timeout = r.read_int()?;
        let session_id = r.read_long()?;
        let passwd = r.read_buffer()?.unwrap_or_default();
        let read_only = if r.remaining() >= 1 { Some(r.read_bool()?) } else { None };
        Ok(ConnectRequest { protocol_version, last_zxid_seen, timeout, session_id, passwd, read_only })
    }
}

impl Encode for ConnectRequest {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.protocol_version);
        write_long(w, self.last_zxid_seen);
        write_int(w, self.timeout);
        write_long(w, self.session_id);
        write_buffer(w, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            write_bool(w, ro);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// Only written when the client sent its read-only byte.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// The reply to an unknown, expired or wrongly-authenticated session.
    pub fn expired(read_only: Option<bool>) -> ConnectResponse {
        ConnectResponse { protocol_version: 0, timeout: 0, session_id: 0, passwd: vec![0; 16], read_only }
    }
}

impl Encode for ConnectResponse {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.protocol_version);
        write_int(w, self.timeout);
        write_long(w, self.session_id);
        write_buffer(w, Some(&self.passwd));
        if let Some(ro) = self.read_only {
            write_bool(w, ro);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub opcode: i32,
}

impl RequestHeader {
    pub fn decode(r: &mut Reader) -> Result<RequestHeader, DecodeError> {
        Ok(RequestHeader { xid: r.read_int()?, opcode: r.read_int()? })
    }
}

impl Encode for RequestHeader {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.xid);
        write_int(w, self.opcode);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

impl ReplyHeader {
    pub fn decode(r: &mut Reader) -> Result<ReplyHeader, DecodeError> {
        Ok(ReplyHeader { xid: r.read_int()?, zxid: r.read_long()?, err: r.read_int()? })
    }
}

impl Encode for ReplyHeader {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.xid);
        write_long(w, self.zxid);
        write_int(w, self.err);
    }
}

/// A watch notification body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEvent {
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

impl WatcherEvent {
    pub fn decode(r: &mut Reader) -> Result<WatcherEvent, DecodeError> {
        Ok(WatcherEvent { event_type: r.read_int()?, state: r.read_int()?, path: r.read_string()? })
    }
}

impl Encode for WatcherEvent {
    fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.event_type);
        write_int(w, self.state);
        write_string(w, &self.path);
    }
}

/// Watch event types.
pub mod event_type {
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
}

/// Keeper states carried in notifications.
pub mod keeper_state {
    pub const SYNC_CONNECTED: i32 = 3;
}

/// Reserved xids.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}
