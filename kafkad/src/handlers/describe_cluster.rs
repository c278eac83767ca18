//! DescribeCluster (60): brokers, controller and cluster id from the
//! ZooKeeper-derived metadata (endpoint type 1 = brokers only).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{msg, sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DescribeClusterRequest) -> HandlerResult {
    let md = ctx.broker.metadata();
    let mut resp = DescribeClusterResponse::default();
    resp.cluster_id = sb(ctx.broker.cluster_id.clone());
    resp.controller_id = BrokerId(md.controller_id);
    resp.cluster_authorized_operations = i32::MIN;
    if ctx.api_version >= 1 {
        resp.endpoint_type = req.endpoint_type;
        if req.endpoint_type != 1 {
            resp.error_code = ResponseError::UnsupportedEndpointType.code();
            resp.error_message = msg("The target broker only supports endpoint type BROKERS");
            return Ok(Some(ResponseKind::DescribeCluster(resp)));
        }
    }
    for b in md.brokers.values() {
        // The address on the listener this client came in through.
        let Some(ep) = b.endpoints.iter().find(|e| e.listener == ctx.listener) else { continue };
        let mut d = DescribeClusterBroker::default();
        d.broker_id = BrokerId(b.id);
        d.host = sb(ep.host.clone());
        d.port = ep.port as i32;
        d.rack = b.rack.clone().map(sb);
        resp.brokers.push(d);
    }
    Ok(Some(ResponseKind::DescribeCluster(resp)))
}
