//! EndTxn: commits or aborts the producer's transaction. Answered once the
//! coordinator has written PrepareCommit / PrepareAbort; the markers follow.
//! From v5 (transaction version 2) the answer carries the bumped epoch.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::errors::producer_fenced_for;
use super::{HandlerError, RequestContext};

/// The first EndTxn version of transaction version 2 (KIP-890).
const TV2_VERSION: i16 = 5;
/// The first version that may answer PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_VERSION: i16 = 2;

pub async fn handle(ctx: &RequestContext, req: EndTxnRequest) -> Result<Option<EndTxnResponse>, HandlerError> {
    let mut resp = EndTxnResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    let id = req.transactional_id.0.as_str();
    if id.is_empty() {
        resp.error_code = ResponseError::InvalidRequest.code();
        return Ok(Some(resp));
    }
    let client_version = if ctx.version() >= TV2_VERSION { 2 } else { 0 };
    match ctx
        .broker
        .transactions
        .end_txn(id, req.producer_id.0, req.producer_epoch, req.committed, client_version)
        .await
    {
        Ok((pid, epoch)) => {
            if ctx.version() >= TV2_VERSION {
                resp.producer_id = ProducerId(pid);
                resp.producer_epoch = epoch;
            }
        }
        Err(e) => resp.error_code = producer_fenced_for(ctx.version(), PRODUCER_FENCED_VERSION, e).code(),
    }
    Ok(Some(resp))
}
