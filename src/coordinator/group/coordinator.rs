//! Runs the group state machines: looks groups up, runs their timers on
//! tokio, and writes their offsets and metadata to `__consumer_offsets`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::records::{self, GroupMetadataValue, MemberValue, RecordKey};
use super::state::{CommittedOffset, Group, GroupConfig, GroupState, JoinRequest, JoinResult, SyncResult, Timer};
use crate::clock::now_ms;
use crate::coordinator::internal_topic::{self, Entry};
pub use crate::coordinator::internal_topic::{TxnProducer, Written};
use crate::replication::ReplicaManager;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Settings of the coordinator, from the broker config.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    pub group: GroupConfig,
    pub num_partitions: i32,
    pub offsets_retention_ms: i64,
    pub metadata_max_bytes: usize,
}

/// A group as DescribeGroups shows it.
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol_name: String,
    /// (member id, instance id, client id, host, metadata, assignment)
    pub members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
    pub config: CoordinatorConfig,
    replicas: Arc<ReplicaManager>,
    /// One writer per `__consumer_offsets` partition, holding the number of
    /// records written since its last checkpoint. Lock order: this, then a
    /// group's lock.
    writers: Vec<Mutex<u64>>,
    /// The `__consumer_offsets` partitions this node leads, and whether
    /// each has been replayed (`true`) or is still loading. A group whose
    /// partition is not here is coordinated elsewhere.
    owned: RwLock<HashMap<i32, bool>>,
    /// Rebalance and session timers, owned so shutdown can stop them.
    timers: TaskTracker,
    stop_timers: CancellationToken,
}

/// Records written to a `__consumer_offsets` partition before the
/// coordinator rewrites the live state and drops everything older. This is
/// what bounds replay: only the latest value per key matters.
const CHECKPOINT_AFTER_RECORDS: u64 = 100_000;
/// Records per batch when a checkpoint rewrites the live state.
const CHECKPOINT_BATCH_RECORDS: usize = 1_000;

type GroupSnapshot = Option<(String, GroupMetadataValue)>;

/// A committed offset as OffsetFetch reports it: none, one, or an error
/// for the partition.
pub type FetchedOffset = Result<Option<CommittedOffset>, ResponseError>;

impl GroupCoordinator {
    pub fn new(config: CoordinatorConfig, replicas: Arc<ReplicaManager>) -> Self {
        let writers = (0..config.num_partitions.max(1)).map(|_| Mutex::new(0)).collect();
        GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            config,
            replicas,
            writers,
            owned: RwLock::new(HashMap::new()),
            timers: TaskTracker::new(),
            stop_timers: CancellationToken::new(),
        }
    }

    /// Cancels every pending timer and waits for the timer tasks to end; no
    /// timer fires (and writes to `__consumer_offsets`) after this returns.
    pub async fn stop_timers(&self) {
        self.stop_timers.cancel();
        self.timers.close();
        self.timers.wait().await;
    }

    /// Kafka's answer to a group request sent to a node that does not
    /// coordinate the group: NOT_COORDINATOR when another node leads its
    /// partition, COORDINATOR_LOAD_IN_PROGRESS while it is being replayed.
    pub fn coordinator_error(&self, group: &str) -> Option<ResponseError> {
        match self
            .owned
            .read()
            .expect("ownership lock is never poisoned")
            .get(&self.partition_for(group))
        {
            Some(true) => None,
            Some(false) => Some(ResponseError::CoordinatorLoadInProgress),
            None => Some(ResponseError::NotCoordinator),
        }
    }

    /// Follows leadership of `__consumer_offsets`: replays the partitions
    /// this node now leads and drops the groups of those it no longer leads
    /// (their new coordinator replays them). Reads the log: call it off the
    /// runtime workers.
    pub fn set_leadership(&self, led: &BTreeSet<i32>) {
        let (gained, lost): (Vec<i32>, Vec<i32>) = {
            let mut owned = self.owned.write().expect("ownership lock is never poisoned");
            let lost: Vec<i32> = owned.keys().filter(|p| !led.contains(p)).copied().collect();
            for p in &lost {
                owned.remove(p);
            }
            let gained: Vec<i32> = led.iter().filter(|p| !owned.contains_key(p)).copied().collect();
            for p in &gained {
                owned.insert(*p, false);
            }
            (gained, lost)
        };
        if !lost.is_empty() {
            let mut groups = self.groups.lock().expect("group map lock is never poisoned");
            groups.retain(|id, _| !lost.contains(&self.partition_for(id)));
            for p in &lost {
                if let Some(w) = self.writers.get(*p as usize) {
                    *w.lock().expect("writer lock is never poisoned") = 0;
                }
            }
            tracing::info!(partitions = ?lost, "no longer coordinating the groups of these __consumer_offsets partitions");
        }
        for p in gained {
            let loaded = self.load_partition(p);
            let mut owned = self.owned.write().expect("ownership lock is never poisoned");
            if let Some(state) = owned.get_mut(&p) {
                *state = true;
            }
            tracing::debug!(
                partition = p,
                records = loaded,
                "coordinating the groups of __consumer_offsets partition"
            );
        }
    }

    /// The `__consumer_offsets` partition that owns `group`.
    pub fn partition_for(&self, group: &str) -> i32 {
        (crate::coordinator::java_hash(group) & 0x7fff_ffff) % self.config.num_partitions
    }

    fn group(&self, id: &str, create: bool) -> Option<Arc<Mutex<Group>>> {
        let mut groups = self.groups.lock().expect("group map lock is never poisoned");
        if let Some(g) = groups.get(id) {
            return Some(g.clone());
        }
        if !create {
            return None;
        }
        let g = Arc::new(Mutex::new(Group::new(id, now_ms())));
        groups.insert(id.to_string(), g.clone());
        Some(g)
    }

    /// Runs `f` on a group; persists the group's metadata when the call
    /// moved it to Stable or Empty (a new generation), as Kafka does.
    fn with_group<R>(&self, id: &str, create: bool, f: impl FnOnce(&mut Group) -> R) -> Option<(R, GroupSnapshot)> {
        let g = self.group(id, create)?;
        let mut g = g.lock().expect("group lock is never poisoned");
        let before = (g.state, g.generation_id);
        let r = f(&mut g);
        let after = (g.state, g.generation_id);
        let snapshot = (before != after && matches!(g.state, GroupState::Stable | GroupState::Empty))
            .then(|| (g.group_id.clone(), metadata_value(&g)));
        Some((r, snapshot))
    }

    fn persist_group(&self, snapshot: GroupSnapshot) {
        if let Some((id, value)) = snapshot {
            let mut writer = self.writer(&id);
            let key = RecordKey::Group { group: id.clone() }.encode();
            if let Err(e) = self.append(&mut writer, &id, vec![(key, Some(records::encode_group_value(&value)))]) {
                tracing::warn!(group = %id, error = ?e, "could not persist group metadata");
            }
            self.maybe_checkpoint(&mut writer, self.partition_for(&id));
        }
    }

    /// The writer of the group's `__consumer_offsets` partition.
    fn writer(&self, group: &str) -> std::sync::MutexGuard<'_, u64> {
        self.writers[self.partition_for(group) as usize]
            .lock()
            .expect("writer lock is never poisoned")
    }

    /// Appends records to the group's `__consumer_offsets` partition (the
    /// caller holds its writer); returns the first offset written.
    fn append(
        &self,
        writer: &mut u64,
        group: &str,
        kvs: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<Written, ResponseError> {
        self.append_to(writer, self.partition_for(group), kvs)
    }

    fn append_to(
        &self,
        writer: &mut u64,
        partition: i32,
        kvs: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<Written, ResponseError> {
        let count = kvs.len() as u64;
        let written = internal_topic::append(&self.replicas, OFFSETS_TOPIC, partition, kvs)?;
        *writer += count;
        Ok(written)
    }

    /// Once enough has been written to a partition, rewrites the live state
    /// of its groups (latest offsets and metadata) and moves the log start
    /// offset to that rewrite, so replay never reads superseded records.
    fn maybe_checkpoint(&self, writer: &mut u64, partition: i32) {
        if *writer < CHECKPOINT_AFTER_RECORDS {
            return;
        }
        let groups: Vec<Arc<Mutex<Group>>> = self
            .groups
            .lock()
            .expect("group map lock is never poisoned")
            .iter()
            .filter(|(id, _)| self.partition_for(id) == partition)
            .map(|(_, g)| g.clone())
            .collect();
        // Offsets of open transactions live only in their own records: no
        // checkpoint may trim those away before their markers are written.
        if groups.iter().any(|g| {
            g.lock()
                .expect("group lock is never poisoned")
                .has_pending_txn_offsets()
        }) {
            return;
        }
        let mut live: Vec<(Bytes, Option<Bytes>)> = Vec::new();
        for g in groups {
            let g = g.lock().expect("group lock is never poisoned");
            if g.state == GroupState::Dead {
                continue;
            }
            for ((topic, p), o) in &g.offsets {
                let key = RecordKey::Offset {
                    group: g.group_id.clone(),
                    topic: topic.clone(),
                    partition: *p,
                };
                live.push((key.encode(), Some(records::encode_offset_value(o))));
            }
            if g.protocol_type.is_some() {
                live.push((
                    RecordKey::Group {
                        group: g.group_id.clone(),
                    }
                    .encode(),
                    Some(records::encode_group_value(&metadata_value(&g))),
                ));
            }
        }
        let Some(part) = self.replicas.get(OFFSETS_TOPIC, partition) else {
            return;
        };
        let mut start = part.offsets().log_end_offset;
        let mut first = true;
        let mut chunks = live.into_iter().peekable();
        while chunks.peek().is_some() {
            let chunk: Vec<_> = chunks.by_ref().take(CHECKPOINT_BATCH_RECORDS).collect();
            match self.append_to(writer, partition, chunk) {
                Ok(w) if first => {
                    start = w.base_offset;
                    first = false;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(partition, error = ?e, "checkpoint of __consumer_offsets failed");
                    return;
                }
            }
        }
        match part.delete_records_before(start) {
            Ok(low) => tracing::info!(partition, log_start_offset = low, "checkpointed __consumer_offsets"),
            Err(e) => tracing::warn!(partition, error = %e, "could not trim __consumer_offsets"),
        }
        *writer = 0;
    }

    fn schedule(self: &Arc<Self>, group_id: &str, timers: Vec<Timer>) {
        for timer in timers {
            let coordinator = self.clone();
            let group_id = group_id.to_string();
            let deadline = match &timer {
                Timer::Rebalance { deadline_ms, .. } | Timer::Session { deadline_ms, .. } => *deadline_ms,
            };
            let delay = Duration::from_millis((deadline - now_ms()).max(0) as u64);
            let stop = self.stop_timers.clone();
            self.timers.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => coordinator.fire(&group_id, timer),
                    _ = stop.cancelled() => {}
                }
            });
        }
    }

    fn fire(self: &Arc<Self>, group_id: &str, timer: Timer) {
        let config = self.config.group.clone();
        let outcome = self.with_group(group_id, false, |g| match &timer {
            Timer::Rebalance {
                rebalance_epoch,
                deadline_ms,
            } => g.on_rebalance_timer(*rebalance_epoch, *deadline_ms, now_ms()),
            Timer::Session {
                member_id,
                heartbeat_epoch,
                ..
            } => g.on_session_timer(member_id, *heartbeat_epoch, &config, now_ms()),
        });
        if let Some((timers, snapshot)) = outcome {
            self.persist_group(snapshot);
            self.schedule(group_id, timers);
        }
    }

    pub async fn join(self: &Arc<Self>, group_id: &str, req: JoinRequest) -> JoinResult {
        if let Some(e) = self.coordinator_error(group_id) {
            return JoinResult::error(e, &req.member_id);
        }
        let member_id = req.member_id.clone();
        let wait_ms = req.rebalance_timeout_ms.max(req.session_timeout_ms) as u64 + 5_000;
        let (tx, rx) = oneshot::channel();
        let config = self.config.group.clone();
        let Some((timers, snapshot)) = self.with_group(group_id, true, |g| g.join(req, tx, &config, now_ms())) else {
            return JoinResult::error(ResponseError::CoordinatorNotAvailable, &member_id);
        };
        self.persist_group(snapshot);
        self.schedule(group_id, timers);
        match tokio::time::timeout(Duration::from_millis(wait_ms), rx).await {
            Ok(Ok(r)) => r,
            _ => JoinResult::error(ResponseError::RebalanceInProgress, &member_id),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn sync(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if let Some(e) = self.coordinator_error(group_id) {
            return SyncResult::error(e);
        }
        let (tx, rx) = oneshot::channel();
        let outcome = self.with_group(group_id, false, |g| {
            let session_ms = g
                .member(member_id)
                .map_or(0, |m| m.session_timeout_ms.max(m.rebalance_timeout_ms));
            let (timers, _) = g.sync(
                member_id,
                instance_id,
                generation_id,
                protocol_type,
                protocol_name,
                assignments,
                tx,
                now_ms(),
            );
            (timers, session_ms)
        });
        let Some(((timers, wait_ms), snapshot)) = outcome else {
            return SyncResult {
                error: Some(ResponseError::UnknownMemberId),
                protocol_type: None,
                protocol_name: None,
                assignment: Bytes::new(),
            };
        };
        self.persist_group(snapshot);
        self.schedule(group_id, timers);
        match tokio::time::timeout(Duration::from_millis(wait_ms as u64 + 5_000), rx).await {
            Ok(Ok(r)) => r,
            _ => SyncResult {
                error: Some(ResponseError::RebalanceInProgress),
                protocol_type: None,
                protocol_name: None,
                assignment: Bytes::new(),
            },
        }
    }

    pub fn heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Option<ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Some(e);
        }
        let Some(((error, timer), _)) = self.with_group(group_id, false, |g| {
            g.heartbeat(member_id, instance_id, generation_id, now_ms())
        }) else {
            return Some(ResponseError::UnknownMemberId);
        };
        self.schedule(group_id, timer.into_iter().collect());
        error
    }

    /// LeaveGroup for a batch of members; one result per member.
    pub fn leave(
        self: &Arc<Self>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Err(e);
        }
        let config = self.config.group.clone();
        let outcome = self.with_group(group_id, false, |g| {
            let mut timers = Vec::new();
            let results = members
                .iter()
                .map(|(id, instance)| {
                    let (e, t) = g.leave(id, instance.as_deref(), &config, now_ms());
                    timers.extend(t);
                    e
                })
                .collect::<Vec<_>>();
            (results, timers)
        });
        let Some(((results, timers), snapshot)) = outcome else {
            return Err(ResponseError::UnknownMemberId);
        };
        self.persist_group(snapshot);
        self.schedule(group_id, timers);
        Ok(results)
    }

    /// OffsetCommit: checks membership, writes the offsets, then applies
    /// them; the caller answers once what was written is replicated.
    pub fn commit(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        offsets: Vec<((String, i32), CommittedOffset)>,
    ) -> Result<Option<Written>, ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Err(e);
        }
        let simple = generation_id < 0 && member_id.is_empty();
        let (check, _) = self
            .with_group(group_id, simple, |g| {
                g.check_commit(member_id, instance_id, generation_id, now_ms())
            })
            .ok_or(ResponseError::IllegalGeneration)?;
        let timer = check?;
        self.schedule(group_id, timer.into_iter().collect());
        if offsets.is_empty() {
            return Ok(None);
        }
        let kvs = offset_records(group_id, &offsets);
        // Applied under the partition's writer, so a checkpoint never
        // rewrites a value older than one already in the log.
        let mut writer = self.writer(group_id);
        let written = self.append(&mut writer, group_id, kvs)?;
        self.with_group(group_id, true, |g| g.apply_offsets(offsets, written.base_offset));
        self.maybe_checkpoint(&mut writer, self.partition_for(group_id));
        Ok(Some(written))
    }

    /// TxnOffsetCommit: checks the producer's group generation (KIP-447),
    /// writes the offsets as part of `producer`'s transaction and holds
    /// them until its marker arrives (`complete_txn`); the caller answers
    /// once what was written is replicated.
    pub fn txn_commit(
        &self,
        group_id: &str,
        producer: TxnProducer,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        offsets: Vec<((String, i32), CommittedOffset)>,
    ) -> Result<Option<Written>, ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Err(e);
        }
        let (check, _) = self
            .with_group(group_id, true, |g| {
                g.check_txn_commit(member_id, instance_id, generation_id)
            })
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
        check?;
        if offsets.is_empty() {
            return Ok(None);
        }
        let kvs = offset_records(group_id, &offsets);
        let mut writer = self.writer(group_id);
        let partition = self.partition_for(group_id);
        let written = internal_topic::append_for(&self.replicas, OFFSETS_TOPIC, partition, Some(producer), kvs)?;
        *writer += offsets.len() as u64;
        self.with_group(group_id, true, |g| {
            g.add_pending_txn_offsets(producer.id, offsets, written.base_offset)
        });
        Ok(Some(written))
    }

    /// A transaction marker was written to `__consumer_offsets` partition
    /// `partition`: the offsets `producer_id` committed in its transaction
    /// there take effect (commit) or are dropped (abort).
    pub fn complete_txn(&self, partition: i32, producer_id: i64, commit: bool) {
        let groups: Vec<Arc<Mutex<Group>>> = self
            .groups
            .lock()
            .expect("group map lock is never poisoned")
            .iter()
            .filter(|(id, _)| self.partition_for(id) == partition)
            .map(|(_, g)| g.clone())
            .collect();
        for g in groups {
            let mut g = g.lock().expect("group lock is never poisoned");
            if g.complete_txn_offsets(producer_id, commit) {
                tracing::debug!(group = %g.group_id, producer_id, commit, "transactional offsets completed");
            }
        }
    }

    /// Committed offsets of a group: all of them, or those asked for. With
    /// `require_stable`, a partition an open transaction holds an offset
    /// for is UNSTABLE_OFFSET_COMMIT (the client retries).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        wanted: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> Vec<(String, i32, FetchedOffset)> {
        let Some(g) = self.group(group_id, false) else {
            return wanted
                .unwrap_or_default()
                .into_iter()
                .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p, Ok(None))))
                .collect();
        };
        let g = g.lock().expect("group lock is never poisoned");
        let lookup = |tp: (String, i32)| {
            let o = if require_stable && g.has_pending_txn_offset(&tp) {
                Err(ResponseError::UnstableOffsetCommit)
            } else {
                Ok(g.offsets.get(&tp).cloned())
            };
            (tp.0, tp.1, o)
        };
        match wanted {
            None => {
                let keys: Vec<_> = g.offsets.keys().cloned().collect();
                keys.into_iter().map(lookup).collect()
            }
            Some(w) => w
                .into_iter()
                .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p)))
                .map(lookup)
                .collect(),
        }
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let g = self.group(group_id, false)?;
        let g = g.lock().expect("group lock is never poisoned");
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let stable = g.state == GroupState::Stable;
        Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_name: if stable { protocol.clone() } else { String::new() },
            members: g
                .members
                .values()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        if stable {
                            m.metadata_for(&protocol)
                        } else {
                            Bytes::new()
                        },
                        if stable { m.assignment.clone() } else { Bytes::new() },
                    )
                })
                .collect(),
        })
    }

    /// (group id, protocol type, state) of every live group.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let groups: Vec<Arc<Mutex<Group>>> = self
            .groups
            .lock()
            .expect("group map lock is never poisoned")
            .values()
            .cloned()
            .collect();
        let mut out: Vec<_> = groups
            .iter()
            .map(|g| {
                let g = g.lock().expect("group lock is never poisoned");
                (g.group_id.clone(), g.protocol_type.clone().unwrap_or_default(), g.state)
            })
            .filter(|(_, _, s)| *s != GroupState::Dead)
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// DeleteGroups for one group: only Empty groups; writes tombstones.
    pub fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Err(e);
        }
        let mut writer = self.writer(group_id);
        let g = self.group(group_id, false).ok_or(ResponseError::GroupIdNotFound)?;
        let mut tombstones = Vec::new();
        {
            let mut g = g.lock().expect("group lock is never poisoned");
            match g.state {
                GroupState::Dead => return Err(ResponseError::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(ResponseError::NonEmptyGroup),
            }
            for (topic, partition) in g.offsets.keys() {
                let key = RecordKey::Offset {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                };
                tombstones.push((key.encode(), None));
            }
            tombstones.push((
                RecordKey::Group {
                    group: group_id.to_string(),
                }
                .encode(),
                None,
            ));
            self.append(&mut writer, group_id, tombstones)?;
            g.offsets.clear();
            g.mark_dead(now_ms());
        }
        self.groups
            .lock()
            .expect("group map lock is never poisoned")
            .remove(group_id);
        Ok(())
    }

    /// OffsetDelete: drops committed offsets of topics the group does not
    /// subscribe to. Returns a per-partition result.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Option<ResponseError>>, ResponseError> {
        if let Some(e) = self.coordinator_error(group_id) {
            return Err(e);
        }
        let mut writer = self.writer(group_id);
        let g = self.group(group_id, false).ok_or(ResponseError::GroupIdNotFound)?;
        let mut g = g.lock().expect("group lock is never poisoned");
        if g.state == GroupState::Dead {
            return Err(ResponseError::GroupIdNotFound);
        }
        let subscribed = if g.state == GroupState::Empty {
            Default::default()
        } else {
            g.subscribed_topics()
        };
        let mut results = Vec::new();
        let mut tombstones = Vec::new();
        for (topic, partition) in partitions {
            if subscribed.contains(topic) {
                results.push(Some(ResponseError::GroupSubscribedToTopic));
                continue;
            }
            if g.offsets.contains_key(&(topic.clone(), *partition)) {
                let key = RecordKey::Offset {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                };
                tombstones.push((key.encode(), None));
            }
            results.push(None);
        }
        if !tombstones.is_empty() {
            self.append(&mut writer, group_id, tombstones)?;
            for ((topic, partition), r) in partitions.iter().zip(&results) {
                if r.is_none() {
                    g.remove_offset(&(topic.clone(), *partition));
                }
            }
        }
        Ok(results)
    }

    /// offsets.retention.minutes: offsets of groups that have been Empty
    /// longer than the retention, and not committed within it, expire; an
    /// Empty group left without offsets is removed.
    pub fn expire_offsets(&self, now: i64) {
        let groups: Vec<Arc<Mutex<Group>>> = self
            .groups
            .lock()
            .expect("group map lock is never poisoned")
            .values()
            .cloned()
            .collect();
        let mut dead = Vec::new();
        for g in groups {
            let group_id = g.lock().expect("group lock is never poisoned").group_id.clone();
            let mut writer = self.writer(&group_id);
            let mut g = g.lock().expect("group lock is never poisoned");
            if g.state != GroupState::Empty {
                continue;
            }
            let retention_ms = self.config.offsets_retention_ms;
            let expired: Vec<(String, i32)> = if now - g.state_timestamp_ms < retention_ms {
                Vec::new()
            } else {
                g.offsets
                    .iter()
                    .filter(|(_, o)| now - o.commit_timestamp_ms >= retention_ms)
                    .map(|(k, _)| k.clone())
                    .collect()
            };
            // Kafka's cleanupGroupMetadata: an Empty group left without
            // offsets is removed too (Dead, with a group tombstone).
            let remove_group = expired.len() == g.offsets.len();
            if expired.is_empty() && !remove_group {
                continue;
            }
            let mut tombstones: Vec<_> = expired
                .iter()
                .map(|(t, p)| {
                    let key = RecordKey::Offset {
                        group: group_id.clone(),
                        topic: t.clone(),
                        partition: *p,
                    };
                    (key.encode(), None)
                })
                .collect();
            if remove_group {
                tombstones.push((
                    RecordKey::Group {
                        group: group_id.clone(),
                    }
                    .encode(),
                    None,
                ));
            }
            if self.append(&mut writer, &group_id, tombstones).is_ok() {
                tracing::info!(group = %group_id, partitions = expired.len(), removed = remove_group, "expired committed offsets");
                for k in expired {
                    g.remove_offset(&k);
                }
                if remove_group {
                    g.mark_dead(now);
                    dead.push(group_id);
                }
            }
        }
        let mut map = self.groups.lock().expect("group map lock is never poisoned");
        for group_id in dead {
            map.remove(&group_id);
        }
    }

    /// Rebuilds the groups and offsets of one `__consumer_offsets`
    /// partition by replaying it; returns the records applied.
    fn load_partition(&self, partition: i32) -> usize {
        let mut loaded = 0usize;
        internal_topic::replay(&self.replicas, OFFSETS_TOPIC, partition, |entry| match entry {
            Entry::Record {
                key,
                value,
                producer,
                offset,
            } => {
                if let Some(k) = RecordKey::decode(&key) {
                    self.apply_loaded(k, value, producer, offset);
                    loaded += 1;
                    // A long replay is checkpointed at the next write.
                    *self.writers[partition as usize]
                        .lock()
                        .expect("writer lock is never poisoned") += 1;
                }
            }
            Entry::Marker {
                producer_id, commit, ..
            } => self.complete_txn(partition, producer_id, commit),
        });
        if loaded > 0 {
            tracing::info!(partition, records = loaded, "loaded consumer groups");
        }
        loaded
    }

    /// Applies one replayed record, written at `offset`, in the transaction
    /// of `producer` if any.
    fn apply_loaded(&self, key: RecordKey, value: Option<Bytes>, producer: Option<i64>, offset: i64) {
        match key {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => {
                let g = self.group(&group, true).expect("created");
                let mut g = g.lock().expect("group lock is never poisoned");
                match (value.as_deref().and_then(records::decode_offset_value), producer) {
                    (Some(o), Some(pid)) => g.add_pending_txn_offsets(pid, vec![((topic, partition), o)], offset),
                    (Some(o), None) => g.apply_offsets(vec![((topic, partition), o)], offset),
                    (None, _) => g.remove_offset(&(topic, partition)),
                }
            }
            RecordKey::Group { group } => match value.as_deref().and_then(records::decode_group_value) {
                Some(v) => {
                    let g = self.group(&group, true).expect("created");
                    let mut g = g.lock().expect("group lock is never poisoned");
                    // Members are not restored: they rejoin (UNKNOWN_MEMBER_ID
                    // on their next call) and the group resumes from its
                    // committed offsets under the next generation.
                    g.generation_id = v.generation_id;
                    g.protocol_type = Some(v.protocol_type);
                }
                None => {
                    self.groups
                        .lock()
                        .expect("group map lock is never poisoned")
                        .remove(&group);
                }
            },
        }
    }
}

/// The `__consumer_offsets` records of a group's committed offsets.
fn offset_records(group_id: &str, offsets: &[((String, i32), CommittedOffset)]) -> Vec<(Bytes, Option<Bytes>)> {
    offsets
        .iter()
        .map(|((topic, partition), o)| {
            let key = RecordKey::Offset {
                group: group_id.to_string(),
                topic: topic.clone(),
                partition: *partition,
            };
            (key.encode(), Some(records::encode_offset_value(o)))
        })
        .collect()
}

fn metadata_value(g: &Group) -> GroupMetadataValue {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    GroupMetadataValue {
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        generation_id: g.generation_id,
        protocol_name: g.protocol_name.clone(),
        leader: g.leader_id.clone(),
        state_timestamp_ms: g.state_timestamp_ms,
        members: g
            .members
            .values()
            .map(|m| MemberValue {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: m.metadata_for(&protocol),
                assignment: m.assignment.clone(),
            })
            .collect(),
    }
}
