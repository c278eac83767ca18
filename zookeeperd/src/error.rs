//! Errors. `ZkError` is a request error carried back to the client in a
//! ReplyHeader; `ServerError` is fatal to the server (or to recovery).

/// ZooKeeper's KeeperException codes, as sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(i32)]
pub enum ZkError {
    #[error("SystemError")]
    SystemError = -1,
    #[error("RuntimeInconsistency")]
    RuntimeInconsistency = -2,
    #[error("DataInconsistency")]
    DataInconsistency = -3,
    #[error("ConnectionLoss")]
    ConnectionLoss = -4,
    #[error("MarshallingError")]
    MarshallingError = -5,
    #[error("Unimplemented")]
    Unimplemented = -6,
    #[error("OperationTimeout")]
    OperationTimeout = -7,
    #[error("BadArguments")]
    BadArguments = -8,
    #[error("UnknownSession")]
    UnknownSession = -12,
    #[error("NewConfigNoQuorum")]
    NewConfigNoQuorum = -13,
    #[error("ReconfigInProgress")]
    ReconfigInProgress = -14,
    #[error("APIError")]
    ApiError = -100,
    #[error("NoNode")]
    NoNode = -101,
    #[error("NoAuth")]
    NoAuth = -102,
    #[error("BadVersion")]
    BadVersion = -103,
    #[error("NoChildrenForEphemerals")]
    NoChildrenForEphemerals = -108,
    #[error("NodeExists")]
    NodeExists = -110,
    #[error("NotEmpty")]
    NotEmpty = -111,
    #[error("SessionExpired")]
    SessionExpired = -112,
    #[error("InvalidCallback")]
    InvalidCallback = -113,
    #[error("InvalidACL")]
    InvalidAcl = -114,
    #[error("AuthFailed")]
    AuthFailed = -115,
    #[error("SessionMoved")]
    SessionMoved = -118,
    #[error("NotReadOnly")]
    NotReadOnly = -119,
    #[error("EphemeralOnLocalSession")]
    EphemeralOnLocalSession = -120,
    #[error("NoWatcher")]
    NoWatcher = -121,
    #[error("RequestTimeout")]
    RequestTimeout = -122,
    #[error("ReconfigDisabled")]
    ReconfigDisabled = -123,
    #[error("SessionClosedRequireSaslAuth")]
    SessionClosedRequireSaslAuth = -124,
    #[error("QuotaExceeded")]
    QuotaExceeded = -125,
    #[error("ThrottledOp")]
    ThrottledOp = -127,
}

impl ZkError {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ZkError> {
        use ZkError::*;
        const ALL: [ZkError; 31] = [
            SystemError,
            RuntimeInconsistency,
            DataInconsistency,
            ConnectionLoss,
            MarshallingError,
            Unimplemented,
            OperationTimeout,
            BadArguments,
            UnknownSession,
            NewConfigNoQuorum,
            ReconfigInProgress,
            ApiError,
            NoNode,
            NoAuth,
            BadVersion,
            NoChildrenForEphemerals,
            NodeExists,
            NotEmpty,
            SessionExpired,
            InvalidCallback,
            InvalidAcl,
            AuthFailed,
            SessionMoved,
            NotReadOnly,
            EphemeralOnLocalSession,
            NoWatcher,
            RequestTimeout,
            ReconfigDisabled,
            SessionClosedRequireSaslAuth,
            QuotaExceeded,
            ThrottledOp,
        ];
        ALL.iter().copied().find(|e| e.code() == code)
    }
}

/// Errors that stop the server or its recovery.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("corrupt {what} {path}: {reason}")]
    Corrupt { what: &'static str, path: String, reason: String },
    #[error(transparent)]
    Config(#[from] shared::ConfigError),
    #[error(
        "cannot convert {path} from zookeeperd's old on-disk format to Apache ZooKeeper's: {reason} \
         (the old files are left in place; move them away to start empty)"
    )]
    Convert { path: String, reason: String },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("ensemble: {0}")]
    Ensemble(String),
}

impl ServerError {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> ServerError {
        ServerError::Io { path: path.as_ref().display().to_string(), source }
    }
}
