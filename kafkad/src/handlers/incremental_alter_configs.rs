//! IncrementalAlterConfigs (44): SET / DELETE / APPEND / SUBTRACT on the
//! current dynamic config (APPEND/SUBTRACT only for list configs).

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::alter_configs::write;
use super::{msg, HandlerResult};
use crate::configs;
use crate::connection::RequestContext;

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

fn is_list(name: &str) -> bool {
    configs::topic_def(name).map(|d| d.ty == configs::Type::List).unwrap_or(false)
        || configs::BROKER_CONFIGS.iter().any(|b| b.0 == name && b.1 == configs::Type::List)
}

pub async fn handle(ctx: &RequestContext, req: IncrementalAlterConfigsRequest) -> HandlerResult {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let ops: Vec<(String, i8, Option<String>)> = res
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.config_operation, c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let dup = ops.iter().find(|(n, _, _)| !seen.insert(n.clone())).map(|(n, _, _)| n.clone());
        let outcome = match dup {
            Some(n) => Err((ResponseError::InvalidRequest, format!("Error due to duplicate config keys: {n}"))),
            None => {
                write(ctx, res.resource_type, &res.resource_name, req.validate_only, move |mut cur| {
                    for (name, op, value) in ops {
                        match op {
                            SET => {
                                cur.insert(name, value.unwrap_or_default());
                            }
                            DELETE => {
                                cur.remove(&name);
                            }
                            APPEND | SUBTRACT => {
                                if !is_list(&name) {
                                    let verb = if op == APPEND { "append" } else { "subtract" };
                                    return Err((
                                        ResponseError::InvalidConfig,
                                        format!("Config value {verb} is not allowed for config key: {name}"),
                                    ));
                                }
                                let mut items: Vec<String> = cur
                                    .get(&name)
                                    .cloned()
                                    .or_else(|| configs::topic_def(&name).map(|d| d.default.to_string()))
                                    .unwrap_or_default()
                                    .split(',')
                                    .map(|s| s.trim().to_string())
                                    .filter(|s| !s.is_empty())
                                    .collect();
                                let given: Vec<String> = value
                                    .unwrap_or_default()
                                    .split(',')
                                    .map(|s| s.trim().to_string())
                                    .filter(|s| !s.is_empty())
                                    .collect();
                                if op == APPEND {
                                    for g in given {
                                        if !items.contains(&g) {
                                            items.push(g);
                                        }
                                    }
                                } else {
                                    items.retain(|i| !given.contains(i));
                                }
                                cur.insert(name, items.join(","));
                            }
                            other => {
                                return Err((
                                    ResponseError::InvalidRequest,
                                    format!("Unknown config operation {other}"),
                                ))
                            }
                        }
                    }
                    Ok(cur)
                })
                .await
            }
        };
        let mut r = AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((e, text)) = outcome {
            r.error_code = e.code();
            r.error_message = msg(text);
        }
        resp.responses.push(r);
    }
    Ok(Some(ResponseKind::IncrementalAlterConfigs(resp)))
}
