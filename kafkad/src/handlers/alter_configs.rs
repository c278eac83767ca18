//! AlterConfigs (33): replace an entity's whole dynamic config. Topics:
//! /config/topics/T; brokers: /config/brokers/<id> (or <default> for the
//! empty name), limited to the keys Kafka updates dynamically. Every write
//! is announced under /config/changes.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{msg, HandlerResult};
use crate::configs;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: AlterConfigsRequest) -> HandlerResult {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let new: BTreeMap<String, String> =
            res.configs.iter().filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string()))).collect();
        let outcome = write(ctx, res.resource_type, &name, req.validate_only, |_| Ok(new.clone())).await;
        let mut r = AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((e, text)) = outcome {
            r.error_code = e.code();
            r.error_message = msg(text);
        }
        resp.responses.push(r);
    }
    Ok(Some(ResponseKind::AlterConfigs(resp)))
}

pub type ConfigError = (ResponseError, String);

/// ZooKeeper entity (type, name) for a resource, after Kafka's checks.
async fn entity(ctx: &RequestContext, resource_type: i8, name: &str) -> Result<(&'static str, String), ConfigError> {
    let broker = &ctx.broker;
    match resource_type {
        RESOURCE_TOPIC => {
            if crate::broker::validate_topic_name(name).is_err() {
                return Err((ResponseError::InvalidTopicException, format!("Invalid topic name {name}")));
            }
            match broker.zk.client().check_stat(&format!("/brokers/topics/{name}")).await {
                Ok(Some(_)) => Ok(("topics", name.to_string())),
                Ok(None) => {
                    Err((ResponseError::UnknownTopicOrPartition, format!("The topic '{name}' does not exist.")))
                }
                Err(e) => Err((ResponseError::UnknownServerError, e.to_string())),
            }
        }
        RESOURCE_BROKER if name.is_empty() => Ok(("brokers", "<default>".to_string())),
        RESOURCE_BROKER => match name.trim().parse::<i32>() {
            Ok(id) if id >= 0 => Ok(("brokers", id.to_string())),
            _ => Err((ResponseError::InvalidRequest, format!("Invalid broker id {name}"))),
        },
        other => Err((ResponseError::InvalidRequest, format!("Unsupported resource type {other}"))),
    }
}

/// Kafka's ZkAdminManager: a value the config definitions refuse (a
/// ConfigException) is reported for its resource; an unknown topic config
/// name is not.
fn invalid_value(resource: &str, m: String) -> ConfigError {
    if m.starts_with("Unknown topic config name") {
        return (ResponseError::InvalidConfig, m);
    }
    (ResponseError::InvalidConfig, format!("Invalid config value for resource {resource}: {m}"))
}

fn validate(entity_type: &str, name: &str, config: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let kind = if entity_type == "topics" { "TOPIC" } else { "BROKER" };
    let resource = format!("ConfigResource(type={kind}, name='{name}')");
    for (k, v) in config {
        if entity_type == "topics" {
            configs::validate_topic_config(k, v).map_err(|m| invalid_value(&resource, m))?;
        } else {
            match configs::BROKER_CONFIGS.iter().find(|b| b.0 == k) {
                Some((_, _, _, true)) => {}
                _ => {
                    return Err((
                        ResponseError::InvalidRequest,
                        format!("Cannot update these configs dynamically: Set({k})"),
                    ))
                }
            }
            // Broker log configs share the topic validation by synonym.
            if let Some(d) = configs::TOPIC_CONFIGS.iter().find(|d| d.synonyms.first().map(|s| s.0) == Some(k.as_str()))
            {
                configs::validate_topic_config(d.name, v)
                    .map_err(|m| invalid_value(&resource, m.replace(d.name, k)))?;
            }
        }
    }
    Ok(())
}

/// Read the entity's current config, compute the new one with `change`,
/// validate and (unless validate_only) write it with a change notification.
pub async fn write(
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError>,
) -> Result<(), ConfigError> {
    let broker = &ctx.broker;
    let (etype, ename) = entity(ctx, resource_type, name).await?;
    let current =
        broker.zk.entity_config(etype, &ename).await.map_err(|e| (ResponseError::UnknownServerError, e.to_string()))?;
    let new = change(current)?;
    validate(etype, name, &new)?;
    if validate_only {
        return Ok(());
    }
    broker
        .zk
        .set_entity_config(etype, &ename, &new)
        .await
        .map_err(|e| (ResponseError::UnknownServerError, e.to_string()))?;
    tracing::info!(entity = %format!("{etype}/{ename}"), config = ?new, "dynamic config updated");
    broker.refresh.notify_one();
    Ok(())
}
