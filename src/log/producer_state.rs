//! Per-partition producer state, as Kafka's ProducerStateManager keeps it:
//! for every producer id its epoch and the metadata of its last five
//! batches, so retries are answered with their original offsets and gaps
//! are refused; and for transactional producers the first offset of the
//! transaction still open in this partition, which bounds the last stable
//! offset until its marker arrives. Rebuilt from batch headers when a log
//! is opened.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::batch::BatchHeader;
use super::control::EndTxnMarker;

/// Kafka keeps the last five batches (the producer's max in-flight requests).
pub const BATCHES_RETAINED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
    /// The coordinator epoch of the last marker written for this producer.
    pub coordinator_epoch: i32,
    /// The first offset of this producer's open transaction here.
    pub current_txn_first_offset: Option<i64>,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        ProducerEntry {
            epoch: 0,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }
}

/// One producer as DescribeProducers (KIP-664) reports it: Kafka's
/// `ProducerStateEntry` as `UnifiedLog.activeProducers` copies it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub epoch: i16,
    /// The last sequence of its newest retained batch; -1 with none (a
    /// producer known only from a marker, or whose epoch a marker bumped).
    pub last_sequence: i32,
    /// The max timestamp of its newest retained batch; -1 with none.
    pub last_timestamp: i64,
    /// The coordinator epoch of the last marker written for it; -1 with none.
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction here, if one is open.
    pub current_txn_start_offset: Option<i64>,
}

/// A transaction that a marker ended in this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id} epoch {epoch} is older than current epoch {current}")]
    InvalidEpoch { producer_id: i64, epoch: i16, current: i16 },
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrder { producer_id: i64, expected: i32, got: i32 },
    #[error("marker for producer {producer_id} has coordinator epoch {epoch}, older than {current}")]
    CoordinatorFenced { producer_id: i64, epoch: i32, current: i32 },
    #[error("transactional batch of producer {producer_id} epoch {epoch} starts a transaction here without a current verification")]
    Unverified { producer_id: i64, epoch: i16 },
}

/// Proof that a producer's transaction was verified with (or added by) its
/// transaction coordinator for this partition (KIP-890, Kafka's
/// `VerificationGuard`): handed out before the coordinator is asked, and
/// still current at the append only if no marker for that producer landed
/// here in between. A batch that starts a transaction must carry the
/// current guard, or the transaction could start after the coordinator
/// ended it and hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationGuard(u64);

#[derive(Debug, Clone, Copy)]
struct Verification {
    guard: VerificationGuard,
    epoch: i16,
}

/// What to do with an incoming batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Append,
    /// A retry of a batch already in the log.
    Duplicate(BatchMetadata),
}

#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Verifications under way, by producer id (in memory only, as Kafka's).
    verifications: HashMap<i64, Verification>,
    last_guard: u64,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStateManager {
    /// Decides whether a client batch may be appended (Kafka's
    /// `ProducerAppendInfo.checkSequence` and duplicate detection).
    pub fn check(&self, h: &BatchHeader) -> Result<Check, SequenceError> {
        if !h.has_producer_id() {
            return Ok(Check::Append);
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            // Unknown producer (new, or its state was removed by retention):
            // any sequence is accepted, as Kafka does since KIP-360.
            return Ok(Check::Append);
        };
        if h.producer_epoch < entry.epoch {
            return Err(SequenceError::InvalidEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current: entry.epoch,
            });
        }
        if h.producer_epoch > entry.epoch {
            if h.base_sequence != 0 {
                return Err(SequenceError::OutOfOrder {
                    producer_id: h.producer_id,
                    expected: 0,
                    got: h.base_sequence,
                });
            }
            return Ok(Check::Append);
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
        {
            return Ok(Check::Duplicate(*dup));
        }
        match entry.batches.back() {
            Some(last) if next_seq(last.last_seq) != h.base_sequence => Err(SequenceError::OutOfOrder {
                producer_id: h.producer_id,
                expected: next_seq(last.last_seq),
                got: h.base_sequence,
            }),
            _ => Ok(Check::Append),
        }
    }

    /// Records an appended data batch (also used when replaying the log);
    /// markers go to [`Self::complete_txn`].
    pub fn update(&mut self, h: &BatchHeader) {
        if !h.has_producer_id() || h.is_control() {
            return;
        }
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
            timestamp: h.max_timestamp,
        });
        while entry.batches.len() > BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert(h.base_offset, h.producer_id);
            // The transaction is open: its verification is spent.
            self.verifications.remove(&h.producer_id);
        }
    }

    /// Starts (or joins) the verification of `producer_id`'s transaction
    /// in this partition: the guard its first transactional batch must
    /// carry. Requests of the same producer epoch in flight together share
    /// one guard.
    pub fn start_verification(&mut self, producer_id: i64, epoch: i16) -> VerificationGuard {
        if let Some(v) = self.verifications.get(&producer_id).filter(|v| v.epoch == epoch) {
            return v.guard;
        }
        self.last_guard += 1;
        let guard = VerificationGuard(self.last_guard);
        self.verifications.insert(producer_id, Verification { guard, epoch });
        guard
    }

    /// Refuses a client's transactional batch that would open a transaction
    /// here without the producer's current verification guard (Kafka's
    /// `batchMissingRequiredVerification`): the guard is gone once a marker
    /// for the producer was written after the verification began.
    pub fn check_verified(&self, h: &BatchHeader, guard: Option<VerificationGuard>) -> Result<(), SequenceError> {
        if !h.is_transactional() || h.is_control() || self.in_transaction(h.producer_id, h.producer_epoch) {
            return Ok(());
        }
        match (self.verifications.get(&h.producer_id), guard) {
            (Some(v), Some(g)) if v.guard == g && v.epoch == h.producer_epoch => Ok(()),
            _ => Err(SequenceError::Unverified {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
            }),
        }
    }

    /// Decides whether a marker from the transaction coordinator may be
    /// appended: not from a fenced producer epoch, nor from a coordinator
    /// older than the last one that wrote a marker here (Kafka's
    /// TRANSACTION_COORDINATOR_FENCED).
    pub fn check_marker(&self, h: &BatchHeader, marker: EndTxnMarker) -> Result<(), SequenceError> {
        let Some(entry) = self.producers.get(&h.producer_id) else {
            return Ok(());
        };
        if h.producer_epoch < entry.epoch {
            return Err(SequenceError::InvalidEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(SequenceError::CoordinatorFenced {
                producer_id: h.producer_id,
                epoch: marker.coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Records an appended marker: the producer's open transaction, if it
    /// wrote here, is complete. A marker may carry a newer epoch (a fenced
    /// producer, or transaction version 2's bump at every end), which the
    /// producer's next batches continue from sequence 0.
    pub fn complete_txn(&mut self, h: &BatchHeader, marker: EndTxnMarker) -> Option<CompletedTxn> {
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = marker.coordinator_epoch;
        // A verification begun before this marker is of a transaction the
        // coordinator has now ended.
        self.verifications.remove(&h.producer_id);
        let first_offset = entry.current_txn_first_offset.take()?;
        self.ongoing.remove(&first_offset);
        Some(CompletedTxn {
            producer_id: h.producer_id,
            first_offset,
            last_offset: h.base_offset,
            aborted: !marker.commit,
        })
    }

    /// Whether `producer_id` at `producer_epoch` has a transaction open
    /// here: its next transactional batch needs no verification with the
    /// transaction coordinator (KIP-890).
    pub fn in_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.epoch == producer_epoch && e.current_txn_first_offset.is_some())
    }

    /// The first offset of the oldest open transaction: records from here
    /// on are not stable.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// The last stable offset just after `completed` ended (the aborted
    /// transaction index records it): the oldest transaction still open,
    /// else the offset after the marker.
    pub fn last_stable_offset_after(&self, completed: &CompletedTxn) -> i64 {
        self.first_unstable_offset().unwrap_or(completed.last_offset + 1)
    }

    /// Forgets batches below the log start offset; producers left with no
    /// batch are dropped, as Kafka does when their data is deleted.
    /// Transactions opened below it are dropped too: their data is gone.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.producers.retain(|_, e| {
            e.batches.retain(|b| b.last_offset >= log_start_offset);
            if e.current_txn_first_offset.is_some_and(|first| first < log_start_offset) {
                e.current_txn_first_offset = None;
            }
            !e.batches.is_empty()
        });
        let producers = &self.producers;
        self.ongoing.retain(|first, pid| {
            producers
                .get(pid)
                .is_some_and(|e| e.current_txn_first_offset == Some(*first))
        });
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Forgets every producer (the log was emptied).
    pub fn clear(&mut self) {
        self.producers.clear();
        self.ongoing.clear();
        self.verifications.clear();
    }

    /// Every producer and its retained batches, by producer id (for snapshots).
    pub fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Every producer this partition remembers, by producer id: a copy,
    /// so the caller holds no lock on the log while it answers.
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        let mut out: Vec<ActiveProducer> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| {
                let last = e.batches.back();
                ActiveProducer {
                    producer_id,
                    epoch: e.epoch,
                    last_sequence: last.map_or(-1, |b| b.last_seq),
                    last_timestamp: last.map_or(-1, |b| b.timestamp),
                    coordinator_epoch: e.coordinator_epoch,
                    current_txn_start_offset: e.current_txn_first_offset,
                }
            })
            .collect();
        out.sort_unstable_by_key(|p| p.producer_id);
        out
    }

    /// Restores one producer from a snapshot.
    pub fn insert(&mut self, producer_id: i64, entry: ProducerEntry) {
        if let Some(first) = entry.current_txn_first_offset {
            self.ongoing.insert(first, producer_id);
        }
        self.producers.insert(producer_id, entry);
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch::test_support::header;
    use super::*;

    #[test]
    fn duplicates_gaps_and_fencing() {
        let mut s = ProducerStateManager::default();
        let b0 = header(1, 0, 0, 5, 0);
        assert_eq!(s.check(&b0), Ok(Check::Append));
        s.update(&b0);
        // A retry of the same batch is a duplicate with its original offsets.
        match s.check(&header(1, 0, 0, 5, 99)) {
            Ok(Check::Duplicate(m)) => assert_eq!(m.first_offset, 0),
            other => panic!("{other:?}"),
        }
        // The next sequence is accepted, a gap is not.
        assert_eq!(s.check(&header(1, 0, 5, 1, 5)), Ok(Check::Append));
        assert!(matches!(
            s.check(&header(1, 0, 7, 1, 5)),
            Err(SequenceError::OutOfOrder { expected: 5, .. })
        ));
        // An older epoch is fenced; a newer one must start at sequence 0.
        s.update(&header(1, 0, 5, 1, 5));
        s.update(&header(1, 1, 0, 1, 6));
        assert!(matches!(
            s.check(&header(1, 0, 6, 1, 7)),
            Err(SequenceError::InvalidEpoch { .. })
        ));
        assert!(matches!(
            s.check(&header(1, 2, 3, 1, 7)),
            Err(SequenceError::OutOfOrder { .. })
        ));
        // Only five batches are remembered.
        for i in 1..=6 {
            s.update(&header(1, 1, i, 1, 6 + i as i64));
        }
        assert!(matches!(
            s.check(&header(1, 1, 0, 1, 0)),
            Err(SequenceError::OutOfOrder { .. })
        ));
        s.truncate_head(1000);
        assert!(s.is_empty());
    }

    fn txn(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            attributes: super::super::batch::ATTR_TRANSACTIONAL,
            ..header(pid, epoch, seq, count, base_offset)
        }
    }

    fn marker_at(pid: i64, epoch: i16, offset: i64) -> BatchHeader {
        BatchHeader {
            attributes: super::super::batch::ATTR_TRANSACTIONAL | super::super::batch::ATTR_CONTROL,
            ..header(pid, epoch, -1, 1, offset)
        }
    }

    fn end(commit: bool, coordinator_epoch: i32) -> EndTxnMarker {
        EndTxnMarker {
            commit,
            coordinator_epoch,
        }
    }

    #[test]
    fn open_transactions_bound_the_stable_offset_until_their_markers() {
        let mut s = ProducerStateManager::default();
        s.update(&header(9, 0, 0, 2, 0)); // idempotent, not transactional
        assert_eq!(s.first_unstable_offset(), None);
        s.update(&txn(1, 0, 0, 2, 2));
        s.update(&txn(2, 0, 0, 1, 4));
        s.update(&txn(1, 0, 2, 1, 5));
        assert_eq!(s.first_unstable_offset(), Some(2));
        // Producer 1 commits: producer 2's transaction still bounds the LSO.
        let done = s.complete_txn(&marker_at(1, 0, 6), end(true, 0)).unwrap();
        assert_eq!(
            done,
            CompletedTxn {
                producer_id: 1,
                first_offset: 2,
                last_offset: 6,
                aborted: false
            }
        );
        assert_eq!(s.last_stable_offset_after(&done), 4);
        // Producer 2 aborts: nothing is open any more.
        let done = s.complete_txn(&marker_at(2, 0, 7), end(false, 0)).unwrap();
        assert!(done.aborted);
        assert_eq!(s.last_stable_offset_after(&done), 8);
        assert_eq!(s.first_unstable_offset(), None);
        // A marker for a producer that wrote nothing here completes nothing.
        assert_eq!(s.complete_txn(&marker_at(3, 0, 8), end(false, 0)), None);
        // The next transaction of producer 1 opens at its first batch.
        s.update(&txn(1, 0, 3, 1, 9));
        assert_eq!(s.first_unstable_offset(), Some(9));
    }

    #[test]
    fn a_transaction_opens_only_with_a_verification_no_marker_overtook() {
        let mut s = ProducerStateManager::default();
        let unverified = |s: &ProducerStateManager, h: &BatchHeader, g| {
            matches!(
                s.check_verified(h, g),
                Err(SequenceError::Unverified { producer_id: 1, .. })
            )
        };
        // Not transactional, or no guard at all: only transactional batches need one.
        assert_eq!(s.check_verified(&header(1, 0, 0, 1, 0), None), Ok(()));
        assert!(unverified(&s, &txn(1, 0, 0, 1, 0), None));
        // Two requests of one epoch share a guard; the first batch spends it.
        let g = s.start_verification(1, 0);
        assert_eq!(s.start_verification(1, 0), g);
        assert_eq!(s.check_verified(&txn(1, 0, 0, 1, 0), Some(g)), Ok(()));
        s.update(&txn(1, 0, 0, 1, 0));
        // Inside the open transaction nothing more is needed.
        assert_eq!(s.check_verified(&txn(1, 0, 1, 1, 1), None), Ok(()));
        s.complete_txn(&marker_at(1, 0, 1), end(true, 0));
        // A marker that lands while the next verification is under way (the
        // coordinator timed the transaction out) voids its guard.
        let g = s.start_verification(1, 0);
        s.complete_txn(&marker_at(1, 1, 2), end(false, 0));
        assert!(unverified(&s, &txn(1, 1, 0, 1, 3), Some(g)));
        assert!(unverified(&s, &txn(1, 0, 2, 1, 3), Some(g)));
        // A guard of another epoch is no proof for this one.
        let g = s.start_verification(1, 1);
        assert_ne!(s.start_verification(1, 2), g);
        assert!(unverified(&s, &txn(1, 1, 0, 1, 3), Some(g)));
    }

    #[test]
    fn markers_from_fenced_epochs_or_coordinators_are_refused() {
        let mut s = ProducerStateManager::default();
        s.update(&txn(1, 3, 0, 1, 0));
        assert!(matches!(
            s.check_marker(&marker_at(1, 2, 1), end(true, 0)),
            Err(SequenceError::InvalidEpoch { .. })
        ));
        assert_eq!(s.check_marker(&marker_at(1, 3, 1), end(true, 5)), Ok(()));
        s.complete_txn(&marker_at(1, 3, 1), end(true, 5));
        assert!(matches!(
            s.check_marker(&marker_at(1, 3, 2), end(false, 4)),
            Err(SequenceError::CoordinatorFenced {
                epoch: 4,
                current: 5,
                ..
            })
        ));
        assert_eq!(
            s.check_marker(&marker_at(7, 0, 2), end(false, 0)),
            Ok(()),
            "an unknown producer"
        );
    }

    #[test]
    fn a_marker_with_a_bumped_epoch_restarts_sequences() {
        // Transaction version 2: the marker carries epoch + 1 and the
        // producer's next transaction starts again at sequence 0.
        let mut s = ProducerStateManager::default();
        s.update(&txn(1, 0, 0, 3, 0));
        s.complete_txn(&marker_at(1, 1, 3), end(true, 0));
        assert_eq!(s.check(&txn(1, 1, 0, 1, 4)), Ok(Check::Append));
        assert!(matches!(
            s.check(&txn(1, 0, 3, 1, 4)),
            Err(SequenceError::InvalidEpoch { .. })
        ));
    }

    #[test]
    fn active_producers_report_their_last_batch_and_open_transaction() {
        let mut s = ProducerStateManager::default();
        assert_eq!(s.active_producers(), vec![]);
        let stamped = |h: BatchHeader, ts: i64| BatchHeader { max_timestamp: ts, ..h };
        s.update(&stamped(header(7, 2, 0, 3, 0), 1_000));
        s.update(&stamped(header(7, 2, 3, 2, 3), 2_000));
        s.update(&stamped(txn(5, 0, 0, 1, 5), 3_000));
        // Producer 9 wrote nothing here; only its marker did.
        s.complete_txn(&marker_at(9, 4, 6), end(false, 3));
        assert_eq!(
            s.active_producers(),
            vec![
                ActiveProducer {
                    producer_id: 5,
                    epoch: 0,
                    last_sequence: 0,
                    last_timestamp: 3_000,
                    coordinator_epoch: -1,
                    current_txn_start_offset: Some(5),
                },
                ActiveProducer {
                    producer_id: 7,
                    epoch: 2,
                    last_sequence: 4,
                    last_timestamp: 2_000,
                    coordinator_epoch: -1,
                    current_txn_start_offset: None,
                },
                ActiveProducer {
                    producer_id: 9,
                    epoch: 4,
                    last_sequence: -1,
                    last_timestamp: -1,
                    coordinator_epoch: 3,
                    current_txn_start_offset: None,
                },
            ],
            "by producer id"
        );
        // Producer 5 commits: its transaction is no longer open, and the
        // marker's coordinator epoch is remembered.
        s.complete_txn(&marker_at(5, 0, 7), end(true, 1));
        let p5 = s.active_producers()[0];
        assert_eq!((p5.current_txn_start_offset, p5.coordinator_epoch), (None, 1));
        assert_eq!(p5.last_sequence, 0, "the marker keeps the epoch, so the batches stay");
    }

    #[test]
    fn deleting_the_start_of_an_open_transaction_drops_it() {
        let mut s = ProducerStateManager::default();
        s.update(&txn(1, 0, 0, 2, 0));
        s.update(&txn(2, 0, 0, 2, 2));
        s.update(&txn(1, 0, 2, 2, 4));
        s.truncate_head(2);
        assert_eq!(
            s.first_unstable_offset(),
            Some(2),
            "producer 1's is dropped, producer 2's intact"
        );
        s.truncate_head(4);
        assert_eq!(s.first_unstable_offset(), None);
        assert_eq!(s.len(), 1, "producer 1's later batch remains");
        s.clear();
        assert!(s.is_empty());
    }
}
