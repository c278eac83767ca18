//! Pieces both daemons need: flat key/value configuration read from Java
//! `.properties` (zoo.cfg, server.properties), TOML or the environment;
//! logging; systemd readiness; shutdown signals.

pub mod config;
pub mod logging;
pub mod readiness;
pub mod shutdown;

pub use config::{ConfigError, ConfigMap};
