//! Fetch: returns byte ranges of segment files below the high watermark.
//! A fetch that finds fewer than `min_bytes` waits up to `max_wait_ms`,
//! woken by appends to the partitions it reads (no polling). What a request
//! means for KIP-227 fetch sessions (sessionless, full, incremental, or a
//! session error) is decided by `replication::fetch_session`; this handler
//! reads what it is told to and answers in the shape it is told to.

use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use tokio::sync::Notify;
use uuid::Uuid;

use super::errors::{check_current_leader_epoch, log_error};
use super::{str_bytes, HandlerError, RequestContext};
use crate::clock::now_ms;
use crate::metadata::ClusterImage;
use crate::replication::fetch_session::{
    FetchContext, FetchSessionCache, PartitionKey, PartitionOutcome, PartitionRequest, SessionError, SessionRequest,
    TopicKey, INVALID_SESSION_ID,
};
use crate::replication::partition::Isolation;
use crate::replication::Partition;

/// Upper bound on how long a fetch may be parked, whatever the client asks.
const MAX_WAIT_MS_CAP: i32 = 60_000;

/// Fetch v13 replaced topic names with topic ids.
const FIRST_TOPIC_ID_VERSION: i16 = 13;
/// Fetch v15 moved the replica id into `replica_state` (KIP-903).
const FIRST_REPLICA_STATE_VERSION: i16 = 15;
/// Fetch v16 names the current leader with NOT_LEADER / FENCED errors (KIP-951).
const FIRST_CURRENT_LEADER_VERSION: i16 = 16;

/// One partition this fetch reads: what was asked, and what it resolved to.
struct Target {
    key: PartitionKey,
    request: PartitionRequest,
    /// The hosted partition, or the error that stops it being read
    /// (Kafka's "erroneous" partitions, answered without a log read).
    partition: Result<Arc<Partition>, ResponseError>,
}

pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> Result<Option<FetchResponse>, HandlerError> {
    let version = ctx.version();
    let uses_topic_ids = version >= FIRST_TOPIC_ID_VERSION;
    let replica_id = if version >= FIRST_REPLICA_STATE_VERSION {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let session = SessionRequest {
        session_id: req.session_id,
        epoch: req.session_epoch,
        uses_topic_ids,
        // Kafka's `isFromFollower`: -1 is a consumer, -2 a debugging tool.
        from_follower: replica_id >= 0,
    };
    let fetch_data = requested_partitions(&req, uses_topic_ids);
    let to_forget = forgotten_partitions(&req, uses_topic_ids);
    let mut context = sessions(ctx).new_context(session, &fetch_data, &to_forget, now_ms());
    let partitions = match &mut context {
        FetchContext::Error(e) => return Ok(Some(session_error_response(*e))),
        FetchContext::Sessionless | FetchContext::Full => fetch_data,
        // Only the session id is needed once the partitions are read.
        FetchContext::Incremental { partitions, .. } => std::mem::take(partitions),
    };
    let targets = resolve_targets(ctx, partitions, uses_topic_ids);
    if session.from_follower {
        record_follower_fetch(ctx, replica_id, &targets);
    }
    let results = read_waiting(&req, &targets, session.from_follower.then_some(replica_id)).await;
    if !session.from_follower {
        record_bytes_out(ctx, &targets, &results);
    }

    match finish_session(ctx, context, session, &targets, &results) {
        Ok((session_id, send)) => Ok(Some(build_response(ctx, session_id, send, &targets, results))),
        Err(resp) => Ok(Some(resp)),
    }
}

/// Tells the session cache what was read: a full fetch may open a session,
/// an incremental one learns which partitions to answer with. Returns the
/// session id to answer with and, for an incremental fetch, which targets
/// to send; or the error response when the session moved on meanwhile.
fn finish_session(
    ctx: &RequestContext,
    context: FetchContext,
    session: SessionRequest,
    targets: &[Target],
    results: &[PartitionData],
) -> Result<(i32, Option<Vec<bool>>), FetchResponse> {
    match context {
        FetchContext::Error(_) | FetchContext::Sessionless => Ok((INVALID_SESSION_ID, None)),
        FetchContext::Full => {
            let answered = targets
                .iter()
                .zip(results)
                .map(|(t, pd)| (t.key.clone(), t.request, outcome_of(pd)))
                .collect();
            Ok((sessions(ctx).maybe_create_session(session, answered, now_ms()), None))
        }
        FetchContext::Incremental { session_id, .. } => {
            let outcomes: Vec<(PartitionKey, PartitionOutcome)> = targets
                .iter()
                .zip(results)
                .map(|(t, pd)| (t.key.clone(), outcome_of(pd)))
                .collect();
            let selected = sessions(ctx).incremental_response(session_id, session.epoch, &outcomes);
            match selected {
                Ok(send) => Ok((session_id, Some(send))),
                Err(e) => {
                    let mut resp = session_error_response(e);
                    resp.session_id = session_id;
                    Err(resp)
                }
            }
        }
    }
}

/// The response: the targets `send` selects (all when None), consecutive
/// partitions of one topic under one topic entry (Kafka's FetchResponse.of).
fn build_response(
    ctx: &RequestContext,
    session_id: i32,
    send: Option<Vec<bool>>,
    targets: &[Target],
    results: Vec<PartitionData>,
) -> FetchResponse {
    let version = ctx.version();
    let image = ctx.broker.metadata.image();
    let mut resp = FetchResponse::default();
    resp.session_id = session_id;
    let mut previous: Option<&TopicKey> = None;
    for (i, (target, mut pd)) in targets.iter().zip(results).enumerate() {
        if send.as_ref().is_some_and(|s| !s[i]) {
            continue;
        }
        let names_leader = [ResponseError::FencedLeaderEpoch, ResponseError::NotLeaderOrFollower]
            .iter()
            .any(|e| e.code() == pd.error_code);
        if version >= FIRST_CURRENT_LEADER_VERSION && names_leader {
            let leader = match &target.partition {
                Ok(p) => Some((ctx.broker.config.node_id, p.leader_epoch())),
                Err(_) => leader_in_image(&image, &target.key),
            };
            if let Some((leader_id, leader_epoch)) = leader {
                pd.current_leader.leader_id = BrokerId(leader_id);
                pd.current_leader.leader_epoch = leader_epoch;
                add_leader_endpoint(ctx, &image, leader_id, &mut resp);
            }
        }
        // The topic as the request named it: by name before v13, by id after.
        let topic = &target.key.topic;
        if previous != Some(topic) {
            let mut tr = FetchableTopicResponse::default();
            match topic {
                TopicKey::Id(id) => tr.topic_id = *id,
                TopicKey::Name(name) => tr.topic = TopicName(str_bytes(&**name)),
            }
            resp.responses.push(tr);
            previous = Some(topic);
        }
        if let Some(tr) = resp.responses.last_mut() {
            tr.partitions.push(pd);
        }
    }
    resp
}

/// Kafka's BytesOutPerSec (and records out) per topic, for consumers.
fn record_bytes_out(ctx: &RequestContext, targets: &[Target], results: &[PartitionData]) {
    for (target, pd) in targets.iter().zip(results) {
        if let (Ok(part), Some(records)) = (&target.partition, &pd.records) {
            if !records.is_empty() {
                let count = crate::metrics::count_records(records);
                ctx.broker
                    .metrics
                    .record_fetch(&part.topic, records.len() as u64, count);
            }
        }
    }
}

fn sessions(ctx: &RequestContext) -> MutexGuard<'_, FetchSessionCache> {
    // Every cache operation leaves it consistent before it can panic, so a
    // poisoned lock still guards valid sessions; keep serving fetches.
    ctx.broker.fetch_sessions.lock().unwrap_or_else(|p| p.into_inner())
}

fn session_error_response(e: SessionError) -> FetchResponse {
    let mut resp = FetchResponse::default();
    resp.error_code = match e {
        SessionError::IdNotFound => ResponseError::FetchSessionIdNotFound,
        SessionError::InvalidEpoch => ResponseError::InvalidFetchSessionEpoch,
        SessionError::TopicIdMismatch => ResponseError::FetchSessionTopicIdError,
    }
    .code();
    resp.session_id = INVALID_SESSION_ID;
    resp
}

fn topic_key(uses_topic_ids: bool, name: &TopicName, id: Uuid) -> TopicKey {
    if uses_topic_ids {
        TopicKey::Id(id)
    } else {
        TopicKey::Name(name.0.as_str().into())
    }
}

fn partition_request(fp: &FetchPartition) -> PartitionRequest {
    PartitionRequest {
        fetch_offset: fp.fetch_offset,
        log_start_offset: fp.log_start_offset,
        max_bytes: fp.partition_max_bytes,
        current_leader_epoch: fp.current_leader_epoch,
        last_fetched_epoch: fp.last_fetched_epoch,
    }
}

fn requested_partitions(req: &FetchRequest, uses_topic_ids: bool) -> Vec<(PartitionKey, PartitionRequest)> {
    req.topics
        .iter()
        .flat_map(|t| {
            let topic = topic_key(uses_topic_ids, &t.topic, t.topic_id);
            t.partitions.iter().map(move |fp| {
                let key = PartitionKey {
                    topic: topic.clone(),
                    partition: fp.partition,
                };
                (key, partition_request(fp))
            })
        })
        .collect()
}

fn forgotten_partitions(req: &FetchRequest, uses_topic_ids: bool) -> Vec<PartitionKey> {
    req.forgotten_topics_data
        .iter()
        .flat_map(|t| {
            let topic = topic_key(uses_topic_ids, &t.topic, t.topic_id);
            t.partitions.iter().map(move |&partition| PartitionKey {
                topic: topic.clone(),
                partition,
            })
        })
        .collect()
}

/// Looks every partition up in the metadata image and the hosted
/// partitions; those that cannot be read go last, as in Kafka's response.
fn resolve_targets(
    ctx: &RequestContext,
    partitions: Vec<(PartitionKey, PartitionRequest)>,
    uses_topic_ids: bool,
) -> Vec<Target> {
    let image = ctx.broker.metadata.image();
    let (mut readable, erroneous): (Vec<Target>, Vec<Target>) = partitions
        .into_iter()
        .map(|(key, request)| resolve_target(ctx, &image, key, request, uses_topic_ids))
        .partition(|t| t.partition.is_ok());
    readable.extend(erroneous);
    readable
}

fn resolve_target(
    ctx: &RequestContext,
    image: &ClusterImage,
    key: PartitionKey,
    request: PartitionRequest,
    uses_topic_ids: bool,
) -> Target {
    let name = match &key.topic {
        TopicKey::Id(id) => image.topic_by_id(id).map(|t| t.name.as_str()),
        TopicKey::Name(name) => image.topics.get(&**name).map(|t| t.name.as_str()),
    };
    let partition = match name {
        // v13+: an id this cluster does not know (Kafka's null topic name).
        None if uses_topic_ids => Err(ResponseError::UnknownTopicId),
        None => Err(ResponseError::UnknownTopicOrPartition),
        Some(name) => ctx.broker.leader_partition(image, name, key.partition),
    };
    Target {
        key,
        request,
        partition,
    }
}

/// A follower's fetch offset is its log end (Kafka's
/// updateFollowerFetchState, before the fetch may wait): the leader's high
/// watermark may move, and a follower that caught up joins the ISR.
fn record_follower_fetch(ctx: &RequestContext, replica_id: i32, targets: &[Target]) {
    let now = now_ms();
    for t in targets {
        let Ok(part) = &t.partition else { continue };
        if check_current_leader_epoch(t.request.current_leader_epoch, part.leader_epoch()).is_err() {
            continue;
        }
        if let Ok(Some(proposal)) = part.record_follower_fetch(replica_id, t.request.fetch_offset, now) {
            crate::cluster::isr::propose(&ctx.broker, part.clone(), proposal);
        }
    }
}

/// Reads the targets, waiting up to `max_wait_ms` for `min_bytes`;
/// `follower` is the replica id of a follower's fetch.
async fn read_waiting(req: &FetchRequest, targets: &[Target], follower: Option<i32>) -> Vec<PartitionData> {
    let read_committed = req.isolation_level == 1;
    let readable = targets.iter().any(|t| t.partition.is_ok());
    // Kafka answers at once when there is nothing to wait for.
    let wait_ms = if readable {
        req.max_wait_ms.clamp(0, MAX_WAIT_MS_CAP)
    } else {
        0
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms as u64);
    let waiter = Arc::new(Notify::new());
    let results = loop {
        let may_wait = tokio::time::Instant::now() < deadline;
        let (results, bytes, errors) = read_once(req, targets, read_committed, follower, may_wait.then_some(&waiter));
        if !may_wait || errors || bytes >= req.min_bytes.max(0) as usize {
            break results;
        }
        if tokio::time::timeout_at(deadline, waiter.notified()).await.is_err() {
            // Timed out: answer with whatever is there now.
            break read_once(req, targets, read_committed, follower, None).0;
        }
    };
    for t in targets {
        if let Ok(p) = &t.partition {
            p.unregister(&waiter);
        }
    }
    results
}

/// One pass over the targets: (one answer per target, bytes returned,
/// whether a read failed, which ends a wait early).
fn read_once(
    req: &FetchRequest,
    targets: &[Target],
    read_committed: bool,
    follower: Option<i32>,
    waiter: Option<&Arc<Notify>>,
) -> (Vec<PartitionData>, usize, bool) {
    let mut remaining = req.max_bytes.max(0) as usize;
    let mut total = 0usize;
    let mut errors = false;
    let mut results = Vec::with_capacity(targets.len());
    for t in targets {
        let mut pd = PartitionData::default();
        pd.partition_index = t.key.partition;
        pd.records = Some(Bytes::new());
        pd.aborted_transactions = read_committed.then(Vec::new);
        match &t.partition {
            Err(e) => {
                pd.error_code = e.code();
                pd.high_watermark = -1;
            }
            Ok(part) => {
                let limit = (t.request.max_bytes.max(0) as usize).min(remaining);
                // KIP-74: the first batch is returned whole while nothing has
                // been returned yet, so a large batch can never block a consumer.
                let min_one = total == 0;
                let read = Read {
                    request: &t.request,
                    limit,
                    min_one,
                    follower,
                    committed: read_committed,
                };
                if read_partition(part, &read, waiter, &mut pd) {
                    errors = true;
                }
                if let Some(data) = &pd.records {
                    total += data.len();
                    remaining = remaining.saturating_sub(data.len());
                }
            }
        }
        results.push(pd);
    }
    (results, total, errors)
}

/// How to read one partition in this pass.
struct Read<'a> {
    request: &'a PartitionRequest,
    limit: usize,
    min_one: bool,
    /// The replica id of a follower's fetch.
    follower: Option<i32>,
    /// A consumer in read_committed.
    committed: bool,
}

/// Reads one hosted partition into `pd`; true when the read failed.
fn read_partition(
    part: &Arc<Partition>,
    read: &Read<'_>,
    waiter: Option<&Arc<Notify>>,
    pd: &mut PartitionData,
) -> bool {
    let request = read.request;
    if let Err(e) = check_read(part, request, read.follower) {
        // Kafka's createLogReadResult(e): no offsets with these errors.
        pd.error_code = e.code();
        pd.high_watermark = -1;
        pd.last_stable_offset = -1;
        pd.log_start_offset = -1;
        return true;
    }
    if request.last_fetched_epoch != -1 {
        match diverging_epoch(part, request) {
            Err(e) => {
                pd.error_code = e.code();
                pd.high_watermark = -1;
                pd.last_stable_offset = -1;
                pd.log_start_offset = -1;
                return true;
            }
            Ok(Some(diverging)) => {
                let offsets = part.offsets();
                pd.diverging_epoch = diverging;
                pd.high_watermark = offsets.high_watermark;
                pd.last_stable_offset = offsets.last_stable_offset;
                pd.log_start_offset = offsets.log_start_offset;
                return false;
            }
            Ok(None) => {}
        }
    }
    // Followers read everything written; consumers what is replicated, and
    // in read_committed only up to the last stable offset.
    let isolation = match (read.follower, read.committed) {
        (Some(_), _) => Isolation::LogEnd,
        (None, false) => Isolation::HighWatermark,
        (None, true) => Isolation::Committed,
    };
    match part.fetch(request.fetch_offset, read.limit, read.min_one, isolation, waiter) {
        Ok(snap) => {
            pd.high_watermark = snap.high_watermark;
            pd.last_stable_offset = snap.last_stable_offset;
            pd.log_start_offset = snap.log_start_offset;
            if read.committed {
                pd.aborted_transactions = Some(
                    snap.aborted
                        .iter()
                        .map(|t| {
                            AbortedTransaction::default()
                                .with_producer_id(ProducerId(t.producer_id))
                                .with_first_offset(t.first_offset)
                        })
                        .collect(),
                );
            }
            if let Some(plan) = snap.plan {
                match plan.read() {
                    Ok(data) => pd.records = Some(data),
                    Err(e) => {
                        tracing::error!(topic = %part.topic, partition = part.index, error = %e, "segment read failed");
                        pd.error_code = ResponseError::KafkaStorageError.code();
                        return true;
                    }
                }
            }
            false
        }
        Err(e) => {
            let offsets = part.offsets();
            pd.error_code = log_error(&e).code();
            pd.high_watermark = offsets.high_watermark;
            pd.last_stable_offset = offsets.last_stable_offset;
            pd.log_start_offset = offsets.log_start_offset;
            true
        }
    }
}

/// What stops a partition being read at all: a `current_leader_epoch`
/// other than the leader's, or a replica id (>= 0) that is not one of the
/// partition's replicas (Kafka's `followerReplicaOrThrow`).
fn check_read(part: &Partition, request: &PartitionRequest, follower: Option<i32>) -> Result<(), ResponseError> {
    check_current_leader_epoch(request.current_leader_epoch, part.leader_epoch())?;
    if let Some(id) = follower {
        if !part.has_follower(id) {
            return Err(if request.current_leader_epoch != -1 {
                ResponseError::UnknownLeaderEpoch
            } else {
                ResponseError::NotLeaderOrFollower
            });
        }
    }
    Ok(())
}

/// KIP-595/KIP-320 for fetchers that send `last_fetched_epoch` (v12+,
/// -1 = none): the epoch and end offset to truncate to when the fetcher's
/// log diverged from ours, as Kafka's `Partition.readRecords` decides.
fn diverging_epoch(part: &Partition, request: &PartitionRequest) -> Result<Option<EpochEndOffset>, ResponseError> {
    let (epoch, end_offset) = part.end_offset_for_epoch(request.last_fetched_epoch);
    if epoch == -1 || end_offset == -1 || request.fetch_offset < part.offsets().log_start_offset {
        return Err(ResponseError::OffsetOutOfRange);
    }
    if epoch < request.last_fetched_epoch || end_offset < request.fetch_offset {
        let mut diverging = EpochEndOffset::default();
        diverging.epoch = epoch;
        diverging.end_offset = end_offset;
        return Ok(Some(diverging));
    }
    Ok(None)
}

/// KIP-951: with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, v16+ names the leader and
/// its endpoint on the client's listener so the client need not refresh metadata first.
fn add_leader_endpoint(ctx: &RequestContext, image: &ClusterImage, leader_id: i32, resp: &mut FetchResponse) {
    let node_id = BrokerId(leader_id);
    if resp.node_endpoints.iter().any(|n| n.node_id == node_id) {
        return;
    }
    let Some(registered) = image.broker_endpoint(leader_id, &ctx.listener) else {
        return;
    };
    let mut endpoint = NodeEndpoint::default();
    endpoint.node_id = node_id;
    endpoint.host = str_bytes(registered.host.clone());
    endpoint.port = registered.port;
    endpoint.rack = image
        .brokers
        .get(&leader_id)
        .and_then(|b| b.rack.clone())
        .map(str_bytes);
    resp.node_endpoints.push(endpoint);
}

/// The leader and leader epoch the image names for a partition.
fn leader_in_image(image: &ClusterImage, key: &PartitionKey) -> Option<(i32, i32)> {
    let topic = match &key.topic {
        TopicKey::Id(id) => image.topic_by_id(id),
        TopicKey::Name(name) => image.topics.get(&**name),
    }?;
    let p = topic.partitions.get(&key.partition)?;
    (p.leader >= 0).then_some((p.leader, p.leader_epoch))
}

fn outcome_of(pd: &PartitionData) -> PartitionOutcome {
    PartitionOutcome {
        records_bytes: pd.records.as_ref().map_or(0, Bytes::len),
        high_watermark: pd.high_watermark,
        log_start_offset: pd.log_start_offset,
        error: pd.error_code != 0,
    }
}
