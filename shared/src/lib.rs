//! Pieces both daemons need: flat key/value configuration read from Java
//! `.properties` (zoo.cfg, server.properties), TOML or the environment;
//! logging; systemd readiness; shutdown signals; a Kafka-protocol client connection.

pub mod config;
pub mod kafka_conn;
pub mod kafka_format;
pub mod logging;
pub mod readiness;
pub mod replica_assignment;
pub mod shutdown;

pub use config::{ConfigError, ConfigMap};
