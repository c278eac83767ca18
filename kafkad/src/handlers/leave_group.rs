//! LeaveGroup (13): v0-2 name one member, v3+ a list of members.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse, ResponseKind};

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: LeaveGroupRequest) -> HandlerResult {
    let mut resp = LeaveGroupResponse::default();
    if ctx.api_version < 3 {
        let codes = ctx.broker.groups.leave(&req.group_id.0, &[(req.member_id.to_string(), None)]);
        resp.error_code = codes.first().copied().unwrap_or(0);
    } else {
        let ids: Vec<(String, Option<String>)> = req
            .members
            .iter()
            .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
            .collect();
        let codes = ctx.broker.groups.leave(&req.group_id.0, &ids);
        for (m, code) in req.members.into_iter().zip(codes) {
            let mut r = MemberResponse::default();
            r.member_id = m.member_id;
            r.group_instance_id = m.group_instance_id;
            r.error_code = code;
            resp.members.push(r);
        }
    }
    Ok(Some(ResponseKind::LeaveGroup(resp)))
}
