//! Heartbeat (12): keeps a member's session alive and tells it when a
//! rebalance started.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse, ResponseKind};

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: HeartbeatRequest) -> HandlerResult {
    let mut resp = HeartbeatResponse::default();
    if let Err(e) = ctx.broker.groups.heartbeat(&req.group_id.0, req.generation_id, &req.member_id) {
        resp.error_code = e.code();
    }
    Ok(Some(ResponseKind::Heartbeat(resp)))
}
