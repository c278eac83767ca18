//! Wire codec for the leader-election channel (Apache ZooKeeper 3.8's
//! `QuorumCnxManager` + `FastLeaderElection`). No I/O: every function takes or
//! returns bytes.
//!
//! On the election port each connection starts with an *initial message*
//! (protocol version, sid, election address string); after that both sides
//! exchange frames of `i32 length` + payload, each payload one FLE
//! notification. All integers are big-endian (Java `DataOutputStream` /
//! `ByteBuffer` defaults).

use super::{ServerState, Sid};

/// Notification format version Apache 3.8 sends (`Notification.CURRENTVERSION`).
pub const CURRENT_VERSION: i32 = 0x2;
/// Pre-ZOOKEEPER-107 notifications: state, leader, zxid, election epoch.
pub const LEGACY_LEN_28: usize = 28;
/// Notifications with peer epoch but without the version field.
pub const LEGACY_LEN_40: usize = 40;
/// Fixed part of a version-2 notification, before the config bytes.
pub const HEADER_LEN: usize = 44;
/// `QuorumCnxManager.PACKETMAXSIZE`: largest frame a receiver accepts.
pub const PACKET_MAX_SIZE: usize = 512 * 1024;
/// `QuorumCnxManager.PROTOCOL_VERSION_V1` (single election address, 3.5+).
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// `QuorumCnxManager.PROTOCOL_VERSION_V2` (multiple addresses, 3.6+).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// `QuorumCnxManager.maxBuffer`: largest address string in an initial message.
pub const MAX_ADDRESS_BYTES: usize = 2048;
/// `QuorumPeer.OBSERVER_ID`: the sid an observer without an id announces.
pub const OBSERVER_ID: Sid = i64::MAX;

/// Why a notification payload was rejected. Apache drops such a message
/// (logging it) and keeps the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("notification too short: {len} bytes (at least 28 needed)")]
    TooShort { len: usize },
    #[error("notification truncated: {len} bytes, {needed} needed")]
    Truncated { len: usize, needed: usize },
    #[error("invalid config length {config_len} in a {len}-byte notification")]
    InvalidConfigLength { config_len: i32, len: usize },
    #[error("unknown server state {0}")]
    UnknownState(i32),
}

/// One FLE notification as carried on the wire (the sender's sid is not in
/// the payload: it is the sid of the connection it arrived on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// State of the sender.
    pub state: ServerState,
    /// Proposed leader's sid.
    pub leader: Sid,
    /// Proposed leader's last zxid.
    pub zxid: i64,
    /// Election epoch (the sender's logical clock, "round").
    pub election_epoch: i64,
    /// Proposed leader's peer epoch. For 28-byte messages this is derived
    /// from the zxid (`zxid >> 32`), as Apache does.
    pub peer_epoch: i64,
    /// Format version: 0 for the 28/40-byte formats, otherwise as sent.
    pub version: i32,
    /// The sender's `QuorumVerifier` in its string form (only for
    /// version > 1; empty otherwise). Opaque here.
    pub config: Vec<u8>,
}

impl Notification {
    /// Encode as Apache 3.8's `buildMsg(..., configData)`: the 44-byte header
    /// with `CURRENT_VERSION`, then the config length and bytes. The
    /// `version` field is ignored (we always speak the current format).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.config.len());
        out.extend_from_slice(&(self.state as i32).to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.election_epoch.to_be_bytes());
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
        // Configs beyond i32::MAX cannot be framed anyway; the frame limit
        // (PACKET_MAX_SIZE) is far smaller.
        out.extend_from_slice(&(self.config.len() as i32).to_be_bytes());
        out.extend_from_slice(&self.config);
        out
    }

    /// Decode one notification payload the way Apache 3.8's
    /// `WorkerReceiver` reads it: exactly 28 bytes is the oldest format, exactly
    /// 40 bytes adds the peer epoch, anything else must carry a version and,
    /// when the version is above 1, a length-prefixed config. Trailing bytes
    /// are ignored, as Apache ignores them.
    pub fn decode(buf: &[u8]) -> Result<Notification, NotificationError> {
        let len = buf.len();
        if len < LEGACY_LEN_28 {
            return Err(NotificationError::TooShort { len });
        }
        let mut r = Reader { buf, pos: 0 };
        let raw_state = r.i32()?;
        let leader = r.i64()?;
        let zxid = r.i64()?;
        let election_epoch = r.i64()?;
        let (peer_epoch, version) = match len {
            LEGACY_LEN_28 => (zxid >> 32, 0),
            LEGACY_LEN_40 => (r.i64()?, 0),
            _ => (r.i64()?, r.i32()?),
        };
        let mut config = Vec::new();
        if version > 0x1 {
            let config_len = r.i32()?;
            // Apache: `configLength < 0 || configLength > capacity` is
            // malformed; a length past the end underflows. Both drop it.
            let n = usize::try_from(config_len)
                .ok()
                .filter(|n| *n <= len)
                .ok_or(NotificationError::InvalidConfigLength { config_len, len })?;
            config = r.bytes(n)?.to_vec();
        }
        let state = ServerState::from_i32(raw_state).ok_or(NotificationError::UnknownState(raw_state))?;
        Ok(Notification { state, leader, zxid, election_epoch, peer_epoch, version, config })
    }
}

/// Wrap a payload in the election channel's frame: `i32` length + bytes.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Frame-level errors. Apache's `RecvWorker` closes the connection on these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("invalid election packet length {0}")]
    InvalidLength(i32),
}

/// Split one frame off the front of `buf`. `Ok(None)` means more bytes are
/// needed; `Ok(Some((payload, consumed)))` yields a payload of 1..=512 KiB.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(head) = buf.get(..4) else { return Ok(None) };
    let raw = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let n = match usize::try_from(raw) {
        Ok(n) if n > 0 && n <= PACKET_MAX_SIZE => n,
        _ => return Err(FrameError::InvalidLength(raw)),
    };
    Ok(buf.get(4..4 + n).map(|p| (p, 4 + n)))
}

/// An election address announced in an initial message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionAddr {
    /// Host name or literal IP (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

/// The first bytes a connecting peer sends on the election port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMessage {
    /// `PROTOCOL_VERSION_V1`, `PROTOCOL_VERSION_V2`, or `None` for the
    /// pre-3.5 form that is just a non-negative sid.
    pub protocol_version: Option<i64>,
    pub sid: Sid,
    /// Announced addresses; wildcard literals (0.0.0.0, ::) are dropped on
    /// decode, as Apache drops them.
    pub addresses: Vec<ElectionAddr>,
}

/// Why an initial message was rejected; Apache closes the socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitialMessageError {
    #[error("need {needed} bytes, have {have}")]
    Incomplete { needed: usize, have: usize },
    #[error("unrecognized protocol version {0}")]
    UnknownProtocolVersion(i64),
    #[error("unreasonable address length {0}")]
    BadLength(i32),
    #[error("badly formed address {0:?}")]
    BadAddress(String),
    #[error("bad port number {0:?}")]
    BadPort(String),
    #[error("address string of {0} bytes exceeds the 2048-byte limit or is empty")]
    EncodeTooLong(usize),
}

impl InitialMessage {
    /// Encode as `QuorumCnxManager.startConnection` writes it: protocol
    /// version, sid, then the `|`-joined `host:port` list with its length.
    /// With `protocol_version == None` only the sid is written (pre-3.5).
    pub fn encode(&self) -> Result<Vec<u8>, InitialMessageError> {
        let Some(version) = self.protocol_version else {
            return Ok(self.sid.to_be_bytes().to_vec());
        };
        let joined = self.addresses.iter().map(format_addr).collect::<Vec<_>>().join("|");
        if joined.is_empty() || joined.len() > MAX_ADDRESS_BYTES {
            return Err(InitialMessageError::EncodeTooLong(joined.len()));
        }
        let mut out = Vec::with_capacity(20 + joined.len());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&self.sid.to_be_bytes());
        out.extend_from_slice(&(joined.len() as i32).to_be_bytes());
        out.extend_from_slice(joined.as_bytes());
        Ok(out)
    }

    /// Decode from the start of a connection's byte stream (as
    /// `handleConnection` + `InitialMessage.parse`). Returns the message and
    /// the number of bytes it took; `Incomplete` means read more and retry.
    pub fn decode(buf: &[u8]) -> Result<(InitialMessage, usize), InitialMessageError> {
        let mut r = Reader { buf, pos: 0 };
        let first = r.i64().map_err(|_| incomplete(8, buf.len()))?;
        if first >= 0 {
            return Ok((InitialMessage { protocol_version: None, sid: first, addresses: Vec::new() }, 8));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(InitialMessageError::UnknownProtocolVersion(first));
        }
        let sid = r.i64().map_err(|_| incomplete(16, buf.len()))?;
        let remaining = r.i32().map_err(|_| incomplete(20, buf.len()))?;
        let n = match usize::try_from(remaining) {
            Ok(n) if n > 0 && n <= MAX_ADDRESS_BYTES => n,
            _ => return Err(InitialMessageError::BadLength(remaining)),
        };
        let raw = r.bytes(n).map_err(|_| incomplete(20 + n, buf.len()))?;
        let text = String::from_utf8_lossy(raw);
        let mut addresses = Vec::new();
        for part in java_split(&text, '|') {
            let (host, port_str) = host_and_port(part)?;
            let port: i32 = parse_java_int(&port_str).ok_or_else(|| InitialMessageError::BadPort(port_str.clone()))?;
            // Apache builds an InetSocketAddress, which rejects ports outside 0..=65535.
            let port = u16::try_from(port).map_err(|_| InitialMessageError::BadPort(port_str.clone()))?;
            if !is_wildcard(&host) {
                addresses.push(ElectionAddr { host, port });
            }
        }
        Ok((InitialMessage { protocol_version: Some(first), sid, addresses }, 20 + n))
    }
}

fn incomplete(needed: usize, have: usize) -> InitialMessageError {
    InitialMessageError::Incomplete { needed, have }
}

/// `NetUtils.formatInetAddr`: IPv6 literals in brackets.
fn format_addr(a: &ElectionAddr) -> String {
    if a.host.contains(':') {
        format!("[{}]:{}", a.host, a.port)
    } else {
        format!("{}:{}", a.host, a.port)
    }
}

/// Java's `String.split` with a single-character literal: trailing empty
/// pieces are removed.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.clear();
    }
    parts
}

/// `ConfigUtils.getHostAndPort` followed by the "exactly two parts" check.
fn host_and_port(s: &str) -> Result<(String, String), InitialMessageError> {
    let bad = || InitialMessageError::BadAddress(s.to_string());
    let parts: Vec<String> = if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']').ok_or_else(bad)? + 1; // index of ']' in s
        if close + 2 == s.len() {
            return Err(bad());
        }
        if close + 2 < s.len() {
            // Apache skips the character after ']' without checking it is ':'.
            let tail = s.get(close + 2..).ok_or_else(bad)?;
            let mut v = vec![s[1..close].to_string()];
            v.extend(java_split(tail, ':').into_iter().map(str::to_string));
            v
        } else {
            vec![s.replace(['[', ']'], "")]
        }
    } else {
        java_split(s, ':').into_iter().map(str::to_string).collect()
    };
    match <[String; 2]>::try_from(parts) {
        Ok([host, port]) => Ok((host, port)),
        Err(_) => Err(bad()),
    }
}

/// `Integer.parseInt` (decimal, optional sign, 32-bit range).
fn parse_java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Literal wildcard addresses only: Apache would also resolve host names,
/// which a pure codec cannot do.
fn is_wildcard(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

/// What to do with a connection once the remote sid is known
/// (`QuorumCnxManager.startConnection` / `handleConnection`): between two
/// servers only the connection initiated by the larger sid survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionDecision {
    /// Keep the socket and start sending/receiving on it (replacing any
    /// older connection to the same sid).
    Keep,
    /// We initiated but have the smaller sid: close; the peer will dial us.
    Drop,
    /// They initiated but have the smaller sid: close it and dial them.
    DropAndConnectBack,
    /// Remote claims our own sid (ZOOKEEPER-2164): a config error; Apache
    /// logs a warning and does not use the socket.
    SameSid,
}

/// Decide the fate of a connection to/from `remote` (sid as known after the
/// initial message; for an incoming `OBSERVER_ID` the caller substitutes a
/// fresh negative sid first, as Apache does).
pub fn connection_decision(my_sid: Sid, remote: Sid, initiated_by_me: bool) -> ConnectionDecision {
    if initiated_by_me {
        if remote > my_sid {
            ConnectionDecision::Drop
        } else {
            ConnectionDecision::Keep
        }
    } else if remote < my_sid {
        ConnectionDecision::DropAndConnectBack
    } else if remote == my_sid {
        ConnectionDecision::SameSid
    } else {
        ConnectionDecision::Keep
    }
}

/// Bounds-checked big-endian reader; never allocates.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], NotificationError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end =
            end.ok_or(NotificationError::Truncated { len: self.buf.len(), needed: self.pos.saturating_add(n) })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn i32(&mut self) -> Result<i32, NotificationError> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, NotificationError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
}
