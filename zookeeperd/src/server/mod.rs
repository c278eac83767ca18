//! Sockets and tasks: the listener, one task per connection, the core task
//! and the log writer thread.

mod connect;
pub mod connection;
pub mod core;
mod ensemble;
mod following;
mod leading;
mod local_session;
pub mod outbound;
mod quorum_io;
mod read_only;
mod reconfig;
pub mod role;
pub mod session;
mod snapshotting;
pub mod stats;
mod systemd;
mod tick;

use crate::config::ZkConfig;
use crate::error::ServerError;
use crate::jute::records::{ConnectRequest, Id};
use crate::jute::request::Request;
use crate::watch::ConnId;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Messages from connections (and the admin server) to the core.
pub enum CoreMsg {
    Connect {
        conn: ConnId,
        remote: SocketAddr,
        tx: outbound::OutboundTx,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        xid: i32,
        opcode: i32,
        req: Request,
        /// The request's bytes after its header, for a follower to
        /// forward to its leader as they came.
        body: Bytes,
        received: Instant,
    },
    /// A request with an opcode we do not know: Unimplemented, then close.
    Unimplemented {
        conn: ConnId,
        xid: i32,
    },
    Disconnected {
        conn: ConnId,
    },
    /// `remote` is the asking connection, which ZooKeeper lists too.
    FourLetter {
        cmd: String,
        remote: Option<SocketAddr>,
        reply: oneshot::Sender<String>,
    },
    Admin {
        cmd: String,
        reply: oneshot::Sender<Option<serde_json::Value>>,
    },
    /// The election's decision and the quorum port's traffic.
    Quorum(role::QuorumEvent),
}

/// Frames from the core to a connection.
#[derive(Debug)]
pub enum Outbound {
    Frame(Bytes),
    Close,
}

/// The core's view of a connection.
pub struct ConnInfo {
    pub tx: outbound::OutboundTx,
    pub remote: SocketAddr,
    pub auth: Vec<Id>,
    pub session_id: i64,
    pub timeout: i32,
    pub received: u64,
    pub sent: u64,
    pub last_cxid: i32,
    pub established: Instant,
}

impl ConnInfo {
    pub fn new(tx: outbound::OutboundTx, remote: SocketAddr, auth: Vec<Id>) -> ConnInfo {
        ConnInfo {
            tx,
            remote,
            auth,
            session_id: 0,
            timeout: 0,
            received: 0,
            sent: 0,
            last_cxid: 0,
            established: Instant::now(),
        }
    }
}

/// Per-IP connection counts for maxClientCnxns.
#[derive(Default)]
pub struct IpLimits {
    counts: Mutex<HashMap<IpAddr, u32>>,
}

impl IpLimits {
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<IpGuard> {
        let mut m = self.counts.lock().ok()?;
        let c = m.entry(ip).or_insert(0);
        if max > 0 && *c >= max {
            return None;
        }
        *c += 1;
        Some(IpGuard { limits: self.clone(), ip })
    }
}

pub struct IpGuard {
    limits: Arc<IpLimits>,
    ip: IpAddr,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.limits.counts.lock() {
            if let Some(c) = m.get_mut(&self.ip) {
                *c -= 1;
                if *c == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

/// Hard cap on concurrent connections, whatever their source.
const MAX_CONNECTIONS: usize = 60_000;

/// A running server.
pub struct Running {
    pub client_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub shutdown: shared::shutdown::Shutdown,
    core: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl Running {
    /// Stop accepting, drain the core, flush the log.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.shutdown.trigger();
        self.core.await.unwrap_or(Ok(()))
    }

    /// Wait for the core to end (shutdown or fatal log error).
    pub async fn wait(self) -> Result<(), ServerError> {
        let r = self.core.await.unwrap_or(Ok(()));
        self.shutdown.trigger();
        r
    }
}

/// Recover, bind and start serving.
pub async fn start(config: ZkConfig) -> Result<Running, ServerError> {
    let config = Arc::new(config);
    for k in &config.unknown_keys {
        tracing::warn!(key = %k, "unknown configuration key ignored");
    }
    let t0 = Instant::now();
    let snap_dir = config.data_dir.join("version-2");
    let log_dir = config.data_log_dir.join("version-2");
    let rec = crate::persist::recover(&snap_dir, &log_dir, config.pre_alloc_size)?;
    tracing::info!(
        zxid = format_args!("0x{:x}", rec.tree.last_zxid()),
        snapshot = format_args!("0x{:x}", rec.snapshot_zxid),
        replayed = rec.replayed,
        truncated_bytes = rec.truncated_bytes,
        converted = rec.converted.is_some(),
        nodes = rec.tree.node_count(),
        elapsed_ms = t0.elapsed().as_millis() as u64,
        "data tree recovered"
    );
    // Apache runs standalone with one server line or none, unless
    // standaloneEnabled=false makes one line an ensemble of one.
    let quorum = if config.servers.len() > 1 || (!config.standalone_enabled && config.servers.len() == 1) {
        backup_static_config(&config);
        Some(crate::server::ensemble::quorum_from_config(&config, rec.tree.last_zxid())?)
    } else {
        None
    };
    let log = crate::persist::spawn_writer(rec.writer, snap_dir, log_dir, config.force_sync, config.pre_alloc_size);
    let ip = config.client_port_address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let addr = SocketAddr::new(ip, config.client_port);
    let listener =
        TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.to_string(), source })?;
    let client_addr = listener.local_addr().map_err(|e| ServerError::io("client socket", e))?;
    let (shutdown, signal) = shared::shutdown::Shutdown::new();
    let (core_tx, core_rx) = mpsc::channel::<CoreMsg>(8192);
    let admin_addr = if config.admin_enabled {
        Some(crate::admin::start(&config, core_tx.clone(), shutdown.subscribe()).await?)
    } else {
        None
    };
    let mode = if quorum.is_some() { "ensemble member, looking for a leader" } else { "standalone" };
    let core = crate::server::core::Core::new(rec.tree, config.clone(), log, quorum);
    let core = tokio::spawn(core.run(core_rx, core_tx.clone(), signal.clone()));
    tokio::spawn(accept_loop(listener, config.clone(), core_tx, signal));
    tracing::info!(%client_addr, admin = ?admin_addr, "zookeeperd serving ({mode})");
    Ok(Running { client_addr, admin_addr, shutdown, core })
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ZkConfig>,
    core: mpsc::Sender<CoreMsg>,
    mut shutdown: shared::shutdown::ShutdownSignal,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_ip = Arc::new(IpLimits::default());
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.recv() => return,
        };
        let (socket, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.recv() => return,
        };
        let Some(guard) = per_ip.acquire(remote.ip(), config.max_client_cnxns) else {
            tracing::warn!(%remote, max = config.max_client_cnxns, "too many connections from this address");
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        let core = core.clone();
        let config = config.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection::serve(conn, socket, remote, config, core, shutdown).await;
            drop(guard);
            drop(permit);
        });
    }
}

/// With reconfigEnabled, a membership read from zoo.cfg itself is kept as
/// zoo.cfg.bak before a reconfig rewrites zoo.cfg (Apache's
/// backupOldConfig).
fn backup_static_config(config: &ZkConfig) {
    let (true, None, Some(src)) = (config.reconfig_enabled, &config.dynamic_config_file, &config.source) else {
        return;
    };
    let mut bak = src.as_os_str().to_owned();
    bak.push(".bak");
    if let Err(e) = std::fs::copy(src, &bak) {
        tracing::warn!(file = %src.display(), error = %e, "cannot back the static config up");
    }
}
