//! One hosted partition: its log behind a per-partition lock (appends to
//! different partitions never contend), its role in the partition's
//! replica set, and the waiters woken when it changes.
//!
//! A leader tracks each follower's log end offset and when it was last
//! caught up, and moves the high watermark to the smallest log end offset
//! of the in-sync replicas (Kafka's `Partition.maybeIncrementLeaderHW`).
//! Consumers read below the high watermark; followers read to the log end.
//! A follower appends the leader's batches unchanged and takes the high
//! watermark the leader tells it. Changes to the ISR are proposed to the
//! controller (`isr.rs`); until one is committed, the high watermark
//! counts the replicas being added as in sync, and the ones being removed
//! as well (Kafka's "maximal ISR").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::log::producer_state::{ActiveProducer, VerificationGuard};
use crate::log::txn_index::AbortedTxn;
use crate::log::{AppendInfo, LogCheckpoint, LogConfig, LogError, PartitionLog, ReadPlan};

/// The replica set of a partition as the metadata image names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// What a fetch may read up to (Kafka's FetchIsolation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Followers: everything written.
    LogEnd,
    /// Consumers in read_uncommitted: what every in-sync replica holds.
    HighWatermark,
    /// Consumers in read_committed: up to the last stable offset (the high
    /// watermark, or the first offset of an open transaction below it).
    Committed,
}

/// What waiters see of a partition: its high watermark, and whether this
/// broker still leads it in the epoch the waiter started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub high_watermark: i64,
    pub leader_epoch: i32,
    pub is_leader: bool,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    node_id: i32,
    state: Mutex<State>,
    /// Published on every high-watermark or leadership change: delayed
    /// produces (`acks=all`) wait on it.
    progress: watch::Sender<Progress>,
}

struct State {
    log: PartitionLog,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<i32>,
    /// The committed ISR, as the metadata image (or the controller's answer
    /// to this leader's AlterPartition) names it.
    isr: Vec<i32>,
    role: Role,
    high_watermark: i64,
    /// Delayed fetches, woken by appends and high-watermark moves.
    waiters: Vec<Arc<Notify>>,
}

enum Role {
    Leader(LeaderState),
    Follower { leader: i32 },
}

#[derive(Default)]
struct LeaderState {
    /// Followers' fetch state, by replica id.
    followers: HashMap<i32, FollowerState>,
    /// The log end offset when this leader epoch began: a follower joins
    /// the ISR only once it has reached it (Kafka's leaderEpochStartOffset).
    epoch_start_offset: i64,
    /// An AlterPartition this leader sent and has not heard back about.
    pending: Option<Vec<i32>>,
}

#[derive(Debug, Clone, Copy)]
struct FollowerState {
    /// -1 until the follower fetches in this leader epoch.
    log_end_offset: i64,
    last_caught_up_ms: i64,
    last_fetch_leader_end_offset: i64,
    last_fetch_ms: i64,
}

impl FollowerState {
    fn unknown(now_ms: i64) -> Self {
        FollowerState {
            log_end_offset: -1,
            // A new leader gives every follower a full lag period.
            last_caught_up_ms: now_ms,
            last_fetch_leader_end_offset: -1,
            last_fetch_ms: now_ms,
        }
    }
}

/// What a fetch sees of a partition at one instant.
#[derive(Debug)]
pub struct FetchSnapshot {
    pub plan: Option<ReadPlan>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// For `Isolation::Committed`: the aborted transactions the read may
    /// overlap (up to the last stable offset), whose records the consumer
    /// drops.
    pub aborted: Vec<AbortedTxn>,
}

/// Offsets of a partition, for ListOffsets and metadata tools.
#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_end_offset: i64,
    pub size_bytes: u64,
}

/// Where a follower fetches from, for the fetcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerFetchState {
    pub leader: i32,
    pub leader_epoch: i32,
    pub fetch_offset: i64,
    pub last_fetched_epoch: i32,
    pub log_start_offset: i64,
}

/// An ISR change this leader wants the controller to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("ISR size {isr} is below min.insync.replicas {min}")]
    NotEnoughReplicas { isr: usize, min: i32 },
    #[error("the ISR shrank to {isr}, below min.insync.replicas {min}, before the records were replicated")]
    NotEnoughReplicasAfterAppend { isr: usize, min: i32 },
    #[error("this broker does not lead the partition")]
    NotLeader,
    #[error("timed out waiting for the in-sync replicas")]
    Timeout,
}

impl Partition {
    pub fn new(
        topic: String,
        index: i32,
        topic_id: Uuid,
        node_id: i32,
        log: PartitionLog,
        checkpointed_hw: Option<i64>,
        assignment: &Assignment,
    ) -> Self {
        // The high watermark checkpointed at the last shutdown (Kafka's
        // replication-offset-checkpoint); without one, nothing is known to
        // be committed beyond the log start until the leader says so (a
        // sole replica commits everything at once).
        let high_watermark = checkpointed_hw
            .unwrap_or(log.log_start_offset())
            .clamp(log.log_start_offset(), log.log_end_offset());
        let part = Partition {
            topic,
            index,
            topic_id,
            node_id,
            state: Mutex::new(State {
                log,
                leader_epoch: -1,
                partition_epoch: -1,
                replicas: Vec::new(),
                isr: Vec::new(),
                role: Role::Follower { leader: -1 },
                high_watermark,
                waiters: Vec::new(),
            }),
            progress: watch::Sender::new(Progress {
                high_watermark,
                leader_epoch: -1,
                is_leader: false,
            }),
        };
        part.apply_assignment(None, assignment, crate::clock::now_ms());
        part
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding a partition lock is a bug; keep serving the
        // other partitions rather than poisoning the broker.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the image's view of this partition (Kafka's makeLeader /
    /// makeFollower): a new leader epoch resets the followers' state; the
    /// ISR and partition epoch follow the image when it is newer. Returns
    /// whether this replica's role or leader epoch changed.
    pub fn apply_assignment(&self, config: Option<LogConfig>, a: &Assignment, now_ms: i64) -> bool {
        let waiters;
        let changed;
        {
            let mut s = self.lock();
            if let Some(config) = config {
                if s.log.config() != &config {
                    s.log.set_config(config);
                }
            }
            changed = a.leader_epoch != s.leader_epoch || (a.leader == self.node_id) != s.is_leader();
            if changed {
                if a.leader == self.node_id {
                    let leo = s.log.log_end_offset();
                    if let Err(e) = s.log.assign_leader_epoch(a.leader_epoch) {
                        tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "could not record the leader epoch");
                    }
                    let followers = a
                        .replicas
                        .iter()
                        .filter(|&&r| r != self.node_id)
                        .map(|&r| (r, FollowerState::unknown(now_ms)))
                        .collect();
                    s.role = Role::Leader(LeaderState {
                        followers,
                        epoch_start_offset: leo,
                        pending: None,
                    });
                } else {
                    s.role = Role::Follower { leader: a.leader };
                }
                s.leader_epoch = a.leader_epoch;
            }
            if changed || a.partition_epoch > s.partition_epoch {
                s.partition_epoch = a.partition_epoch;
                s.isr = a.isr.clone();
                if s.replicas != a.replicas {
                    s.replicas = a.replicas.clone();
                    let node_id = self.node_id;
                    if let Role::Leader(l) = &mut s.role {
                        l.followers.retain(|r, _| a.replicas.contains(r));
                        for &r in a.replicas.iter().filter(|&&r| r != node_id) {
                            l.followers.entry(r).or_insert_with(|| FollowerState::unknown(now_ms));
                        }
                    }
                }
                if let Role::Leader(l) = &mut s.role {
                    l.pending = None;
                }
            }
            self.maybe_advance_hw(&mut s);
            self.publish(&s);
            waiters = std::mem::take(&mut s.waiters);
        }
        for w in waiters {
            w.notify_one();
        }
        changed
    }

    /// The high watermark this leader may expose: the smallest log end
    /// offset among the replicas counted in sync. Never moves back.
    fn maybe_advance_hw(&self, s: &mut State) {
        let Role::Leader(l) = &s.role else {
            return;
        };
        let leo = s.log.log_end_offset();
        let mut candidate = leo;
        for id in maximal_isr(&s.isr, l.pending.as_deref()) {
            if id == self.node_id {
                continue;
            }
            match l.followers.get(&id) {
                Some(f) => candidate = candidate.min(f.log_end_offset),
                // A member this leader has no state for (the image and
                // the replica list disagree): nothing is committed past it.
                None => candidate = candidate.min(s.high_watermark),
            }
        }
        if candidate > s.high_watermark {
            s.high_watermark = candidate;
        }
    }

    fn publish(&self, s: &State) {
        let next = Progress {
            high_watermark: s.high_watermark,
            leader_epoch: s.leader_epoch,
            is_leader: s.is_leader(),
        };
        self.progress.send_if_modified(|p| {
            let modified = *p != next;
            *p = next;
            modified
        });
    }

    fn wake(&self, s: &mut State) -> Vec<Arc<Notify>> {
        self.publish(s);
        std::mem::take(&mut s.waiters)
    }

    /// Appends a client batch as the leader. `acks=all` is refused while
    /// the ISR is smaller than `min.insync.replicas` (Kafka checks before
    /// appending); waiting for the followers is `wait_for_replication`. A
    /// transactional batch that opens a transaction here needs the guard
    /// of its verification (`start_verification`), still current.
    pub fn append_as_leader(
        &self,
        records: &Bytes,
        acks: i16,
        now_ms: i64,
        guard: Option<VerificationGuard>,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_leader(acks, |log, epoch| {
            log.check_verified(records, guard)?;
            log.append(records, epoch, now_ms)
        })
    }

    /// Appends a coordinator's batch to its internal topic with acks=all
    /// (no sequence check: see `PartitionLog::append_as_coordinator`).
    /// A transactional batch (TxnOffsetCommit's offsets) that opens a
    /// transaction here needs its verification's guard, as a client's does.
    pub fn append_as_coordinator(
        &self,
        records: &Bytes,
        now_ms: i64,
        guard: Option<VerificationGuard>,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_leader(-1, |log, epoch| {
            log.check_verified(records, guard)?;
            log.append_as_coordinator(records, epoch, now_ms)
        })
    }

    /// Appends a transaction coordinator's marker batch (WriteTxnMarkers,
    /// which Kafka writes with acks=all).
    pub fn append_marker_as_leader(&self, marker: &Bytes, now_ms: i64) -> Result<AppendInfo, PartitionError> {
        self.append_leader(-1, |log, epoch| log.append_marker(marker, epoch, now_ms))
    }

    fn append_leader(
        &self,
        acks: i16,
        append: impl FnOnce(&mut PartitionLog, i32) -> Result<AppendInfo, LogError>,
    ) -> Result<AppendInfo, PartitionError> {
        let waiters;
        let info;
        {
            let mut s = self.lock();
            if !s.is_leader() {
                return Err(PartitionError::NotLeader);
            }
            let min_isr = s.log.config().min_insync_replicas;
            if acks == -1 && (s.isr.len() as i32) < min_isr {
                return Err(PartitionError::NotEnoughReplicas {
                    isr: s.isr.len(),
                    min: min_isr,
                });
            }
            let epoch = s.leader_epoch;
            info = append(&mut s.log, epoch)?;
            self.maybe_advance_hw(&mut s);
            waiters = self.wake(&mut s);
        }
        for w in waiters {
            w.notify_one();
        }
        Ok(info)
    }

    /// Waits until the high watermark reaches `end_offset` (one past the
    /// last offset of an append) while this broker leads in `leader_epoch`
    /// (Kafka's DelayedProduce). The ISR at that moment must still hold
    /// `min.insync.replicas` members.
    pub async fn wait_for_replication(
        &self,
        end_offset: i64,
        leader_epoch: i32,
        timeout: std::time::Duration,
    ) -> Result<(), PartitionError> {
        let mut rx = self.progress.subscribe();
        let done = tokio::time::timeout(
            timeout,
            rx.wait_for(|p| !p.is_leader || p.leader_epoch != leader_epoch || p.high_watermark >= end_offset),
        )
        .await;
        let progress = match done {
            Err(_) => return Err(PartitionError::Timeout),
            Ok(Err(_)) => return Err(PartitionError::NotLeader),
            Ok(Ok(p)) => *p,
        };
        if !progress.is_leader || progress.leader_epoch != leader_epoch {
            return Err(PartitionError::NotLeader);
        }
        let s = self.lock();
        let min_isr = s.log.config().min_insync_replicas;
        if (s.isr.len() as i32) < min_isr {
            return Err(PartitionError::NotEnoughReplicasAfterAppend {
                isr: s.isr.len(),
                min: min_isr,
            });
        }
        Ok(())
    }

    /// Plans a read up to `isolation`'s bound; registers `waiter` to be
    /// woken by the next append or high-watermark move when given.
    pub fn fetch(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        isolation: Isolation,
        waiter: Option<&Arc<Notify>>,
    ) -> Result<FetchSnapshot, LogError> {
        let mut s = self.lock();
        let hw = s.high_watermark;
        let lso = s.last_stable_offset();
        let leo = s.log.log_end_offset();
        let bound = match isolation {
            Isolation::HighWatermark => hw,
            Isolation::Committed => lso,
            Isolation::LogEnd => leo,
        };
        let plan = s.log.plan_read(offset, max_bytes, bound, min_one)?;
        let aborted = match (isolation, &plan) {
            (Isolation::Committed, Some(_)) => s.log.aborted_transactions(offset, lso),
            _ => Vec::new(),
        };
        if let Some(w) = waiter {
            if !s.waiters.iter().any(|x| Arc::ptr_eq(x, w)) {
                s.waiters.push(w.clone());
            }
        }
        Ok(FetchSnapshot {
            plan,
            high_watermark: hw,
            last_stable_offset: lso,
            log_start_offset: s.log.log_start_offset(),
            log_end_offset: leo,
            aborted,
        })
    }

    /// A follower fetched from `fetch_offset` (Kafka's
    /// updateFollowerFetchState): its log end offset moves there, it is
    /// caught up when it asked for the leader's end, and the high watermark
    /// may advance. Returns an ISR expansion to propose when the follower
    /// has just caught up, or `Err` when `replica_id` is not a follower of
    /// this leader.
    pub fn record_follower_fetch(
        &self,
        replica_id: i32,
        fetch_offset: i64,
        now_ms: i64,
    ) -> Result<Option<IsrProposal>, PartitionError> {
        let waiters;
        let proposal;
        {
            let mut s = self.lock();
            let leo = s.log.log_end_offset();
            let leader_epoch = s.leader_epoch;
            let partition_epoch = s.partition_epoch;
            let State {
                role,
                isr,
                high_watermark,
                ..
            } = &mut *s;
            let Role::Leader(l) = role else {
                return Err(PartitionError::NotLeader);
            };
            let f = l.followers.get_mut(&replica_id).ok_or(PartitionError::NotLeader)?;
            if fetch_offset >= leo {
                f.last_caught_up_ms = f.last_caught_up_ms.max(now_ms);
            } else if fetch_offset >= f.last_fetch_leader_end_offset {
                f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
            }
            f.log_end_offset = fetch_offset;
            f.last_fetch_leader_end_offset = leo;
            f.last_fetch_ms = now_ms;
            // Kafka's isFollowerInSync: at or past the high watermark and
            // the start of this leader's epoch.
            let joins = !isr.contains(&replica_id)
                && l.pending.is_none()
                && fetch_offset >= *high_watermark
                && fetch_offset >= l.epoch_start_offset;
            proposal = joins.then(|| {
                let mut new_isr = isr.clone();
                new_isr.push(replica_id);
                new_isr.sort_unstable();
                l.pending = Some(new_isr.clone());
                IsrProposal {
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                }
            });
            let before = s.high_watermark;
            self.maybe_advance_hw(&mut s);
            // Only a high-watermark move concerns the waiters (consumers and
            // delayed produces); followers' fetches come constantly.
            waiters = if s.high_watermark != before {
                self.wake(&mut s)
            } else {
                Vec::new()
            };
        }
        for w in waiters {
            w.notify_one();
        }
        Ok(proposal)
    }

    /// Followers in the ISR that have not caught up within `lag_ms`
    /// (`replica.lag.time.max.ms`): the shrink to propose, if any (Kafka's
    /// maybeShrinkIsr). Never removes the leader.
    pub fn isr_shrink_proposal(&self, now_ms: i64, lag_ms: i64) -> Option<IsrProposal> {
        let mut s = self.lock();
        let leader_epoch = s.leader_epoch;
        let partition_epoch = s.partition_epoch;
        let State { role, isr, .. } = &mut *s;
        let Role::Leader(l) = role else {
            return None;
        };
        if l.pending.is_some() {
            return None;
        }
        let node_id = self.node_id;
        let out_of_sync: Vec<i32> = isr
            .iter()
            .copied()
            .filter(|&r| r != node_id)
            .filter(|r| l.followers.get(r).is_none_or(|f| now_ms - f.last_caught_up_ms > lag_ms))
            .collect();
        if out_of_sync.is_empty() {
            return None;
        }
        let new_isr: Vec<i32> = isr.iter().copied().filter(|r| !out_of_sync.contains(r)).collect();
        l.pending = Some(new_isr.clone());
        Some(IsrProposal {
            leader_epoch,
            partition_epoch,
            new_isr,
        })
    }

    /// The controller's answer to an ISR proposal: the committed ISR and
    /// partition epoch (applied when newer than what this leader holds), or
    /// `None` when it was refused (the proposal is dropped; the next fetch
    /// or lag check proposes again against the newer state).
    pub fn complete_isr_change(&self, committed: Option<(Vec<i32>, i32, i32)>) {
        let waiters;
        {
            let mut s = self.lock();
            if let Role::Leader(l) = &mut s.role {
                l.pending = None;
            }
            if let Some((isr, leader_epoch, partition_epoch)) = committed {
                if leader_epoch == s.leader_epoch && partition_epoch > s.partition_epoch {
                    s.isr = isr;
                    s.partition_epoch = partition_epoch;
                }
            }
            self.maybe_advance_hw(&mut s);
            waiters = self.wake(&mut s);
        }
        for w in waiters {
            w.notify_one();
        }
    }

    /// Where this replica fetches from while it follows.
    pub fn follower_fetch_state(&self) -> Option<FollowerFetchState> {
        let s = self.lock();
        let Role::Follower { leader } = s.role else {
            return None;
        };
        (leader >= 0).then(|| FollowerFetchState {
            leader,
            leader_epoch: s.leader_epoch,
            fetch_offset: s.log.log_end_offset(),
            last_fetched_epoch: s.log.latest_epoch().unwrap_or(-1),
            log_start_offset: s.log.log_start_offset(),
        })
    }

    /// Appends batches fetched from the leader in `leader_epoch`, unchanged,
    /// then takes the leader's high watermark and log start offset as far
    /// as this replica holds them. Refused when the role or epoch moved on
    /// while the fetch was in flight.
    pub fn append_from_leader(
        &self,
        leader_epoch: i32,
        records: &Bytes,
        leader_high_watermark: i64,
        leader_log_start_offset: i64,
    ) -> Result<(), PartitionError> {
        let waiters;
        {
            let mut s = self.lock();
            if s.is_leader() || s.leader_epoch != leader_epoch {
                return Err(PartitionError::NotLeader);
            }
            if !records.is_empty() {
                s.log.append_as_follower(records, crate::clock::now_ms())?;
            }
            let leo = s.log.log_end_offset();
            let hw = leader_high_watermark.min(leo);
            if hw > s.high_watermark {
                s.high_watermark = hw;
            }
            // Kafka's maybeIncrementLogStartOffset: a follower drops what
            // the leader deleted, but never past what it knows committed.
            let start = leader_log_start_offset.min(s.high_watermark);
            if start > s.log.log_start_offset() {
                let hw = s.high_watermark;
                s.log.delete_records_before(start, hw)?;
            }
            waiters = self.wake(&mut s);
        }
        for w in waiters {
            w.notify_one();
        }
        Ok(())
    }

    /// Cuts this follower's log back to `offset` (a divergence found by
    /// the leader's epochs); the high watermark follows when it was above.
    pub fn truncate_to(&self, leader_epoch: i32, offset: i64) -> Result<(), PartitionError> {
        let mut s = self.lock();
        if s.is_leader() || s.leader_epoch != leader_epoch {
            return Err(PartitionError::NotLeader);
        }
        if offset < s.log.log_end_offset() {
            tracing::info!(topic = %self.topic, partition = self.index, offset, "truncating follower log");
            s.log.truncate_to(offset, crate::clock::now_ms())?;
        }
        if s.high_watermark > offset {
            s.high_watermark = offset.max(s.log.log_start_offset());
        }
        self.publish(&s);
        Ok(())
    }

    /// Empties this follower's log and restarts it at `offset`, the
    /// leader's log start (this replica fell behind what the leader keeps).
    pub fn truncate_fully_and_start_at(&self, leader_epoch: i32, offset: i64) -> Result<(), PartitionError> {
        let mut s = self.lock();
        if s.is_leader() || s.leader_epoch != leader_epoch {
            return Err(PartitionError::NotLeader);
        }
        tracing::info!(topic = %self.topic, partition = self.index, offset, "restarting follower log at the leader's log start");
        s.log.truncate_fully_and_start_at(offset, crate::clock::now_ms())?;
        s.high_watermark = offset;
        self.publish(&s);
        Ok(())
    }

    /// Drops a finished fetch's waiter so idle partitions do not collect them.
    pub fn unregister(&self, waiter: &Arc<Notify>) {
        self.lock().waiters.retain(|x| !Arc::ptr_eq(x, waiter));
    }

    pub fn offsets(&self) -> Offsets {
        let s = self.lock();
        Offsets {
            log_start_offset: s.log.log_start_offset(),
            high_watermark: s.high_watermark,
            last_stable_offset: s.last_stable_offset(),
            log_end_offset: s.log.log_end_offset(),
            size_bytes: s.log.size_bytes(),
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    pub fn is_leader(&self) -> bool {
        self.lock().is_leader()
    }

    /// Whether `replica_id` is a follower of this leader.
    pub fn has_follower(&self, replica_id: i32) -> bool {
        matches!(&self.lock().role, Role::Leader(l) if l.followers.contains_key(&replica_id))
    }

    /// Whether the producer has a transaction open in this partition, and
    /// if not, the guard of the verification its first batch needs
    /// (KIP-890), one lock for both.
    pub fn verification_needed(&self, producer_id: i64, producer_epoch: i16) -> Option<VerificationGuard> {
        let mut s = self.lock();
        if s.log.in_transaction(producer_id, producer_epoch) {
            return None;
        }
        Some(s.log.start_verification(producer_id, producer_epoch))
    }

    /// The committed ISR and the replicas, as this replica knows them.
    pub fn isr_and_replicas(&self) -> (Vec<i32>, Vec<i32>) {
        let s = self.lock();
        (s.isr.clone(), s.replicas.clone())
    }

    /// The producers this replica's log remembers, leader or follower
    /// (DescribeProducers), copied out under one take of the lock.
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        self.lock().log.active_producers()
    }

    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.lock().log.offset_for_timestamp(ts)
    }

    pub fn offset_of_max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.lock().log.offset_of_max_timestamp()
    }

    /// DeleteRecords on the leader: never past the high watermark.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut s = self.lock();
        let hw = s.high_watermark;
        let target = if offset == -1 { hw } else { offset };
        s.log.delete_records_before(target, hw)
    }

    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.lock().log.end_offset_for_epoch(epoch)
    }

    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        self.lock().log.enforce_retention(now_ms)
    }

    /// Closes the log cleanly and returns the offsets to checkpoint.
    pub fn close(&self) -> Result<LogCheckpoint, LogError> {
        let mut s = self.lock();
        s.log.close()?;
        Ok(self.checkpoint_of(&s))
    }

    /// The offsets the log dir's checkpoints hold for this partition.
    pub fn checkpoint(&self) -> LogCheckpoint {
        self.checkpoint_of(&self.lock())
    }

    fn checkpoint_of(&self, s: &State) -> LogCheckpoint {
        LogCheckpoint {
            topic: self.topic.clone(),
            partition: self.index,
            dir: s.log.dir().to_path_buf(),
            recovery_point: s.log.recovery_point(),
            log_start_offset: s.log.log_start_offset(),
            high_watermark: s.high_watermark,
        }
    }

    /// Fsyncs segments rolled since the last flush, outside the partition
    /// lock, then moves the recovery point (Kafka's flush after a roll).
    pub fn flush_rolled(&self) -> Result<(), LogError> {
        let job = self.lock().log.rolled_flush();
        if let Some(job) = job {
            job.run()?;
            self.lock().log.mark_flushed(&job);
        }
        Ok(())
    }

    pub fn dir(&self) -> std::path::PathBuf {
        self.lock().log.dir().to_path_buf()
    }
}

fn maximal_isr<'a>(isr: &'a [i32], pending: Option<&'a [i32]>) -> impl Iterator<Item = i32> + 'a {
    let extra = pending.unwrap_or(&[]).iter().filter(move |r| !isr.contains(r));
    isr.iter().chain(extra).copied()
}

impl State {
    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// Kafka's lastStableOffset: the high watermark, or the first offset of
    /// the oldest open transaction below it.
    fn last_stable_offset(&self) -> i64 {
        self.log
            .first_unstable_offset()
            .map_or(self.high_watermark, |first| first.min(self.high_watermark))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::producer_state::SequenceError;
    use crate::log::LoadParams;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    fn batch(values: &[&str]) -> Bytes {
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32 - 1,
                timestamp: 0,
                key: None,
                value: Some(Bytes::from(v.to_string())),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.freeze()
    }

    fn config(min_isr: i32) -> LogConfig {
        let mut c = LogConfig::new(&crate::config::Config::embedded().log, &Default::default());
        c.min_insync_replicas = min_isr;
        c
    }

    fn assignment(leader: i32, isr: &[i32], leader_epoch: i32, partition_epoch: i32) -> Assignment {
        Assignment {
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            leader,
            leader_epoch,
            partition_epoch,
        }
    }

    fn replica(node_id: i32, dir: &std::path::Path, a: &Assignment, min_isr: i32) -> Partition {
        let log = PartitionLog::open(dir, config(min_isr), 0, LoadParams::default()).unwrap();
        let p = Partition::new("t".into(), 0, Uuid::nil(), node_id, log, None, a);
        p.apply_assignment(Some(config(min_isr)), a, 0);
        p
    }

    #[test]
    fn the_high_watermark_is_the_smallest_log_end_of_the_isr() {
        let dir = tempfile::tempdir().unwrap();
        let leader = replica(1, dir.path(), &assignment(1, &[1, 2, 3], 0, 0), 2);
        leader.append_as_leader(&batch(&["a", "b"]), -1, 0, None).unwrap();
        assert_eq!(leader.offsets().high_watermark, 0, "no follower has fetched yet");
        leader.record_follower_fetch(2, 2, 10).unwrap();
        assert_eq!(
            leader.offsets().high_watermark,
            0,
            "follower 3 is in the ISR and unknown"
        );
        leader.record_follower_fetch(3, 1, 10).unwrap();
        assert_eq!(leader.offsets().high_watermark, 1);
        leader.record_follower_fetch(3, 2, 10).unwrap();
        assert_eq!(leader.offsets().high_watermark, 2);
        // A consumer reads below it only.
        leader.append_as_leader(&batch(&["c"]), 1, 0, None).unwrap();
        let snap = leader.fetch(2, 1 << 20, true, Isolation::HighWatermark, None).unwrap();
        assert!(snap.plan.is_none(), "offset 2 is not committed yet");
        let snap = leader.fetch(2, 1 << 20, true, Isolation::LogEnd, None).unwrap();
        assert!(snap.plan.is_some(), "a follower reads it");
        assert!(leader.record_follower_fetch(4, 0, 10).is_err(), "not a replica");
    }

    #[test]
    fn read_committed_stops_at_the_last_stable_offset_and_learns_the_aborts() {
        use crate::log::control::{marker_batch, EndTxnMarker};
        let dir = tempfile::tempdir().unwrap();
        let leader = replica(1, dir.path(), &assignment(1, &[1], 0, 0), 1);
        leader.append_as_leader(&batch(&["a", "b"]), 1, 0, None).unwrap();
        let mut txn = batch(&["t1", "t2"]).to_vec();
        // Producer 7, epoch 0, sequence 0, transactional; CRC recomputed.
        txn[43..51].copy_from_slice(&7i64.to_be_bytes());
        txn[51..53].copy_from_slice(&0i16.to_be_bytes());
        txn[53..57].copy_from_slice(&0i32.to_be_bytes());
        txn[21..23].copy_from_slice(&crate::log::batch::ATTR_TRANSACTIONAL.to_be_bytes());
        let crc = crate::log::batch::compute_crc(&txn);
        txn[17..21].copy_from_slice(&crc.to_be_bytes());
        let txn = Bytes::from(txn);
        // KIP-890: the transaction opens only with its verification's guard.
        assert!(matches!(
            leader.append_as_leader(&txn, 1, 0, None),
            Err(PartitionError::Log(LogError::Sequence(SequenceError::Unverified {
                producer_id: 7,
                ..
            })))
        ));
        let guard = leader.verification_needed(7, 0).expect("no transaction open yet");
        leader.append_as_leader(&txn, 1, 0, Some(guard)).unwrap();
        assert_eq!(leader.verification_needed(7, 0), None, "inside its transaction");
        assert_eq!(leader.offsets().high_watermark, 4);
        assert_eq!(
            leader.offsets().last_stable_offset,
            2,
            "the open transaction starts at 2"
        );
        let snap = leader.fetch(2, 1 << 20, true, Isolation::Committed, None).unwrap();
        assert!(snap.plan.is_none(), "read_committed waits for the marker");
        assert!(leader
            .fetch(2, 1 << 20, true, Isolation::HighWatermark, None)
            .unwrap()
            .plan
            .is_some());
        let abort = EndTxnMarker {
            commit: false,
            coordinator_epoch: 0,
        };
        assert_eq!(
            leader
                .append_marker_as_leader(&marker_batch(7, 0, abort, 0, 0), 0)
                .unwrap()
                .base_offset,
            4
        );
        let offsets = leader.offsets();
        assert_eq!((offsets.high_watermark, offsets.last_stable_offset), (5, 5));
        let snap = leader.fetch(0, 1 << 20, true, Isolation::Committed, None).unwrap();
        assert!(snap.plan.is_some());
        assert_eq!(snap.last_stable_offset, 5);
        assert_eq!(
            snap.aborted,
            vec![AbortedTxn {
                producer_id: 7,
                first_offset: 2,
                last_offset: 4,
                last_stable_offset: 5
            }]
        );
        let uncommitted = leader.fetch(0, 1 << 20, true, Isolation::HighWatermark, None).unwrap();
        assert!(uncommitted.aborted.is_empty(), "only read_committed gets the aborts");
        // A marker written while the producer's next verification is under
        // way (the coordinator ended that transaction) voids its guard.
        let guard = leader.verification_needed(7, 0).unwrap();
        leader
            .append_marker_as_leader(&marker_batch(7, 0, abort, 0, 0), 0)
            .unwrap();
        assert!(matches!(
            leader.append_as_leader(&txn, 1, 0, Some(guard)),
            Err(PartitionError::Log(LogError::Sequence(
                SequenceError::Unverified { .. }
            )))
        ));
        assert_eq!(leader.offsets().last_stable_offset, 6, "no transaction opened");
    }

    #[test]
    fn a_caught_up_follower_joins_and_a_lagging_one_leaves() {
        let dir = tempfile::tempdir().unwrap();
        // A new leader counts every follower caught up as of its start.
        let t = crate::clock::now_ms();
        let leader = replica(1, dir.path(), &assignment(1, &[1, 2], 0, 0), 1);
        leader.append_as_leader(&batch(&["a"]), -1, 0, None).unwrap();
        assert_eq!(leader.offsets().high_watermark, 0);
        leader.record_follower_fetch(2, 1, t + 5).unwrap();
        assert_eq!(leader.offsets().high_watermark, 1);
        assert_eq!(
            leader.record_follower_fetch(3, 0, t + 5).unwrap(),
            None,
            "below the high watermark"
        );
        let join = leader
            .record_follower_fetch(3, 1, t + 6)
            .unwrap()
            .expect("an expansion");
        assert_eq!(join.new_isr, vec![1, 2, 3]);
        assert_eq!(
            leader.record_follower_fetch(3, 1, t + 7).unwrap(),
            None,
            "one proposal at a time"
        );
        leader.complete_isr_change(Some((vec![1, 2, 3], 0, 1)));
        assert_eq!(leader.isr_and_replicas().0, vec![1, 2, 3]);
        // Follower 2 stops fetching; after the lag time it is proposed out.
        leader.append_as_leader(&batch(&["b"]), 1, 0, None).unwrap();
        leader.record_follower_fetch(3, 2, t + 20_000).unwrap();
        assert_eq!(leader.isr_shrink_proposal(t + 20_000, 30_000), None);
        let shrink = leader.isr_shrink_proposal(t + 40_000, 30_000).expect("a shrink");
        assert_eq!(shrink.new_isr, vec![1, 3]);
        assert_eq!(shrink.partition_epoch, 1);
        // Refused: the proposal is dropped and may be made again.
        leader.complete_isr_change(None);
        assert!(leader.isr_shrink_proposal(t + 40_000, 30_000).is_some());
    }

    #[test]
    fn acks_all_is_refused_below_min_insync_replicas() {
        let dir = tempfile::tempdir().unwrap();
        let leader = replica(1, dir.path(), &assignment(1, &[1], 0, 0), 2);
        assert!(matches!(
            leader.append_as_leader(&batch(&["a"]), -1, 0, None),
            Err(PartitionError::NotEnoughReplicas { isr: 1, min: 2 })
        ));
        leader.append_as_leader(&batch(&["a"]), 1, 0, None).unwrap();
        assert_eq!(leader.offsets().high_watermark, 1, "a sole ISR member commits at once");
    }

    #[tokio::test]
    async fn a_delayed_produce_completes_when_followers_catch_up_or_fails_when_leadership_moves() {
        let dir = tempfile::tempdir().unwrap();
        let leader = Arc::new(replica(1, dir.path(), &assignment(1, &[1, 2], 3, 0), 1));
        let info = leader.append_as_leader(&batch(&["a"]), -1, 0, None).unwrap();
        let l = leader.clone();
        let waiting = tokio::spawn(async move {
            l.wait_for_replication(info.last_offset + 1, 3, std::time::Duration::from_secs(5))
                .await
        });
        leader.record_follower_fetch(2, 1, 1).unwrap();
        assert!(waiting.await.unwrap().is_ok());
        let timeout = leader
            .wait_for_replication(5, 3, std::time::Duration::from_millis(10))
            .await;
        assert!(matches!(timeout, Err(PartitionError::Timeout)));
        let l = leader.clone();
        let waiting =
            tokio::spawn(async move { l.wait_for_replication(5, 3, std::time::Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        leader.apply_assignment(None, &assignment(2, &[2], 4, 1), 2);
        assert!(matches!(waiting.await.unwrap(), Err(PartitionError::NotLeader)));
    }

    #[test]
    fn a_follower_appends_the_leaders_batches_and_truncates_where_told() {
        let leader_dir = tempfile::tempdir().unwrap();
        let follower_dir = tempfile::tempdir().unwrap();
        let a = assignment(1, &[1, 2], 0, 0);
        let leader = replica(1, leader_dir.path(), &a, 1);
        let follower = replica(2, follower_dir.path(), &a, 1);
        leader.append_as_leader(&batch(&["a", "b"]), 1, 0, None).unwrap();
        leader.append_as_leader(&batch(&["c"]), 1, 0, None).unwrap();
        let state = follower.follower_fetch_state().expect("a follower");
        assert_eq!((state.leader, state.fetch_offset), (1, 0));
        let snap = leader.fetch(0, 1 << 20, true, Isolation::LogEnd, None).unwrap();
        let data = snap.plan.unwrap().read().unwrap();
        follower.append_from_leader(0, &data, 2, 0).unwrap();
        let o = follower.offsets();
        assert_eq!(
            (o.log_end_offset, o.high_watermark),
            (3, 2),
            "the leader's high watermark"
        );
        assert!(
            leader.follower_fetch_state().is_none(),
            "the leader fetches from nobody"
        );
        assert!(
            follower.append_from_leader(7, &data, 2, 0).is_err(),
            "a stale epoch is refused"
        );
        follower.truncate_to(0, 2).unwrap();
        assert_eq!(follower.offsets().log_end_offset, 2);
        // As leader in a new epoch it keeps what it has.
        follower.apply_assignment(None, &assignment(2, &[2], 1, 1), 0);
        assert!(follower.is_leader());
        assert_eq!(follower.offsets().high_watermark, 2);
    }

    #[test]
    fn leader_and_follower_report_the_same_active_producers() {
        use crate::log::batch::test_support::batch as idempotent;
        let leader_dir = tempfile::tempdir().unwrap();
        let follower_dir = tempfile::tempdir().unwrap();
        let a = assignment(1, &[1, 2], 0, 0);
        let leader = replica(1, leader_dir.path(), &a, 1);
        let follower = replica(2, follower_dir.path(), &a, 1);
        assert!(leader.active_producers().is_empty());
        leader
            .append_as_leader(&idempotent(3, 42, 1, 0, 1_000), 1, 0, None)
            .unwrap();
        leader
            .append_as_leader(&idempotent(2, 42, 1, 3, 2_000), 1, 0, None)
            .unwrap();
        leader
            .append_as_leader(&batch(&["no producer id"]), 1, 0, None)
            .unwrap();
        let want = vec![ActiveProducer {
            producer_id: 42,
            epoch: 1,
            last_sequence: 4,
            last_timestamp: 2_000,
            coordinator_epoch: -1,
            current_txn_start_offset: None,
        }];
        assert_eq!(leader.active_producers(), want);
        let data = leader
            .fetch(0, 1 << 20, true, Isolation::LogEnd, None)
            .unwrap()
            .plan
            .unwrap()
            .read()
            .unwrap();
        follower.append_from_leader(0, &data, 0, 0).unwrap();
        assert_eq!(
            follower.active_producers(),
            want,
            "the follower rebuilt it from the batches"
        );
    }
}
