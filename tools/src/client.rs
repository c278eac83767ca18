//! A small Kafka client: one connection per broker, ApiVersions
//! negotiation, metadata with leader and coordinator routing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::{codes, Result, ToolError};

pub use shared::kafka_conn::Conn;

/// How the tools name themselves in ApiVersions.
pub const SOFTWARE_NAME: &str = "kafka-tools-rs";

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
                match Conn::connect(s, client_id, SOFTWARE_NAME, timeout).await {
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
                match Conn::connect(&s, &self.client_id, SOFTWARE_NAME, self.timeout).await {
                    Ok(c) => {
                        self.boot = Some(c);
                        break;
                    }
                    Err(e) => last = e.into(),
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
            let c = Conn::connect(&b.addr(), &self.client_id, SOFTWARE_NAME, self.timeout).await?;
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
                return Err(e.into());
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
