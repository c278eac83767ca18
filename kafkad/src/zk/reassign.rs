//! Starting and cancelling partition reassignments (KIP-455 in ZooKeeper
//! mode): the target goes into the topic znode as the replica set
//! RS = TRS + (ORS - TRS) with adding_replicas = TRS - ORS and
//! removing_replicas = ORS - TRS, and the leader epoch is bumped. New
//! replicas then follow the leader; `reconcile` finishes the move once the
//! whole target is in sync. Both the AlterPartitionReassignments API and
//! the legacy /admin/reassign_partitions znode come through here.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use serde_json::{json, Value};
use zookeeper_client::Error as ZkErr;

use super::controller::{fenced, ControllerError, Epoch, Op};
use crate::broker::Broker;
use crate::metadata::{self, TopicZnode};

pub const LEGACY_NODE: &str = "/admin/reassign_partitions";

pub type Outcome = Result<(), (ResponseError, String)>;

/// (replica set, adding, removing) of a partition after a change.
pub type Plan = (Vec<i32>, Vec<i32>, Vec<i32>);

/// Kafka's checks on a requested replica list.
pub fn validate_target(target: &[i32], live: &BTreeSet<i32>) -> Outcome {
    if target.is_empty() {
        return Err((
            ResponseError::InvalidReplicaAssignment,
            "Empty replica list specified in partition reassignment.".into(),
        ));
    }
    let uniq: BTreeSet<i32> = target.iter().copied().collect();
    if uniq.len() != target.len() {
        return Err((
            ResponseError::InvalidReplicaAssignment,
            format!("Duplicate replica ids in partition reassignment replica list: {target:?}"),
        ));
    }
    let unknown: Vec<i32> = target.iter().copied().filter(|b| !live.contains(b)).collect();
    if !unknown.is_empty() {
        return Err((
            ResponseError::InvalidReplicaAssignment,
            format!("The proposed assignment contains non-existent brokerIDs: {}", join(&unknown)),
        ));
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The new replica set, adding and removing lists for moving partition
/// `p` to `target` (None = cancel). The original set is what the
/// partition had before any reassignment now under way.
pub fn plan(zn: &TopicZnode, p: i32, target: Option<&[i32]>) -> Result<Option<Plan>, (ResponseError, String)> {
    let rs = zn.partitions.get(&p).cloned().unwrap_or_default();
    let adding = zn.adding.get(&p).cloned().unwrap_or_default();
    let ors: Vec<i32> = rs.iter().copied().filter(|r| !adding.contains(r)).collect();
    match target {
        None => {
            if !zn.reassigning(p) {
                return Err((
                    ResponseError::NoReassignmentInProgress,
                    format!("No reassignment in progress for partition {p}"),
                ));
            }
            Ok(Some((ors, Vec::new(), Vec::new())))
        }
        Some(trs) if trs == ors.as_slice() && !zn.reassigning(p) => Ok(None),
        Some(trs) => {
            let mut new_rs = trs.to_vec();
            new_rs.extend(ors.iter().copied().filter(|r| !trs.contains(r)));
            let add: Vec<i32> = trs.iter().copied().filter(|r| !ors.contains(r)).collect();
            let remove: Vec<i32> = ors.iter().copied().filter(|r| !trs.contains(r)).collect();
            if add.is_empty() && remove.is_empty() {
                // Same set in another order: the assignment order changes at once.
                return Ok(Some((trs.to_vec(), Vec::new(), Vec::new())));
            }
            Ok(Some((new_rs, add, remove)))
        }
    }
}

/// Apply reassignment requests for one topic (partition -> target, None =
/// cancel) in one fenced write. Returns a result per partition.
pub async fn alter(
    broker: &Broker,
    epoch: Epoch,
    topic: &str,
    requests: &BTreeMap<i32, Option<Vec<i32>>>,
) -> BTreeMap<i32, Outcome> {
    let zk_fail = |e: String| (ResponseError::UnknownServerError, e);
    let all = |o: Outcome| requests.keys().map(|p| (*p, o.clone())).collect::<BTreeMap<_, _>>();
    let tpath = format!("/brokers/topics/{topic}");
    let (data, tstat) = match broker.zk.get(&tpath).await {
        Ok(Some(x)) => x,
        Ok(None) => return all(Err((ResponseError::UnknownTopicOrPartition, format!("Topic {topic} not found")))),
        Err(e) => return all(Err(zk_fail(e.to_string()))),
    };
    let Some(mut zn) = TopicZnode::parse(&data) else { return all(Err(zk_fail(format!("unreadable {tpath}")))) };
    let live: BTreeSet<i32> = broker.metadata().brokers.keys().copied().collect();
    let mut results = BTreeMap::new();
    let mut ops = Vec::new();
    let mut changed = false;
    for (p, target) in requests {
        if !zn.partitions.contains_key(p) {
            results.insert(
                *p,
                Err((ResponseError::UnknownTopicOrPartition, format!("Unable to find partition {topic}-{p}"))),
            );
            continue;
        }
        if let Some(t) = target {
            if let Err(e) = validate_target(t, &live) {
                results.insert(*p, Err(e));
                continue;
            }
        }
        let (rs, add, remove) = match plan(&zn, *p, target.as_deref()) {
            Ok(Some(x)) => x,
            Ok(None) => {
                results.insert(*p, Ok(()));
                continue;
            }
            Err(e) => {
                results.insert(*p, Err(e));
                continue;
            }
        };
        // The leader epoch moves with every change of the replica set, and
        // a cancelled move takes its added replicas out of the ISR again.
        let spath = format!("{tpath}/partitions/{p}/state");
        if let Ok(Some((d, st))) = broker.zk.get(&spath).await {
            if let Some((leader, le, isr, _)) = metadata::parse_partition_state(&d) {
                let isr: Vec<i32> = isr.into_iter().filter(|r| rs.contains(r)).collect();
                let leader = if rs.contains(&leader) {
                    leader
                } else {
                    rs.iter().copied().find(|r| isr.contains(r) && live.contains(r)).unwrap_or(leader)
                };
                ops.push(Op::Set(
                    spath,
                    metadata::partition_state_json(leader, le + 1, &isr, epoch.epoch),
                    Some(st.version),
                ));
            }
        }
        changed = true;
        zn.partitions.insert(*p, rs);
        if add.is_empty() && remove.is_empty() {
            zn.adding.remove(p);
            zn.removing.remove(p);
        } else {
            zn.adding.insert(*p, add);
            zn.removing.insert(*p, remove);
        }
        results.insert(*p, Ok(()));
    }
    if changed {
        ops.insert(0, Op::Set(tpath.clone(), zn.to_json(), Some(tstat.version)));
        let r = fenced(broker, epoch, ops).await;
        if let Err(e) = r {
            let err = match e {
                ControllerError::Resigned => (ResponseError::NotController, "no longer the controller".to_string()),
                ControllerError::Zk(ZkErr::BadVersion) => {
                    (ResponseError::UnknownServerError, "the topic changed concurrently; retry".to_string())
                }
                ControllerError::Zk(e) => zk_fail(e.to_string()),
            };
            for (_, r) in results.iter_mut().filter(|(_, r)| r.is_ok()) {
                *r = Err(err.clone());
            }
        } else {
            tracing::info!(topic, partitions = ?requests.keys().collect::<Vec<_>>(), "partition reassignment updated");
            broker.controller_kick.notify_one();
            broker.refresh.notify_one();
        }
    }
    results
}

/// The legacy znode's entries: (topic, partition) -> target replicas.
pub fn parse_legacy(data: &[u8]) -> BTreeMap<(String, i32), Vec<i32>> {
    let mut out = BTreeMap::new();
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return out };
    for e in v.get("partitions").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(t), Some(p), Some(r)) = (
            e.get("topic").and_then(Value::as_str),
            e.get("partition").and_then(Value::as_i64),
            e.get("replicas").and_then(Value::as_array),
        ) {
            out.insert((t.to_string(), p as i32), r.iter().filter_map(Value::as_i64).map(|x| x as i32).collect());
        }
    }
    out
}

/// /admin/reassign_partitions, as Kafka 2.4+ controllers treat it: start
/// every listed move not yet under way, and drop entries whose move has
/// completed (or cannot happen), deleting the znode once it is empty.
pub async fn process_legacy(broker: &Broker, epoch: Epoch) -> Result<(), ControllerError> {
    let Some((data, st)) = broker.zk.get(LEGACY_NODE).await? else { return Ok(()) };
    let entries = parse_legacy(&data);
    let mut keep = BTreeMap::new();
    let mut by_topic: BTreeMap<String, BTreeMap<i32, Option<Vec<i32>>>> = BTreeMap::new();
    for ((topic, p), target) in entries {
        let zn = match broker.zk.get(&format!("/brokers/topics/{topic}")).await? {
            Some((d, _)) => TopicZnode::parse(&d),
            None => None,
        };
        let Some(zn) = zn.filter(|z| z.partitions.contains_key(&p)) else {
            tracing::warn!(topic, partition = p, "reassignment of an unknown partition dropped");
            continue;
        };
        let done = !zn.reassigning(p) && zn.partitions.get(&p) == Some(&target);
        if done {
            continue;
        }
        let moving_there = zn.reassigning(p) && {
            let removing = zn.removing.get(&p).cloned().unwrap_or_default();
            let current_target: Vec<i32> =
                zn.partitions[&p].iter().copied().filter(|r| !removing.contains(r)).collect();
            current_target == target
        };
        if !moving_there {
            by_topic.entry(topic.clone()).or_default().insert(p, Some(target.clone()));
        }
        keep.insert((topic, p), target);
    }
    for (topic, reqs) in by_topic {
        for (p, r) in alter(broker, epoch, &topic, &reqs).await {
            if let Err((e, m)) = r {
                tracing::warn!(topic, partition = p, error = ?e, m, "reassignment from /admin/reassign_partitions refused");
                keep.remove(&(topic.clone(), p));
            }
        }
    }
    let op = if keep.is_empty() {
        Op::Delete(LEGACY_NODE.to_string())
    } else {
        let parts: Vec<Value> =
            keep.iter().map(|((t, p), r)| json!({"topic": t, "partition": p, "replicas": r})).collect();
        let body = json!({"version": 1, "partitions": parts}).to_string().into_bytes();
        if body == data {
            return Ok(());
        }
        Op::Set(LEGACY_NODE.to_string(), body, Some(st.version))
    };
    match fenced(broker, epoch, vec![op]).await {
        Ok(()) | Err(ControllerError::Zk(ZkErr::BadVersion)) | Err(ControllerError::Zk(ZkErr::NoNode)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zn(p0: Vec<i32>) -> TopicZnode {
        TopicZnode::new(BTreeMap::from([(0, p0)]), metadata::random_kafka_uuid())
    }

    #[test]
    fn plan_follows_kip_455() {
        let z = zn(vec![0, 1]);
        // [0,1] -> [1,2]: RS = [1,2,0], adding [2], removing [0].
        assert_eq!(plan(&z, 0, Some(&[1, 2])).unwrap(), Some((vec![1, 2, 0], vec![2], vec![0])));
        // No change: nothing to do.
        assert_eq!(plan(&z, 0, Some(&[0, 1])).unwrap(), None);
        // Reorder only.
        assert_eq!(plan(&z, 0, Some(&[1, 0])).unwrap(), Some((vec![1, 0], vec![], vec![])));
        // Cancel with nothing under way.
        assert_eq!(plan(&z, 0, None).unwrap_err().0, ResponseError::NoReassignmentInProgress);
        // Cancel an ongoing move: back to the original set.
        let mut moving = z.clone();
        moving.partitions.insert(0, vec![1, 2, 0]);
        moving.adding.insert(0, vec![2]);
        moving.removing.insert(0, vec![0]);
        assert_eq!(plan(&moving, 0, None).unwrap(), Some((vec![1, 0], vec![], vec![])));
        // Redirect an ongoing move: the original set is still [1,0] (minus adding).
        assert_eq!(plan(&moving, 0, Some(&[3])).unwrap(), Some((vec![3, 1, 0], vec![3], vec![1, 0])));
    }

    #[test]
    fn target_validation() {
        let live: BTreeSet<i32> = [0, 1].into();
        assert!(validate_target(&[0, 1], &live).is_ok());
        assert_eq!(validate_target(&[], &live).unwrap_err().0, ResponseError::InvalidReplicaAssignment);
        assert_eq!(validate_target(&[0, 0], &live).unwrap_err().0, ResponseError::InvalidReplicaAssignment);
        let e = validate_target(&[0, 5], &live).unwrap_err();
        assert_eq!(e.1, "The proposed assignment contains non-existent brokerIDs: 5");
    }
}
