//! AddPartitionsToTxn: a producer adds the partitions it is about to write
//! to its transaction. Up to v3 a client sends one transaction; from v4
//! (brokers only, KIP-890) several, each either added or only verified.
//! A topic that does not exist fails with UNKNOWN_TOPIC_OR_PARTITION and
//! the transaction's other partitions with OPERATION_NOT_ATTEMPTED, as
//! Kafka answers.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TopicName};

use super::errors::producer_fenced_for;
use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::transaction::state::TopicPartition;

/// The first version that may answer PRODUCER_FENCED (KIP-588).
const PRODUCER_FENCED_VERSION: i16 = 2;

/// One error per partition, grouped by topic as the response wants them.
fn results(outcome: Vec<(TopicPartition, Option<ResponseError>)>) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), e) in outcome {
        let mut r = AddPartitionsToTxnPartitionResult::default();
        r.partition_index = partition;
        r.partition_error_code = e.map_or(0, |e| e.code());
        match out.last_mut() {
            Some(t) if t.name.0.as_str() == topic => t.results_by_partition.push(r),
            _ => {
                let mut t = AddPartitionsToTxnTopicResult::default();
                t.name = TopicName(str_bytes(topic));
                t.results_by_partition.push(r);
                out.push(t);
            }
        }
    }
    out
}

/// Adds (or, `verify_only`, checks) the partitions of one transaction.
async fn one(
    ctx: &RequestContext,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<(TopicPartition, Option<ResponseError>)> {
    let partitions: Vec<TopicPartition> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.0.to_string(), *p)))
        .collect();
    let every = |e: ResponseError| {
        let e = producer_fenced_for(ctx.version(), PRODUCER_FENCED_VERSION, e);
        partitions.iter().map(|tp| (tp.clone(), Some(e))).collect::<Vec<_>>()
    };
    if transactional_id.is_empty() {
        return every(ResponseError::InvalidRequest);
    }
    let image = ctx.broker.metadata.image();
    let unknown: BTreeSet<&TopicPartition> = partitions
        .iter()
        .filter(|(t, p)| {
            image
                .topics
                .get(t)
                .is_none_or(|topic| !topic.partitions.contains_key(p))
        })
        .collect();
    if !unknown.is_empty() {
        return partitions
            .iter()
            .map(|tp| {
                let e = if unknown.contains(tp) {
                    ResponseError::UnknownTopicOrPartition
                } else {
                    ResponseError::OperationNotAttempted
                };
                (tp.clone(), Some(e))
            })
            .collect();
    }
    let coordinator = &ctx.broker.transactions;
    if verify_only {
        return coordinator
            .verify_partitions(transactional_id, producer_id, producer_epoch, &partitions)
            .unwrap_or_else(every);
    }
    let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
    match coordinator
        .add_partitions(transactional_id, producer_id, producer_epoch, &set)
        .await
    {
        Ok(()) => partitions.into_iter().map(|tp| (tp, None)).collect(),
        Err(e) => every(e),
    }
}

pub async fn handle(
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
) -> Result<Option<AddPartitionsToTxnResponse>, HandlerError> {
    let mut resp = AddPartitionsToTxnResponse::default();
    if ctx.version() < 4 {
        let outcome = one(
            ctx,
            req.v3_and_below_transactional_id.0.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            &req.v3_and_below_topics,
        )
        .await;
        resp.results_by_topic_v3_and_below = results(outcome);
        return Ok(Some(resp));
    }
    for t in &req.transactions {
        let outcome = one(
            ctx,
            t.transactional_id.0.as_str(),
            t.producer_id.0,
            t.producer_epoch,
            t.verify_only,
            &t.topics,
        )
        .await;
        let mut r = AddPartitionsToTxnResult::default();
        r.transactional_id = t.transactional_id.clone();
        r.topic_results = results(outcome);
        resp.results_by_transaction.push(r);
    }
    Ok(Some(resp))
}
