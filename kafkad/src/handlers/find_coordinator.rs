//! FindCoordinator (10): this broker coordinates every group (one group
//! coordinator per broker until __consumer_offsets partitions spread them).
//! Transaction coordinators are not available.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{msg, sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> HandlerResult {
    let v = ctx.api_version;
    let ep = ctx.broker.endpoints.iter().find(|e| e.listener == ctx.listener).cloned();
    let answer = |key_type: i8| -> Result<(i32, String, i32), ResponseError> {
        if key_type != 0 {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        match &ep {
            Some(e) => Ok((ctx.broker.id(), e.host.clone(), e.port as i32)),
            None => Err(ResponseError::CoordinatorNotAvailable),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if v >= 4 {
        for key in req.coordinator_keys {
            let mut c = Coordinator::default();
            c.key = key;
            match answer(req.key_type) {
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
            resp.coordinators.push(c);
        }
    } else {
        match answer(if v >= 1 { req.key_type } else { 0 }) {
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
                    resp.error_message = msg("coordinator not available");
                }
            }
        }
    }
    Ok(Some(ResponseKind::FindCoordinator(resp)))
}
