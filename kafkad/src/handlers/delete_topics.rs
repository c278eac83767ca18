//! DeleteTopics (20): the controller writes /admin/delete_topics/T markers;
//! its own watch deletes the topic. The response waits (timeout_ms) until
//! the topics are gone from this broker's metadata.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, ResponseKind, TopicName};
use kafka_protocol::ResponseError;

use super::{msg, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DeleteTopicsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let v = ctx.api_version;
    let names: Vec<TopicName> = req.topic_names.clone();
    let mut resp = DeleteTopicsResponse::default();
    let mut pending = Vec::new();
    for name in names {
        let n = name.0.to_string();
        let mut r = DeletableTopicResult::default();
        r.name = Some(name.clone());
        let err = if !broker.is_controller() {
            Some(ResponseError::NotController)
        } else if !broker.metadata().topics.contains_key(&n) {
            Some(ResponseError::UnknownTopicOrPartition)
        } else if !broker.config.delete_topic_enable {
            Some(ResponseError::TopicDeletionDisabled)
        } else {
            match broker.zk.request_topic_deletion(&n).await {
                Ok(()) => {
                    broker.controller_kick.notify_one();
                    pending.push((resp.responses.len(), n.clone()));
                    None
                }
                Err(e) => {
                    tracing::error!(topic = %n, error = %e, "cannot request deletion");
                    Some(ResponseError::UnknownServerError)
                }
            }
        };
        if let Some(e) = err {
            r.error_code = e.code();
            if v >= 5 {
                r.error_message = msg(format!("{e:?}"));
            }
        }
        resp.responses.push(r);
    }
    if !pending.is_empty() {
        let names: Vec<String> = pending.iter().map(|(_, n)| n.clone()).collect();
        let ok =
            broker.wait_metadata(req.timeout_ms as i64, |md| names.iter().all(|n| !md.topics.contains_key(n))).await;
        if !ok {
            for (i, _) in &pending {
                resp.responses[*i].error_code = ResponseError::RequestTimedOut.code();
            }
        }
    }
    Ok(Some(ResponseKind::DeleteTopics(resp)))
}
