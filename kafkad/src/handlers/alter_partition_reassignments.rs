//! AlterPartitionReassignments (45): start, redirect or cancel (null
//! replicas) partition moves, on the controller (KIP-455). The move itself
//! is driven by the controller's reconcile loop (zk::reassign).

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{msg, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: AlterPartitionReassignmentsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = AlterPartitionReassignmentsResponse::default();
    let Some(epoch) = broker.controller_epoch() else {
        resp.error_code = ResponseError::NotController.code();
        return Ok(Some(ResponseKind::AlterPartitionReassignments(resp)));
    };
    for t in req.topics {
        let topic = t.name.0.to_string();
        let requests: BTreeMap<i32, Option<Vec<i32>>> = t
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect())))
            .collect();
        let results = crate::zk::reassign::alter(broker, epoch, &topic, &requests).await;
        let mut tr = ReassignableTopicResponse::default();
        tr.name = t.name.clone();
        for (p, r) in results {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = p;
            if let Err((e, m)) = r {
                pr.error_code = e.code();
                pr.error_message = msg(m);
            }
            tr.partitions.push(pr);
        }
        resp.responses.push(tr);
    }
    Ok(Some(ResponseKind::AlterPartitionReassignments(resp)))
}
