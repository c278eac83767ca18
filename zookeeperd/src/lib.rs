//! zookeeperd: a ZooKeeper 3.8-protocol coordination service.
//!
//! Layers, bottom up: `jute` (wire codec, no I/O) -> `tree` (the data tree,
//! a deterministic state machine over `txn`s) -> `ops` (one handler per
//! opcode family: reads answer, writes become txns) -> `persist` (txn log,
//! snapshots, recovery) -> `server` (sockets, sessions, the core loop).

pub mod acl;
pub mod admin;
pub mod config;
pub mod config_env;
pub mod error;
pub mod fourlw;
pub mod jute;
pub mod ops;
pub mod path;
pub mod persist;
pub mod quorum;
pub mod server;
pub mod tree;
pub mod txn;
pub mod watch;

pub use config::ZkConfig;
pub use error::{ServerError, ZkError};
pub use server::{start, Running};
