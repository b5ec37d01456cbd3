//! Produce: appends each partition's record batch verbatim to its log.
//! acks=0 sends no response; acks=1 answers once the batch is in the
//! leader's log; acks=all once the high watermark has passed it, i.e. every
//! in-sync replica holds it (Kafka's DelayedProduce). The connection's next
//! requests may go ahead as soon as the batches are appended.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};

use super::errors::partition_error;
use super::{str_bytes, HandlerError, RequestContext};
use crate::clock::now_ms;
use crate::coordinator::transaction::state::TopicPartition;
use crate::log::batch::BatchHeader;
use crate::log::producer_state::VerificationGuard;
use crate::log::LogError;
use crate::metadata::ClusterImage;
use crate::replication::partition::PartitionError;
use crate::replication::Partition;
use crate::txn_verify;

/// Produce v10 added `current_leader` and `node_endpoints` (KIP-951).
const FIRST_CURRENT_LEADER_VERSION: i16 = 10;

/// Produce v11 clients understand TRANSACTION_ABORTABLE; from v12 the
/// broker adds the partitions of a transaction version 2 producer to its
/// transaction itself (KIP-890).
const FIRST_ABORTABLE_VERSION: i16 = 11;
const FIRST_IMPLICIT_ADD_VERSION: i16 = 12;

/// The outcome of KIP-890 verification for one request: the partitions
/// that may not be written, with their error, and the guards the appends
/// of the verified ones carry.
#[derive(Default)]
struct Verified {
    refused: HashMap<TopicPartition, ResponseError>,
    guards: HashMap<TopicPartition, VerificationGuard>,
}

/// KIP-890 verification: the partitions of this request whose
/// transactional batch starts a transaction here, checked with (or, v12+,
/// added by) the transaction coordinator. Each partition hands out its
/// guard before the coordinator is asked, so that a marker landing in the
/// meantime makes the append fail rather than open a transaction the
/// coordinator has already ended.
async fn verify_transactional(
    ctx: &RequestContext,
    image: &ClusterImage,
    transactional_id: &str,
    topics: &[TopicProduceData],
) -> Verified {
    let mut producer = None;
    let mut unverified = Vec::new();
    let mut guards = HashMap::new();
    for topic in topics {
        let Some(t) = image.resolve(topic.name.0.as_str(), &topic.topic_id) else {
            continue;
        };
        for pd in &topic.partition_data {
            let Some(header) = pd.records.as_ref().and_then(|r| BatchHeader::parse(r).ok()) else {
                continue;
            };
            if !header.is_transactional() {
                continue;
            }
            let Ok(part) = ctx.broker.leader_partition(image, &t.name, pd.index) else {
                continue;
            };
            if let Some(guard) = part.verification_needed(header.producer_id, header.producer_epoch) {
                producer.get_or_insert((header.producer_id, header.producer_epoch));
                unverified.push((t.name.clone(), pd.index));
                guards.insert((t.name.clone(), pd.index), guard);
            }
        }
    }
    let Some((producer_id, producer_epoch)) = producer else {
        return Verified::default();
    };
    let add = ctx.version() >= FIRST_IMPLICIT_ADD_VERSION;
    let refused = txn_verify::add_or_verify(
        &ctx.broker,
        transactional_id,
        producer_id,
        producer_epoch,
        &unverified,
        add,
    )
    .await;
    let refused = refused.into_iter().map(|(tp, e)| (tp, abortable_for(ctx, e))).collect();
    Verified { refused, guards }
}

/// A transaction this request could not write to is one the producer can
/// abort and go on from, for clients that know TRANSACTION_ABORTABLE.
fn abortable_for(ctx: &RequestContext, e: ResponseError) -> ResponseError {
    if e == ResponseError::InvalidTxnState && ctx.version() >= FIRST_ABORTABLE_VERSION {
        ResponseError::TransactionAbortable
    } else {
        e
    }
}

pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> Result<Option<ProduceResponse>, HandlerError> {
    let broker = &ctx.broker;
    let image = broker.metadata.image();
    let acks = req.acks;
    let verified = match &req.transactional_id {
        Some(id) if matches!(acks, -1..=1) => verify_transactional(ctx, &image, id.0.as_str(), &req.topic_data).await,
        _ => Verified::default(),
    };
    let now = now_ms();
    let mut resp = ProduceResponse::default();
    // Leaders named in NOT_LEADER_OR_FOLLOWER answers, whose endpoints v10+ carries.
    let mut leaders: Vec<i32> = Vec::new();
    // acks=all appends still to be replicated: (topic, partition) index in
    // the response, the partition, one past the batch, the leader epoch.
    let mut replicating: Vec<(usize, usize, Arc<Partition>, i64, i32)> = Vec::new();
    for topic in req.topic_data {
        let mut tr = TopicProduceResponse::default();
        tr.name = topic.name.clone();
        tr.topic_id = topic.topic_id;
        let resolved = image.resolve(topic.name.0.as_str(), &topic.topic_id);
        for pd in topic.partition_data {
            let mut pr = PartitionProduceResponse::default();
            pr.index = pd.index;
            let lookup = resolved.map(|t| broker.leader_partition(&image, &t.name, pd.index));
            let part = lookup.as_ref().and_then(|l| l.as_ref().ok());
            // Only a transactional request has anything to look up.
            let (verification, guard) = match resolved {
                Some(t) if !(verified.refused.is_empty() && verified.guards.is_empty()) => {
                    let tp = (t.name.clone(), pd.index);
                    (verified.refused.get(&tp), verified.guards.get(&tp).copied())
                }
                _ => (None, None),
            };
            let outcome = if !matches!(acks, -1..=1) {
                Err((ResponseError::InvalidRequiredAcks, None))
            } else if let Some(e) = verification {
                Err((*e, None))
            } else if let Some(Err(e)) = &lookup {
                if *e == ResponseError::NotLeaderOrFollower && ctx.version() >= FIRST_CURRENT_LEADER_VERSION {
                    // KIP-951: name the leader so the producer need not refresh metadata first.
                    if let Some(p) = resolved
                        .and_then(|t| t.partitions.get(&pd.index))
                        .filter(|p| p.leader >= 0)
                    {
                        pr.current_leader.leader_id = BrokerId(p.leader);
                        pr.current_leader.leader_epoch = p.leader_epoch;
                        leaders.push(p.leader);
                    }
                }
                Err((*e, None))
            } else if let Some(part) = part {
                match &pd.records {
                    Some(records) => part
                        .append_as_leader(records, acks, now, guard)
                        .inspect(|info| {
                            if !info.duplicate {
                                let count = (info.last_offset - info.base_offset + 1).max(0) as u64;
                                broker.metrics.record_produce(&part.topic, records.len() as u64, count);
                            }
                        })
                        .map_err(|e| {
                            tracing::debug!(topic = %part.topic, partition = part.index, error = %e, "produce refused");
                            (abortable_for(ctx, partition_error(&e)), Some(e))
                        }),
                    None => Err((ResponseError::InvalidRecord, None)),
                }
            } else if resolved.is_none() && topic.name.0.is_empty() {
                Err((ResponseError::UnknownTopicId, None))
            } else {
                Err((ResponseError::UnknownTopicOrPartition, None))
            };
            match outcome {
                Ok(info) => {
                    if acks == -1 {
                        if let Some(part) = part {
                            let at = (resp.responses.len(), tr.partition_responses.len());
                            replicating.push((at.0, at.1, part.clone(), info.last_offset + 1, info.leader_epoch));
                        }
                    }
                    pr.base_offset = info.base_offset;
                    pr.log_append_time_ms = info.log_append_time_ms;
                    pr.log_start_offset = info.log_start_offset;
                }
                Err((code, error)) => {
                    pr.error_code = code.code();
                    pr.base_offset = -1;
                    pr.log_append_time_ms = -1;
                    pr.log_start_offset = -1;
                    if let Some(PartitionError::Log(LogError::RecordErrors(e))) = &error {
                        // KIP-467: the records at fault, by index.
                        pr.log_start_offset = part.map_or(-1, |p| p.offsets().log_start_offset);
                        if ctx.version() >= 8 {
                            pr.record_errors = e
                                .errors
                                .iter()
                                .map(|(index, message)| {
                                    let mut r = BatchIndexAndErrorMessage::default();
                                    r.batch_index = *index;
                                    r.batch_index_error_message = Some(str_bytes(message.clone()));
                                    r
                                })
                                .collect();
                        }
                    }
                    if ctx.version() >= 8 {
                        let message = match &error {
                            Some(e) => Some(e.to_string()),
                            None if code == ResponseError::InvalidRecord => Some("records are null".to_string()),
                            None => None,
                        };
                        pr.error_message = message.map(str_bytes);
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    // Appended: the connection's later requests may take effect now, while
    // this one waits for the followers.
    ctx.taken_effect();
    if !replicating.is_empty() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(req.timeout_ms.max(0) as u64);
        for (t, p, part, end_offset, epoch) in replicating {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Err(e) = part.wait_for_replication(end_offset, epoch, left).await {
                let pr = &mut resp.responses[t].partition_responses[p];
                pr.error_code = partition_error(&e).code();
                pr.base_offset = -1;
                pr.log_append_time_ms = -1;
                pr.log_start_offset = -1;
                if ctx.version() >= 8 {
                    pr.error_message = Some(str_bytes(e.to_string()));
                }
            }
        }
    }
    leaders.sort_unstable();
    leaders.dedup();
    for id in leaders {
        if let Some(e) = image.broker_endpoint(id, &ctx.listener) {
            let mut endpoint = NodeEndpoint::default();
            endpoint.node_id = BrokerId(id);
            endpoint.host = str_bytes(e.host.clone());
            endpoint.port = e.port;
            endpoint.rack = image.brokers.get(&id).and_then(|b| b.rack.clone()).map(str_bytes);
            resp.node_endpoints.push(endpoint);
        }
    }
    if acks == 0 {
        // With acks=0 the client reads no response: Kafka closes the
        // connection on an error so that the producer notices.
        let failed = resp
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != 0);
        if failed {
            return Err(HandlerError("acks=0 produce failed".into()));
        }
        return Ok(None);
    }
    Ok(Some(resp))
}
