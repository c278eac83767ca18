//! InitProducerId (22) for idempotent producers: ids come from blocks
//! claimed in /latest_producer_id_block. Transactions are not supported, so
//! a transactional id is refused with a non-retriable error.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: InitProducerIdRequest) -> HandlerResult {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req.transactional_id.is_some() {
        resp.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return Ok(Some(ResponseKind::InitProducerId(resp)));
    }
    // Without a transactional id Kafka's coordinator "blindly accepts" the
    // request and hands out a fresh producer id at epoch 0, also when the
    // client passes its current id/epoch (KIP-360 re-initialisation).
    match ctx.broker.next_producer_id().await {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot allocate producer id");
            resp.error_code = ResponseError::CoordinatorLoadInProgress.code();
        }
    }
    Ok(Some(ResponseKind::InitProducerId(resp)))
}
