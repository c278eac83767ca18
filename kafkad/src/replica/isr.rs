//! ISR changes made by the leader: written to the partition's state znode
//! conditionally on its zkVersion, so a controller election in between
//! wins (Kafka's leader did the same before AlterPartition).

use std::sync::Arc;
use std::time::Duration;

use zookeeper_client::Error as ZkErr;

use crate::broker::Broker;
use crate::partition::{IsrUpdate, Partition};

/// Write `update` and tell the partition how it went.
pub async fn write(broker: &Broker, part: &Partition, update: IsrUpdate) {
    let body = crate::metadata::partition_state_json(
        update.leader,
        update.leader_epoch,
        &update.new_isr,
        update.controller_epoch,
    );
    let version = match broker.zk.set_partition_state(&part.topic, part.index, &body, update.zk_version).await {
        Ok(v) => {
            tracing::info!(topic = %part.topic, partition = part.index, isr = ?update.new_isr, "ISR updated");
            Some(v)
        }
        Err(ZkErr::BadVersion) => {
            // The controller (or an earlier write) changed the state; the
            // metadata sync brings it, and the next fetch or check retries.
            tracing::debug!(topic = %part.topic, partition = part.index, "ISR write lost to a newer partition state");
            broker.refresh.notify_one();
            None
        }
        Err(e) => {
            tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "cannot write ISR change");
            None
        }
    };
    if part.finish_isr_write(&update, version) {
        part.notify_data();
    }
}

pub fn spawn_write(broker: Arc<Broker>, part: Arc<Partition>, update: IsrUpdate) {
    tokio::spawn(async move { write(&broker, &part, update).await });
}

/// Kafka's isr-expiration task: every replica.lag.time.max.ms / 2, drop
/// followers that have not caught up within replica.lag.time.max.ms.
pub async fn shrink_loop(broker: Arc<Broker>, mut stop: shared::shutdown::ShutdownSignal) {
    let lag = broker.config.replica.lag_time_max_ms;
    let mut tick = tokio::time::interval(Duration::from_millis((lag / 2).max(10)));
    loop {
        tokio::select! { _ = tick.tick() => {}, _ = stop.recv() => return }
        let parts: Vec<Arc<Partition>> =
            broker.partitions.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
        for p in parts {
            if let Some(update) = p.isr_shrink(crate::now_ms(), lag as i64) {
                tracing::info!(topic = %p.topic, partition = p.index, from = ?p.isr(), to = ?update.new_isr, "shrinking ISR");
                write(&broker, &p, update).await;
            }
        }
    }
}
