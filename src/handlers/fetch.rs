//! Fetch: returns byte ranges of segment files below the high watermark.
//! A fetch that finds fewer than `min_bytes` waits up to `max_wait_ms`,
//! woken by appends to the partitions it reads (no polling). Fetch
//! sessions are answered sessionless (session id 0), which clients accept.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::sync::Notify;

use super::errors::log_error;
use super::metadata::resolve;
use super::{HandlerError, RequestContext};
use crate::replication::Partition;

/// Upper bound on how long a fetch may be parked, whatever the client asks.
const MAX_WAIT_MS_CAP: i32 = 60_000;

pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> Result<Option<FetchResponse>, HandlerError> {
    if req.session_id != 0 {
        // We never hand out sessions, so any id the client names is unknown.
        let mut resp = FetchResponse::default();
        resp.error_code = ResponseError::FetchSessionIdNotFound.code();
        return Ok(Some(resp));
    }
    let wait = Duration::from_millis(req.max_wait_ms.clamp(0, MAX_WAIT_MS_CAP) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    let waiter = Arc::new(Notify::new());
    let mut touched: Vec<Arc<Partition>> = Vec::new();
    let resp = loop {
        let may_wait = tokio::time::Instant::now() < deadline;
        let (resp, bytes, errors) = read_once(ctx, &req, may_wait.then_some(&waiter), &mut touched);
        if !may_wait || errors || bytes >= req.min_bytes.max(0) as usize {
            break resp;
        }
        if tokio::time::timeout_at(deadline, waiter.notified()).await.is_err() {
            // Timed out: answer with whatever is there now.
            break read_once(ctx, &req, None, &mut touched).0;
        }
    };
    for p in &touched {
        p.unregister(&waiter);
    }
    Ok(Some(resp))
}

/// One pass over the requested partitions: (response, bytes returned,
/// whether any partition had an error, which ends a wait early).
fn read_once(
    ctx: &RequestContext,
    req: &FetchRequest,
    waiter: Option<&Arc<Notify>>,
    touched: &mut Vec<Arc<Partition>>,
) -> (FetchResponse, usize, bool) {
    let broker = &ctx.broker;
    let image = broker.metadata.image();
    let read_committed = req.isolation_level == 1;
    let mut remaining = req.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut errors = false;
    let mut resp = FetchResponse::default();
    for topic in &req.topics {
        let mut tr = FetchableTopicResponse::default();
        tr.topic = topic.topic.clone();
        tr.topic_id = topic.topic_id;
        let resolved = resolve(&image, topic.topic.0.as_str(), &topic.topic_id);
        for fp in &topic.partitions {
            let mut pd = PartitionData::default();
            pd.partition_index = fp.partition;
            pd.records = Some(Bytes::new());
            pd.aborted_transactions = read_committed.then(Vec::new);
            let part = resolved.and_then(|t| broker.replicas.get(&t.name, fp.partition));
            let Some(part) = part else {
                pd.error_code = if resolved.is_none() && topic.topic.0.is_empty() {
                    ResponseError::UnknownTopicId.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
                pd.high_watermark = -1;
                errors = true;
                tr.partitions.push(pd);
                continue;
            };
            if waiter.is_some() && !touched.iter().any(|p| Arc::ptr_eq(p, &part)) {
                touched.push(part.clone());
            }
            let limit = (fp.partition_max_bytes.max(0) as usize).min(remaining);
            // KIP-74: the first batch is returned whole while nothing has
            // been returned yet, so a large batch can never block a consumer.
            let min_one = total == 0;
            match part.fetch(fp.fetch_offset, limit, min_one, waiter) {
                Ok(snap) => {
                    pd.high_watermark = snap.high_watermark;
                    pd.last_stable_offset = snap.high_watermark;
                    pd.log_start_offset = snap.log_start_offset;
                    if let Some(plan) = snap.plan {
                        match plan.read() {
                            Ok(data) => {
                                total += data.len();
                                remaining = remaining.saturating_sub(data.len());
                                pd.records = Some(data);
                            }
                            Err(e) => {
                                tracing::error!(topic = %part.topic, partition = part.index, error = %e, "segment read failed");
                                pd.error_code = ResponseError::KafkaStorageError.code();
                                errors = true;
                            }
                        }
                    }
                }
                Err(e) => {
                    let offsets = part.offsets();
                    pd.error_code = log_error(&e).code();
                    pd.high_watermark = offsets.high_watermark;
                    pd.last_stable_offset = offsets.high_watermark;
                    pd.log_start_offset = offsets.log_start_offset;
                    errors = true;
                }
            }
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    (resp, total, errors)
}
