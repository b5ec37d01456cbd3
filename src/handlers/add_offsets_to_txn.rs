//! AddOffsetsToTxn: a producer that will commit a group's offsets in its
//! transaction (TxnOffsetCommit) adds the group's `__consumer_offsets`
//! partition to it, so the transaction's marker lands there too.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::errors::producer_fenced_for;
use super::{HandlerError, RequestContext};
use crate::coordinator::group::OFFSETS_TOPIC;

/// The first version that may answer PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_VERSION: i16 = 2;

pub async fn handle(
    ctx: &RequestContext,
    req: AddOffsetsToTxnRequest,
) -> Result<Option<AddOffsetsToTxnResponse>, HandlerError> {
    let mut resp = AddOffsetsToTxnResponse::default();
    let (id, group) = (req.transactional_id.0.as_str(), req.group_id.0.as_str());
    if id.is_empty() || group.is_empty() {
        resp.error_code = ResponseError::InvalidRequest.code();
        return Ok(Some(resp));
    }
    if let Err(e) = ctx.broker.ensure_offsets_topic().await {
        resp.error_code = e.code.code();
        return Ok(Some(resp));
    }
    let partition = ctx.broker.groups.partition_for(group);
    let partitions = BTreeSet::from([(OFFSETS_TOPIC.to_string(), partition)]);
    if let Err(e) = ctx
        .broker
        .transactions
        .add_partitions(id, req.producer_id.0, req.producer_epoch, &partitions)
        .await
    {
        resp.error_code = producer_fenced_for(ctx.version(), PRODUCER_FENCED_VERSION, e).code();
    }
    Ok(Some(resp))
}
