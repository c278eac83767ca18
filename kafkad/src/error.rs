//! Error types. Three kinds are kept apart on purpose:
//! - `BrokerError`: fatal to the process (bad config, ZooKeeper unreachable
//!   at start, a log dir that cannot be opened);
//! - `ConnectionError`: fatal to one client connection (oversized or
//!   malformed frame, unsupported version); the broker stays up;
//! - request errors: a Kafka error code inside a normal response, built from
//!   `kafka_protocol::ResponseError` where handlers need them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] shared::ConfigError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("zookeeper: {context}: {source}")]
    Zk { context: String, source: zookeeper_client::Error },
    #[error("embedded zookeeper: {0}")]
    EmbeddedZk(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Fatal(String),
}

impl BrokerError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BrokerError::Io { context: context.into(), source }
    }
    pub fn zk(context: impl Into<String>, source: zookeeper_client::Error) -> Self {
        BrokerError::Zk { context: context.into(), source }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("request size {size} outside 0..={max} (socket.request.max.bytes)")]
    FrameSize { size: i64, max: i32 },
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("api key {api_key} version {version} is not supported")]
    UnsupportedVersion { api_key: i16, version: i16 },
    #[error("cannot encode response: {0}")]
    Encode(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl StorageError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io { path: path.into(), source }
    }
}

/// Extension to tag io::Result with a path.
pub trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(path, e))
    }
}
