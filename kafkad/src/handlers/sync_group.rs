//! SyncGroup (14): the leader hands in assignments; every member gets its
//! own once the leader has synced.

use kafka_protocol::messages::{ResponseKind, SyncGroupRequest, SyncGroupResponse};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;
use crate::group::{SyncResult, Synced};

pub async fn handle(ctx: &RequestContext, req: SyncGroupRequest) -> HandlerResult {
    let assignments = req.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
    let r = match ctx.broker.groups.sync(&req.group_id.0, req.generation_id, &req.member_id, assignments) {
        Synced::Now(r) => r,
        Synced::Later(rx) => rx.await.unwrap_or_else(|_| SyncResult {
            error: kafka_protocol::ResponseError::RebalanceInProgress.code(),
            ..Default::default()
        }),
    };
    let mut resp = SyncGroupResponse::default();
    resp.error_code = r.error;
    if ctx.api_version >= 5 {
        resp.protocol_type = r.protocol_type.map(sb);
        resp.protocol_name = r.protocol_name.map(sb);
    }
    resp.assignment = r.assignment;
    Ok(Some(ResponseKind::SyncGroup(resp)))
}
