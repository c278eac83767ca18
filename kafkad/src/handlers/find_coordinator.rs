//! FindCoordinator (10): a group's coordinator is the leader of its
//! __consumer_offsets partition (the topic is created on first use, as
//! Kafka does). Transaction coordinators are not available.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{msg, sb, HandlerResult};
use crate::connection::RequestContext;
use crate::group::offsets::OFFSETS_TOPIC;

async fn answer(ctx: &RequestContext, key_type: i8, key: &str) -> Result<(i32, String, i32), ResponseError> {
    if key_type != 0 {
        return Err(ResponseError::CoordinatorNotAvailable);
    }
    let broker = &ctx.broker;
    broker.ensure_offsets_topic().await?;
    let md = broker.metadata();
    let p = broker.coordinator_partition(key);
    let leader = md
        .topics
        .get(OFFSETS_TOPIC)
        .and_then(|t| t.partitions.get(&p))
        .map(|i| i.leader)
        .filter(|l| *l >= 0)
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    let ep = md
        .brokers
        .get(&leader)
        .and_then(|b| b.endpoints.iter().find(|e| e.listener == ctx.listener).cloned())
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    Ok((leader, ep.host, ep.port as i32))
}

pub async fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> HandlerResult {
    let v = ctx.api_version;
    let mut resp = FindCoordinatorResponse::default();
    if v >= 4 {
        for key in req.coordinator_keys {
            let mut c = Coordinator::default();
            match answer(ctx, req.key_type, &key).await {
                Ok((id, host, port)) => {
                    c.node_id = BrokerId(id);
                    c.host = sb(host);
                    c.port = port;
                }
                Err(e) => {
                    c.node_id = BrokerId(-1);
                    c.host = StrBytes::default();
                    c.port = -1;
                    c.error_code = e.code();
                }
            }
            c.key = key;
            resp.coordinators.push(c);
        }
    } else {
        match answer(ctx, if v >= 1 { req.key_type } else { 0 }, &req.key).await {
            Ok((id, host, port)) => {
                resp.node_id = BrokerId(id);
                resp.host = sb(host);
                resp.port = port;
            }
            Err(e) => {
                resp.error_code = e.code();
                resp.node_id = BrokerId(-1);
                resp.port = -1;
                if v >= 1 {
                    resp.error_message = msg("The coordinator is not available.");
                }
            }
        }
    }
    Ok(Some(ResponseKind::FindCoordinator(resp)))
}
