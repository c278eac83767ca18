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
    if ctx.api_version >= 3 && req.producer_id.0 >= 0 {
        // Re-initialisation of a known producer bumps its epoch.
        if req.producer_epoch < i16::MAX - 1 {
            resp.producer_id = req.producer_id;
            resp.producer_epoch = req.producer_epoch + 1;
            return Ok(Some(ResponseKind::InitProducerId(resp)));
        }
    }
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
