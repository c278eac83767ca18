//! ListGroups (16): live groups plus groups known only by committed offsets
//! (reported Empty), optionally filtered by state (v4+).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse, ResponseKind};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: ListGroupsRequest) -> HandlerResult {
    let v = ctx.api_version;
    let mut all: std::collections::BTreeMap<String, (String, String)> = Default::default();
    for (g, ptype, _) in ctx.broker.groups.offsets.groups() {
        all.insert(g, (ptype, "Empty".to_string()));
    }
    for (name, ptype, state) in ctx.broker.groups.group_names() {
        all.insert(name, (ptype, state.name().to_string()));
    }
    let filter: Vec<String> =
        if v >= 4 { req.states_filter.iter().map(|s| s.to_ascii_lowercase()).collect() } else { Vec::new() };
    let mut resp = ListGroupsResponse::default();
    for (name, (ptype, state)) in all {
        if !filter.is_empty() && !filter.contains(&state.to_ascii_lowercase()) {
            continue;
        }
        let mut g = ListedGroup::default();
        g.group_id = GroupId(sb(name));
        g.protocol_type = sb(ptype);
        if v >= 4 {
            g.group_state = sb(state);
        }
        resp.groups.push(g);
    }
    Ok(Some(ResponseKind::ListGroups(resp)))
}
