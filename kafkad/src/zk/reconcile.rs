//! The controller's per-topic duties: partition state for new partitions,
//! leader election when a leader's broker is gone, dead followers out of
//! the ISR, and driving partition reassignments (KIP-455) to completion.

use std::collections::BTreeSet;

use zookeeper_client::Error as ZkErr;

use super::controller::{fenced, ControllerError, Epoch, Op};
use super::election;
use crate::broker::Broker;
use crate::metadata::{self, TopicZnode};

/// Bring one topic's partition states in line with the live brokers, and
/// finish reassignments whose target has caught up (an ISR change is a
/// change under the controller's watch, so it is seen here). `Ok(false)`
/// when a write lost a race with another change (the change brings the
/// controller back) or is left for the next round.
pub async fn reconcile_topic(
    broker: &Broker,
    epoch: Epoch,
    topic: &str,
    live: &BTreeSet<i32>,
) -> Result<bool, ControllerError> {
    let zk = &broker.zk;
    let tpath = format!("/brokers/topics/{topic}");
    let Some((data, tstat)) = zk.get(&tpath).await? else { return Ok(true) };
    let Some(mut zn) = TopicZnode::parse(&data) else {
        tracing::warn!(topic, "unparsable topic assignment in zookeeper; ignoring topic");
        return Ok(true);
    };
    if zn.topic_id.is_none() {
        // Written by an old tool without a topic id: add one, as Kafka 2.8+
        // controllers do (the id the topic already had, if it existed). The
        // write is a change that brings us back.
        let known = broker.metadata().topics.get(topic).map(|t| t.topic_id);
        zn.topic_id = Some(known.unwrap_or_else(metadata::random_kafka_uuid));
        match fenced(broker, epoch, vec![Op::Set(tpath.clone(), zn.to_json(), Some(tstat.version))]).await {
            Ok(()) | Err(ControllerError::Zk(ZkErr::BadVersion)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    let unclean = election::unclean_enabled(broker, topic).await?;
    let mut settled = true;
    // Reassignments that can complete now: one multi for the topic znode
    // and their state znodes.
    let mut done = zn.clone();
    let mut done_ops = Vec::new();
    for (p, replicas) in &zn.partitions {
        let ppath = format!("{tpath}/partitions/{p}");
        let spath = format!("{ppath}/state");
        let Some((d, st)) = zk.get(&spath).await? else {
            let online: Vec<i32> = replicas.iter().copied().filter(|r| live.contains(r)).collect();
            let Some(&leader) = online.first() else { continue };
            for parent in [format!("{tpath}/partitions"), ppath.clone()] {
                match zk.client().create(&parent, b"", &crate::zk::persistent()).await {
                    Ok(_) | Err(ZkErr::NodeExists) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let body = metadata::partition_state_json(leader, 0, &online, epoch.epoch);
            match fenced(broker, epoch, vec![Op::Create(spath, body)]).await {
                Ok(()) | Err(ControllerError::Zk(ZkErr::NodeExists)) => {}
                Err(e) => return Err(e),
            }
            tracing::info!(topic, partition = p, leader, "partition online");
            continue;
        };
        let Some((leader, leader_epoch, isr, _)) = metadata::parse_partition_state(&d) else { continue };
        if zn.reassigning(*p) {
            let removing = zn.removing.get(p).cloned().unwrap_or_default();
            let target: Vec<i32> = replicas.iter().copied().filter(|r| !removing.contains(r)).collect();
            if let Some((new_leader, new_isr)) = reassignment_complete(&target, leader, &isr, live) {
                done.partitions.insert(*p, target.clone());
                done.adding.remove(p);
                done.removing.remove(p);
                let body = metadata::partition_state_json(new_leader, leader_epoch + 1, &new_isr, epoch.epoch);
                done_ops.push(Op::Set(spath, body, Some(st.version)));
                tracing::info!(topic, partition = p, replicas = ?target, leader = new_leader, "reassignment complete");
                continue;
            }
        }
        if leader >= 0 && live.contains(&leader) {
            // Kafka's controller takes dead followers out of the ISR
            // (OfflineReplica), bumping the leader epoch.
            let new_isr: Vec<i32> = isr.iter().copied().filter(|r| live.contains(r)).collect();
            if new_isr.len() < isr.len() && !new_isr.is_empty() {
                let body = metadata::partition_state_json(leader, leader_epoch + 1, &new_isr, epoch.epoch);
                match fenced(broker, epoch, vec![Op::Set(spath, body, Some(st.version))]).await {
                    Ok(()) => tracing::info!(topic, partition = p, isr = ?new_isr, "offline replicas left the ISR"),
                    Err(ControllerError::Zk(ZkErr::BadVersion)) => settled = false,
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        let Some((new_leader, new_isr)) = election::offline(replicas, &isr, live, unclean) else {
            if leader >= 0 {
                // No eligible replica: the partition goes offline (leader
                // -1) and keeps its last ISR for a later clean election.
                let body = metadata::partition_state_json(-1, leader_epoch + 1, &isr, epoch.epoch);
                match fenced(broker, epoch, vec![Op::Set(spath, body, Some(st.version))]).await {
                    Ok(()) => tracing::warn!(topic, partition = p, "no eligible leader; partition offline"),
                    Err(ControllerError::Zk(ZkErr::BadVersion)) => settled = false,
                    Err(e) => return Err(e),
                }
            }
            continue;
        };
        let body = metadata::partition_state_json(new_leader, leader_epoch + 1, &new_isr, epoch.epoch);
        match fenced(broker, epoch, vec![Op::Set(spath, body, Some(st.version))]).await {
            Ok(()) => {}
            Err(ControllerError::Zk(ZkErr::BadVersion)) => {
                settled = false;
                continue;
            }
            Err(e) => return Err(e),
        }
        tracing::info!(topic, partition = p, leader = new_leader, leader_epoch = leader_epoch + 1, "leader elected");
    }
    if !done_ops.is_empty() {
        done_ops.insert(0, Op::Set(tpath, done.to_json(), Some(tstat.version)));
        match fenced(broker, epoch, done_ops).await {
            Ok(()) => {}
            // Raced with another change; the watches bring us back.
            Err(ControllerError::Zk(ZkErr::BadVersion)) => settled = false,
            Err(e) => return Err(e),
        }
    }
    Ok(settled)
}

/// Kafka's completion rule: every target replica is in the ISR. Then the
/// ISR keeps only target replicas, and a leader outside the target (or
/// dead) hands over to the first target replica that is in sync and live.
fn reassignment_complete(target: &[i32], leader: i32, isr: &[i32], live: &BTreeSet<i32>) -> Option<(i32, Vec<i32>)> {
    if target.is_empty() || !target.iter().all(|r| isr.contains(r)) {
        return None;
    }
    let new_isr: Vec<i32> = isr.iter().copied().filter(|r| target.contains(r)).collect();
    let new_leader = if target.contains(&leader) && live.contains(&leader) {
        leader
    } else {
        target.iter().copied().find(|r| new_isr.contains(r) && live.contains(r))?
    };
    Some((new_leader, new_isr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_waits_for_the_whole_target_in_the_isr() {
        let live: BTreeSet<i32> = [0, 1, 2, 3].into();
        // Moving [0,1] -> [2,3]: not until 2 and 3 are in sync.
        assert_eq!(reassignment_complete(&[2, 3], 0, &[0, 1, 2], &live), None);
        // Then the leader moves into the target and the ISR drops 0 and 1.
        assert_eq!(reassignment_complete(&[2, 3], 0, &[0, 1, 2, 3], &live), Some((2, vec![2, 3])));
        // A leader that stays keeps leading.
        assert_eq!(reassignment_complete(&[1, 2], 1, &[0, 1, 2], &live), Some((1, vec![1, 2])));
        // No live in-sync target replica: wait.
        let some: BTreeSet<i32> = [0, 1].into();
        assert_eq!(reassignment_complete(&[2, 3], 0, &[0, 1, 2, 3], &some), None);
    }
}
