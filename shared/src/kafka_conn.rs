//! One client connection to a Kafka-protocol broker: framing, correlation
//! ids, ApiVersions negotiation and version choice. The tools and kafkad's
//! replica fetchers both speak through it.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response frame accepted (a fetch answer is bounded by the
/// request's max_bytes; this only stops a garbage length).
const MAX_RESPONSE: i32 = 256 * 1024 * 1024;
const UNSUPPORTED_VERSION: i16 = 35;

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Unreachable, reset, or a response that does not decode.
    #[error("{0}")]
    Connection(String),
    #[error("{0}")]
    Timeout(String),
    /// The broker does not speak a version of this API that we do.
    #[error("{0}")]
    Unsupported(String),
    /// A Kafka error code in the ApiVersions answer.
    #[error("ApiVersions to {addr} failed with error code {code}")]
    Kafka { addr: String, code: i16 },
}

pub type Result<T> = std::result::Result<T, ConnError>;

pub fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api key {key}"),
    }
}

pub struct Conn {
    stream: TcpStream,
    corr: i32,
    client_id: StrBytes,
    pub addr: String,
    /// api key -> (min, max) the broker serves.
    pub versions: HashMap<i16, (i16, i16)>,
    /// Bound on every write and every response wait.
    pub timeout: Duration,
}

impl Conn {
    /// Connect and negotiate versions; `software` names us in ApiVersions v3.
    pub async fn connect(addr: &str, client_id: &str, software: &str, timeout: Duration) -> Result<Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnError::Connection(format!("Connection to {addr} timed out")))?
            .map_err(|e| ConnError::Connection(format!("Connection to {addr} failed: {e}")))?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            corr: 0,
            client_id: StrBytes::from_string(client_id.to_string()),
            addr: addr.to_string(),
            versions: HashMap::new(),
            timeout,
        };
        c.negotiate(software).await?;
        Ok(c)
    }

    async fn negotiate(&mut self, software: &str) -> Result<()> {
        let mut req = ApiVersionsRequest::default();
        req.client_software_name = StrBytes::from_string(software.to_string());
        req.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let mut resp: ApiVersionsResponse = self.call(&req, 3).await?;
        if resp.error_code == UNSUPPORTED_VERSION {
            // An older broker answers v0 with the versions it does serve.
            resp = self.call(&ApiVersionsRequest::default(), 0).await?;
        }
        if resp.error_code != 0 {
            return Err(ConnError::Kafka { addr: self.addr.clone(), code: resp.error_code });
        }
        self.versions = resp.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(())
    }

    pub fn supports(&self, key: ApiKey) -> bool {
        self.versions.contains_key(&(key as i16))
    }

    /// The highest version both sides (and the caller, `cap`) speak.
    pub fn version<R: Request>(&self, cap: i16) -> Result<i16> {
        let Some(&(bmin, bmax)) = self.versions.get(&R::KEY) else {
            return Err(ConnError::Unsupported(format!(
                "org.apache.kafka.common.errors.UnsupportedVersionException: The node {} does not support {}",
                self.addr,
                api_name(R::KEY)
            )));
        };
        let v = bmax.min(cap).min(R::VERSIONS.max);
        if v < bmin.max(R::VERSIONS.min) {
            return Err(ConnError::Unsupported(format!(
                "org.apache.kafka.common.errors.UnsupportedVersionException: no common version of {} with {}",
                api_name(R::KEY),
                self.addr
            )));
        }
        Ok(v)
    }

    fn frame<R: Request>(&mut self, req: &R, version: i16) -> Result<(i32, BytesMut)> {
        self.corr = self.corr.wrapping_add(1);
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = self.corr;
        h.client_id = Some(self.client_id.clone());
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        let enc = |e: &dyn std::fmt::Display| {
            ConnError::Unsupported(format!("cannot encode {} v{version}: {e}", api_name(R::KEY)))
        };
        h.encode(&mut buf, R::header_version(version)).map_err(|e| enc(&e))?;
        req.encode(&mut buf, version).map_err(|e| enc(&e))?;
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        Ok((self.corr, buf))
    }

    async fn write(&mut self, buf: &[u8]) -> Result<()> {
        let addr = self.addr.clone();
        tokio::time::timeout(self.timeout, self.stream.write_all(buf))
            .await
            .map_err(|_| ConnError::Timeout(format!("Timed out writing to {addr}")))?
            .map_err(|e| ConnError::Connection(format!("Connection to {addr} lost: {e}")))
    }

    async fn read_frame(&mut self) -> Result<Bytes> {
        let addr = self.addr.clone();
        let t = self.timeout;
        let fut = async {
            let len = self.stream.read_i32().await?;
            if !(0..=MAX_RESPONSE).contains(&len) {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad frame size {len}")));
            }
            let mut b = vec![0u8; len as usize];
            self.stream.read_exact(&mut b).await?;
            Ok(Bytes::from(b))
        };
        tokio::time::timeout(t, fut)
            .await
            .map_err(|_| ConnError::Timeout(format!("Timed out waiting for a response from {addr}")))?
            .map_err(|e| ConnError::Connection(format!("Connection to {addr} lost: {e}")))
    }

    pub async fn call<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response> {
        let corr = self.send(req, version).await?;
        self.recv::<R>(corr, version).await
    }

    /// Pipelining, first half: write a request and return its correlation
    /// id; its response is read later, in order, with `recv`.
    pub async fn send<R: Request>(&mut self, req: &R, version: i16) -> Result<i32> {
        let (corr, buf) = self.frame(req, version)?;
        self.write(&buf).await?;
        Ok(corr)
    }

    /// Pipelining, second half: the response to request `corr` (responses
    /// on one connection come back in request order).
    pub async fn recv<R: Request>(&mut self, corr: i32, version: i16) -> Result<R::Response> {
        let mut b = self.read_frame().await?;
        let dec = |e: &dyn std::fmt::Display| {
            ConnError::Connection(format!("cannot decode {} v{version}: {e}", api_name(R::KEY)))
        };
        let h = ResponseHeader::decode(&mut b, <R::Response as HeaderVersion>::header_version(version))
            .map_err(|e| dec(&e))?;
        if h.correlation_id != corr {
            return Err(ConnError::Connection(format!("correlation id mismatch from {}", self.addr)));
        }
        R::Response::decode(&mut b, version).map_err(|e| dec(&e))
    }

    /// Send without waiting for a response (Produce with acks=0).
    pub async fn send_only<R: Request>(&mut self, req: &R, version: i16) -> Result<()> {
        let (_, buf) = self.frame(req, version)?;
        self.write(&buf).await
    }
}
