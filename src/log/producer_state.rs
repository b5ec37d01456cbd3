//! Per-partition idempotent-producer state, as Kafka's ProducerStateManager
//! keeps it: for every producer id its epoch and the metadata of its last
//! five batches, so retries are answered with their original offsets and
//! gaps are refused. Rebuilt from batch headers when a log is opened.

use std::collections::{HashMap, VecDeque};

use super::batch::BatchHeader;

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

#[derive(Debug, Clone, Default)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id} epoch {epoch} is older than current epoch {current}")]
    InvalidEpoch { producer_id: i64, epoch: i16, current: i16 },
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrder { producer_id: i64, expected: i32, got: i32 },
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

    /// Records an appended batch (also used when replaying the log).
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
    }

    /// Forgets batches below the log start offset; producers left with no
    /// batch are dropped, as Kafka does when their data is deleted.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.producers.retain(|_, e| {
            e.batches.retain(|b| b.last_offset >= log_start_offset);
            !e.batches.is_empty()
        });
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Forgets every producer (the log was emptied).
    pub fn clear(&mut self) {
        self.producers.clear();
    }

    /// Every producer and its retained batches, by producer id (for snapshots).
    pub fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Restores one producer from a snapshot.
    pub fn insert(&mut self, producer_id: i64, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

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
}
