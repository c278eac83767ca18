//! CreateTopics (19): only the controller creates topics (others answer
//! NOT_CONTROLLER and the client retries there). The topic is written to
//! ZooKeeper; the response waits, up to timeout_ms, until every partition
//! has a leader in this broker's metadata.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{msg, HandlerResult};
use crate::broker::validate_topic_name;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: CreateTopicsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let v = ctx.api_version;
    let mut resp = CreateTopicsResponse::default();
    let mut seen = HashSet::new();
    let dups: HashSet<String> =
        req.topics.iter().map(|t| t.name.0.to_string()).filter(|n| !seen.insert(n.clone())).collect();
    let mut created: Vec<(usize, String, i32)> = Vec::new();
    for t in &req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        r.num_partitions = -1;
        r.replication_factor = -1;
        let partitions = if t.num_partitions == -1 { broker.config.num_partitions } else { t.num_partitions };
        let rf =
            if t.replication_factor == -1 { broker.config.default_replication_factor } else { t.replication_factor };
        let config: BTreeMap<String, String> =
            t.configs.iter().filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string()))).collect();
        let outcome: Result<Option<uuid::Uuid>, (ResponseError, String)> = if !broker.is_controller() {
            Err((ResponseError::NotController, "this broker is not the controller".into()))
        } else if dups.contains(&name) {
            Err((ResponseError::InvalidRequest, "topic listed twice".into()))
        } else if let Err(reason) = validate_topic_name(&name) {
            Err((ResponseError::InvalidTopicException, format!("invalid topic name: {reason}")))
        } else if broker.metadata().topics.contains_key(&name) {
            Err((ResponseError::TopicAlreadyExists, format!("Topic '{name}' already exists.")))
        } else if let Some(nulls) = null_configs(t) {
            Err((ResponseError::InvalidConfig, format!("Null value not supported for topic configs: {nulls}")))
        } else if !t.assignments.is_empty() {
            // Kafka checks the assignment, then the configs, then creates.
            match manual_assignment(broker, t).and_then(|a| check_configs(&config).map(|_| a)) {
                Err(e) => Err(e),
                Ok(_) if req.validate_only => Ok(None),
                Ok(a) => broker.create_topic_with(&name, &a, &config).await.map(Some).map_err(|e| (e, String::new())),
            }
        } else if let Err(e) = check_counts(partitions, rf, broker.metadata().brokers.len()) {
            Err(e)
        } else if let Err(e) = check_configs(&config) {
            Err(e)
        } else if req.validate_only {
            Ok(None)
        } else {
            match broker.create_topic(&name, partitions, rf, &config).await {
                Ok(id) => Ok(Some(id)),
                Err(e) => Err((e, String::new())),
            }
        };
        let (partitions, rf) = match t.assignments.first() {
            Some(a) => (t.assignments.len() as i32, a.broker_ids.len() as i16),
            None => (partitions, rf),
        };
        match outcome {
            Ok(id) => {
                r.num_partitions = partitions;
                r.replication_factor = rf;
                if let (Some(id), true) = (id, v >= 7) {
                    r.topic_id = id;
                }
                if id.is_some() {
                    created.push((resp.topics.len(), name, partitions));
                }
            }
            Err((e, text)) => {
                r.error_code = e.code();
                if v >= 1 && !text.is_empty() {
                    r.error_message = msg(text);
                }
            }
        }
        resp.topics.push(r);
    }
    if !created.is_empty() {
        let want: Vec<(String, i32)> = created.iter().map(|(_, n, p)| (n.clone(), *p)).collect();
        let ok = broker
            .wait_metadata(req.timeout_ms as i64, |md| {
                want.iter().all(|(n, p)| {
                    md.topics
                        .get(n)
                        .map(|t| t.partitions.len() == *p as usize && t.partitions.values().all(|pi| pi.leader >= 0))
                        .unwrap_or(false)
                })
            })
            .await;
        if !ok {
            for (i, _, _) in &created {
                resp.topics[*i].error_code = ResponseError::RequestTimedOut.code();
            }
        }
    }
    Ok(Some(ResponseKind::CreateTopics(resp)))
}

/// Names of configs sent without a value, comma separated (Kafka refuses
/// them before anything else is checked).
fn null_configs(t: &kafka_protocol::messages::create_topics_request::CreatableTopic) -> Option<String> {
    let nulls: Vec<String> = t.configs.iter().filter(|c| c.value.is_none()).map(|c| c.name.to_string()).collect();
    (!nulls.is_empty()).then(|| nulls.join(","))
}

/// AdminUtils.assignReplicasToBrokers' checks, with its texts.
fn check_counts(partitions: i32, rf: i16, live: usize) -> Result<(), (ResponseError, String)> {
    if partitions < 1 {
        Err((ResponseError::InvalidPartitions, "Number of partitions must be larger than 0.".into()))
    } else if rf < 1 {
        Err((ResponseError::InvalidReplicationFactor, "Replication factor must be larger than 0.".into()))
    } else if rf as usize > live {
        Err((
            ResponseError::InvalidReplicationFactor,
            format!("Replication factor: {rf} larger than available brokers: {live}."),
        ))
    } else {
        Ok(())
    }
}

/// LogConfig.validate: a bad value is INVALID_CONFIG and nothing is created
/// (also with validate_only, which kafka-topics.sh relies on).
fn check_configs(config: &BTreeMap<String, String>) -> Result<(), (ResponseError, String)> {
    crate::configs::validate_new_topic_configs(config).map_err(|m| (ResponseError::InvalidConfig, m))
}

/// Kafka's checks on a manual assignment (ZkAdminManager.createTopics and
/// AdminZkClient.validateTopicCreate).
fn manual_assignment(
    broker: &crate::broker::Broker,
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<BTreeMap<i32, Vec<i32>>, (ResponseError, String)> {
    let bad = |m: String| Err((ResponseError::InvalidReplicaAssignment, m));
    if t.num_partitions != -1 || t.replication_factor != -1 {
        return Err((
            ResponseError::InvalidRequest,
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
        ));
    }
    let a: BTreeMap<i32, Vec<i32>> =
        t.assignments.iter().map(|x| (x.partition_index, x.broker_ids.iter().map(|b| b.0).collect())).collect();
    if a.len() != t.assignments.len() || a.keys().copied().ne(0..a.len() as i32) {
        return bad("partitions should be a consecutive 0-based integer sequence".into());
    }
    let rf = a.get(&0).map(Vec::len).unwrap_or(0);
    for (p, r) in &a {
        if r.is_empty() {
            return bad(format!("Replica assignment for partition {p} is empty."));
        }
        if r.len() != rf {
            return bad("All partitions should have the same number of replicas".into());
        }
        if r.iter().collect::<HashSet<_>>().len() != r.len() {
            return bad(format!("Duplicate replica assignment found: {r:?}"));
        }
    }
    let live = broker.metadata().brokers.keys().copied().collect::<HashSet<i32>>();
    let mut unknown: Vec<i32> = a.values().flatten().copied().filter(|b| !live.contains(b)).collect();
    unknown.sort();
    unknown.dedup();
    if !unknown.is_empty() {
        let list = unknown.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
        return bad(format!("Unknown broker(s) in replica assignment: {list}."));
    }
    Ok(a)
}
