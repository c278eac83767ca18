//! Wire codec for the quorum port (2888): the packets of ZAB's discovery,
//! synchronization and broadcast phases between a leader and its learners,
//! as Apache ZooKeeper 3.8 writes them (`QuorumPacket` in zookeeper.jute,
//! the payloads built in Learner, LearnerHandler and Leader). No I/O.
//!
//! The stream carries jute records back to back with no outer length, so
//! `packet_len` scans a buffer to tell whether one whole packet is there
//! before `QuorumPacket::decode` reads it.

use bytes::BytesMut;

use crate::jute::records::Id;
use crate::jute::{write_buffer, write_int, write_long, DecodeError, Encode, Reader};

/// `Leader.java`'s packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Request,
    Proposal,
    Ack,
    Commit,
    Ping,
    Revalidate,
    Sync,
    Inform,
    CommitAndActivate,
    NewLeader,
    FollowerInfo,
    UpToDate,
    Diff,
    Trunc,
    Snap,
    ObserverInfo,
    LeaderInfo,
    AckEpoch,
    InformAndActivate,
    /// Apache logs and skips a type it does not know; so can the caller.
    Other(i32),
}

const TYPES: [(PacketType, i32); 19] = [
    (PacketType::Request, 1),
    (PacketType::Proposal, 2),
    (PacketType::Ack, 3),
    (PacketType::Commit, 4),
    (PacketType::Ping, 5),
    (PacketType::Revalidate, 6),
    (PacketType::Sync, 7),
    (PacketType::Inform, 8),
    (PacketType::CommitAndActivate, 9),
    (PacketType::NewLeader, 10),
    (PacketType::FollowerInfo, 11),
    (PacketType::UpToDate, 12),
    (PacketType::Diff, 13),
    (PacketType::Trunc, 14),
    (PacketType::Snap, 15),
    (PacketType::ObserverInfo, 16),
    (PacketType::LeaderInfo, 17),
    (PacketType::AckEpoch, 18),
    (PacketType::InformAndActivate, 19),
];

impl PacketType {
    pub fn code(self) -> i32 {
        match self {
            PacketType::Other(c) => c,
            t => TYPES.iter().find(|(k, _)| *k == t).map(|(_, c)| *c).unwrap_or(-1),
        }
    }

    pub fn from_code(code: i32) -> PacketType {
        TYPES.iter().find(|(_, c)| *c == code).map(|(k, _)| *k).unwrap_or(PacketType::Other(code))
    }
}

/// The protocol version leaders and learners announce (`0x10000`, ZAB 1.0).
pub const PROTOCOL_VERSION: i32 = 0x10000;

/// After a SNAP packet the leader streams its database (sessions, then
/// the tree, in the snapshot's serialization) and then this jute string;
/// the learner refuses the sync without it.
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// `ZxidUtils`: the high 32 bits are the epoch, the low 32 the counter.
pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}

pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

pub fn counter_of(zxid: i64) -> i64 {
    zxid & 0xffff_ffff
}

/// `QuorumPacket`: type, zxid, data (null or bytes), authinfo (null or ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPacket {
    pub kind: PacketType,
    pub zxid: i64,
    pub data: Option<Vec<u8>>,
    pub authinfo: Option<Vec<Id>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Apache's BinaryInputArchive "Unreasonable length": the peer is
    /// dropped.
    #[error("unreasonable length {len} (limit {max})")]
    BadLength { len: i64, max: usize },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl QuorumPacket {
    pub fn new(kind: PacketType, zxid: i64, data: Option<Vec<u8>>) -> QuorumPacket {
        QuorumPacket { kind, zxid, data, authinfo: None }
    }

    pub fn encode(&self, w: &mut BytesMut) {
        write_int(w, self.kind.code());
        write_long(w, self.zxid);
        write_buffer(w, self.data.as_deref());
        match &self.authinfo {
            None => write_int(w, -1),
            Some(ids) => {
                write_int(w, ids.len() as i32);
                for id in ids {
                    id.encode(w);
                }
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BytesMut::new();
        self.encode(&mut w);
        w.to_vec()
    }

    /// Decode exactly one packet; `buf` must hold it whole (see
    /// [`packet_len`]). Bytes after it are the caller's.
    pub fn decode(buf: &[u8]) -> Result<(QuorumPacket, usize), PacketError> {
        let mut r = Reader::new(buf);
        let kind = PacketType::from_code(r.read_int()?);
        let zxid = r.read_long()?;
        let data = r.read_buffer()?;
        // An Id is two strings: at least 8 bytes.
        let authinfo = r.read_vec(8, Id::decode)?;
        Ok((QuorumPacket { kind, zxid, data, authinfo }, r.position()))
    }
}

/// How long the packet at the start of `buf` is: `Ok(None)` while it is
/// not all there yet. A length past `max` (jute.maxbuffer plus Apache's
/// extra allowance) or below -1 is an error, so a peer cannot make us
/// wait for, or reserve, an absurd amount.
pub fn packet_len(buf: &[u8], max: usize) -> Result<Option<usize>, PacketError> {
    let mut at = 12; // type + zxid
    let Some(data) = length_at(buf, at, max)? else { return Ok(None) };
    at += 4 + data;
    let Some(count) = count_at(buf, at, max)? else { return Ok(None) };
    at += 4;
    for _ in 0..count * 2 {
        let Some(s) = length_at(buf, at, max)? else { return Ok(None) };
        at += 4 + s;
    }
    Ok((buf.len() >= at).then_some(at))
}

/// A jute length at `at` (-1, null, counts as 0 bytes that follow).
fn length_at(buf: &[u8], at: usize, max: usize) -> Result<Option<usize>, PacketError> {
    let Some(b) = buf.get(at..at + 4) else { return Ok(None) };
    let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if len == -1 {
        return Ok(Some(0));
    }
    if len < 0 || len as usize > max {
        return Err(PacketError::BadLength { len: len as i64, max });
    }
    Ok(Some(len as usize))
}

/// A vector count at `at`; each element needs at least 8 bytes, so the
/// count is bounded by `max` the same way.
fn count_at(buf: &[u8], at: usize, max: usize) -> Result<Option<usize>, PacketError> {
    let Some(n) = length_at(buf, at, max)? else { return Ok(None) };
    if n.saturating_mul(8) > max {
        return Err(PacketError::BadLength { len: n as i64, max });
    }
    Ok(Some(n))
}

/// FOLLOWERINFO / OBSERVERINFO data (`LearnerInfo`). Apache's leader reads
/// only as much as is there: a bare sid (8 bytes) from old learners, then
/// the protocol version, then the config version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    pub sid: i64,
    pub protocol_version: Option<i32>,
    pub config_version: Option<i64>,
}

impl LearnerInfo {
    pub fn new(sid: i64, config_version: i64) -> LearnerInfo {
        LearnerInfo { sid, protocol_version: Some(PROTOCOL_VERSION), config_version: Some(config_version) }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BytesMut::new();
        write_long(&mut w, self.sid);
        if let Some(v) = self.protocol_version {
            write_int(&mut w, v);
            if let Some(c) = self.config_version {
                write_long(&mut w, c);
            }
        }
        w.to_vec()
    }

    /// `None` when there are fewer than 8 bytes: Apache then gives the
    /// learner a made-up negative sid, which we do not.
    pub fn decode(data: &[u8]) -> Option<LearnerInfo> {
        let mut r = Reader::new(data);
        let sid = r.read_long().ok()?;
        let protocol_version = r.read_int().ok();
        let config_version = protocol_version.and_then(|_| r.read_long().ok());
        Some(LearnerInfo { sid, protocol_version, config_version })
    }
}

/// A four-byte big-endian int payload (LEADERINFO's protocol version,
/// ACKEPOCH's current epoch, -1 meaning "already acked this epoch").
pub fn int_payload(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

pub fn read_int_payload(data: Option<&[u8]>) -> Option<i32> {
    let b = data?.get(..4)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// REQUEST data: a client request forwarded by a learner to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    pub opcode: i32,
    /// The request record as the client sent it (after its header).
    pub body: Vec<u8>,
}

impl ForwardedRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = BytesMut::with_capacity(16 + self.body.len());
        write_long(&mut w, self.session_id);
        write_int(&mut w, self.cxid);
        write_int(&mut w, self.opcode);
        w.extend_from_slice(&self.body);
        w.to_vec()
    }

    pub fn decode(data: &[u8]) -> Result<ForwardedRequest, DecodeError> {
        let mut r = Reader::new(data);
        let session_id = r.read_long()?;
        let cxid = r.read_int()?;
        let opcode = r.read_int()?;
        Ok(ForwardedRequest { session_id, cxid, opcode, body: data[r.position()..].to_vec() })
    }
}

/// A learner's PING answer: the sessions its clients touched since the
/// last one, each with its timeout (the leader keeps them alive).
pub fn touches_to_bytes(touches: &[(i64, i32)]) -> Vec<u8> {
    let mut w = BytesMut::with_capacity(touches.len() * 12);
    for (session, timeout) in touches {
        write_long(&mut w, *session);
        write_int(&mut w, *timeout);
    }
    w.to_vec()
}

/// Apache reads (long, int) pairs while bytes remain and fails on a torn
/// pair; so do we.
pub fn decode_touches(data: &[u8]) -> Result<Vec<(i64, i32)>, DecodeError> {
    let mut r = Reader::new(data);
    let mut out = Vec::with_capacity(data.len() / 12);
    while r.remaining() > 0 {
        out.push((r.read_long()?, r.read_int()?));
    }
    Ok(out)
}

/// REVALIDATE from a learner: a client reconnected to it with this session.
pub fn revalidate_request(session_id: i64, timeout: i32) -> Vec<u8> {
    let mut w = BytesMut::with_capacity(12);
    write_long(&mut w, session_id);
    write_int(&mut w, timeout);
    w.to_vec()
}

pub fn decode_revalidate_request(data: &[u8]) -> Result<(i64, i32), DecodeError> {
    let mut r = Reader::new(data);
    Ok((r.read_long()?, r.read_int()?))
}

/// The leader's REVALIDATE answer: the session, and whether it is valid.
pub fn revalidate_answer(session_id: i64, valid: bool) -> Vec<u8> {
    let mut w = BytesMut::with_capacity(9);
    write_long(&mut w, session_id);
    crate::jute::write_bool(&mut w, valid);
    w.to_vec()
}

pub fn decode_revalidate_answer(data: &[u8]) -> Result<(i64, bool), DecodeError> {
    let mut r = Reader::new(data);
    Ok((r.read_long()?, r.read_bool()?))
}
