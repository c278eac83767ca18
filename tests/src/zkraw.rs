//! A bare ZooKeeper session over one socket, built on zookeeperd's jute
//! codec: for tests that need a client to misbehave on purpose (stop
//! pinging, send garbage, reuse a session id).

use bytes::BytesMut;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use zookeeperd::jute::records::{Acl, ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};
use zookeeperd::jute::{write_buffer, write_int, write_string, Encode, Reader};

pub struct RawSession {
    pub stream: TcpStream,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout: i32,
    xid: i32,
}

pub fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

pub fn write_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    s.write_all(&out)
}

impl RawSession {
    /// Open a new session (`session_id` 0) or re-attach to one.
    pub fn connect(addr: &str, timeout_ms: i32, session_id: i64, passwd: &[u8]) -> std::io::Result<RawSession> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: timeout_ms,
            session_id,
            passwd: passwd.to_vec(),
            read_only: Some(false),
        };
        let mut b = BytesMut::new();
        req.encode(&mut b);
        write_frame(&mut stream, &b)?;
        let resp = read_frame(&mut stream)?;
        let mut r = Reader::new(&resp);
        let parsed = ConnectResponse {
            protocol_version: r.read_int().map_err(io)?,
            timeout: r.read_int().map_err(io)?,
            session_id: r.read_long().map_err(io)?,
            passwd: r.read_buffer().map_err(io)?.unwrap_or_default(),
            read_only: None,
        };
        Ok(RawSession { stream, session_id: parsed.session_id, passwd: parsed.passwd, timeout: parsed.timeout, xid: 0 })
    }

    /// Send one request and return (reply header, body), skipping
    /// notifications.
    pub fn call(&mut self, opcode: i32, body: &[u8]) -> std::io::Result<(ReplyHeader, Vec<u8>)> {
        self.xid += 1;
        let mut b = BytesMut::new();
        RequestHeader { xid: self.xid, opcode }.encode(&mut b);
        b.extend_from_slice(body);
        write_frame(&mut self.stream, &b)?;
        loop {
            let f = read_frame(&mut self.stream)?;
            let mut r = Reader::new(&f);
            let h = ReplyHeader::decode(&mut r).map_err(io)?;
            if h.xid == -1 {
                continue;
            }
            return Ok((h, f[16..].to_vec()));
        }
    }

    /// create(path, data, open ACL, flags); returns the error code.
    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> std::io::Result<i32> {
        let mut b = BytesMut::new();
        write_string(&mut b, path);
        write_buffer(&mut b, Some(data));
        write_int(&mut b, 1);
        Acl::open_unsafe()[0].encode(&mut b);
        write_int(&mut b, flags);
        Ok(self.call(1, &b)?.0.err)
    }
}

fn io(e: zookeeperd::jute::DecodeError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}
