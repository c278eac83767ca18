//! CreatePartitions (37): the controller extends /brokers/topics/T with
//! new partitions (conditional on the znode version), its own watch then
//! creates their state, and the answer waits until they have leaders.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{msg, HandlerResult};
use crate::connection::RequestContext;
use crate::metadata;

type Failure = (ResponseError, String);

pub async fn handle(ctx: &RequestContext, req: CreatePartitionsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = CreatePartitionsResponse::default();
    let mut seen = std::collections::HashSet::new();
    let mut waiting: Vec<(usize, String, i32)> = Vec::new();
    for t in &req.topics {
        let name = t.name.0.to_string();
        let outcome = if !seen.insert(name.clone()) {
            Err((ResponseError::InvalidRequest, "Duplicate topic in request.".to_string()))
        } else if !broker.is_controller() {
            Err((ResponseError::NotController, "This is not the correct controller for this cluster.".into()))
        } else {
            let assignments: Option<Vec<Vec<i32>>> =
                t.assignments.as_ref().map(|a| a.iter().map(|x| x.broker_ids.iter().map(|b| b.0).collect()).collect());
            add(ctx, &name, t.count, assignments, req.validate_only).await
        };
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        match outcome {
            Ok(true) => waiting.push((resp.results.len(), name, t.count)),
            Ok(false) => {}
            Err((e, text)) => {
                r.error_code = e.code();
                r.error_message = msg(text);
            }
        }
        resp.results.push(r);
    }
    if !waiting.is_empty() {
        broker.controller_kick.notify_one();
        let want: Vec<(String, i32)> = waiting.iter().map(|(_, n, c)| (n.clone(), *c)).collect();
        let ok = broker
            .wait_metadata(req.timeout_ms as i64, |md| {
                want.iter().all(|(n, c)| {
                    md.topics
                        .get(n)
                        .map(|t| t.partitions.len() == *c as usize && t.partitions.values().all(|p| p.leader >= 0))
                        .unwrap_or(false)
                })
            })
            .await;
        if !ok {
            for (i, _, _) in &waiting {
                resp.results[*i].error_code = ResponseError::RequestTimedOut.code();
            }
        }
    }
    Ok(Some(ResponseKind::CreatePartitions(resp)))
}

/// Ok(true): written and now pending; Ok(false): validated only.
async fn add(
    ctx: &RequestContext,
    name: &str,
    count: i32,
    manual: Option<Vec<Vec<i32>>>,
    validate_only: bool,
) -> Result<bool, Failure> {
    let broker = &ctx.broker;
    let zk_err = |e: zookeeper_client::Error| (ResponseError::UnknownServerError, e.to_string());
    let path = format!("/brokers/topics/{name}");
    let Some((data, stat)) = broker.zk.get(&path).await.map_err(zk_err)? else {
        return Err((ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist.")));
    };
    if broker.metadata().topics.get(name).map(|t| t.deleting).unwrap_or(false) {
        return Err((ResponseError::InvalidTopicException, format!("The topic '{name}' is queued for deletion.")));
    }
    let Some(mut zn) = metadata::TopicZnode::parse(&data).filter(|z| z.topic_id.is_some()) else {
        return Err((ResponseError::UnknownServerError, format!("unreadable assignment for {name}")));
    };
    if zn.partitions.keys().any(|p| zn.reassigning(*p)) {
        return Err((
            ResponseError::ReassignmentInProgress,
            format!("A partition reassignment is in progress for the topic '{name}'."),
        ));
    }
    let assignment = &zn.partitions;
    let old = assignment.len() as i32;
    if count < old {
        return Err((
            ResponseError::InvalidPartitions,
            format!("Topic currently has {old} partitions, which is higher than the requested {count}."),
        ));
    }
    if count == old {
        return Err((ResponseError::InvalidPartitions, format!("Topic already has {old} partitions.")));
    }
    let rf = assignment.get(&0).map(|r| r.len()).unwrap_or(1);
    let live: Vec<i32> = broker.metadata().brokers.keys().copied().collect();
    let added = (count - old) as usize;
    let new: Vec<Vec<i32>> = match manual {
        Some(m) => {
            if m.len() != added {
                return Err((
                    ResponseError::InvalidReplicaAssignment,
                    format!("Increasing the number of partitions by {added} but {} assignments provided.", m.len()),
                ));
            }
            for a in &m {
                if a.len() != rf {
                    return Err((
                        ResponseError::InvalidReplicaAssignment,
                        format!("Inconsistent replication factor between partitions, partition 0 has {rf} while partitions [{old}] have replication factors [{}], respectively.", a.len()),
                    ));
                }
                if let Some(b) = a.iter().find(|b| !live.contains(b)) {
                    return Err((
                        ResponseError::InvalidReplicaAssignment,
                        format!("Unknown broker(s) in replica assignment: {b}."),
                    ));
                }
            }
            m
        }
        None => {
            if live.is_empty() || rf > live.len() {
                return Err((
                    ResponseError::InvalidReplicationFactor,
                    format!("Replication factor: {rf} larger than available brokers: {}.", live.len()),
                ));
            }
            // Kafka's AdminZkClient.createPartitions: start (and shift) at
            // the first live broker whose id is at least partition 0's
            // first replica, placing partitions old..count.
            let first = assignment.get(&0).and_then(|r| r.first()).copied().unwrap_or(i32::MIN);
            let start = live.iter().position(|b| *b >= first).unwrap_or(0);
            let added = (count - old) as usize;
            shared::replica_assignment::assign(&live, added, rf, start, start, old as usize).unwrap_or_default()
        }
    };
    if validate_only {
        return Ok(false);
    }
    for (i, replicas) in new.into_iter().enumerate() {
        zn.partitions.insert(old + i as i32, replicas);
    }
    match broker.zk.set_topic_znode(name, &zn, stat.version).await {
        Ok(()) => {
            tracing::info!(topic = name, from = old, to = count, "adding partitions");
            Ok(true)
        }
        Err(zookeeper_client::Error::BadVersion) => {
            Err((ResponseError::UnknownServerError, "topic assignment changed concurrently; retry".into()))
        }
        Err(e) => Err(zk_err(e)),
    }
}
