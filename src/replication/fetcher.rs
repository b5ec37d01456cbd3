//! Followers replicate with Fetch (Kafka's ReplicaFetcherManager and
//! ReplicaFetcherThread): one fetcher task per source broker fetches every
//! partition this broker follows there, with its own replica id, and
//! appends the leader's batches unchanged. A leader that answers with a
//! diverging epoch (KIP-320) makes the follower truncate first; one whose
//! log no longer holds the fetch offset makes it start over at the
//! leader's log start.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::partition::{FollowerFetchState, PartitionError};
use super::Partition;
use crate::cluster::client::NodeClient;

/// Fetch v13: topic ids and `last_fetched_epoch`, replica id in the header
/// fields (v15 moved it into `replica_state`, which needs broker epochs).
const FETCH_VERSION: i16 = 13;
const LIST_OFFSETS_VERSION: i16 = 7;
const EARLIEST_TIMESTAMP: i64 = -2;

/// Kafka's `replica.fetch.*` settings.
#[derive(Debug, Clone)]
pub struct FetcherSettings {
    pub node_id: i32,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub response_max_bytes: i32,
    pub backoff_ms: u64,
    pub socket_timeout_ms: u64,
}

/// The fetcher tasks of this broker, one per leader it follows.
pub struct FetcherManager {
    settings: FetcherSettings,
    fetchers: std::sync::Mutex<HashMap<i32, Fetcher>>,
    shutdown: watch::Receiver<bool>,
}

struct Fetcher {
    addr: String,
    partitions: watch::Sender<Vec<Arc<Partition>>>,
    task: JoinHandle<()>,
}

impl FetcherManager {
    pub fn new(settings: FetcherSettings, shutdown: watch::Receiver<bool>) -> Self {
        FetcherManager {
            settings,
            fetchers: std::sync::Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    /// Points the fetchers at the partitions this broker now follows:
    /// `following` maps each leader to the address of its inter-broker
    /// listener and the partitions fetched from it. Fetchers of leaders no
    /// longer followed stop.
    pub fn assign(&self, following: BTreeMap<i32, (String, Vec<Arc<Partition>>)>) {
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        fetchers.retain(|leader, f| {
            let keep = following.get(leader).is_some_and(|(addr, _)| *addr == f.addr) && !f.task.is_finished();
            if !keep {
                f.task.abort();
            }
            keep
        });
        for (leader, (addr, partitions)) in following {
            match fetchers.get(&leader) {
                Some(f) => {
                    f.partitions.send_if_modified(|current| {
                        let same = current.len() == partitions.len()
                            && current.iter().zip(&partitions).all(|(a, b)| Arc::ptr_eq(a, b));
                        if !same {
                            *current = partitions;
                        }
                        !same
                    });
                }
                None => {
                    tracing::info!(leader, addr = %addr, count = partitions.len(), "starting replica fetcher");
                    let (tx, rx) = watch::channel(partitions);
                    let task = tokio::spawn(run(
                        self.settings.clone(),
                        leader,
                        NodeClient::new(
                            addr.clone(),
                            &format!("fjord-replica-fetcher-{}", self.settings.node_id),
                        ),
                        rx,
                        self.shutdown.clone(),
                    ));
                    fetchers.insert(
                        leader,
                        Fetcher {
                            addr,
                            partitions: tx,
                            task,
                        },
                    );
                }
            }
        }
    }

    /// Stops every fetcher (shutdown).
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
            fetchers.drain().map(|(_, f)| f.task).collect()
        };
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// One fetcher: fetches from `leader` until shut down or aborted.
async fn run(
    settings: FetcherSettings,
    leader: i32,
    client: NodeClient,
    mut partitions: watch::Receiver<Vec<Arc<Partition>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let backoff = Duration::from_millis(settings.backoff_ms);
    let timeout = Duration::from_millis(settings.socket_timeout_ms + settings.max_wait_ms.max(0) as u64);
    // Partitions held back after an error, until this time.
    let mut delayed: HashMap<(uuid::Uuid, i32), tokio::time::Instant> = HashMap::new();
    loop {
        let now = tokio::time::Instant::now();
        if partitions.has_changed().unwrap_or(false) {
            // New leaders or epochs: what failed before may work now.
            delayed.clear();
        }
        delayed.retain(|_, until| *until > now);
        let current: Vec<(Arc<Partition>, FollowerFetchState)> = partitions
            .borrow_and_update()
            .iter()
            .filter(|p| !delayed.contains_key(&(p.topic_id, p.index)))
            .filter_map(|p| {
                p.follower_fetch_state()
                    .filter(|s| s.leader == leader)
                    .map(|s| (p.clone(), s))
            })
            .collect();
        if current.is_empty() {
            let wait = delayed.values().min().copied();
            tokio::select! {
                changed = partitions.changed() => if changed.is_err() { return },
                _ = async {
                    match wait {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let request = fetch_request(&settings, &current);
        let response = tokio::select! {
            r = client.call(&request, FETCH_VERSION, timeout) => r,
            _ = shutdown.changed() => return,
        };
        let response = match response {
            Ok(r) if r.error_code == 0 => r,
            Ok(r) => {
                tracing::debug!(leader, error_code = r.error_code, "replica fetch refused");
                sleep_or_shutdown(backoff, &mut shutdown).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed");
                if sleep_or_shutdown(backoff, &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        let outcomes = apply_response(&current, response).await;
        for (key, outcome) in outcomes {
            match outcome {
                Outcome::Done => {}
                Outcome::Backoff => {
                    delayed.insert(key, tokio::time::Instant::now() + backoff);
                }
                Outcome::OutOfRange(part, state) => {
                    if let Err(e) = reset_out_of_range(&client, &settings, &part, state, timeout).await {
                        tracing::debug!(leader, topic = %part.topic, partition = part.index, error = %e, "could not reset follower offset");
                        delayed.insert(key, tokio::time::Instant::now() + backoff);
                    }
                }
            }
        }
    }
}

/// Sleeps `d`; true when shutdown came first.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.changed() => true,
    }
}

fn fetch_request(settings: &FetcherSettings, current: &[(Arc<Partition>, FollowerFetchState)]) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(settings.node_id);
    req.max_wait_ms = settings.max_wait_ms;
    req.min_bytes = settings.min_bytes;
    req.max_bytes = settings.response_max_bytes;
    req.isolation_level = 0;
    // Sessionless: every fetch names every partition (Kafka's followers use
    // sessions; the difference is bytes on the wire, not behaviour).
    req.session_id = 0;
    req.session_epoch = -1;
    let mut by_topic: BTreeMap<uuid::Uuid, FetchTopic> = BTreeMap::new();
    for (p, s) in current {
        let t = by_topic.entry(p.topic_id).or_insert_with(|| {
            let mut t = FetchTopic::default();
            t.topic_id = p.topic_id;
            t
        });
        let mut fp = FetchPartition::default();
        fp.partition = p.index;
        fp.current_leader_epoch = s.leader_epoch;
        fp.fetch_offset = s.fetch_offset;
        fp.last_fetched_epoch = s.last_fetched_epoch;
        fp.log_start_offset = s.log_start_offset;
        fp.partition_max_bytes = settings.max_bytes;
        t.partitions.push(fp);
    }
    req.topics = by_topic.into_values().collect();
    req
}

enum Outcome {
    Done,
    Backoff,
    OutOfRange(Arc<Partition>, FollowerFetchState),
}

type Key = (uuid::Uuid, i32);

/// Applies one fetch response: appends, truncations, high watermarks.
/// Disk work: runs off the runtime workers.
async fn apply_response(
    current: &[(Arc<Partition>, FollowerFetchState)],
    response: FetchResponse,
) -> Vec<(Key, Outcome)> {
    let fetched: HashMap<Key, &(Arc<Partition>, FollowerFetchState)> =
        current.iter().map(|c| ((c.0.topic_id, c.0.index), c)).collect();
    let mut work: Vec<(Arc<Partition>, FollowerFetchState, PartitionData)> = Vec::new();
    for topic in response.responses {
        for pd in topic.partitions {
            if let Some((p, s)) = fetched.get(&(topic.topic_id, pd.partition_index)) {
                work.push((p.clone(), *s, pd));
            }
        }
    }
    let applied = tokio::task::spawn_blocking(move || {
        work.into_iter()
            .map(|(p, s, pd)| ((p.topic_id, p.index), apply_partition(&p, s, pd)))
            .collect::<Vec<_>>()
    })
    .await;
    applied.unwrap_or_default()
}

fn apply_partition(part: &Arc<Partition>, state: FollowerFetchState, pd: PartitionData) -> Outcome {
    let error = ResponseError::try_from_code(pd.error_code);
    match error {
        None => {}
        Some(ResponseError::OffsetOutOfRange) => return Outcome::OutOfRange(part.clone(), state),
        Some(e) => {
            tracing::debug!(topic = %part.topic, partition = part.index, error = ?e, "replica fetch error");
            return Outcome::Backoff;
        }
    }
    if pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0 {
        let offset = truncation_offset(part, state, pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset);
        return match part.truncate_to(state.leader_epoch, offset) {
            Ok(()) => Outcome::Done,
            Err(e) => backoff_on(part, e),
        };
    }
    let records = pd.records.unwrap_or_default();
    match part.append_from_leader(state.leader_epoch, &records, pd.high_watermark, pd.log_start_offset) {
        Ok(()) => Outcome::Done,
        Err(e) => backoff_on(part, e),
    }
}

fn backoff_on(part: &Partition, e: PartitionError) -> Outcome {
    if !matches!(e, PartitionError::NotLeader) {
        tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "follower append failed");
    }
    Outcome::Backoff
}

/// Where to cut this follower's log, given the leader's end offset for
/// the epoch where the logs diverge (Kafka's getOffsetTruncationState).
fn truncation_offset(part: &Partition, state: FollowerFetchState, leader_epoch: i32, leader_end: i64) -> i64 {
    let leo = state.fetch_offset;
    if leader_end < 0 {
        return part.offsets().high_watermark.min(leo);
    }
    let (follower_epoch, follower_end) = part.end_offset_for_epoch(leader_epoch);
    if follower_end < 0 {
        leader_end.min(leo)
    } else if follower_epoch != leader_epoch {
        // The follower never saw the leader's epoch: cut to where its own
        // earlier epoch ends; the next fetch compares again.
        follower_end.min(leo)
    } else {
        leader_end.min(follower_end).min(leo)
    }
}

/// OFFSET_OUT_OF_RANGE for a follower: its log end is below the leader's
/// log start (start over there), or above what the leader holds (cut back
/// to the leader's end).
async fn reset_out_of_range(
    client: &NodeClient,
    settings: &FetcherSettings,
    part: &Arc<Partition>,
    state: FollowerFetchState,
    timeout: Duration,
) -> Result<(), String> {
    let earliest = leader_offset(client, settings, part, state, EARLIEST_TIMESTAMP, timeout).await?;
    let p = part.clone();
    let result = if state.fetch_offset < earliest {
        tokio::task::spawn_blocking(move || p.truncate_fully_and_start_at(state.leader_epoch, earliest)).await
    } else {
        let latest = leader_offset(client, settings, part, state, -1, timeout).await?;
        if state.fetch_offset <= latest {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || p.truncate_to(state.leader_epoch, latest)).await
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn leader_offset(
    client: &NodeClient,
    settings: &FetcherSettings,
    part: &Partition,
    state: FollowerFetchState,
    timestamp: i64,
    timeout: Duration,
) -> Result<i64, String> {
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(settings.node_id);
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(part.topic.clone()));
    let mut lp = ListOffsetsPartition::default();
    lp.partition_index = part.index;
    lp.current_leader_epoch = state.leader_epoch;
    lp.timestamp = timestamp;
    t.partitions.push(lp);
    req.topics.push(t);
    let resp = client
        .call(&req, LIST_OFFSETS_VERSION, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let p = resp
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| "empty ListOffsets response".to_string())?;
    if p.error_code != 0 {
        return Err(format!("ListOffsets error {}", p.error_code));
    }
    Ok(p.offset)
}
