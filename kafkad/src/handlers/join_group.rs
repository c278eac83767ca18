//! JoinGroup (11): enter the group's join phase; the answer comes when the
//! rebalance completes (or MEMBER_ID_REQUIRED first, for v4+).

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, ResponseKind};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;
use crate::group::{JoinParams, JoinResult, Joined};

pub async fn handle(ctx: &RequestContext, req: JoinGroupRequest) -> HandlerResult {
    let v = ctx.api_version;
    let params = JoinParams {
        group: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: ctx.header.client_id.as_ref().map(|s| s.to_string()).unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout; Kafka uses the session timeout.
        rebalance_timeout_ms: if v >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms },
        protocol_type: req.protocol_type.to_string(),
        protocols: req.protocols.into_iter().map(|p| (p.name.to_string(), p.metadata)).collect(),
        require_known_member_id: v >= 4,
    };
    let result = match ctx.broker.groups.join(params) {
        Joined::Now(r) => r,
        Joined::Later(rx) => rx.await.unwrap_or_else(|_| JoinResult {
            error: kafka_protocol::ResponseError::UnknownServerError.code(),
            generation: -1,
            ..Default::default()
        }),
    };
    let mut resp = JoinGroupResponse::default();
    resp.error_code = result.error;
    resp.generation_id = result.generation;
    if v >= 7 {
        resp.protocol_type = result.protocol_type.map(sb);
    }
    resp.protocol_name = Some(sb(result.protocol_name.unwrap_or_default()));
    resp.leader = sb(result.leader);
    resp.member_id = sb(result.member_id);
    resp.members = result
        .members
        .into_iter()
        .map(|(id, inst, meta)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = sb(id);
            if v >= 5 {
                m.group_instance_id = inst.map(sb);
            }
            m.metadata = meta;
            m
        })
        .collect();
    Ok(Some(ResponseKind::JoinGroup(resp)))
}
