//! Metadata (3): brokers with the advertised address of the listener the
//! client came in on, the controller, topics and partition leadership.
//! Unknown topics are auto-created when auto.create.topics.enable allows,
//! answered with LEADER_NOT_AVAILABLE as Kafka does; the client retries.
//! A name Kafka's rules refuse gets INVALID_TOPIC_EXCEPTION either way.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, ResponseKind, TopicName};
use kafka_protocol::ResponseError;

use super::{sb, HandlerResult};
use crate::connection::RequestContext;
use crate::metadata::{ClusterMetadata, TopicInfo};

pub const INTERNAL_TOPIC: &str = "__consumer_offsets";

pub async fn handle(ctx: &RequestContext, req: MetadataRequest) -> HandlerResult {
    let v = ctx.api_version;
    let broker = &ctx.broker;
    let mut md = broker.metadata();
    // v12+ may ask by topic ID (describeTopics by ID): known IDs become
    // their names, unknown ones UNKNOWN_TOPIC_ID, nothing is auto-created.
    let ids: Vec<uuid::Uuid> = match &req.topics {
        Some(t) if v >= 12 => t.iter().map(|t| t.topic_id).filter(|id| !id.is_nil()).collect(),
        _ => Vec::new(),
    };
    let by_id = !ids.is_empty();
    let mut unknown_ids = Vec::new();
    // v0: an empty list means all topics; v1+: null means all.
    let requested: Option<Vec<String>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && v == 0 => None,
        Some(_) if by_id => {
            let mut names = Vec::new();
            for id in &ids {
                match md.topics.values().find(|i| i.topic_id == *id) {
                    Some(info) => names.push(info.name.clone()),
                    None => unknown_ids.push(*id),
                }
            }
            Some(names)
        }
        Some(t) => Some(t.into_iter().filter_map(|t| t.name.map(|n| n.0.to_string())).collect()),
    };
    let allow_auto = (v < 4 || req.allow_auto_topic_creation) && !by_id;
    let mut created: Vec<(String, ResponseError)> = Vec::new();
    if let Some(names) = &requested {
        for n in names {
            if md.topics.contains_key(n) {
                continue;
            }
            let outcome = if broker.config.auto_create_topics && allow_auto {
                match broker
                    .create_topic(
                        n,
                        broker.config.num_partitions,
                        broker.config.default_replication_factor,
                        &Default::default(),
                    )
                    .await
                {
                    Ok(_) | Err(ResponseError::TopicAlreadyExists) => ResponseError::LeaderNotAvailable,
                    Err(e) => e,
                }
            } else if crate::broker::validate_topic_name(n).is_err() {
                // Kafka answers an invalid name as invalid, not unknown.
                ResponseError::InvalidTopicException
            } else {
                ResponseError::UnknownTopicOrPartition
            };
            created.push((n.clone(), outcome));
        }
        if !created.is_empty() {
            md = broker.metadata();
        }
    }

    let mut resp = MetadataResponse::default();
    resp.brokers = brokers_for(&md, ctx);
    if v >= 2 {
        resp.cluster_id = Some(sb(broker.cluster_id.clone()));
    }
    if v >= 1 {
        resp.controller_id = BrokerId(md.controller_id);
    }
    let names: Vec<String> = match &requested {
        None => md.topics.keys().cloned().collect(),
        Some(n) => n.clone(),
    };
    for name in names {
        let mut t = MetadataResponseTopic::default();
        t.name = Some(TopicName(sb(name.clone())));
        match md.topics.get(&name) {
            Some(info) => fill_topic(&mut t, info, &md, v),
            None => {
                let code = created
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, e)| e.code())
                    .unwrap_or(ResponseError::UnknownTopicOrPartition.code());
                t.error_code = code;
            }
        }
        resp.topics.push(t);
    }
    for id in unknown_ids {
        let mut t = MetadataResponseTopic::default();
        t.topic_id = id;
        t.error_code = ResponseError::UnknownTopicId.code();
        resp.topics.push(t);
    }
    Ok(Some(ResponseKind::Metadata(resp)))
}

fn brokers_for(md: &ClusterMetadata, ctx: &RequestContext) -> Vec<MetadataResponseBroker> {
    let mut out = Vec::new();
    for b in md.brokers.values() {
        // Only brokers reachable on the listener this client used.
        let ep = if b.id == ctx.broker.id() {
            ctx.broker.endpoints.iter().find(|e| e.listener == ctx.listener).map(|e| (e.host.clone(), e.port))
        } else {
            b.endpoints.iter().find(|e| e.listener == ctx.listener).map(|e| (e.host.clone(), e.port))
        };
        let Some((host, port)) = ep else { continue };
        let mut mb = MetadataResponseBroker::default();
        mb.node_id = BrokerId(b.id);
        mb.host = sb(host);
        mb.port = port as i32;
        if ctx.api_version >= 1 {
            mb.rack = b.rack.clone().map(sb);
        }
        out.push(mb);
    }
    out
}

fn fill_topic(t: &mut MetadataResponseTopic, info: &TopicInfo, md: &ClusterMetadata, v: i16) {
    if v >= 10 {
        t.topic_id = info.topic_id;
    }
    t.is_internal = info.name == INTERNAL_TOPIC;
    for (p, pi) in &info.partitions {
        let mut mp = MetadataResponsePartition::default();
        mp.partition_index = *p;
        let leader_live = pi.leader >= 0 && md.brokers.contains_key(&pi.leader);
        mp.leader_id = BrokerId(if leader_live { pi.leader } else { -1 });
        if !leader_live {
            mp.error_code = ResponseError::LeaderNotAvailable.code();
        }
        if v >= 7 {
            mp.leader_epoch = pi.leader_epoch;
        }
        mp.replica_nodes = pi.replicas.iter().map(|r| BrokerId(*r)).collect();
        mp.isr_nodes = pi.isr.iter().map(|r| BrokerId(*r)).collect();
        if v >= 5 {
            mp.offline_replicas =
                pi.replicas.iter().filter(|r| !md.brokers.contains_key(r)).map(|r| BrokerId(*r)).collect();
        }
        t.partitions.push(mp);
    }
}
