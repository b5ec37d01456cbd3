//! TxnOffsetCommit: a transactional producer commits a group's offsets as
//! part of its transaction (`sendOffsetsToTransaction`). The group
//! coordinator checks the consumer's generation (KIP-447, v3+), writes the
//! offsets into the transaction, and holds them back from OffsetFetch until
//! the transaction's marker commits them.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::{check_offsets, OffsetToCommit, COMMIT_TIMEOUT};
use super::{HandlerError, RequestContext};
use crate::coordinator::group::{TxnProducer, OFFSETS_TOPIC};
use crate::txn_verify;

/// From v4 the client takes TRANSACTION_ABORTABLE (KIP-890).
const FIRST_ABORTABLE_VERSION: i16 = 4;
/// From v5 (transaction version 2) the group's `__consumer_offsets`
/// partition joins the transaction here, without AddOffsetsToTxn.
const FIRST_IMPLICIT_ADD_VERSION: i16 = 5;

/// KIP-890: the group's `__consumer_offsets` partition must be in the
/// producer's transaction (added here from v5, verified before). The
/// partition hands out its verification guard before the coordinator is
/// asked; the write carries it (`TxnProducer`).
async fn verify(ctx: &RequestContext, req: &TxnOffsetCommitRequest) -> Result<TxnProducer, ResponseError> {
    let partition = (
        OFFSETS_TOPIC.to_string(),
        ctx.broker.groups.partition_for(req.group_id.0.as_str()),
    );
    let guard = ctx
        .broker
        .replicas
        .get(OFFSETS_TOPIC, partition.1)
        .and_then(|p| p.verification_needed(req.producer_id.0, req.producer_epoch));
    let refused = txn_verify::add_or_verify(
        &ctx.broker,
        req.transactional_id.0.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        std::slice::from_ref(&partition),
        ctx.version() >= FIRST_IMPLICIT_ADD_VERSION,
    )
    .await;
    // As Kafka's group coordinator answers a write that could not be
    // verified yet: the client retries.
    match refused.get(&partition) {
        Some(ResponseError::NotEnoughReplicas) => Err(ResponseError::CoordinatorNotAvailable),
        Some(e) => Err(*e),
        None => Ok(TxnProducer {
            id: req.producer_id.0,
            epoch: req.producer_epoch,
            guard,
        }),
    }
}

pub async fn handle(
    ctx: &RequestContext,
    req: TxnOffsetCommitRequest,
) -> Result<Option<TxnOffsetCommitResponse>, HandlerError> {
    let broker = &ctx.broker;
    let epochs = ctx.version() >= 2;
    let (errors, valid) = check_offsets(
        ctx,
        req.topics.iter().map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| OffsetToCommit {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if epochs { p.committed_leader_epoch } else { -1 },
                    metadata: p.committed_metadata.as_ref(),
                })
                .collect();
            (t.name.0.as_str(), partitions)
        }),
    );
    let group_id = req.group_id.0.as_str();
    let top = if group_id.is_empty() {
        Some(ResponseError::InvalidGroupId)
    } else if req.transactional_id.0.is_empty() {
        Some(ResponseError::InvalidRequest)
    } else {
        let committed = verify(ctx, &req).await.and_then(|producer| {
            broker.groups.txn_commit(
                group_id,
                producer,
                req.member_id.as_str(),
                req.group_instance_id.as_ref().map(|s| s.as_str()),
                req.generation_id,
                valid,
            )
        });
        match committed {
            Ok(Some(written)) => written.replicated(COMMIT_TIMEOUT).await.err(),
            Ok(None) => None,
            // v4+ clients abort a transaction they could not write to and go on.
            Err(ResponseError::InvalidTxnState) if ctx.version() >= FIRST_ABORTABLE_VERSION => {
                Some(ResponseError::TransactionAbortable)
            }
            Err(e) => Some(e),
        }
    };
    let mut resp = TxnOffsetCommitResponse::default();
    for (topic, row) in req.topics.into_iter().zip(errors) {
        let mut t = TxnOffsetCommitResponseTopic::default();
        t.name = topic.name;
        t.partitions = topic
            .partitions
            .iter()
            .zip(row)
            .map(|(p, e)| {
                let mut r = TxnOffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = e.or(top).map_or(0, |e| e.code());
                r
            })
            .collect();
        resp.topics.push(t);
    }
    Ok(Some(resp))
}
