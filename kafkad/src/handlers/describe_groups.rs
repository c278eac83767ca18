//! DescribeGroups (15): state, protocol and members of each group; an
//! unknown group is reported as Dead without error, as Kafka does.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, ResponseKind};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DescribeGroupsRequest) -> HandlerResult {
    let v = ctx.api_version;
    let mut resp = DescribeGroupsResponse::default();
    for gid in req.groups {
        let mut d = DescribedGroup::default();
        d.group_id = gid.clone();
        ctx.broker.groups.with_group(&gid.0, |g| match g {
            None => match ctx.broker.groups.offsets.stored_group(&gid.0) {
                // Known from __consumer_offsets only: an empty group.
                Some(sg) => {
                    d.group_state = sb("Empty");
                    d.protocol_type = sb(sg.protocol_type);
                }
                None if ctx.broker.groups.offsets.has_group(&gid.0) => {
                    d.group_state = sb("Empty");
                    d.protocol_type = sb("consumer");
                }
                None => d.group_state = sb("Dead"),
            },
            Some(g) => {
                d.group_state = sb(g.state.name());
                d.protocol_type = sb(g.protocol_type.clone().unwrap_or_default());
                d.protocol_data = sb(g.protocol.clone().unwrap_or_default());
                for m in g.members.values() {
                    let mut dm = DescribedGroupMember::default();
                    dm.member_id = sb(m.id.clone());
                    if v >= 4 {
                        dm.group_instance_id = m.instance_id.clone().map(sb);
                    }
                    dm.client_id = sb(m.client_id.clone());
                    dm.client_host = sb(m.client_host.clone());
                    let proto = g.protocol.clone().unwrap_or_default();
                    dm.member_metadata =
                        m.protocols.iter().find(|(n, _)| *n == proto).map(|(_, b)| b.clone()).unwrap_or_default();
                    dm.member_assignment = m.assignment.clone();
                    d.members.push(dm);
                }
            }
        });
        resp.groups.push(d);
    }
    Ok(Some(ResponseKind::DescribeGroups(resp)))
}
