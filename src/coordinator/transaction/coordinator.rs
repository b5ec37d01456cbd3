//! Runs the transaction state machines (Kafka's TransactionCoordinator and
//! TransactionStateManager): looks transactional ids up, writes each change
//! to `__transaction_state` before it takes effect, sends the markers that
//! end a transaction in its partitions, aborts transactions that outlive
//! their timeout and removes ids that expired. A transactional id belongs
//! to the leader of its `__transaction_state` partition; the partition's
//! leader epoch is the coordinator epoch its markers carry, so a marker
//! from a coordinator that lost the partition is refused (see
//! `log::producer_state`).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI16, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::records;
use super::state::{
    epoch_exhausted, EndStep, InitStep, TopicPartition, TxnError, TxnMetadata, TxnState, TxnTransition,
};
use super::TRANSACTION_STATE_TOPIC;
use crate::clock::now_ms;
use crate::coordinator::internal_topic::{self, Entry};
use crate::replication::ReplicaManager;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The markers that end one transaction in some of its partitions.
#[derive(Debug, Clone)]
pub struct MarkerBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
    pub partitions: Vec<TopicPartition>,
}

/// What the coordinator needs from the rest of the broker: producer ids
/// (allocated through the metadata log) and the writing of markers into
/// partitions, here or on their leaders (WriteTxnMarkers).
pub trait TxnServices: Send + Sync {
    fn next_producer_id(&self) -> BoxFuture<'_, Result<i64, ResponseError>>;
    /// Writes the markers; the outcome of each partition. A partition whose
    /// topic no longer exists counts as written (Kafka drops it too).
    fn write_markers(&self, batch: MarkerBatch) -> BoxFuture<'_, Vec<(TopicPartition, Result<(), ResponseError>)>>;
}

/// Settings of the coordinator, from the broker config.
#[derive(Debug, Clone)]
pub struct TxnCoordinatorConfig {
    pub num_partitions: i32,
    pub max_timeout_ms: i32,
    pub id_expiration_ms: i64,
    pub abort_timed_out_interval: Duration,
    pub remove_expired_interval: Duration,
    /// How long a write to `__transaction_state` waits for its replicas.
    pub write_timeout: Duration,
}

/// A transaction as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone)]
pub struct TxnDescription {
    pub transactional_id: String,
    pub state: TxnState,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub partitions: BTreeSet<TopicPartition>,
}

type Txn = Arc<Mutex<TxnMetadata>>;

/// A `__transaction_state` partition this node leads.
#[derive(Debug, Clone, Copy)]
struct Owned {
    /// The partition's leader epoch: the coordinator epoch of its markers.
    epoch: i32,
    loaded: bool,
}

/// Records written to a `__transaction_state` partition before the
/// coordinator rewrites the current state of its ids and drops everything
/// older: only the latest record per id matters, and this bounds replay.
const CHECKPOINT_AFTER_RECORDS: u64 = 50_000;
/// Records per batch when a checkpoint rewrites the current state.
const CHECKPOINT_BATCH_RECORDS: usize = 1_000;

/// Pause between attempts to write markers or a completion that failed.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

pub struct TransactionCoordinator {
    pub config: TxnCoordinatorConfig,
    replicas: Arc<ReplicaManager>,
    txns: Mutex<HashMap<String, Txn>>,
    owned: RwLock<HashMap<i32, Owned>>,
    services: OnceLock<Arc<dyn TxnServices>>,
    /// The finalized `transaction.version`, as the metadata image holds it.
    transaction_version: AtomicI16,
    /// One writer per `__transaction_state` partition, holding the number
    /// of records written since its last checkpoint.
    writers: Vec<Mutex<u64>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

fn lock(txn: &Txn) -> std::sync::MutexGuard<'_, TxnMetadata> {
    txn.lock().expect("transaction lock is never poisoned")
}

/// A state machine error as the client sees it; broken invariants are logged.
fn client_error(e: TxnError) -> ResponseError {
    if let TxnError::Illegal(why) = &e {
        tracing::error!(reason = %why, "transaction state machine refused a change");
    }
    e.code()
}

impl TransactionCoordinator {
    pub fn new(config: TxnCoordinatorConfig, replicas: Arc<ReplicaManager>) -> Self {
        TransactionCoordinator {
            writers: (0..config.num_partitions.max(1)).map(|_| Mutex::new(0)).collect(),
            config,
            replicas,
            txns: Mutex::new(HashMap::new()),
            owned: RwLock::new(HashMap::new()),
            services: OnceLock::new(),
            transaction_version: AtomicI16::new(0),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Connects the coordinator to the broker's producer ids and marker
    /// writers, and starts the timeout and expiry tasks. Called once.
    pub fn start(self: &Arc<Self>, services: Arc<dyn TxnServices>) {
        if self.services.set(services).is_err() {
            return;
        }
        let me = self.clone();
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            let mut abort = tokio::time::interval(me.config.abort_timed_out_interval);
            let mut expire = tokio::time::interval(me.config.remove_expired_interval);
            abort.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = abort.tick() => me.abort_timed_out().await,
                    _ = expire.tick() => me.remove_expired().await,
                }
            }
        });
    }

    /// Stops the background tasks and waits for them (marker sending in
    /// flight ends; the next coordinator resumes it from the log).
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Follows the finalized `transaction.version` of the metadata image.
    pub fn set_transaction_version(&self, level: i16) {
        self.transaction_version.store(level, Ordering::Relaxed);
    }

    fn transaction_version(&self) -> i16 {
        self.transaction_version.load(Ordering::Relaxed)
    }

    fn services(&self) -> Result<&Arc<dyn TxnServices>, ResponseError> {
        self.services.get().ok_or(ResponseError::CoordinatorNotAvailable)
    }

    /// The `__transaction_state` partition that owns `transactional_id`
    /// (Java's `String.hashCode`, as Kafka places it).
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        (crate::coordinator::java_hash(transactional_id) & 0x7fff_ffff) % self.config.num_partitions
    }

    /// NOT_COORDINATOR when another node leads the id's partition,
    /// COORDINATOR_LOAD_IN_PROGRESS while it is being loaded here.
    pub fn coordinator_error(&self, transactional_id: &str) -> Option<ResponseError> {
        match self.owned(self.partition_for(transactional_id)) {
            Some(o) if o.loaded => None,
            Some(_) => Some(ResponseError::CoordinatorLoadInProgress),
            None => Some(ResponseError::NotCoordinator),
        }
    }

    fn owned(&self, partition: i32) -> Option<Owned> {
        self.owned
            .read()
            .expect("ownership lock is never poisoned")
            .get(&partition)
            .copied()
    }

    /// The coordinator epoch of the id's partition, while this node leads it.
    fn coordinator_epoch(&self, transactional_id: &str) -> Option<i32> {
        self.owned(self.partition_for(transactional_id))
            .filter(|o| o.loaded)
            .map(|o| o.epoch)
    }

    /// Follows leadership of `__transaction_state` (`led`: partition ->
    /// leader epoch): loads the partitions this node now leads, resuming
    /// the markers of transactions caught between prepare and complete, and
    /// drops the ids of those it no longer leads. Reads the log: call it off
    /// the runtime workers, inside the runtime.
    pub fn set_leadership(self: &Arc<Self>, led: &HashMap<i32, i32>) {
        let (gained, lost) = {
            let mut owned = self.owned.write().expect("ownership lock is never poisoned");
            let lost: Vec<i32> = owned
                .iter()
                .filter(|(p, o)| led.get(p) != Some(&o.epoch))
                .map(|(p, _)| *p)
                .collect();
            for p in &lost {
                owned.remove(p);
            }
            let gained: Vec<(i32, i32)> = led
                .iter()
                .filter(|(p, _)| !owned.contains_key(p))
                .map(|(p, e)| (*p, *e))
                .collect();
            for (p, epoch) in &gained {
                owned.insert(
                    *p,
                    Owned {
                        epoch: *epoch,
                        loaded: false,
                    },
                );
            }
            (gained, lost)
        };
        if !lost.is_empty() {
            let mut txns = self.txns.lock().expect("transaction map lock is never poisoned");
            txns.retain(|id, _| !lost.contains(&self.partition_for(id)));
        }
        for (p, epoch) in gained {
            let loaded = self.load_partition(p);
            {
                let mut owned = self.owned.write().expect("ownership lock is never poisoned");
                match owned.get_mut(&p) {
                    Some(o) if o.epoch == epoch => o.loaded = true,
                    _ => continue,
                }
            }
            tracing::info!(
                partition = p,
                coordinator_epoch = epoch,
                transactions = loaded.len(),
                "coordinating the transactions of __transaction_state partition"
            );
            for (id, txn) in loaded {
                if matches!(
                    lock(&txn).current.state,
                    TxnState::PrepareCommit | TxnState::PrepareAbort
                ) {
                    self.spawn_completion(id, txn, epoch);
                }
            }
        }
    }

    /// Replays one partition: the latest record of each id wins, a
    /// tombstone removes it.
    fn load_partition(&self, partition: i32) -> Vec<(String, Txn)> {
        let mut latest: HashMap<String, Option<TxnTransition>> = HashMap::new();
        let read = internal_topic::replay(&self.replicas, TRANSACTION_STATE_TOPIC, partition, |entry| {
            let Entry::Record { key, value, .. } = entry else {
                return;
            };
            let Ok(id) = records::decode_key(&key) else {
                tracing::warn!(partition, "skipping an unreadable __transaction_state key");
                return;
            };
            match value.as_deref().map(records::decode_value) {
                None => {
                    latest.insert(id, None);
                }
                Some(Ok(t)) => {
                    latest.insert(id, Some(t));
                }
                Some(Err(e)) => {
                    tracing::warn!(partition, transactional_id = %id, error = %e.0, "skipping an unreadable __transaction_state value")
                }
            }
        });
        // A long replay is checkpointed after the next write.
        *self.writer(partition) = read as u64;
        let mut txns = self.txns.lock().expect("transaction map lock is never poisoned");
        let mut loaded = Vec::new();
        for (id, t) in latest {
            match t {
                Some(t) if t.state != TxnState::Dead => {
                    let txn = Arc::new(Mutex::new(TxnMetadata::from_record(&id, t)));
                    txns.insert(id.clone(), txn.clone());
                    loaded.push((id, txn));
                }
                _ => {
                    txns.remove(&id);
                }
            }
        }
        loaded
    }

    fn get(&self, transactional_id: &str) -> Option<Txn> {
        self.txns
            .lock()
            .expect("transaction map lock is never poisoned")
            .get(transactional_id)
            .cloned()
    }

    /// Writes `t`, the change prepared on `txn`, and completes it once
    /// replicated; a write that fails abandons it (`fence`: the change
    /// raised the epoch to fence a producer, which stays raised).
    async fn apply(&self, txn: &Txn, t: &TxnTransition, fence: bool) -> Result<(), ResponseError> {
        let id = lock(txn).transactional_id.clone();
        let value = (t.state != TxnState::Dead).then(|| records::encode_value(t, self.transaction_version()));
        let outcome = self.write_state(&id, value).await;
        // A partition reloaded meanwhile (leadership moved, or its epoch
        // changed) holds a new copy of this transaction: this one is stale,
        // and the client retries against the new one (Kafka checks the
        // coordinator epoch the same way).
        let current = self.get(&id).is_some_and(|x| Arc::ptr_eq(&x, txn));
        let outcome = outcome.and_then(|()| current.then_some(()).ok_or(ResponseError::NotCoordinator));
        let completed = {
            let mut m = lock(txn);
            match outcome {
                Ok(()) => m.complete(t).map_err(client_error),
                Err(e) => {
                    tracing::warn!(transactional_id = %id, state = t.state.name(), error = ?e, "writing a transaction state failed");
                    m.abandon(fence);
                    Err(e)
                }
            }
        };
        if completed.is_ok() {
            self.maybe_checkpoint(self.partition_for(&id)).await;
        }
        completed
    }

    /// Writes the record of `transactional_id` (a tombstone for `None`)
    /// and waits until it is replicated.
    async fn write_state(&self, transactional_id: &str, value: Option<Bytes>) -> Result<(), ResponseError> {
        let partition = self.partition_for(transactional_id);
        let written = {
            let mut writer = self.writer(partition);
            let w = internal_topic::append(
                &self.replicas,
                TRANSACTION_STATE_TOPIC,
                partition,
                vec![(records::encode_key(transactional_id), value)],
            )?;
            *writer += 1;
            w
        };
        written.replicated(self.config.write_timeout).await
    }

    fn writer(&self, partition: i32) -> std::sync::MutexGuard<'_, u64> {
        self.writers[partition as usize]
            .lock()
            .expect("writer lock is never poisoned")
    }

    /// Once enough has been written to a partition, rewrites the current
    /// record of each of its ids and moves the log start offset to that
    /// rewrite, so replay never reads superseded records (fjord has no log
    /// compaction yet). Skipped while a change is being written: its record
    /// may already be in the log, newer than the state it would rewrite.
    async fn maybe_checkpoint(&self, partition: i32) {
        let (start, last) = {
            let mut writer = self.writer(partition);
            if *writer < CHECKPOINT_AFTER_RECORDS {
                return;
            }
            let txns: Vec<Txn> = self
                .txns
                .lock()
                .expect("transaction map lock is never poisoned")
                .iter()
                .filter(|(id, _)| self.partition_for(id) == partition)
                .map(|(_, t)| t.clone())
                .collect();
            let mut live = Vec::with_capacity(txns.len());
            for t in &txns {
                let m = lock(t);
                if m.pending.is_some() {
                    return;
                }
                let value = records::encode_value(&m.current, self.transaction_version());
                live.push((records::encode_key(&m.transactional_id), Some(value)));
            }
            let Some(part) = self.replicas.get(TRANSACTION_STATE_TOPIC, partition) else {
                return;
            };
            let mut start = part.offsets().log_end_offset;
            let mut last = None;
            let mut chunks = live.into_iter().peekable();
            while chunks.peek().is_some() {
                let chunk: Vec<_> = chunks.by_ref().take(CHECKPOINT_BATCH_RECORDS).collect();
                match internal_topic::append(&self.replicas, TRANSACTION_STATE_TOPIC, partition, chunk) {
                    Ok(w) => {
                        if last.is_none() {
                            start = w.base_offset;
                        }
                        last = Some(w);
                    }
                    Err(e) => {
                        tracing::warn!(partition, error = ?e, "checkpoint of __transaction_state failed");
                        return;
                    }
                }
            }
            *writer = 0;
            (start, last)
        };
        if let Some(last) = last {
            if let Err(e) = last.replicated(self.config.write_timeout).await {
                tracing::warn!(partition, error = ?e, "checkpoint of __transaction_state not replicated");
                return;
            }
        }
        let trimmed = self
            .replicas
            .get(TRANSACTION_STATE_TOPIC, partition)
            .map(|p| p.delete_records_before(start));
        match trimmed {
            Some(Ok(low)) => tracing::info!(partition, log_start_offset = low, "checkpointed __transaction_state"),
            Some(Err(e)) => tracing::warn!(partition, error = %e, "could not trim __transaction_state"),
            None => {}
        }
    }

    /// A spare producer id when `txn`'s epochs ran out (the state machine
    /// then replaces its producer id), allocated before the decision.
    async fn spare_producer_id(&self, txn: &Txn) -> Result<Option<i64>, ResponseError> {
        if epoch_exhausted(lock(txn).current.producer_epoch) {
            Ok(Some(self.services()?.next_producer_id().await?))
        } else {
            Ok(None)
        }
    }

    /// InitProducerId with a transactional id: the producer id and epoch
    /// the producer writes with from now on.
    pub async fn init_producer_id(
        self: &Arc<Self>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        if let Some(e) = self.coordinator_error(transactional_id) {
            return Err(e);
        }
        let txn = match self.get(transactional_id) {
            Some(t) => t,
            None => {
                let pid = self.services()?.next_producer_id().await?;
                let fresh = Arc::new(Mutex::new(TxnMetadata::new(
                    transactional_id,
                    pid,
                    timeout_ms,
                    now_ms(),
                )));
                self.txns
                    .lock()
                    .expect("transaction map lock is never poisoned")
                    .entry(transactional_id.to_string())
                    .or_insert(fresh)
                    .clone()
            }
        };
        let spare = self.spare_producer_id(&txn).await?;
        let step = lock(&txn)
            .init_producer_id(timeout_ms, expected, self.transaction_version(), now_ms(), || {
                spare.ok_or(ResponseError::ConcurrentTransactions)
            })
            .map_err(client_error)?;
        match step {
            InitStep::Write(t) => {
                self.apply(&txn, &t, false).await?;
                Ok((t.producer_id, t.producer_epoch))
            }
            InitStep::AbortFenced(t) => {
                self.apply(&txn, &t, true).await?;
                self.complete_in_background(transactional_id, txn);
                Err(ResponseError::ConcurrentTransactions)
            }
        }
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's
    /// `__consumer_offsets` partition).
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<(), ResponseError> {
        if let Some(e) = self.coordinator_error(transactional_id) {
            return Err(e);
        }
        let txn = self
            .get(transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        let step = lock(&txn)
            .add_partitions(producer_id, producer_epoch, partitions, now_ms())
            .map_err(client_error)?;
        match step {
            Some(t) => self.apply(&txn, &t, false).await,
            None => Ok(()),
        }
    }

    /// AddPartitionsToTxn v4's verify-only form (KIP-890): whether each
    /// partition is in the producer's ongoing transaction.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Option<ResponseError>)>, ResponseError> {
        if let Some(e) = self.coordinator_error(transactional_id) {
            return Err(e);
        }
        let txn = self
            .get(transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        let m = lock(&txn);
        if m.current.producer_id != producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if m.current.producer_epoch != producer_epoch {
            return Err(ResponseError::ProducerFenced);
        }
        Ok(partitions
            .iter()
            .map(|tp| {
                let added = m.current.state == TxnState::Ongoing && m.current.partitions.contains(tp);
                (tp.clone(), (!added).then_some(ResponseError::InvalidTxnState))
            })
            .collect())
    }

    /// EndTxn: writes PrepareCommit or PrepareAbort and answers with the
    /// producer id and epoch to go on with; the markers and the completion
    /// follow in the background.
    pub async fn end_txn(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        client_version: i16,
    ) -> Result<(i64, i16), ResponseError> {
        if let Some(e) = self.coordinator_error(transactional_id) {
            return Err(e);
        }
        let txn = self
            .get(transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        let spare = self.spare_producer_id(&txn).await?;
        let step = lock(&txn)
            .end_txn(producer_id, producer_epoch, commit, client_version, now_ms(), || {
                spare.ok_or(ResponseError::ConcurrentTransactions)
            })
            .map_err(client_error)?;
        match step {
            EndStep::Done {
                producer_id,
                producer_epoch,
            } => Ok((producer_id, producer_epoch)),
            EndStep::Write(t) => {
                super::crash_point("end-txn-before-prepare");
                self.apply(&txn, &t, false).await?;
                let answer = {
                    let m = lock(&txn);
                    (m.current.producer_id, m.current.producer_epoch)
                };
                self.complete_in_background(transactional_id, txn);
                Ok(answer)
            }
        }
    }

    fn complete_in_background(self: &Arc<Self>, transactional_id: &str, txn: Txn) {
        if let Some(epoch) = self.coordinator_epoch(transactional_id) {
            self.spawn_completion(transactional_id.to_string(), txn, epoch);
        }
    }

    /// Sends the markers of a prepared transaction until every partition
    /// has its marker, then writes the completion; gives up only when this
    /// node stops coordinating the id (its successor resumes from the log).
    fn spawn_completion(self: &Arc<Self>, transactional_id: String, txn: Txn, coordinator_epoch: i32) {
        let me = self.clone();
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = me.complete(&transactional_id, &txn, coordinator_epoch) => {}
            }
        });
    }

    fn still_coordinator(&self, transactional_id: &str, coordinator_epoch: i32) -> bool {
        self.coordinator_epoch(transactional_id) == Some(coordinator_epoch)
    }

    async fn complete(&self, transactional_id: &str, txn: &Txn, coordinator_epoch: i32) {
        let Ok(services) = self.services().cloned() else {
            return;
        };
        let (producer_id, producer_epoch, commit, mut remaining) = {
            let m = lock(txn);
            (
                m.current.producer_id,
                m.current.producer_epoch,
                m.current.state == TxnState::PrepareCommit,
                m.current.partitions.iter().cloned().collect::<Vec<_>>(),
            )
        };
        super::crash_point("end-txn-after-prepare");
        while !remaining.is_empty() {
            if !self.still_coordinator(transactional_id, coordinator_epoch) {
                return;
            }
            let outcome = services
                .write_markers(MarkerBatch {
                    producer_id,
                    producer_epoch,
                    commit,
                    coordinator_epoch,
                    partitions: remaining.clone(),
                })
                .await;
            remaining.clear();
            for (tp, r) in outcome {
                match r {
                    Ok(()) => {}
                    Err(ResponseError::TransactionCoordinatorFenced) => {
                        tracing::info!(transactional_id, "a newer transaction coordinator took over");
                        return;
                    }
                    Err(ResponseError::InvalidProducerEpoch | ResponseError::ProducerFenced) => {
                        // A newer epoch of this producer already wrote there.
                        tracing::warn!(transactional_id, topic = %tp.0, partition = tp.1, "marker refused: the partition has a newer producer epoch");
                    }
                    Err(e) => {
                        tracing::debug!(transactional_id, topic = %tp.0, partition = tp.1, error = ?e, "marker not written yet; retrying");
                        remaining.push(tp);
                    }
                }
            }
            if !remaining.is_empty() {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
        super::crash_point("end-txn-before-complete");
        loop {
            if !self.still_coordinator(transactional_id, coordinator_epoch) {
                return;
            }
            let prepared = lock(txn).prepare_complete(now_ms());
            let t = match prepared {
                Ok(t) => t,
                Err(e) => {
                    client_error(e);
                    return;
                }
            };
            match self.apply(txn, &t, false).await {
                Ok(()) => {
                    tracing::debug!(transactional_id, state = t.state.name(), "transaction complete");
                    return;
                }
                Err(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            }
        }
    }

    /// The loaded transactions of this node's partitions.
    fn all(&self) -> Vec<Txn> {
        self.txns
            .lock()
            .expect("transaction map lock is never poisoned")
            .values()
            .cloned()
            .collect()
    }

    /// `transaction.timeout.ms`: an ongoing transaction open longer is
    /// fenced and aborted, as a newer producer would (Kafka's
    /// abortTimedOutTransactions).
    async fn abort_timed_out(self: &Arc<Self>) {
        let now = now_ms();
        for txn in self.all() {
            let prepared = {
                let mut m = lock(&txn);
                if !m.timed_out(now) {
                    continue;
                }
                let id = m.transactional_id.clone();
                (id, m.fence_and_abort(self.transaction_version(), now))
            };
            match prepared {
                (id, Ok(t)) => {
                    tracing::info!(transactional_id = %id, producer_id = t.producer_id, "aborting a transaction open past its timeout");
                    if self.apply(&txn, &t, true).await.is_ok() {
                        self.complete_in_background(&id, txn.clone());
                    }
                }
                (_, Err(e)) => {
                    client_error(e);
                }
            }
        }
    }

    /// `transactional.id.expiration.ms`: ids without a transaction for that
    /// long are removed (a tombstone in `__transaction_state`).
    async fn remove_expired(&self) {
        let now = now_ms();
        for txn in self.all() {
            let Some(t) = lock(&txn).prepare_expire(now, self.config.id_expiration_ms) else {
                continue;
            };
            let id = lock(&txn).transactional_id.clone();
            match self.write_state(&id, None).await {
                Ok(()) => {
                    {
                        let mut txns = self.txns.lock().expect("transaction map lock is never poisoned");
                        if txns.get(&id).is_some_and(|x| Arc::ptr_eq(x, &txn)) {
                            txns.remove(&id);
                        }
                    }
                    tracing::info!(transactional_id = %id, producer_id = t.producer_id, "transactional id expired");
                    self.maybe_checkpoint(self.partition_for(&id)).await;
                }
                Err(_) => lock(&txn).abandon(false),
            }
        }
    }

    /// DescribeTransactions of one id.
    pub fn describe(&self, transactional_id: &str) -> Result<TxnDescription, ResponseError> {
        if let Some(e) = self.coordinator_error(transactional_id) {
            return Err(e);
        }
        let txn = self
            .get(transactional_id)
            .ok_or(ResponseError::TransactionalIdNotFound)?;
        let m = lock(&txn);
        Ok(description(&m))
    }

    /// ListTransactions: the loaded transactions, filtered by state names
    /// and producer ids (empty filters match everything) and by how long
    /// they have run (`min_duration_ms` < 0: any).
    pub fn list(&self, states: &[String], producer_ids: &[i64], min_duration_ms: i64) -> Vec<TxnDescription> {
        let now = now_ms();
        let mut out: Vec<TxnDescription> = self
            .all()
            .iter()
            .map(|t| description(&lock(t)))
            .filter(|d| states.is_empty() || states.iter().any(|s| s == d.state.name()))
            .filter(|d| producer_ids.is_empty() || producer_ids.contains(&d.producer_id))
            // As Kafka: only a transaction known to have run for at most
            // the duration is left out (an id without one always stays).
            .filter(|d| min_duration_ms < 0 || now - d.start_ms > min_duration_ms)
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

fn description(m: &TxnMetadata) -> TxnDescription {
    TxnDescription {
        transactional_id: m.transactional_id.clone(),
        state: m.current.state,
        producer_id: m.current.producer_id,
        producer_epoch: m.current.producer_epoch,
        timeout_ms: m.current.timeout_ms,
        start_ms: m.current.start_ms,
        partitions: m.current.partitions.clone(),
    }
}
