//! Leader election, as ZooKeeper-mode Kafka's controller does it: for a
//! partition whose leader died (offline), on request (ElectLeaders:
//! preferred or unclean), and the periodic preferred-leader rebalance
//! (auto.leader.rebalance.enable).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use zookeeper_client::Error as ZkErr;

use super::controller::{fenced, ControllerError, Epoch, Op};
use crate::broker::Broker;
use crate::metadata;

/// unclean.leader.election.enable for `topic`: its override, else the
/// broker's.
pub async fn unclean_enabled(broker: &Broker, topic: &str) -> Result<bool, ZkErr> {
    let topic_value = broker
        .zk
        .get(&format!("/config/topics/{topic}"))
        .await?
        .map(|(d, _)| metadata::parse_config(&d))
        .and_then(|c| c.get("unclean.leader.election.enable").map(|v| v == "true"));
    Ok(topic_value.unwrap_or(broker.config.unclean_leader_election))
}

/// OfflinePartitionLeaderElectionStrategy: the first live replica in the
/// ISR (the ISR keeps its live members); with unclean election allowed,
/// else the first live replica, alone in the ISR.
pub fn offline(replicas: &[i32], isr: &[i32], live: &BTreeSet<i32>, unclean: bool) -> Option<(i32, Vec<i32>)> {
    if let Some(l) = replicas.iter().copied().find(|r| live.contains(r) && isr.contains(r)) {
        return Some((l, isr.iter().copied().filter(|r| live.contains(r)).collect()));
    }
    if unclean {
        return replicas.iter().copied().find(|r| live.contains(r)).map(|l| (l, vec![l]));
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

/// Elect a leader for one partition on request. `Ok(())` when a new leader
/// was written; ELECTION_NOT_NEEDED when the current one already fits.
pub async fn elect(
    broker: &Broker,
    epoch: Epoch,
    topic: &str,
    partition: i32,
    kind: ElectionType,
) -> Result<i32, (ResponseError, String)> {
    let zk_err = |e: ZkErr| (ResponseError::UnknownServerError, e.to_string());
    let md = broker.metadata();
    let Some(replicas) = md.topics.get(topic).and_then(|t| t.partitions.get(&partition)).map(|p| p.replicas.clone())
    else {
        return Err((ResponseError::UnknownTopicOrPartition, format!("Partition {topic}-{partition} not found")));
    };
    let live: BTreeSet<i32> = md.brokers.keys().copied().collect();
    let spath = format!("/brokers/topics/{topic}/partitions/{partition}/state");
    let Some((d, st)) = broker.zk.get(&spath).await.map_err(zk_err)? else {
        return Err((ResponseError::LeaderNotAvailable, format!("Partition {topic}-{partition} has no state yet")));
    };
    let Some((leader, leader_epoch, isr, _)) = metadata::parse_partition_state(&d) else {
        return Err((ResponseError::UnknownServerError, format!("unreadable state of {topic}-{partition}")));
    };
    let (new_leader, new_isr) = match kind {
        ElectionType::Preferred => {
            let preferred = replicas.first().copied().unwrap_or(-1);
            if leader == preferred {
                return Err((ResponseError::ElectionNotNeeded, String::new()));
            }
            if !live.contains(&preferred) || !isr.contains(&preferred) {
                return Err((
                    ResponseError::PreferredLeaderNotAvailable,
                    format!("Failed to elect leader for partition {topic}-{partition} under strategy PreferredReplicaPartitionLeaderElectionStrategy"),
                ));
            }
            (preferred, isr.clone())
        }
        ElectionType::Unclean => {
            if leader >= 0 && live.contains(&leader) {
                return Err((ResponseError::ElectionNotNeeded, String::new()));
            }
            offline(&replicas, &isr, &live, true).ok_or_else(|| {
                (
                    ResponseError::EligibleLeadersNotAvailable,
                    format!("Failed to elect leader for partition {topic}-{partition} under strategy OfflinePartitionLeaderElectionStrategy(true)"),
                )
            })?
        }
    };
    let body = metadata::partition_state_json(new_leader, leader_epoch + 1, &new_isr, epoch.epoch);
    match fenced(broker, epoch, vec![Op::Set(spath, body, Some(st.version))]).await {
        Ok(()) => {
            tracing::info!(topic, partition, leader = new_leader, kind = ?kind, "leader elected on request");
            broker.refresh.notify_one();
            Ok(new_leader)
        }
        Err(ControllerError::Resigned) => Err((ResponseError::NotController, "no longer the controller".into())),
        Err(ControllerError::Zk(e)) => Err(zk_err(e)),
    }
}

/// Partitions whose preferred replica should lead again: Kafka's
/// checkAndTriggerAutoLeaderRebalance, per preferred broker, when more
/// than leader.imbalance.per.broker.percentage of its partitions are led
/// elsewhere (and it is live and in sync).
pub fn imbalanced(md: &metadata::ClusterMetadata, percentage: u32) -> Vec<(String, i32)> {
    let mut by_broker: BTreeMap<i32, (usize, Vec<(String, i32)>)> = BTreeMap::new();
    for t in md.topics.values().filter(|t| !t.deleting) {
        for (p, info) in &t.partitions {
            let Some(&preferred) = info.replicas.first() else { continue };
            if !info.adding.is_empty() || !info.removing.is_empty() {
                continue;
            }
            let e = by_broker.entry(preferred).or_default();
            e.0 += 1;
            if info.leader != preferred && md.brokers.contains_key(&preferred) && info.isr.contains(&preferred) {
                e.1.push((t.name.clone(), *p));
            }
        }
    }
    let mut out = Vec::new();
    for (total, moves) in by_broker.into_values() {
        if total > 0 && moves.len() * 100 > total * percentage as usize {
            out.extend(moves);
        }
    }
    out
}

/// One auto-rebalance pass.
pub async fn rebalance(broker: &Broker, epoch: Epoch) {
    let pct = broker.config.leader_imbalance_per_broker_percentage;
    for (topic, p) in imbalanced(&broker.metadata(), pct) {
        match elect(broker, epoch, &topic, p, ElectionType::Preferred).await {
            Ok(_) | Err((ResponseError::ElectionNotNeeded, _)) => {}
            Err((e, m)) => tracing::debug!(topic, partition = p, error = ?e, m, "preferred election skipped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};

    fn part(replicas: &[i32], leader: i32) -> PartitionInfo {
        PartitionInfo {
            replicas: replicas.to_vec(),
            leader,
            leader_epoch: 0,
            isr: replicas.to_vec(),
            controller_epoch: 1,
            zk_version: 0,
            adding: Vec::new(),
            removing: Vec::new(),
        }
    }

    #[test]
    fn rebalance_moves_leaders_back_past_the_imbalance_threshold() {
        let mut md = ClusterMetadata::default();
        for id in 0..2 {
            md.brokers.insert(id, BrokerInfo { id, endpoints: Vec::new(), rack: None });
        }
        // Broker 0 prefers 10 partitions and leads 9 of them: 10% is not
        // above the threshold. Broker 1 prefers 2 and leads neither.
        let mut partitions = BTreeMap::new();
        for p in 0..10 {
            partitions.insert(p, part(&[0, 1], if p == 0 { 1 } else { 0 }));
        }
        partitions.insert(10, part(&[1, 0], 0));
        partitions.insert(11, part(&[1, 0], 0));
        md.topics.insert(
            "t".into(),
            TopicInfo {
                name: "t".into(),
                topic_id: metadata::random_kafka_uuid(),
                partitions,
                config: BTreeMap::new(),
                deleting: false,
            },
        );
        assert_eq!(imbalanced(&md, 10), vec![("t".to_string(), 10), ("t".to_string(), 11)]);
        // A preferred replica that is out of the ISR is not elected.
        md.topics.get_mut("t").unwrap().partitions.get_mut(&10).unwrap().isr = vec![0];
        assert_eq!(imbalanced(&md, 10), vec![("t".to_string(), 11)]);
        assert_eq!(imbalanced(&md, 5), vec![("t".to_string(), 0), ("t".to_string(), 11)]);
    }

    #[test]
    fn offline_prefers_in_sync_replicas_in_assignment_order() {
        let live: BTreeSet<i32> = [1, 2].into();
        assert_eq!(offline(&[0, 1, 2], &[0, 2], &live, false), Some((2, vec![2])));
        assert_eq!(offline(&[0, 1, 2], &[0], &live, false), None);
        assert_eq!(offline(&[0, 1, 2], &[0], &live, true), Some((1, vec![1])));
    }
}
