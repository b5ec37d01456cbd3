//! AllocateProducerIds (controller API, KIP-730): hands a broker the next
//! block of producer ids, committed to the metadata log so that no id is
//! ever handed out twice.

use kafka_protocol::messages::{AllocateProducerIdsRequest, AllocateProducerIdsResponse, ProducerId};

use super::{HandlerError, RequestContext};
use crate::broker::controller_allocate_producer_ids;
use crate::coordinator::producer_ids::BLOCK_SIZE;

pub async fn handle(
    ctx: &RequestContext,
    req: AllocateProducerIdsRequest,
) -> Result<Option<AllocateProducerIdsResponse>, HandlerError> {
    let mut resp = AllocateProducerIdsResponse::default();
    match controller_allocate_producer_ids(&ctx.broker, req.broker_id.0).await {
        Ok(start) => {
            resp.producer_id_start = ProducerId(start);
            resp.producer_id_len = BLOCK_SIZE as i32;
        }
        Err(e) => {
            resp.error_code = e.code.code();
            resp.producer_id_start = ProducerId(-1);
        }
    }
    Ok(Some(resp))
}
