//! Controller election through /controller + /controller_epoch, and the
//! controller's duties: partition state for new topics (including topics
//! written straight into ZooKeeper), leader election when brokers die, and
//! topic deletion. Every controller write is a multi that first checks the
//! /controller_epoch zkVersion, so a deposed controller cannot write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;
use zookeeper_client::Error as ZkErr;

use crate::broker::Broker;
use crate::zk::watch::TreeWatch;
use crate::zk::{ephemeral, persistent};

const CONTROLLER: &str = "/controller";
const CONTROLLER_EPOCH: &str = "/controller_epoch";

/// The fencing token of the controller we are.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    pub epoch: i32,
    pub zk_version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("no longer controller")]
    Resigned,
    #[error(transparent)]
    Zk(#[from] ZkErr),
}

fn zk_fatal(e: &ZkErr) -> bool {
    matches!(e, ZkErr::SessionExpired | ZkErr::ClientClosed)
}

pub async fn run(broker: Arc<Broker>, mut shutdown: shared::shutdown::ShutdownSignal) {
    let mut tree = TreeWatch::default();
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let r = tokio::select! {
            r = elect_or_follow(&broker, &mut tree) => r,
            _ = shutdown.recv() => return,
        };
        match r {
            Ok(Some(epoch)) => {
                broker.set_controller_epoch(Some(epoch));
                broker.is_controller.store(true, Ordering::SeqCst);
                tracing::info!(epoch = epoch.epoch, "this broker is now the controller");
                let r = tokio::select! {
                    r = act_as_controller(&broker, epoch, &mut tree) => r,
                    _ = shutdown.recv() => Ok(()),
                };
                broker.is_controller.store(false, Ordering::SeqCst);
                broker.set_controller_epoch(None);
                match r {
                    Ok(()) | Err(ControllerError::Resigned) => tracing::info!("resigned as controller"),
                    Err(ControllerError::Zk(e)) => {
                        tracing::error!(error = %e, "controller failed");
                        if zk_fatal(&e) {
                            // The sync loop opens a new session; elect again then.
                            wait_new_session(&broker, &mut shutdown).await;
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "controller election failed; retrying");
                if zk_fatal(&e) {
                    wait_new_session(&broker, &mut shutdown).await;
                    continue;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}

/// Wait (bounded) for the sync loop to replace an expired session.
async fn wait_new_session(broker: &Broker, shutdown: &mut shared::shutdown::ShutdownSignal) {
    tokio::select! {
        _ = broker.controller_kick.notified() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
        _ = shutdown.recv() => {}
    }
}

/// One election round. `Some` when we won; `None` after following another
/// controller until it went away.
async fn elect_or_follow(broker: &Broker, tree: &mut TreeWatch) -> Result<Option<Epoch>, ZkErr> {
    tree.arm(&broker.zk).await?;
    let zk = &broker.zk.client();
    let me = broker.id();
    let stat = zk.check_stat(CONTROLLER).await?;
    if let Some(stat) = stat {
        let data = match zk.get_data(CONTROLLER).await {
            Ok((d, _)) => d,
            Err(ZkErr::NoNode) => return Ok(None),
            Err(e) => return Err(e),
        };
        let id = serde_json::from_slice::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| v.get("brokerid").and_then(|b| b.as_i64()))
            .unwrap_or(-1) as i32;
        if id == me && stat.ephemeral_owner != zk.session_id().0 {
            // Left by a previous run of this broker id: its session is dead
            // or dying, and no other broker may use our id.
            tracing::warn!("removing /controller left by a previous run of this broker");
            let _ = zk.delete(CONTROLLER, Some(stat.version)).await;
            return Ok(None);
        }
        set_controller_id(broker, id);
        if id == me {
            // Our own session still holds it (e.g. after a loop restart).
            let (d, st) = zk.get_data(CONTROLLER_EPOCH).await?;
            let epoch = std::str::from_utf8(&d).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
            return Ok(Some(Epoch { epoch, zk_version: st.version }));
        }
        // Any change may be the controller going away; look again.
        tree.changed().await?;
        return Ok(None);
    }
    let (epoch, version) = match zk.get_data(CONTROLLER_EPOCH).await {
        Ok((d, st)) => {
            (std::str::from_utf8(&d).ok().and_then(|s| s.trim().parse::<i32>().ok()).unwrap_or(0), Some(st.version))
        }
        Err(ZkErr::NoNode) => {
            // Kafka creates /controller_epoch as "0" (its initial epoch)
            // and then bumps it like any later election.
            match zk.create(CONTROLLER_EPOCH, b"0", &persistent()).await {
                Ok(_) | Err(ZkErr::NodeExists) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    // Kafka 3.4+ ControllerZNode: version 2, kraftControllerEpoch -1 for a
    // ZooKeeper-mode controller.
    let body =
        json!({"version": 2, "brokerid": me, "timestamp": crate::now_ms().to_string(), "kraftControllerEpoch": -1})
            .to_string();
    let new_epoch = epoch + 1;
    let mut multi = zk.new_multi_writer();
    multi.add_create(CONTROLLER, body.as_bytes(), &ephemeral())?;
    match version {
        Some(v) => multi.add_set_data(CONTROLLER_EPOCH, new_epoch.to_string().as_bytes(), Some(v))?,
        None => multi.add_create(CONTROLLER_EPOCH, new_epoch.to_string().as_bytes(), &persistent())?,
    }
    match multi.commit().await {
        Ok(results) => {
            let zk_version = match version {
                Some(v) => results
                    .get(1)
                    .and_then(|r| match r {
                        zookeeper_client::MultiWriteResult::SetData { stat } => Some(stat.version),
                        _ => None,
                    })
                    .unwrap_or(v + 1),
                None => 0,
            };
            set_controller_id(broker, me);
            Ok(Some(Epoch { epoch: new_epoch, zk_version }))
        }
        Err(e) => {
            let e: ZkErr = e.into();
            match e {
                ZkErr::NodeExists | ZkErr::BadVersion | ZkErr::NoNode => Ok(None),
                e => Err(e),
            }
        }
    }
}

fn set_controller_id(broker: &Broker, id: i32) {
    broker.metadata.send_if_modified(|m| {
        if m.controller_id == id {
            return false;
        }
        let mut n = (**m).clone();
        n.controller_id = id;
        *m = Arc::new(n);
        true
    });
}

async fn act_as_controller(broker: &Broker, epoch: Epoch, tree: &mut TreeWatch) -> Result<(), ControllerError> {
    let every = std::time::Duration::from_secs(broker.config.leader_imbalance_check_interval_seconds);
    let mut rebalance_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // As Kafka's controller context: a new controller starts from the
    // registrations it finds, with no bounce to handle.
    let mut known: Option<BrokerEpochs> = None;
    loop {
        tree.arm(&broker.zk).await?;
        controller_round(broker, epoch, &mut known).await?;
        tokio::select! {
            r = tree.changed() => r?,
            _ = broker.controller_kick.notified() => {}
            _ = rebalance_tick.tick() => {
                if broker.config.auto_leader_rebalance {
                    super::election::rebalance(broker, epoch).await;
                }
            }
        }
    }
}

/// Each live broker's epoch: the czxid of its /brokers/ids/N registration.
pub type BrokerEpochs = BTreeMap<i32, i64>;

/// Kafka's bounced brokers: registered both before and now, but with a
/// newer broker epoch, i.e. restarted in between without the controller
/// ever seeing them gone (a restarted broker replaces its own stale
/// registration at once).
pub fn bounced(known: &BrokerEpochs, now: &BrokerEpochs) -> BTreeSet<i32> {
    now.iter().filter(|(id, e)| known.get(id).is_some_and(|k| *e > k)).map(|(id, _)| *id).collect()
}

/// One pass: check we still are the controller and reconcile every topic.
/// Bounced brokers are handled as Kafka's processBrokerChange does: first
/// as failed (their partitions get other leaders or go offline, each with
/// a new leader epoch), then as started again.
async fn controller_round(
    broker: &Broker,
    epoch: Epoch,
    known: &mut Option<BrokerEpochs>,
) -> Result<(), ControllerError> {
    let zk = &broker.zk.client();
    match zk.check_stat(CONTROLLER).await? {
        Some(s) if s.ephemeral_owner == zk.session_id().0 => {}
        _ => return Err(ControllerError::Resigned),
    }
    let ids = broker.zk.children("/brokers/ids").await?;
    let topics = broker.zk.children("/brokers/topics").await?;
    let deletes = broker.zk.children("/admin/delete_topics").await?;
    let mut epochs = BrokerEpochs::new();
    for id in ids.iter().filter_map(|s| s.parse::<i32>().ok()) {
        if let Some(st) = zk.check_stat(&format!("/brokers/ids/{id}")).await? {
            epochs.insert(id, st.czxid);
        }
    }
    let live: BTreeSet<i32> = epochs.keys().copied().collect();
    let restarted = known.as_ref().map(|k| bounced(k, &epochs)).unwrap_or_default();
    for t in &deletes {
        delete_topic(broker, epoch, t, topics.contains(t)).await?;
    }
    super::reassign::process_legacy(broker, epoch).await?;
    let topics: Vec<&String> = topics.iter().filter(|t| !deletes.contains(t)).collect();
    let mut settled = true;
    if !restarted.is_empty() {
        tracing::info!(bounced = ?restarted, "brokers restarted since the last round; failing over their partitions");
        let survivors: BTreeSet<i32> = live.difference(&restarted).copied().collect();
        for t in &topics {
            settled &= super::reconcile::reconcile_topic(broker, epoch, t, &survivors).await?;
        }
    }
    if settled {
        for t in &topics {
            super::reconcile::reconcile_topic(broker, epoch, t, &live).await?;
        }
        *known = Some(epochs);
    } else if let Some(k) = known.as_mut() {
        // A failover write lost a race with another write (whose change
        // brings the next round): keep the bounced brokers' old epochs so
        // that round fails their partitions over again before they lead.
        for (id, e) in epochs {
            if !restarted.contains(&id) {
                k.insert(id, e);
            }
        }
        k.retain(|id, _| live.contains(id));
    }
    broker.refresh.notify_one();
    Ok(())
}

/// Run `ops` fenced by the controller epoch.
pub async fn fenced(broker: &Broker, epoch: Epoch, ops: Vec<Op>) -> Result<(), ControllerError> {
    let zk = &broker.zk.client();
    let mut m = zk.new_multi_writer();
    m.add_check_version(CONTROLLER_EPOCH, epoch.zk_version)?;
    for op in &ops {
        match op {
            Op::Create(p, d) => m.add_create(p, d, &persistent())?,
            Op::Set(p, d, v) => m.add_set_data(p, d, *v)?,
            Op::Delete(p) => m.add_delete(p, None)?,
        }
    }
    match m.commit().await {
        Ok(_) => Ok(()),
        Err(zookeeper_client::MultiWriteError::OperationFailed { index: 0, .. }) => Err(ControllerError::Resigned),
        Err(e) => Err(ControllerError::Zk(e.into())),
    }
}

pub enum Op {
    Create(String, Vec<u8>),
    Set(String, Vec<u8>, Option<i32>),
    Delete(String),
}

async fn delete_topic(broker: &Broker, epoch: Epoch, topic: &str, exists: bool) -> Result<(), ControllerError> {
    let marker = format!("/admin/delete_topics/{topic}");
    let mut ops = Vec::new();
    if exists && broker.config.delete_topic_enable {
        let tpath = format!("/brokers/topics/{topic}");
        let parts = broker.zk.children(&format!("{tpath}/partitions")).await?;
        for p in &parts {
            let ppath = format!("{tpath}/partitions/{p}");
            for c in broker.zk.children(&ppath).await? {
                ops.push(Op::Delete(format!("{ppath}/{c}")));
            }
            ops.push(Op::Delete(ppath));
        }
        if broker.zk.client().check_stat(&format!("{tpath}/partitions")).await?.is_some() {
            ops.push(Op::Delete(format!("{tpath}/partitions")));
        }
        ops.push(Op::Delete(tpath));
        if broker.zk.client().check_stat(&format!("/config/topics/{topic}")).await?.is_some() {
            ops.push(Op::Delete(format!("/config/topics/{topic}")));
        }
    } else if exists {
        tracing::warn!(topic, "delete.topic.enable=false: ignoring deletion request");
    }
    ops.push(Op::Delete(marker));
    match fenced(broker, epoch, ops).await {
        Ok(()) => {
            tracing::info!(topic, "topic deleted");
            Ok(())
        }
        // Raced with another change; the watch brings us back.
        Err(ControllerError::Zk(ZkErr::NoNode)) | Err(ControllerError::Zk(ZkErr::NotEmpty)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_registration_of_a_known_broker_is_a_bounce() {
        let known: BrokerEpochs = [(0, 10), (1, 11), (2, 12)].into();
        // Broker 1 re-registered; broker 2 is gone; broker 3 is new.
        let now: BrokerEpochs = [(0, 10), (1, 40), (3, 41)].into();
        assert_eq!(bounced(&known, &now), [1].into());
        assert!(bounced(&known, &known).is_empty());
    }
}
