//! Every broker's view of the cluster comes from ZooKeeper (Java brokers
//! get it from the controller's UpdateMetadata/LeaderAndIsr, which
//! kafka-protocol no longer defines). Each round reads brokers, topics,
//! partition states and topic configs and applies the result; any change
//! under the watched root (zk::watch) starts the next round.

use std::collections::BTreeMap;
use std::sync::Arc;

use zookeeper_client::Error as ZkErr;

use super::watch::TreeWatch;
use crate::broker::Broker;
use crate::metadata::{self, ClusterMetadata, PartitionInfo, TopicInfo};

pub async fn run(
    broker: Arc<Broker>,
    mut shutdown: shared::shutdown::ShutdownSignal,
    first_sync: tokio::sync::oneshot::Sender<()>,
) {
    let mut first_sync = Some(first_sync);
    let mut tree = TreeWatch::default();
    loop {
        let round = tokio::select! {
            r = async {
                tree.arm(&broker.zk).await?;
                sync_once(&broker).await
            } => r,
            _ = shutdown.recv() => return,
        };
        let round = match round {
            Ok(deleted) => {
                if !deleted.is_empty() {
                    let b = broker.clone();
                    tokio::spawn(async move { b.drop_offsets_of_deleted_topics(&deleted).await });
                }
                if let Some(tx) = first_sync.take() {
                    let _ = tx.send(());
                }
                tokio::select! {
                    r = tree.changed() => r,
                    _ = broker.refresh.notified() => Ok(()),
                    _ = shutdown.recv() => return,
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = round {
            tracing::warn!(error = %e, "metadata sync from zookeeper failed");
            if matches!(e, ZkErr::SessionExpired | ZkErr::ClientClosed) {
                tokio::select! {
                    _ = recover_session(&broker) => {}
                    _ = shutdown.recv() => return,
                }
                continue;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// One read of the cluster view, applied; returns the topics deleted since
/// the last one.
async fn sync_once(broker: &Broker) -> Result<Vec<String>, ZkErr> {
    let zk = &broker.zk;
    let ids = zk.children("/brokers/ids").await?;
    let mut brokers = BTreeMap::new();
    for id in ids {
        let Ok(n) = id.parse::<i32>() else { continue };
        if let Some((data, _)) = zk.get(&format!("/brokers/ids/{id}")).await? {
            if let Some(b) = metadata::parse_broker(n, &data) {
                brokers.insert(n, b);
            }
        }
    }

    let controller_id = match zk.get("/controller").await? {
        Some((data, _)) => serde_json::from_slice::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| v.get("brokerid").and_then(|b| b.as_i64()))
            .unwrap_or(-1) as i32,
        None => -1,
    };

    // Config changes written by any tool (kafka-configs, AlterConfigs on
    // another broker) announce themselves here; a new child starts a new
    // round, which re-reads every topic's config.
    let changes = zk.children("/config/changes").await?;
    purge_old_notifications(zk, &changes).await;
    let mut dynamic = zk.entity_config("brokers", "<default>").await?;
    dynamic.extend(zk.entity_config("brokers", &broker.id().to_string()).await?);
    broker.set_dynamic_broker_config(dynamic);

    let deletes = zk.children("/admin/delete_topics").await?;
    let names = zk.children("/brokers/topics").await?;
    let mut topics = BTreeMap::new();
    for name in names {
        let tpath = format!("/brokers/topics/{name}");
        let Some((data, _)) = zk.get(&tpath).await? else { continue };
        let Some(zn) = metadata::TopicZnode::parse(&data) else { continue };
        // Until the controller has stamped a topic id a new topic is not
        // served; the stamp is a change that starts another round. A known
        // topic rewritten without its id (old tools) keeps the id it had,
        // or its logs would be taken for a deleted topic's.
        let known = broker.metadata().topics.get(&name).map(|t| t.topic_id);
        let Some(topic_id) = zn.topic_id.or(known) else { continue };
        let mut partitions = BTreeMap::new();
        for (p, replicas) in zn.partitions.clone() {
            let adding = zn.adding.get(&p).cloned().unwrap_or_default();
            let removing = zn.removing.get(&p).cloned().unwrap_or_default();
            let spath = format!("{tpath}/partitions/{p}/state");
            let info = match zk.get(&spath).await? {
                Some((d, st)) => {
                    metadata::parse_partition_state(&d).map(|(leader, leader_epoch, isr, ce)| PartitionInfo {
                        replicas: replicas.clone(),
                        leader,
                        leader_epoch,
                        isr,
                        controller_epoch: ce,
                        zk_version: st.version,
                        adding: adding.clone(),
                        removing: removing.clone(),
                    })
                }
                None => None,
            };
            let info = info.unwrap_or(PartitionInfo {
                replicas,
                leader: -1,
                leader_epoch: -1,
                isr: Vec::new(),
                controller_epoch: -1,
                zk_version: -1,
                adding,
                removing,
            });
            partitions.insert(p, info);
        }
        let config = zk
            .get(&format!("/config/topics/{name}"))
            .await?
            .map(|(d, _)| metadata::parse_config(&d))
            .unwrap_or_default();
        let deleting = deletes.contains(&name);
        topics.insert(name.clone(), TopicInfo { name, topic_id, partitions, config, deleting });
    }
    Ok(broker.apply_metadata(ClusterMetadata { brokers, controller_id, topics }))
}

/// Kafka's notification listeners delete config change notifications older
/// than 15 minutes, so /config/changes does not grow without bound.
async fn purge_old_notifications(zk: &crate::zk::Zk, changes: &[String]) {
    const EXPIRY_MS: i64 = 15 * 60 * 1000;
    if changes.len() < 2 {
        return;
    }
    let now = crate::now_ms();
    let mut sorted: Vec<&String> = changes.iter().collect();
    sorted.sort();
    // Never the newest: its sequence number must survive a restart.
    for c in &sorted[..sorted.len() - 1] {
        let path = format!("/config/changes/{c}");
        if let Ok(Some(st)) = zk.client().check_stat(&path).await {
            if now - st.ctime > EXPIRY_MS {
                let _ = zk.client().delete(&path, None).await;
            }
        }
    }
}

/// After session expiry (Kafka's KafkaZkClient reinitialize): open a new
/// session, recreate the paths, re-register /brokers/ids/N (the expired
/// session's ephemeral nodes are gone) and let the controller loop
/// re-elect. Retries until it succeeds.
async fn recover_session(broker: &Broker) {
    tracing::warn!("zookeeper session expired; starting a new session and re-registering");
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        let attempt = async {
            broker.zk.reconnect().await?;
            broker.zk.ensure_paths().await?;
            let reg = metadata::broker_json(
                broker.config.rack.as_deref(),
                &broker.endpoints,
                &broker.config.protocol_map,
                crate::now_ms(),
            );
            let epoch = broker
                .zk
                .register_broker(broker.id(), &reg, broker.embedded_zk, None, broker.config.zk_session_timeout_ms)
                .await?;
            crate::zk::record_session(&crate::zk::session_dir(&broker.config), broker.zk.client().session_id().0);
            Ok::<i64, crate::error::BrokerError>(epoch)
        };
        match attempt.await {
            Ok(epoch) => {
                tracing::info!(broker_id = broker.id(), broker_epoch = epoch, "re-registered in zookeeper");
                broker.controller_kick.notify_one();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "zookeeper session recovery failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}
