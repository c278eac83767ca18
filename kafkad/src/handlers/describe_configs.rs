//! DescribeConfigs (32): topic configs read from ZooKeeper (as Kafka's ZK
//! mode does, so changes by other tools show at once) with defaults and
//! sources resolved like Kafka; broker configs from server.properties and
//! the dynamic /config/brokers entries.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{sb, HandlerResult};
use crate::configs::{self, Entry};
use crate::connection::RequestContext;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

pub async fn handle(ctx: &RequestContext, req: DescribeConfigsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let entries: Result<Vec<Entry>, (ResponseError, String)> = match res.resource_type {
            RESOURCE_TOPIC => describe_topic(ctx, &name).await,
            RESOURCE_BROKER => {
                if name.is_empty() {
                    // The cluster-wide dynamic default entity only.
                    match broker.zk.entity_config("brokers", "<default>").await {
                        Ok(c) => Ok(c
                            .into_iter()
                            .map(|(k, v)| Entry {
                                name: k.clone(),
                                value: Some(v.clone()),
                                source: 3,
                                ty: configs::Type::String,
                                read_only: false,
                                synonyms: vec![(k, Some(v), 3)],
                            })
                            .collect()),
                        Err(e) => Err((ResponseError::UnknownServerError, e.to_string())),
                    }
                } else if name.trim().parse::<i32>().ok() == Some(broker.id()) {
                    Ok(configs::describe_broker(&broker.config.props, &broker.dynamic_broker_config()))
                } else {
                    Err((
                        ResponseError::InvalidRequest,
                        format!("Unexpected broker id, expected {} or empty string, but received {name}", broker.id()),
                    ))
                }
            }
            other => Err((ResponseError::InvalidRequest, format!("Unsupported resource type {other}"))),
        };
        match entries {
            Ok(list) => {
                let wanted: Option<Vec<String>> =
                    res.configuration_keys.as_ref().map(|k| k.iter().map(|s| s.to_string()).collect());
                for e in list {
                    if let Some(w) = &wanted {
                        if !w.contains(&e.name) {
                            continue;
                        }
                    }
                    let mut c = DescribeConfigsResourceResult::default();
                    c.name = sb(e.name.clone());
                    c.value = e.value.clone().map(sb);
                    c.read_only = e.read_only;
                    c.config_source = e.source;
                    c.is_sensitive = false;
                    if ctx.api_version >= 3 {
                        c.config_type = e.ty.id();
                    }
                    if req.include_synonyms {
                        c.synonyms = e
                            .synonyms
                            .iter()
                            .map(|(n, v, s)| {
                                let mut y = DescribeConfigsSynonym::default();
                                y.name = sb(n.clone());
                                y.value = v.clone().map(sb);
                                y.source = *s;
                                y
                            })
                            .collect();
                    }
                    r.configs.push(c);
                }
            }
            // Kafka's ConfigHelper answers a missing topic with the code
            // and the field's default, an empty message.
            Err((e, text)) => {
                r.error_code = e.code();
                r.error_message = Some(sb(text));
            }
        }
        resp.results.push(r);
    }
    Ok(Some(ResponseKind::DescribeConfigs(resp)))
}

async fn describe_topic(ctx: &RequestContext, name: &str) -> Result<Vec<Entry>, (ResponseError, String)> {
    let broker = &ctx.broker;
    if crate::broker::validate_topic_name(name).is_err() {
        return Err((ResponseError::InvalidTopicException, format!("Invalid topic name {name}")));
    }
    match broker.zk.client().check_stat(&format!("/brokers/topics/{name}")).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err((ResponseError::UnknownTopicOrPartition, String::new()));
        }
        Err(e) => return Err((ResponseError::UnknownServerError, e.to_string())),
    }
    let overrides = broker
        .zk
        .entity_config("topics", name)
        .await
        .map_err(|e| (ResponseError::UnknownServerError, e.to_string()))?;
    let dynamic = broker.dynamic_broker_config();
    Ok(configs::TOPIC_CONFIGS
        .iter()
        .map(|d| configs::describe_topic_entry(d, &overrides, &dynamic, &broker.config.props))
        .collect())
}
