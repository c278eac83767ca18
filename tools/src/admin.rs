//! Admin requests shared by several tools (kafka-topics, kafka-configs,
//! kafka-consumer-groups, ...): each retries NOT_CONTROLLER and
//! coordinator moves within the tool's timeout.

use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeConfigsRequest, ListGroupsRequest, MetadataResponse,
};

use crate::client::{sb, tn, Cluster};
use crate::error::{codes, Result, ToolError};

/// Kafka's ConfigResource types.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// The sentence Kafka's exception carries for an error code.
pub fn error_text(code: i16, broker_msg: Option<&str>, topic: &str) -> String {
    if let Some(m) = broker_msg.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    match code {
        codes::TOPIC_ALREADY_EXISTS => format!("Topic '{topic}' already exists."),
        codes::UNKNOWN_TOPIC_OR_PARTITION => "This server does not host this topic-partition.".into(),
        _ => kafka_protocol::error::ResponseError::try_from_code(code).map(|e| e.to_string()).unwrap_or_default(),
    }
}

pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub assignment: Vec<Vec<i32>>,
    pub configs: Vec<(String, String)>,
}

/// CreateTopics at the controller; Ok((error code, message)) per topic.
pub async fn create_topic(cl: &mut Cluster, t: &NewTopic, timeout: Duration) -> Result<(i16, Option<String>)> {
    let mut ct = CreatableTopic::default();
    ct.name = tn(&t.name);
    if t.assignment.is_empty() {
        ct.num_partitions = t.partitions;
        ct.replication_factor = t.replication_factor;
    } else {
        ct.num_partitions = -1;
        ct.replication_factor = -1;
        ct.assignments = t
            .assignment
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut a = CreatableReplicaAssignment::default();
                a.partition_index = i as i32;
                a.broker_ids = r.iter().map(|b| BrokerId(*b)).collect();
                a
            })
            .collect();
    }
    ct.configs = t
        .configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = sb(k);
            c.value = Some(sb(v));
            c
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct];
    req.timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let deadline = Instant::now() + timeout;
    loop {
        let conn = cl.controller().await?;
        let v = conn.version::<CreateTopicsRequest>(7)?;
        if v < 4 && (t.partitions < 0 || t.replication_factor < 0) && t.assignment.is_empty() {
            return Err(ToolError::Msg("The broker needs --partitions and --replication-factor".into()));
        }
        let resp = conn.call(&req, v).await?;
        let r = resp.topics.first().ok_or_else(|| ToolError::Connection("empty CreateTopics response".into()))?;
        if r.error_code == codes::NOT_CONTROLLER && Instant::now() < deadline {
            cl.metadata(Some(&[]), false).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return Ok((r.error_code, r.error_message.as_ref().map(|m| m.to_string())));
    }
}

/// DescribeConfigs for resources of one type. `None` when the broker has
/// no DescribeConfigs API.
/// One config change for IncrementalAlterConfigs: key, operation (0 set,
/// 1 delete), value.
pub type ConfigOp = (String, i8, Option<String>);

/// IncrementalAlterConfigs for several resources (type, name, changes) on
/// `conn`; the per-resource (name, error code, message) answers.
pub async fn incremental_alter(
    conn: &mut crate::client::Conn,
    resources: &[(i8, String, Vec<ConfigOp>)],
) -> Result<Vec<(String, i16, Option<String>)>> {
    use kafka_protocol::messages::incremental_alter_configs_request as iac;
    use kafka_protocol::messages::IncrementalAlterConfigsRequest;
    let mut req = IncrementalAlterConfigsRequest::default();
    for (kind, name, ops) in resources {
        let mut res = iac::AlterConfigsResource::default();
        res.resource_type = *kind;
        res.resource_name = sb(name);
        for (k, op, v) in ops {
            let mut c = iac::AlterableConfig::default();
            c.name = sb(k);
            c.config_operation = *op;
            c.value = v.as_deref().map(sb);
            res.configs.push(c);
        }
        req.resources.push(res);
    }
    let v = conn.version::<IncrementalAlterConfigsRequest>(1)?;
    let resp = conn.call(&req, v).await?;
    Ok(resp
        .responses
        .into_iter()
        .map(|r| (r.resource_name.to_string(), r.error_code, r.error_message.map(|m| m.to_string())))
        .collect())
}

pub async fn describe_configs(
    cl: &mut Cluster,
    broker: Option<i32>,
    rtype: i8,
    names: &[String],
    synonyms: bool,
) -> Result<Option<Vec<DescribeConfigsResult>>> {
    let conn = match broker {
        Some(id) => cl.broker(id).await?,
        None => cl.any().await?,
    };
    if !conn.supports(kafka_protocol::messages::ApiKey::DescribeConfigs) {
        return Ok(None);
    }
    let mut req = DescribeConfigsRequest::default();
    req.resources = names
        .iter()
        .map(|n| {
            let mut r = DescribeConfigsResource::default();
            r.resource_type = rtype;
            r.resource_name = sb(n);
            r.configuration_keys = None;
            r
        })
        .collect();
    let v = conn.version::<DescribeConfigsRequest>(4)?;
    if v >= 1 {
        req.include_synonyms = synonyms;
    }
    if v >= 3 {
        req.include_documentation = false;
    }
    let resp = conn.call(&req, v).await?;
    Ok(Some(resp.results))
}

/// Group ids and protocol types from ListGroups on every broker.
pub async fn list_groups(cl: &mut Cluster) -> Result<Vec<(String, String, String)>> {
    let ids: Vec<i32> = cl.brokers.keys().copied().collect();
    let mut out = Vec::new();
    for id in ids {
        let conn = cl.broker(id).await?;
        let v = conn.version::<ListGroupsRequest>(4)?;
        let resp = conn.call(&ListGroupsRequest::default(), v).await?;
        crate::error::check(resp.error_code, || "ListGroups".into())?;
        for g in resp.groups {
            out.push((g.group_id.to_string(), g.protocol_type.to_string(), g.group_state.to_string()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Topic names of a metadata response, sorted.
pub fn topic_names(md: &MetadataResponse, exclude_internal: bool) -> Vec<String> {
    let mut v: Vec<String> = md
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !(exclude_internal && t.is_internal))
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    v.sort();
    v
}

/// Kafka's Uuid text: base64url without padding.
pub fn uuid_text(u: &uuid::Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(u.as_bytes())
}
