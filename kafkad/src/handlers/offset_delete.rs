//! OffsetDelete (47): delete committed offsets of a group's partitions,
//! refused per partition with GROUP_SUBSCRIBED_TO_TOPIC while a live
//! consumer group subscribes to the topic.

use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: OffsetDeleteRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let group = req.group_id.0.to_string();
    let mut resp = OffsetDeleteResponse::default();
    let subscribed = match broker.groups.offset_delete_check(&group) {
        Ok(s) => s,
        Err(e) => {
            resp.error_code = e.code();
            return Ok(Some(ResponseKind::OffsetDelete(resp)));
        }
    };
    let mut doomed = Vec::new();
    for t in req.topics {
        let topic = t.name.0.to_string();
        let mut tr = OffsetDeleteResponseTopic::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = OffsetDeleteResponsePartition::default();
            pr.partition_index = p.partition_index;
            if subscribed.contains(&topic) {
                pr.error_code = ResponseError::GroupSubscribedToTopic.code();
            } else if broker.groups.offsets.get(&group, &topic, p.partition_index).is_some() {
                doomed.push((topic.clone(), p.partition_index));
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    if !doomed.is_empty() {
        if let Err(e) = broker.delete_group_data(&group, Some(doomed)).await {
            resp.error_code = e.code();
        }
    }
    Ok(Some(ResponseKind::OffsetDelete(resp)))
}
