//! InitProducerId for idempotent (non-transactional) producers: a fresh
//! producer id with epoch 0 from blocks allocated in the metadata log.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: InitProducerIdRequest,
) -> Result<Option<InitProducerIdResponse>, HandlerError> {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req.transactional_id.as_ref().is_some_and(|t| t.0.is_empty()) {
        resp.error_code = ResponseError::InvalidRequest.code();
        return Ok(Some(resp));
    }
    if req.transactional_id.is_some() {
        // Transactions arrive with their own issue; until then a
        // transactional producer is told plainly that it cannot start.
        resp.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return Ok(Some(resp));
    }
    // Like Kafka's coordinator, a producer without a transactional id always
    // gets a fresh id, even when it names its current one.
    match ctx.broker.next_producer_id().await {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => resp.error_code = e.code.code(),
    }
    Ok(Some(resp))
}
