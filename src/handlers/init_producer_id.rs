//! InitProducerId: a fresh producer id with epoch 0 for an idempotent
//! producer (from blocks allocated in the metadata log); for a
//! transactional producer, the transaction coordinator's producer id and
//! epoch for its transactional id, fencing any older instance (KIP-360
//! recovery when the producer names its current id and epoch).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::errors::producer_fenced_for;
use super::{HandlerError, RequestContext};

/// The first version that may answer PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_VERSION: i16 = 4;

pub async fn handle(
    ctx: &RequestContext,
    req: InitProducerIdRequest,
) -> Result<Option<InitProducerIdResponse>, HandlerError> {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if let Some(id) = &req.transactional_id {
        if id.0.is_empty() {
            resp.error_code = ResponseError::InvalidRequest.code();
            return Ok(Some(resp));
        }
        // KIP-360: a producer recovering from an error names its current
        // producer id and epoch (v3+); -1/-1 is a new producer.
        let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
        match ctx
            .broker
            .transactions
            .init_producer_id(id.0.as_str(), req.transaction_timeout_ms, expected)
            .await
        {
            Ok((pid, epoch)) => {
                resp.producer_id = ProducerId(pid);
                resp.producer_epoch = epoch;
            }
            Err(e) => resp.error_code = producer_fenced_for(ctx.version(), PRODUCER_FENCED_VERSION, e).code(),
        }
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
