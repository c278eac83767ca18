//! DeleteGroups (42): empty groups only (NON_EMPTY_GROUP otherwise,
//! GROUP_ID_NOT_FOUND for unknown ones); their offsets and metadata are
//! tombstoned in __consumer_offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, ResponseKind};

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DeleteGroupsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = DeleteGroupsResponse::default();
    for g in req.groups_names {
        let mut r = DeletableGroupResult::default();
        let outcome = match broker.groups.prepare_delete(&g.0) {
            Ok(()) => broker.delete_group_data(&g.0, None).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            r.error_code = e.code();
        } else {
            tracing::info!(group = %g.0, "group deleted");
        }
        r.group_id = g;
        resp.results.push(r);
    }
    Ok(Some(ResponseKind::DeleteGroups(resp)))
}
