//! kafkad: a Kafka-protocol broker that keeps its metadata in ZooKeeper
//! (Kafka's ZooKeeper mode), so stock clients and ZooKeeper tooling work
//! unchanged.
//!
//! Layers: `frame`/`connection`/`server` (sockets) -> `handlers` (one per
//! API key, one route table) -> `broker`/`partition`/`group` (state) ->
//! `log` (Kafka's on-disk format) and `zk` (Kafka's znode layout).

pub mod alloc;
pub mod broker;
pub mod config;
pub mod configs;
pub mod connection;
pub mod error;
pub mod fetch_session;
pub mod frame;
pub mod group;
pub mod handlers;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod partition;
pub mod replica;
pub mod server;
pub mod zk;

use std::sync::Arc;
use std::time::Duration;

// The unit tests decode hostile frames too (see alloc).
#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: alloc::GuardedAlloc = alloc::GuardedAlloc;

use broker::Broker;
use config::BrokerConfig;
use error::BrokerError;
use metadata::BrokerEndpoint;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Start an in-process zookeeperd next to the first log dir, for
/// single-node setups without zookeeper.connect. It serves on
/// 127.0.0.1:`embedded.zookeeper.port` (2181, where the tutorials' tools
/// look), or on any free port when that one is taken.
async fn start_embedded_zk(cfg: &BrokerConfig) -> Result<zookeeperd::Running, BrokerError> {
    let first = cfg.log_dirs.first().cloned().unwrap_or_else(|| "/tmp/kafka-logs".into());
    let dir = match first.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("zookeeper"),
        _ => first.join("zookeeper"),
    };
    std::fs::create_dir_all(&dir).map_err(|e| BrokerError::io(format!("create {}", dir.display()), e))?;
    let zk_config = |port: u16| {
        let mut map = shared::ConfigMap::new();
        map.set("dataDir", dir.display().to_string());
        map.set("clientPort", port.to_string());
        map.set("clientPortAddress", "127.0.0.1");
        map.set("admin.enableServer", "false");
        map.set("tickTime", "2000");
        zookeeperd::ZkConfig::from_map(&map)
    };
    let running = match zookeeperd::start(zk_config(cfg.embedded_zk_port)?).await {
        Ok(r) => r,
        Err(e @ zookeeperd::ServerError::Bind { .. }) if cfg.embedded_zk_port != 0 => {
            tracing::warn!(port = cfg.embedded_zk_port, error = %e, "embedded zookeeper cannot use its port; taking any free one");
            zookeeperd::start(zk_config(0)?).await.map_err(|e| BrokerError::EmbeddedZk(e.to_string()))?
        }
        Err(e) => return Err(BrokerError::EmbeddedZk(e.to_string())),
    };
    tracing::info!(
        dir = %dir.display(),
        "embedded zookeeper (no zookeeper.connect given) serving on {}: tools take --zookeeper {}",
        running.client_addr,
        running.client_addr
    );
    Ok(running)
}

/// Run the broker until `shutdown` fires, then stop cleanly.
pub async fn run(cfg: BrokerConfig, shutdown: shared::shutdown::Shutdown) -> Result<(), BrokerError> {
    for k in &cfg.ignored_keys {
        tracing::info!(key = %k, "config key has no effect on kafkad; ignored");
    }
    for k in &cfg.unknown_keys {
        tracing::warn!(key = %k, "unknown config key ignored");
    }
    let embedded = match &cfg.zookeeper_connect {
        Some(_) => None,
        None => Some(start_embedded_zk(&cfg).await?),
    };
    let connect = match (&cfg.zookeeper_connect, &embedded) {
        (Some(c), _) => c.clone(),
        (None, Some(r)) => r.client_addr.to_string(),
        (None, None) => return Err(BrokerError::Fatal("no zookeeper".into())),
    };
    let zk = zk::Zk::connect(&connect, cfg.zk_session_timeout_ms, cfg.zk_connection_timeout_ms).await?;
    zk.ensure_paths().await?;
    let cluster_id = zk.cluster_id().await?;
    tracing::info!(cluster_id = %cluster_id, zookeeper = %connect, "connected to zookeeper");

    let log_config = log::LogConfig {
        segment_bytes: cfg.segment_bytes,
        segment_ms: cfg.segment_ms,
        retention_ms: cfg.retention_ms,
        retention_bytes: cfg.retention_bytes,
        index_interval_bytes: cfg.index_interval_bytes,
        flush_messages: cfg.flush_interval_messages,
        flush_ms: cfg.flush_interval_ms,
        delete_enabled: cfg
            .props
            .get("log.cleanup.policy")
            .map(|p| log::config::has_policy(p, "delete"))
            .unwrap_or(true),
        ..log::LogConfig::default()
    };
    // log.cleanup.policy and the log.cleaner.* topic defaults, as topics
    // see them, for logs loaded before their topic config arrives.
    let mut log_config = log_config;
    let none = std::collections::BTreeMap::new();
    log_config.apply_cleaner_keys(&configs::effective_topic_config(&none, &none, &cfg.props));
    let logs = {
        let dirs = cfg.log_dirs.clone();
        let (id, cid) = (cfg.broker_id, cluster_id.clone());
        tokio::task::spawn_blocking(move || log::manager::LogManager::open(&dirs, log_config, id, &cid))
            .await
            .map_err(|e| BrokerError::Fatal(format!("log loading panicked: {e}")))??
    };

    let sockets = server::bind(&cfg.listeners).await?;
    let metrics_sock = match cfg.metrics_port {
        Some(port) => {
            let sock = metrics::bind(port).await?;
            tracing::info!(port = sock.local_addr().map(|a| a.port()).unwrap_or(port), "serving /metrics");
            Some(sock)
        }
        None => None,
    };
    let mut endpoints = Vec::new();
    for (l, sock) in &sockets {
        let port = sock.local_addr().map(|a| a.port()).unwrap_or(l.port);
        let ep = cfg.advertised_for(&l.name, port);
        tracing::info!(listener = %l.name, bind = %format!("{}:{}", l.host, port), advertised = %format!("{}:{}", ep.host, ep.port), "listening");
        endpoints.push(BrokerEndpoint { listener: l.name.clone(), host: ep.host, port: ep.port });
    }
    let broker = Arc::new(Broker::new(cfg.clone(), cluster_id, zk, logs, endpoints, embedded.is_some()));

    let reg = metadata::broker_json(cfg.rack.as_deref(), &broker.endpoints, &cfg.protocol_map, now_ms());
    let session_dir = zk::session_dir(&cfg);
    let previous = zk::read_recorded_session(&session_dir);
    let epoch =
        broker.zk.register_broker(cfg.broker_id, &reg, embedded.is_some(), previous, cfg.zk_session_timeout_ms).await?;
    zk::record_session(&session_dir, broker.zk.client().session_id().0);
    tracing::info!(broker_id = cfg.broker_id, broker_epoch = epoch, "registered in zookeeper");

    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(zk::sync::run(broker.clone(), shutdown.subscribe(), first_tx));
    tokio::spawn(zk::controller::run(broker.clone(), shutdown.subscribe()));
    let _ = tokio::time::timeout(Duration::from_millis(cfg.zk_connection_timeout_ms.max(1000)), first_rx).await;
    spawn_housekeeping(broker.clone(), shutdown.clone());
    spawn_log_cleaner(broker.clone(), &shutdown);
    replica::spawn(broker.clone(), &shutdown);
    spawn_group_writer(broker.clone());

    let accept = server::spawn_accept_loops(broker.clone(), sockets, shutdown.clone());
    if let Some(sock) = metrics_sock {
        metrics::spawn_http(broker.clone(), sock, shutdown.clone());
    }
    shared::readiness::notify_ready();
    spawn_systemd_status(broker.clone(), shutdown.clone());
    tracing::info!(broker_id = cfg.broker_id, "kafkad started");

    let mut sig = shutdown.subscribe();
    sig.recv().await;
    tracing::info!("shutting down");
    shared::readiness::notify_stopping();
    for a in accept {
        let _ = a.await;
    }
    let hws = broker.high_watermarks();
    if let Err(e) = broker.logs.shutdown(&hws) {
        tracing::error!(error = %e, "unclean log shutdown");
    }
    // Give up our ephemeral znodes now rather than at session expiry, so
    // another broker can take over the controller at once.
    let _ = broker.zk.client().delete(&format!("/brokers/ids/{}", cfg.broker_id), None).await;
    // The controller task has already stopped; ownership is what counts.
    if let Ok(Some(st)) = broker.zk.client().check_stat("/controller").await {
        if st.ephemeral_owner == broker.zk.client().session_id().0 {
            let _ = broker.zk.client().delete("/controller", Some(st.version)).await;
        }
    }
    if let Some(r) = embedded {
        let _ = r.stop().await;
    }
    tracing::info!("kafkad stopped");
    Ok(())
}

/// Appends the group metadata records the coordinator queues (rebalance
/// results, groups turning empty) to __consumer_offsets, in order.
fn spawn_group_writer(broker: Arc<Broker>) {
    let rx = broker.groups.write_rx.lock().ok().and_then(|mut g| g.take());
    let Some(mut rx) = rx else { return };
    tokio::spawn(async move {
        while let Some((group, key, value)) = rx.recv().await {
            if let Err(e) = broker.append_group_records(&group, vec![(key, value)]).await {
                tracing::warn!(group = %group, error = ?e, "cannot store group metadata");
            }
        }
    });
}

/// Kafka's cleaner thread: a pass over the compacted logs of the
/// partitions here, at once again after a clean, else after
/// log.cleaner.backoff.ms. The I/O runs on a blocking thread.
fn spawn_log_cleaner(broker: Arc<Broker>, shutdown: &shared::shutdown::Shutdown) {
    let cfg = broker.config.cleaner.clone();
    if !cfg.enable {
        tracing::info!("log.cleaner.enable=false: compacted topics are not cleaned");
        return;
    }
    let cleaner = log::cleaner::LogCleaner::new(&broker.logs.dirs, cfg.max_map_entries());
    let stop = cleaner.stop.clone();
    let mut sig = shutdown.subscribe();
    // A clean in progress gives up at shutdown; its .cleaned files go at
    // the next start.
    tokio::spawn(async move {
        sig.recv().await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let stopped = cleaner.stop.clone();
    let cleaner = Arc::new(std::sync::Mutex::new(cleaner));
    let mut sig = shutdown.subscribe();
    tokio::spawn(async move {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            let logs: Vec<_> = broker
                .partitions
                .read()
                .map(|m| m.values().map(|p| (p.log.clone(), p.high_watermark())).collect())
                .unwrap_or_default();
            let c = cleaner.clone();
            let cleaned = tokio::task::spawn_blocking(move || match c.lock() {
                Ok(mut c) => c.clean_filthiest(&logs, now_ms()),
                Err(_) => Ok(false),
            })
            .await;
            match cleaned {
                Ok(Ok(true)) => continue,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "log cleaner pass failed"),
                Err(e) => tracing::error!(error = %e, "log cleaner panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(cfg.backoff_ms)) => {}
                _ = sig.recv() => return,
            }
        }
    });
}

/// Checkpoints, retention, producer id expiry and group session expiry.
/// systemd's STATUS= line ("broker 1, controller, 12 partitions led, 0
/// under-replicated") when it changes, and watchdog pings when WatchdogSec
/// asks for them. Outside systemd both are no-ops.
fn spawn_systemd_status(broker: Arc<Broker>, shutdown: shared::shutdown::Shutdown) {
    let mut stop = shutdown.subscribe();
    let watchdog = shared::readiness::watchdog_interval();
    tokio::spawn(async move {
        let every = watchdog.map_or(Duration::from_secs(2), |w| (w / 2).min(Duration::from_secs(2)));
        let mut tick = tokio::time::interval(every);
        let mut last = String::new();
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            if watchdog.is_some() {
                shared::readiness::notify_watchdog();
            }
            let parts: Vec<_> = broker.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
            let led = parts.iter().filter(|p| p.is_leader()).count();
            let under = parts.iter().filter(|p| p.is_under_replicated()).count();
            let role = if broker.is_controller() { ", controller" } else { "" };
            let status =
                format!("broker {}{role}, {led} partitions led, {under} under-replicated", broker.config.broker_id);
            if status != last {
                shared::readiness::notify_status(&status);
                last = status;
            }
        }
    });
}

fn spawn_housekeeping(broker: Arc<Broker>, shutdown: shared::shutdown::Shutdown) {
    let b = broker.clone();
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        let every = Duration::from_millis(b.config.producer_id_expiration_check_interval_ms.max(100));
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            let parts: Vec<_> = b.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
            for p in parts {
                if let Ok(mut g) = p.log.lock() {
                    let n = g.producers.remove_expired(now_ms(), b.config.producer_id_expiration_ms);
                    if n > 0 {
                        tracing::debug!(topic = %p.topic, partition = p.index, expired = n, "producer ids expired");
                    }
                }
            }
        }
    });
    let b = broker.clone();
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(b.config.hw_checkpoint_interval_ms.max(100)));
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            let hws = b.high_watermarks();
            let b2 = b.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = b2.logs.checkpoint(&hws) {
                    tracing::warn!(error = %e, "checkpoint failed");
                }
            })
            .await;
        }
    });
    let b = broker.clone();
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(b.config.retention_check_interval_ms.max(100)));
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            let parts: Vec<_> = b.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
            for p in parts {
                let hw = p.high_watermark();
                if let Ok(mut g) = p.log.lock() {
                    if let Err(e) = g.apply_retention(now_ms(), hw) {
                        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "retention failed");
                    }
                }
            }
        }
    });
    // flush.ms, checked every log.flush.scheduler.interval.ms (at least once
    // a second when any flush.ms could be finite), as Kafka's log flusher.
    let b = broker.clone();
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        let every = b.config.flush_scheduler_interval_ms.clamp(10, 1_000) as u64;
        let mut tick = tokio::time::interval(Duration::from_millis(every));
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            let parts: Vec<_> = b.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
            for p in parts {
                if let Ok(mut g) = p.log.lock() {
                    if let Err(e) = g.flush_if_due(now_ms()) {
                        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
                    }
                }
            }
        }
    });
    let mut stop = shutdown.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
            broker.groups.expire_members();
        }
    });
}
