//! The leader-epoch history of one partition, as Kafka's
//! `LeaderEpochFileCache` keeps it: for every leader epoch the first offset
//! written in it, ascending in both. OffsetForLeaderEpoch answers from it
//! and followers truncate by it. Persisted to `leader-epoch-checkpoint` in
//! the partition directory on every change (changes are rare: one per
//! leader election, truncation or log-start move), so a restart needs no
//! scan of the log to know it.

use std::path::{Path, PathBuf};

use super::checkpoint::{self, CHECKPOINT_VERSION};
use super::LogError;

pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";

/// Kafka's `UNDEFINED_EPOCH` / `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    /// Ascending by epoch and by start offset.
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads the cache of the partition in `dir`; `None` as the second value
    /// when no checkpoint file exists (a new partition, or a log written
    /// before the checkpoint existed: the caller may rebuild it).
    pub fn open(dir: &Path) -> Result<(Self, bool), LogError> {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT_FILE);
        let read = checkpoint::read(&path, CHECKPOINT_VERSION, |f| match f {
            [epoch, offset] => Some(EpochEntry {
                epoch: epoch.parse().ok()?,
                start_offset: offset.parse().ok()?,
            }),
            _ => None,
        })?;
        let existed = read.is_some();
        let mut cache = LeaderEpochCache {
            path,
            entries: Vec::new(),
        };
        for e in read.unwrap_or_default() {
            cache.assign_in_memory(e);
        }
        Ok((cache, existed))
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// Kafka's `assign`: records that `epoch` starts at `start_offset`.
    /// Nothing changes when `epoch` is already the latest and starts at or
    /// before `start_offset` (every batch of an epoch calls this). Otherwise
    /// entries that conflict with the new one (an epoch >= `epoch`, or a
    /// start >= `start_offset`) are removed first, as Kafka does, and the
    /// file is rewritten. Negative epochs or offsets are ignored (batches of
    /// clients that never saw a leader epoch carry -1).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        if epoch < 0 || start_offset < 0 {
            return Ok(());
        }
        if self.assign_in_memory(EpochEntry { epoch, start_offset }) {
            tracing::debug!(path = %self.path.display(), epoch, start_offset, "new leader epoch entry");
            self.persist()?;
        }
        Ok(())
    }

    fn assign_in_memory(&mut self, entry: EpochEntry) -> bool {
        let needed = self
            .entries
            .last()
            .is_none_or(|l| entry.epoch != l.epoch || entry.start_offset < l.start_offset);
        if !needed {
            return false;
        }
        let before = self.entries.len();
        while self
            .entries
            .last()
            .is_some_and(|l| l.epoch >= entry.epoch || l.start_offset >= entry.start_offset)
        {
            self.entries.pop();
        }
        if before - self.entries.len() > 1 {
            tracing::warn!(path = %self.path.display(), ?entry, "new epoch entry truncated conflicting entries");
        }
        self.entries.push(entry);
        true
    }

    /// Kafka's `endOffsetFor`: the largest epoch <= `requested` and the end
    /// offset of that epoch (the start of the next higher epoch), or
    /// `log_end_offset` when `requested` is the latest epoch. An undefined
    /// (-1) or unknown (above the latest) epoch gives (-1, -1); an epoch
    /// below the first known one gives (`requested`, first start offset).
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            Some(floor) => (floor.epoch, higher.start_offset),
            None => (requested, higher.start_offset),
        }
    }

    /// Kafka's `truncateFromEnd`: drops every entry starting at or after
    /// `end_offset` (the log was truncated to `end_offset`).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), LogError> {
        if end_offset < 0 || self.entries.last().is_none_or(|l| l.start_offset < end_offset) {
            return Ok(());
        }
        self.entries.retain(|e| e.start_offset < end_offset);
        self.persist()
    }

    /// Kafka's `truncateFromStart`: entries starting at or before
    /// `start_offset` collapse into one, the latest of them, now starting at
    /// `start_offset` (the log start moved there). Exclusive: an entry that
    /// starts exactly at `start_offset` is kept as it is.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), LogError> {
        let removed = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if removed == 0 {
            return Ok(());
        }
        let last_removed = self.entries[removed - 1];
        if removed == 1 && last_removed.start_offset == start_offset {
            return Ok(());
        }
        self.entries.drain(..removed);
        self.entries.insert(
            0,
            EpochEntry {
                epoch: last_removed.epoch,
                start_offset,
            },
        );
        self.persist()
    }

    /// Kafka's `epochForOffset`: the epoch `offset` was written in, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let mut previous = None;
        for e in &self.entries {
            if e.start_offset == offset {
                return Some(e.epoch);
            }
            if e.start_offset > offset {
                return previous;
            }
            previous = Some(e.epoch);
        }
        previous
    }

    /// Forgets every epoch (Kafka's `clearAndFlush`, for a log truncated fully).
    pub fn clear(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.persist()
    }

    fn persist(&self) -> Result<(), LogError> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} {}", e.epoch, e.start_offset))
            .collect();
        checkpoint::write(&self.path, CHECKPOINT_VERSION, &lines)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &Path, entries: &[(i32, i64)]) -> LeaderEpochCache {
        let (mut c, existed) = LeaderEpochCache::open(dir).unwrap();
        assert!(!existed);
        for &(e, o) in entries {
            c.assign(e, o).unwrap();
        }
        c
    }

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
    }

    #[test]
    fn assign_keeps_the_first_offset_of_each_epoch_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 10), (2, 11), (2, 15), (3, 20)]);
        assert_eq!(pairs(&c), vec![(2, 10), (3, 20)]);
        assert_eq!(c.latest_epoch(), Some(3));
        // Negative values are not epochs.
        c.assign(-1, 30).unwrap();
        assert_eq!(pairs(&c), vec![(2, 10), (3, 20)]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap(),
            "0\n2\n2 10\n3 20\n"
        );
        let (reopened, existed) = LeaderEpochCache::open(dir.path()).unwrap();
        assert!(existed);
        assert_eq!(pairs(&reopened), vec![(2, 10), (3, 20)]);
    }

    #[test]
    fn assign_removes_conflicting_entries_as_kafka_does() {
        let dir = tempfile::tempdir().unwrap();
        // The same epoch at an earlier offset replaces the entry.
        let mut c = cache(dir.path(), &[(2, 10), (3, 20)]);
        c.assign(3, 15).unwrap();
        assert_eq!(pairs(&c), vec![(2, 10), (3, 15)]);
        // A lower epoch at a later offset removes the higher epochs.
        c.assign(1, 30).unwrap();
        assert_eq!(pairs(&c), vec![(1, 30)]);
        // A higher epoch at an earlier offset removes the later starts.
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 10), (3, 20)]);
        c.assign(5, 12).unwrap();
        assert_eq!(pairs(&c), vec![(2, 10), (5, 12)]);
    }

    // Kafka's LeaderEpochFileCacheTest cases for endOffsetFor.
    #[test]
    fn end_offset_for_follows_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), &[(2, 6), (4, 11), (6, 16)]);
        // The latest epoch ends at the log end offset.
        assert_eq!(c.end_offset_for(6, 20), (6, 20));
        // An epoch in the middle ends where the next begins.
        assert_eq!(c.end_offset_for(2, 20), (2, 11));
        // An unknown epoch between two known: the floor epoch, the next start.
        assert_eq!(c.end_offset_for(3, 20), (2, 11));
        assert_eq!(c.end_offset_for(5, 20), (4, 16));
        // Below the first known epoch: the requested epoch, the first start.
        assert_eq!(c.end_offset_for(1, 20), (1, 6));
        // Above the latest, or undefined: unknown.
        assert_eq!(c.end_offset_for(7, 20), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 20), (-1, -1));
        let dir = tempfile::tempdir().unwrap();
        let empty = cache(dir.path(), &[]);
        assert_eq!(empty.end_offset_for(0, 20), (-1, -1));
    }

    #[test]
    fn truncate_from_end_drops_entries_at_or_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 6), (3, 8), (4, 11)]);
        c.truncate_from_end(11).unwrap();
        assert_eq!(pairs(&c), vec![(2, 6), (3, 8)]);
        c.truncate_from_end(9).unwrap();
        assert_eq!(pairs(&c), vec![(2, 6), (3, 8)], "8 < 9: kept");
        c.truncate_from_end(0).unwrap();
        assert_eq!(pairs(&c), vec![]);
        let (reopened, _) = LeaderEpochCache::open(dir.path()).unwrap();
        assert_eq!(pairs(&reopened), vec![]);
    }

    #[test]
    fn truncate_from_start_rewrites_the_first_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache(dir.path(), &[(2, 6), (3, 8), (4, 11)]);
        // Exclusive: an entry exactly at the new start stays.
        c.truncate_from_start(6).unwrap();
        assert_eq!(pairs(&c), vec![(2, 6), (3, 8), (4, 11)]);
        c.truncate_from_start(9).unwrap();
        assert_eq!(pairs(&c), vec![(3, 9), (4, 11)]);
        c.truncate_from_start(11).unwrap();
        assert_eq!(pairs(&c), vec![(4, 11)]);
        c.truncate_from_start(15).unwrap();
        assert_eq!(pairs(&c), vec![(4, 15)]);
        let (reopened, _) = LeaderEpochCache::open(dir.path()).unwrap();
        assert_eq!(pairs(&reopened), vec![(4, 15)]);
    }

    #[test]
    fn epoch_for_offset_finds_the_epoch_that_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), &[(2, 6), (4, 11)]);
        assert_eq!(c.epoch_for_offset(5), None);
        assert_eq!(c.epoch_for_offset(6), Some(2));
        assert_eq!(c.epoch_for_offset(10), Some(2));
        assert_eq!(c.epoch_for_offset(11), Some(4));
        assert_eq!(c.epoch_for_offset(100), Some(4));
    }

    #[test]
    fn a_corrupt_checkpoint_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE), "0\n1\n3\n").unwrap();
        let err = LeaderEpochCache::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains(LEADER_EPOCH_CHECKPOINT_FILE), "{err}");
    }
}
