//! The transaction state machine (Kafka's TransactionMetadata and the
//! decisions of its TransactionCoordinator), as plain data: no log, no
//! clock, no tasks. Every change is prepared as a `TxnTransition`, the
//! record the coordinator writes to `__transaction_state`, while the
//! transaction holds the target as its pending state; once the record is
//! written the coordinator `complete`s it, or `abandon`s it when the write
//! failed. A pending transaction refuses other changes with
//! CONCURRENT_TRANSACTIONS, which clients retry.
//!
//! States (Kafka's ids, which the record stores):
//! Empty -> Ongoing (AddPartitions / AddOffsets) -> PrepareCommit |
//! PrepareAbort (EndTxn) -> CompleteCommit | CompleteAbort (markers
//! written) -> Ongoing again or Empty (InitProducerId); Dead when the
//! transactional id expires; PrepareEpochFence only in flight, while a
//! newer producer (or the timeout) fences the epoch of an ongoing one.
//! Under transaction version 2 an EndTxn abort also goes from Empty,
//! CompleteCommit or CompleteAbort to PrepareAbort (a transaction without
//! partitions: the epoch bump, no markers).

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;

pub type TopicPartition = (String, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The id the transaction log stores.
    pub fn id(self) -> i8 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as i8
    }

    pub fn from_id(id: i8) -> Option<TxnState> {
        usize::try_from(id).ok().and_then(|i| Self::ALL.get(i).copied())
    }

    /// The name DescribeTransactions and ListTransactions report.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether a transaction in `from` may move to `self`.
    fn may_follow(self, from: TxnState) -> bool {
        use TxnState::*;
        match self {
            Empty => matches!(from, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(from, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => from == Ongoing,
            // From Empty and the completed states: a version 2 abort of a
            // transaction without partitions.
            PrepareAbort => matches!(
                from,
                Ongoing | PrepareEpochFence | Empty | CompleteCommit | CompleteAbort
            ),
            CompleteCommit => from == PrepareCommit,
            CompleteAbort => from == PrepareAbort,
            Dead => matches!(from, Empty | CompleteCommit | CompleteAbort),
            PrepareEpochFence => from == Ongoing,
        }
    }

    /// Whether `transactional.id.expiration.ms` may remove the id.
    pub fn expiration_allowed(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// A transaction that holds partitions open (their last stable offset).
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            TxnState::Ongoing | TxnState::PrepareCommit | TxnState::PrepareAbort
        )
    }
}

/// Transaction version 2 (KIP-890 part 2): every EndTxn bumps the epoch,
/// and a producer id whose epochs run out is replaced at the commit.
pub fn supports_epoch_bump(transaction_version: i16) -> bool {
    transaction_version >= 2
}

/// The highest epochs are kept back so that the coordinator can always
/// fence a producer (Kafka's isEpochExhausted).
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// A transaction's state as one `__transaction_state` record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnTransition {
    pub producer_id: i64,
    pub previous_producer_id: i64,
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// Not in the record (a loaded transaction has -1).
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    /// When the first partition was added; -1 while Empty.
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// The transaction version the client used (0, 1 or 2).
    pub client_version: i16,
}

/// Why a request about a transaction is refused: an error for the client,
/// or a broken invariant (Kafka's IllegalStateException), which the
/// coordinator logs and answers as UNKNOWN_SERVER_ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnError {
    Api(ResponseError),
    Illegal(String),
}

impl From<ResponseError> for TxnError {
    fn from(e: ResponseError) -> Self {
        TxnError::Api(e)
    }
}

impl TxnError {
    pub fn code(&self) -> ResponseError {
        match self {
            TxnError::Api(e) => *e,
            TxnError::Illegal(_) => ResponseError::UnknownServerError,
        }
    }
}

fn illegal(msg: String) -> TxnError {
    TxnError::Illegal(msg)
}

/// One transactional id's state on its coordinator: the state its last
/// written record holds, and the change being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub current: TxnTransition,
    /// The state a prepared (being written) record moves it to.
    pub pending: Option<TxnState>,
    /// A fence whose record failed to be written: the next fence keeps the
    /// epoch it already raised (that epoch was never handed out).
    pub failed_epoch_fence: bool,
}

/// What InitProducerId does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitStep {
    /// Write the record, then answer with its producer id and epoch.
    Write(TxnTransition),
    /// An ongoing transaction of an older producer: its epoch is fenced and
    /// the abort below is written (markers follow); the client is answered
    /// CONCURRENT_TRANSACTIONS and retries, bumping the epoch again.
    AbortFenced(TxnTransition),
}

/// What EndTxn does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndStep {
    /// Write PrepareCommit / PrepareAbort; once written, answer with the
    /// producer id and epoch and send the markers.
    Write(TxnTransition),
    /// A retry of an EndTxn that has completed: answer success with these.
    Done { producer_id: i64, producer_epoch: i16 },
}

impl TxnMetadata {
    /// A transactional id seen for the first time (Empty, no epoch yet).
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMetadata {
        TxnMetadata::from_record(
            transactional_id,
            TxnTransition {
                producer_id,
                previous_producer_id: NO_PRODUCER_ID,
                next_producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                last_producer_epoch: NO_PRODUCER_EPOCH,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
                client_version: 0,
            },
        )
    }

    /// The transaction a loaded record describes.
    pub fn from_record(transactional_id: &str, current: TxnTransition) -> TxnMetadata {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            current,
            pending: None,
            failed_epoch_fence: false,
        }
    }

    /// The base of every prepared record: the current state, whose producer
    /// id becomes the previous one, with no next producer id and transaction
    /// version 0 unless the change says otherwise (as Kafka's
    /// prepareTransitionTo does).
    fn snapshot(&self) -> TxnTransition {
        TxnTransition {
            previous_producer_id: self.current.producer_id,
            next_producer_id: NO_PRODUCER_ID,
            client_version: 0,
            ..self.current.clone()
        }
    }

    /// Checks `t` against the current state and holds its state as pending.
    /// The record's previous producer id is always the current one.
    fn prepare(&mut self, t: TxnTransition) -> Result<TxnTransition, TxnError> {
        if let Some(p) = self.pending {
            return Err(illegal(format!(
                "{}: preparing {:?} while {:?} is pending",
                self.transactional_id, t.state, p
            )));
        }
        if t.producer_id < 0 {
            return Err(illegal(format!(
                "{}: producer id {}",
                self.transactional_id, t.producer_id
            )));
        }
        if t.state != TxnState::Dead && t.producer_epoch < 0 {
            return Err(illegal(format!(
                "{}: producer epoch {}",
                self.transactional_id, t.producer_epoch
            )));
        }
        if !t.state.may_follow(self.current.state) {
            return Err(illegal(format!(
                "{}: {:?} cannot follow {:?}",
                self.transactional_id, t.state, self.current.state
            )));
        }
        self.pending = Some(t.state);
        Ok(t)
    }

    /// InitProducerId (with `expected`, KIP-360's producer id and epoch of
    /// a producer recovering from an error). `new_producer_id` is asked only
    /// when a new id is needed (a new id's epochs ran out).
    pub fn init_producer_id(
        &mut self,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        server_version: i16,
        now_ms: i64,
        new_producer_id: impl FnOnce() -> Result<i64, ResponseError>,
    ) -> Result<InitStep, TxnError> {
        if self.pending.is_some() {
            return Err(ResponseError::ConcurrentTransactions.into());
        }
        let valid_id = |(pid, epoch): (i64, i16)| {
            self.current.producer_epoch == NO_PRODUCER_EPOCH
                || pid == self.current.producer_id
                || (pid == self.current.previous_producer_id && epoch_exhausted(epoch))
        };
        if !expected.is_none_or(valid_id) {
            return Err(ResponseError::ProducerFenced.into());
        }
        match self.current.state {
            TxnState::PrepareAbort | TxnState::PrepareCommit => Err(ResponseError::ConcurrentTransactions.into()),
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                if epoch_exhausted(self.current.producer_epoch)
                    && expected.is_none_or(|(_, e)| e == self.current.producer_epoch)
                {
                    let pid = new_producer_id()?;
                    let last = if expected.is_some() {
                        self.current.producer_epoch
                    } else {
                        NO_PRODUCER_EPOCH
                    };
                    self.prepare_empty(pid, 0, last, timeout_ms, now_ms)
                        .map(InitStep::Write)
                } else {
                    self.bump_epoch(timeout_ms, expected.map(|(_, e)| e), now_ms)
                        .map(InitStep::Write)
                }
            }
            TxnState::Ongoing => self.fence_and_abort(server_version, now_ms).map(InitStep::AbortFenced),
            TxnState::Dead | TxnState::PrepareEpochFence => Err(illegal(format!(
                "{} found in {:?}, which no transaction rests in",
                self.transactional_id, self.current.state
            ))),
        }
    }

    fn bump_epoch(
        &mut self,
        timeout_ms: i32,
        expected_epoch: Option<i16>,
        now_ms: i64,
    ) -> Result<TxnTransition, TxnError> {
        if epoch_exhausted(self.current.producer_epoch) {
            return Err(illegal(format!(
                "{}: no epochs left for producer id {}",
                self.transactional_id, self.current.producer_id
            )));
        }
        let bumped = self.current.producer_epoch + 1;
        let (epoch, last) = match expected_epoch {
            // A new producer: bump, forget the last epoch.
            None => (bumped, NO_PRODUCER_EPOCH),
            // The producer recovers from an error and nobody else took over.
            Some(e) if self.current.producer_epoch == NO_PRODUCER_EPOCH || e == self.current.producer_epoch => {
                (bumped, self.current.producer_epoch)
            }
            // A retry of a bump that succeeded.
            Some(e) if e == self.current.last_producer_epoch => {
                (self.current.producer_epoch, self.current.last_producer_epoch)
            }
            Some(_) => return Err(ResponseError::ProducerFenced.into()),
        };
        self.prepare_empty(self.current.producer_id, epoch, last, timeout_ms, now_ms)
    }

    /// An InitProducerId's record: no transaction, this producer id and
    /// epoch, the timeout the producer asked for.
    fn prepare_empty(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        last_producer_epoch: i16,
        timeout_ms: i32,
        now_ms: i64,
    ) -> Result<TxnTransition, TxnError> {
        self.prepare(TxnTransition {
            producer_id,
            producer_epoch,
            last_producer_epoch,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            ..self.snapshot()
        })
    }

    /// Fences the epoch of the ongoing transaction and prepares its abort,
    /// for a newer producer's InitProducerId or an expired
    /// `transaction.timeout.ms`. The raised epoch is never handed to a
    /// client; if its record is not written, `abandon(true)` keeps it so
    /// that the next attempt does not raise it again.
    pub fn fence_and_abort(&mut self, server_version: i16, now_ms: i64) -> Result<TxnTransition, TxnError> {
        if self.current.state != TxnState::Ongoing {
            return Err(illegal(format!(
                "{}: fencing a transaction in {:?}",
                self.transactional_id, self.current.state
            )));
        }
        if self.pending.is_some() {
            return Err(ResponseError::ConcurrentTransactions.into());
        }
        if self.current.producer_epoch == i16::MAX {
            return Err(illegal(format!(
                "{}: fencing epoch {} would overflow",
                self.transactional_id,
                i16::MAX
            )));
        }
        if !self.failed_epoch_fence {
            self.current.producer_epoch += 1;
        }
        self.current.last_producer_epoch = NO_PRODUCER_EPOCH;
        // The raised epoch is the abort's: under transaction version 2 the
        // end does not bump it a second time (Kafka 4.1 ends a fenced
        // transaction one epoch above the fenced producer's), and the
        // record names it as its own last epoch, which the completion
        // checks the producer by.
        let last = if supports_epoch_bump(server_version) {
            self.current.producer_epoch
        } else {
            NO_PRODUCER_EPOCH
        };
        self.prepare(TxnTransition {
            next_producer_id: NO_PRODUCER_ID,
            last_producer_epoch: last,
            state: TxnState::PrepareAbort,
            last_update_ms: now_ms,
            client_version: server_version,
            ..self.snapshot()
        })
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's offsets
    /// partition): `None` when the partitions are in the transaction already.
    pub fn add_partitions(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &BTreeSet<TopicPartition>,
        now_ms: i64,
    ) -> Result<Option<TxnTransition>, TxnError> {
        if self.current.producer_id != producer_id {
            return Err(ResponseError::InvalidProducerIdMapping.into());
        }
        if self.current.producer_epoch != producer_epoch {
            return Err(ResponseError::ProducerFenced.into());
        }
        if self.pending.is_some() || matches!(self.current.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(ResponseError::ConcurrentTransactions.into());
        }
        if self.current.state == TxnState::Ongoing && partitions.is_subset(&self.current.partitions) {
            return Ok(None);
        }
        let start_ms = match self.current.state {
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => now_ms,
            _ => self.current.start_ms,
        };
        let mut all = self.current.partitions.clone();
        all.extend(partitions.iter().cloned());
        self.prepare(TxnTransition {
            state: TxnState::Ongoing,
            partitions: all,
            start_ms,
            last_update_ms: now_ms,
            ..self.snapshot()
        })
        .map(Some)
    }

    /// EndTxn from the client, in transaction version `client_version`.
    pub fn end_txn(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        client_version: i16,
        now_ms: i64,
        new_producer_id: impl FnOnce() -> Result<i64, ResponseError>,
    ) -> Result<EndStep, TxnError> {
        // The request's own transaction version picks the rules, as Kafka's
        // endTransaction dispatches (endTransactionWithTV1 below EndTxn v5):
        // a version 1 EndTxn must name the current epoch exactly, even for a
        // transaction that a version 2 EndTxn ended (and bumped) before. A
        // producer that resumes a transaction by its id and epoch without
        // InitProducerId (Flink's KafkaSink committer) ends it with v4.
        let v2 = supports_epoch_bump(client_version);
        // A retry of an EndTxn whose epoch bump (TV2) was written.
        let retry_after_bump = v2 && self.current.producer_epoch as i32 == producer_epoch as i32 + 1;
        // A retry after the bump that replaced an exhausted producer id.
        let retry_after_overflow = v2
            && self.current.previous_producer_id == producer_id
            && producer_epoch == i16::MAX - 1
            && self.current.producer_epoch == 0;
        let valid_epoch = if v2 {
            match self.current.state {
                TxnState::PrepareCommit | TxnState::PrepareAbort => retry_after_bump,
                // The current epoch too: a new transaction's end (an abort
                // of one that never reached a partition) or a wrong outcome.
                TxnState::CompleteCommit | TxnState::CompleteAbort => {
                    retry_after_bump || retry_after_overflow || producer_epoch == self.current.producer_epoch
                }
                _ => producer_epoch == self.current.producer_epoch,
            }
        } else {
            producer_epoch == self.current.producer_epoch
        };
        if self.current.producer_id != producer_id && !retry_after_overflow {
            return Err(ResponseError::InvalidProducerIdMapping.into());
        }
        if !valid_epoch {
            return Err(ResponseError::ProducerFenced.into());
        }
        if self.pending.is_some() {
            return Err(ResponseError::ConcurrentTransactions.into());
        }
        let retry = retry_after_bump || retry_after_overflow;
        let done = EndStep::Done {
            producer_id: self.current.producer_id,
            producer_epoch: self.current.producer_epoch,
        };
        // Under version 2 an end bumps the epoch; the last one left takes a
        // new producer id, which the completion switches to.
        let next_producer_id = if v2 && epoch_exhausted(self.current.producer_epoch) {
            Some(new_producer_id)
        } else {
            None
        };
        let next = move || next_producer_id.map_or(Ok(NO_PRODUCER_ID), |f| f());
        match (self.current.state, commit) {
            (TxnState::Ongoing, _) => {
                let target = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                self.prepare_end(target, client_version, next()?, now_ms)
                    .map(EndStep::Write)
            }
            // The repeat of a completed end: under version 1 at the same
            // epoch, under version 2 at the epoch before its bump.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if !v2 || retry => Ok(done),
            // Version 2: an abort at the current epoch of a transaction with
            // no partitions (a producer aborting what never reached the
            // broker) bumps the epoch through PrepareAbort and CompleteAbort
            // without markers, as Kafka's endTransaction does
            // (noPartitionAdded: the abort's time is the start time).
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false) if v2 && !retry => self
                .prepare_end(TxnState::PrepareAbort, client_version, next()?, now_ms)
                .map(|t| EndStep::Write(TxnTransition { start_ms: now_ms, ..t })),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ResponseError::ConcurrentTransactions.into())
            }
            (TxnState::Dead | TxnState::PrepareEpochFence, _) => Err(illegal(format!(
                "{} found in {:?}, which no transaction rests in",
                self.transactional_id, self.current.state
            ))),
            // Empty, or the other outcome than the one under way or done.
            _ => Err(ResponseError::InvalidTxnState.into()),
        }
    }

    fn prepare_end(
        &mut self,
        target: TxnState,
        client_version: i16,
        next_producer_id: i64,
        now_ms: i64,
    ) -> Result<TxnTransition, TxnError> {
        let (epoch, last) = if supports_epoch_bump(client_version) {
            (
                self.current.producer_epoch.saturating_add(1),
                self.current.producer_epoch,
            )
        } else {
            (self.current.producer_epoch, self.current.last_producer_epoch)
        };
        self.prepare(TxnTransition {
            next_producer_id,
            producer_epoch: epoch,
            last_producer_epoch: last,
            state: target,
            last_update_ms: now_ms,
            client_version,
            ..self.snapshot()
        })
    }

    /// The record that ends a prepared transaction once every marker is
    /// written. Under TV2 a replacement producer id (chosen when the epochs
    /// ran out) takes over here, at epoch 0.
    pub fn prepare_complete(&mut self, now_ms: i64) -> Result<TxnTransition, TxnError> {
        let target = match self.current.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            s => {
                return Err(illegal(format!(
                    "{}: completing a transaction in {s:?}",
                    self.transactional_id
                )))
            }
        };
        self.failed_epoch_fence = false;
        let (pid, epoch) =
            if supports_epoch_bump(self.current.client_version) && self.current.next_producer_id != NO_PRODUCER_ID {
                (self.current.next_producer_id, 0)
            } else {
                (self.current.producer_id, self.current.producer_epoch)
            };
        self.prepare(TxnTransition {
            producer_id: pid,
            producer_epoch: epoch,
            last_producer_epoch: self.current.producer_epoch,
            state: target,
            partitions: BTreeSet::new(),
            last_update_ms: now_ms,
            client_version: self.current.client_version,
            ..self.snapshot()
        })
    }

    /// The tombstone's transition for an id past
    /// `transactional.id.expiration.ms`: `None` if it may not expire now.
    pub fn prepare_expire(&mut self, now_ms: i64, expiration_ms: i64) -> Option<TxnTransition> {
        let idle = now_ms.saturating_sub(self.current.last_update_ms) >= expiration_ms;
        if self.pending.is_some() || !self.current.state.expiration_allowed() || !idle {
            return None;
        }
        self.prepare(TxnTransition {
            state: TxnState::Dead,
            partitions: BTreeSet::new(),
            ..self.snapshot()
        })
        .ok()
    }

    /// Whether the ongoing transaction outlived its timeout.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.current.state == TxnState::Ongoing
            && self.pending.is_none()
            && now_ms.saturating_sub(self.current.start_ms) > i64::from(self.current.timeout_ms)
    }

    /// Applies a written record, checking it is the change prepared.
    pub fn complete(&mut self, t: &TxnTransition) -> Result<(), TxnError> {
        let fail = |why: &str| {
            Err(illegal(format!(
                "{}: completing {:?} from {:?}: {why}",
                self.transactional_id, t.state, self.current.state
            )))
        };
        if self.pending != Some(t.state) {
            return fail("not the pending change");
        }
        if t.last_update_ms < self.current.last_update_ms {
            return fail("the update time went back");
        }
        let v2 = supports_epoch_bump(t.client_version);
        match t.state {
            TxnState::Empty => {
                let bumped = t.producer_epoch as i32 == self.current.producer_epoch as i32 + 1
                    || (t.producer_epoch == 0 && t.producer_id != self.current.producer_id);
                if (t.producer_epoch != self.current.producer_epoch && !bumped)
                    || !t.partitions.is_empty()
                    || t.start_ms != -1
                {
                    return fail("not an epoch bump of an empty transaction");
                }
                self.current.timeout_ms = t.timeout_ms;
                self.current.producer_epoch = t.producer_epoch;
                self.current.last_producer_epoch = t.last_producer_epoch;
                self.current.producer_id = t.producer_id;
                self.current.previous_producer_id = t.previous_producer_id;
            }
            TxnState::Ongoing => {
                if !self.same_producer(t)
                    || !self.current.partitions.is_subset(&t.partitions)
                    || self.current.timeout_ms != t.timeout_ms
                {
                    return fail("partitions may only be added by the same producer");
                }
                self.current.start_ms = t.start_ms;
                self.current.partitions.extend(t.partitions.iter().cloned());
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                // A version 2 abort of a transaction without partitions
                // (from Empty or a completed state) starts when it is made.
                let without_partitions = self.current.state != TxnState::Ongoing;
                if !self.same_producer(t)
                    || self.current.partitions != t.partitions
                    || self.current.timeout_ms != t.timeout_ms
                    || (self.current.start_ms != t.start_ms && !without_partitions)
                {
                    return fail("not the end of this transaction");
                }
                self.current.start_ms = t.start_ms;
                if v2 {
                    self.current.producer_epoch = t.producer_epoch;
                    self.current.last_producer_epoch = t.last_producer_epoch;
                    self.current.next_producer_id = t.next_producer_id;
                }
            }
            TxnState::CompleteCommit | TxnState::CompleteAbort => {
                if !self.same_producer(t) || self.current.timeout_ms != t.timeout_ms || t.start_ms == -1 {
                    return fail("not the completion of this transaction");
                }
                self.current.start_ms = t.start_ms;
                self.current.partitions.clear();
                if v2 {
                    self.current.producer_epoch = t.producer_epoch;
                    self.current.last_producer_epoch = t.last_producer_epoch;
                    self.current.previous_producer_id = t.previous_producer_id;
                    self.current.producer_id = t.producer_id;
                    self.current.next_producer_id = t.next_producer_id;
                }
            }
            TxnState::PrepareEpochFence | TxnState::Dead => {
                return fail("this state is never completed (a fence becomes an abort; an expiry removes the id)");
            }
        }
        self.current.client_version = t.client_version;
        self.current.last_update_ms = t.last_update_ms;
        self.pending = None;
        self.current.state = t.state;
        Ok(())
    }

    /// Whether `t` continues this producer (under TV2 the prepare and
    /// complete records carry the bumped epoch; the last epoch is ours).
    fn same_producer(&self, t: &TxnTransition) -> bool {
        let v2 = supports_epoch_bump(t.client_version);
        let completing = matches!(t.state, TxnState::CompleteCommit | TxnState::CompleteAbort);
        let replaced = v2 && completing && t.producer_epoch == 0 && t.producer_id != self.current.producer_id;
        let preparing = matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort);
        let epoch = if replaced || (v2 && (preparing || completing)) {
            t.last_producer_epoch
        } else {
            t.producer_epoch
        };
        let pid = if replaced {
            self.current.producer_id
        } else {
            t.producer_id
        };
        epoch == self.current.producer_epoch && pid == self.current.producer_id
    }

    /// Drops the pending change whose record was not written. `fenced`:
    /// the change was a fence, whose raised epoch is kept.
    pub fn abandon(&mut self, fenced: bool) {
        self.pending = None;
        if fenced {
            self.failed_epoch_fence = true;
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
