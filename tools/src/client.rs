//! A small Kafka client: one connection per broker, ApiVersions
//! negotiation, metadata with leader and coordinator routing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{codes, Result, ToolError};

pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
pub fn tn(s: &str) -> TopicName {
    TopicName(sb(s))
}

/// `host:port` entries of a bootstrap list (spaces and empty items allowed).
/// A markdown link pasted from a web page (`[host:port](http://host:port)`)
/// counts as its text.
pub fn split_servers(list: &str) -> Vec<String> {
    list.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match (s.strip_prefix('['), s.find("](")) {
            (Some(_), Some(i)) => s[1..i].to_string(),
            _ => s.to_string(),
        })
        .collect()
}

/// Deadline for a tool's whole run of connection attempts.
pub fn connect_timeout() -> Duration {
    let ms = std::env::var("KAFKA_TOOLS_CONNECT_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Duration::from_millis(ms)
}

pub struct Conn {
    stream: TcpStream,
    corr: i32,
    client_id: StrBytes,
    pub addr: String,
    pub versions: HashMap<i16, (i16, i16)>,
    pub timeout: Duration,
}

fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api key {key}"),
    }
}

impl Conn {
    pub async fn connect(addr: &str, client_id: &str, timeout: Duration) -> Result<Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ToolError::Connection(format!("Connection to {addr} timed out")))?
            .map_err(|e| ToolError::Connection(format!("Connection to {addr} failed: {e}")))?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            corr: 0,
            client_id: sb(client_id),
            addr: addr.to_string(),
            versions: HashMap::new(),
            timeout,
        };
        c.negotiate().await?;
        Ok(c)
    }

    async fn negotiate(&mut self) -> Result<()> {
        let mut req = ApiVersionsRequest::default();
        req.client_software_name = sb("kafka-tools-rs");
        req.client_software_version = sb(env!("CARGO_PKG_VERSION"));
        let mut resp: ApiVersionsResponse = self.call(&req, 3).await?;
        if resp.error_code == codes::UNSUPPORTED_VERSION {
            resp = self.call(&ApiVersionsRequest::default(), 0).await?;
        }
        crate::error::check(resp.error_code, || format!("ApiVersions to {}", self.addr))?;
        self.versions = resp.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(())
    }

    pub fn supports(&self, key: ApiKey) -> bool {
        self.versions.contains_key(&(key as i16))
    }

    /// The highest version both sides (and this tool, `cap`) speak.
    pub fn version<R: Request>(&self, cap: i16) -> Result<i16> {
        let Some(&(bmin, bmax)) = self.versions.get(&R::KEY) else {
            return Err(ToolError::Msg(format!(
                "org.apache.kafka.common.errors.UnsupportedVersionException: The node {} does not support {}",
                self.addr,
                api_name(R::KEY)
            )));
        };
        let v = bmax.min(cap).min(R::VERSIONS.max);
        if v < bmin.max(R::VERSIONS.min) {
            return Err(ToolError::Msg(format!(
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
        let enc =
            |e: &dyn std::fmt::Display| ToolError::Msg(format!("cannot encode {} v{version}: {e}", api_name(R::KEY)));
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
            .map_err(|_| ToolError::Timeout(format!("Timed out writing to {addr}")))?
            .map_err(|e| ToolError::Connection(format!("Connection to {addr} lost: {e}")))
    }

    async fn read_frame(&mut self) -> Result<Bytes> {
        let addr = self.addr.clone();
        let t = self.timeout;
        let fut = async {
            let len = self.stream.read_i32().await?;
            if !(0..=256 * 1024 * 1024).contains(&len) {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad frame size {len}")));
            }
            let mut b = vec![0u8; len as usize];
            self.stream.read_exact(&mut b).await?;
            Ok(Bytes::from(b))
        };
        tokio::time::timeout(t, fut)
            .await
            .map_err(|_| ToolError::Timeout(format!("Timed out waiting for a response from {addr}")))?
            .map_err(|e| ToolError::Connection(format!("Connection to {addr} lost: {e}")))
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
            ToolError::Connection(format!("cannot decode {} v{version}: {e}", api_name(R::KEY)))
        };
        let h = ResponseHeader::decode(&mut b, <R::Response as HeaderVersion>::header_version(version))
            .map_err(|e| dec(&e))?;
        if h.correlation_id != corr {
            return Err(ToolError::Connection(format!("correlation id mismatch from {}", self.addr)));
        }
        R::Response::decode(&mut b, version).map_err(|e| dec(&e))
    }

    /// Send without waiting for a response (Produce with acks=0).
    pub async fn send_only<R: Request>(&mut self, req: &R, version: i16) -> Result<()> {
        let (_, buf) = self.frame(req, version)?;
        self.write(&buf).await
    }
}

#[derive(Clone, Debug)]
pub struct BrokerAddr {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerAddr {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Connections to a cluster, routed by broker id.
pub struct Cluster {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub timeout: Duration,
    boot: Option<Conn>,
    conns: HashMap<i32, Conn>,
    pub brokers: BTreeMap<i32, BrokerAddr>,
    pub controller: i32,
    pub cluster_id: Option<String>,
}

impl Cluster {
    /// Connect to the first reachable bootstrap server, retrying until the
    /// connect deadline (a broker that is still starting gets a chance).
    pub async fn connect(bootstrap: &str, client_id: &str, timeout: Duration) -> Result<Cluster> {
        let servers = split_servers(bootstrap);
        if servers.is_empty() {
            return Err(ToolError::Usage("No resolvable bootstrap urls given in bootstrap.servers".into()));
        }
        let deadline = Instant::now() + connect_timeout();
        let mut last;
        loop {
            last = String::new();
            for s in &servers {
                match Conn::connect(s, client_id, timeout).await {
                    Ok(c) => {
                        let mut cl = Cluster {
                            bootstrap: servers.clone(),
                            client_id: client_id.to_string(),
                            timeout,
                            boot: Some(c),
                            conns: HashMap::new(),
                            brokers: BTreeMap::new(),
                            controller: -1,
                            cluster_id: None,
                        };
                        cl.metadata(Some(&[]), false).await?;
                        return Ok(cl);
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            if Instant::now() >= deadline {
                return Err(ToolError::Connection(format!(
                    "Could not connect to any bootstrap server ({}): {last}",
                    servers.join(",")
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The bootstrap connection (reconnecting if it was dropped).
    pub async fn any(&mut self) -> Result<&mut Conn> {
        if self.boot.is_none() {
            let mut last = ToolError::Connection("no bootstrap servers".into());
            for s in self.bootstrap.clone() {
                match Conn::connect(&s, &self.client_id, self.timeout).await {
                    Ok(c) => {
                        self.boot = Some(c);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if self.boot.is_none() {
                return Err(last);
            }
        }
        Ok(self.boot.as_mut().expect("set above"))
    }

    pub async fn broker(&mut self, id: i32) -> Result<&mut Conn> {
        if !self.conns.contains_key(&id) {
            let Some(b) = self.brokers.get(&id) else {
                return Err(ToolError::Msg(format!("Broker {id} is not in the cluster metadata")));
            };
            let c = Conn::connect(&b.addr(), &self.client_id, self.timeout).await?;
            self.conns.insert(id, c);
        }
        Ok(self.conns.get_mut(&id).expect("inserted"))
    }

    /// Forget a broker connection after an I/O error.
    pub fn drop_conn(&mut self, id: i32) {
        self.conns.remove(&id);
    }

    pub async fn controller(&mut self) -> Result<&mut Conn> {
        if self.controller >= 0 && self.brokers.contains_key(&self.controller) {
            let id = self.controller;
            return self.broker(id).await;
        }
        self.any().await
    }

    /// Metadata for `topics` (None = all topics; Some(&[]) = none).
    pub async fn metadata(&mut self, topics: Option<&[String]>, auto_create: bool) -> Result<MetadataResponse> {
        let mut req = MetadataRequest::default();
        req.topics = topics.map(|ts| {
            ts.iter()
                .map(|t| {
                    let mut m = MetadataRequestTopic::default();
                    m.name = Some(tn(t));
                    m
                })
                .collect()
        });
        req.allow_auto_topic_creation = auto_create;
        let conn = self.any().await?;
        let v = conn.version::<MetadataRequest>(12)?;
        if v < 4 && !auto_create && topics.is_some_and(|t| !t.is_empty()) {
            // v0-3 always auto-create; nothing to do about it.
        }
        let resp = match conn.call(&req, v).await {
            Ok(r) => r,
            Err(e) => {
                self.boot = None;
                return Err(e);
            }
        };
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    BrokerAddr {
                        id: b.node_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                )
            })
            .collect();
        self.controller = resp.controller_id.0;
        self.cluster_id = resp.cluster_id.as_ref().map(|c| c.to_string());
        Ok(resp)
    }

    /// FindCoordinator for a group (key type 0) or transactional id (1).
    pub async fn coordinator(&mut self, key: &str, key_type: i8) -> Result<i32> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let conn = self.any().await?;
            let v = conn.version::<FindCoordinatorRequest>(3)?;
            let mut req = FindCoordinatorRequest::default();
            req.key = sb(key);
            if v >= 1 {
                req.key_type = key_type;
            }
            let resp = conn.call(&req, v).await?;
            if resp.error_code == 0 {
                let id = resp.node_id.0;
                self.brokers.entry(id).or_insert(BrokerAddr {
                    id,
                    host: resp.host.to_string(),
                    port: resp.port,
                    rack: None,
                });
                return Ok(id);
            }
            if !codes::retriable(resp.error_code) || Instant::now() >= deadline {
                return Err(ToolError::kafka(resp.error_code, format!("FindCoordinator for '{key}'")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Leaders of a topic's partitions: partition -> leader id (-1 if none).
pub fn leaders(md: &MetadataResponse, topic: &str) -> Option<BTreeMap<i32, i32>> {
    md.topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .map(|t| t.partitions.iter().map(|p| (p.partition_index, p.leader_id.0)).collect())
}

/// Error code of a topic in a metadata response (None if absent).
pub fn topic_error(md: &MetadataResponse, topic: &str) -> Option<i16> {
    md.topics.iter().find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic)).map(|t| t.error_code)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
