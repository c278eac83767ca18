//! Typed errors of the tools. Every error prints as one line on stderr and
//! maps to a non-zero exit status, as Kafka's tools do.

use kafka_protocol::error::ResponseError;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Bad command line: the message is what Kafka's option parser prints.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The broker is unreachable or the wire exchange failed.
    #[error("{0}")]
    Connection(String),
    /// A Kafka error code in a response.
    #[error("{context}: {err}")]
    Kafka { context: String, err: ResponseError },
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    ZooKeeper(String),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Msg(String),
    /// Already printed to stderr; exit with this status.
    #[error("")]
    Reported(i32),
}

pub type Result<T> = std::result::Result<T, ToolError>;

impl From<shared::kafka_conn::ConnError> for ToolError {
    fn from(e: shared::kafka_conn::ConnError) -> ToolError {
        use shared::kafka_conn::ConnError as C;
        match e {
            C::Connection(s) => ToolError::Connection(s),
            C::Timeout(s) => ToolError::Timeout(s),
            C::Unsupported(s) => ToolError::Msg(s),
            C::Kafka { addr, code } => ToolError::kafka(code, format!("ApiVersions to {addr}")),
        }
    }
}

impl ToolError {
    pub fn kafka(code: i16, context: impl Into<String>) -> ToolError {
        ToolError::Kafka {
            context: context.into(),
            err: ResponseError::try_from_code(code).unwrap_or(ResponseError::Unknown(code)),
        }
    }
}

/// `Err` for a non-zero error code.
pub fn check(code: i16, context: impl FnOnce() -> String) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(ToolError::kafka(code, context()))
    }
}

pub fn usage<T>(s: impl Into<String>) -> Result<T> {
    Err(ToolError::Usage(s.into()))
}

/// Error-code constants the tools branch on.
pub mod codes {
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const NOT_CONTROLLER: i16 = 41;
    pub const MEMBER_ID_REQUIRED: i16 = 79;

    /// Worth retrying after a metadata refresh.
    pub fn retriable(code: i16) -> bool {
        matches!(code, 3 | 5 | 6 | 7 | 13 | 14 | 15 | 16 | 19 | 20 | 41 | 56 | 74 | 75 | 100)
    }
}
