//! The raft log on disk, openraft's `RaftLogStorage`.
//!
//! Two files under the metadata log directory:
//! - `raft.log`: entries back to back, each `[u32 length][u32 crc32c][JSON
//!   entry]`. Appends are fsynced before openraft hears they are flushed; a
//!   truncation (conflicting suffix) cuts the file and fsyncs it; a purge
//!   (prefix behind a snapshot) rewrites the file atomically. A torn or
//!   corrupt tail, or a gap, is cut on open.
//! - `raft-meta.json`: the vote, the committed log id and the last purged
//!   log id, replaced atomically (tmp + fsync + rename + directory fsync)
//!   before the call that changed them returns. `last_purged` is written
//!   before the log is rewritten, so entries at or below it that survive a
//!   crash are skipped on open.
//!
//! Entries are also kept in memory (the log is bounded by snapshots), which
//! is what readers serve from.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, OptionalSend, RaftLogReader, StorageIOError};
use serde::{Deserialize, Serialize};

use super::durable::{blocking, put_frame, read_optional, take_frame, write_atomically};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG_FILE: &str = "raft.log";
const META_FILE: &str = "raft-meta.json";

/// What must survive a restart besides the entries themselves.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Meta {
    vote: Option<Vote>,
    committed: Option<LogId>,
    last_purged: Option<LogId>,
}

#[derive(Default)]
struct Mem {
    meta: Meta,
    entries: BTreeMap<u64, Entry>,
}

struct Disk {
    dir: PathBuf,
    file: File,
    len_bytes: u64,
    /// Log index -> byte position of its frame, for truncation.
    positions: BTreeMap<u64, u64>,
}

/// The writer side; openraft calls it from one task, one call at a time.
pub(crate) struct LogStore {
    mem: Arc<Mutex<Mem>>,
    disk: Arc<Mutex<Disk>>,
}

/// Serves entries from memory; cheap to clone.
#[derive(Clone)]
pub(crate) struct LogReader {
    mem: Arc<Mutex<Mem>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section below only moves in-memory data and cannot
    // panic half-way, so a poisoned lock still guards consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn io_error(e: &std::io::Error) -> AnyError {
    AnyError::new(e)
}

impl LogStore {
    /// Opens (creating) the log under `dir` and recovers it. Blocking.
    pub(crate) fn open(dir: &Path) -> std::io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        let meta: Meta = match read_optional(dir, META_FILE)? {
            Some(b) => serde_json::from_slice(&b).map_err(std::io::Error::other)?,
            None => Meta::default(),
        };
        let path = dir.join(LOG_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let bytes = std::fs::read(&path)?;
        let first_kept = meta.last_purged.map(|l| l.index + 1);
        let (mut entries, mut positions) = (BTreeMap::new(), BTreeMap::new());
        let mut at = 0usize;
        let mut next_index: Option<u64> = None;
        while let Some((body, used)) = take_frame(&bytes[at..]) {
            let Ok(entry) = serde_json::from_slice::<Entry>(body) else {
                break;
            };
            let index = entry.log_id.index;
            let expected = next_index.or(first_kept.filter(|f| index >= *f));
            if expected.is_some_and(|e| e != index) {
                tracing::warn!(path = %path.display(), index, ?expected, "gap in the raft log, cutting it here");
                break;
            }
            next_index = Some(index + 1);
            if first_kept.is_none_or(|f| index >= f) {
                positions.insert(index, at as u64);
                entries.insert(index, entry);
            }
            at += used;
        }
        if at < bytes.len() {
            tracing::warn!(path = %path.display(), position = at, len = bytes.len(), "cutting torn raft log tail");
            file.set_len(at as u64)?;
            file.sync_all()?;
        }
        tracing::debug!(entries = entries.len(), ?meta, "opened raft log");
        Ok(LogStore {
            mem: Arc::new(Mutex::new(Mem { meta, entries })),
            disk: Arc::new(Mutex::new(Disk {
                dir: dir.to_path_buf(),
                file,
                len_bytes: at as u64,
                positions,
            })),
        })
    }

    pub(crate) fn reader(&self) -> LogReader {
        LogReader { mem: self.mem.clone() }
    }

    /// Nothing was ever voted, appended or purged here.
    pub(crate) fn is_pristine(&self) -> bool {
        let mem = lock(&self.mem);
        mem.meta.vote.is_none() && mem.meta.last_purged.is_none() && mem.entries.is_empty()
    }

    async fn write_meta(&self, change: impl FnOnce(&mut Meta)) -> Result<(), std::io::Error> {
        let meta = {
            let mut mem = lock(&self.mem);
            change(&mut mem.meta);
            serde_json::to_vec(&mem.meta).map_err(std::io::Error::other)?
        };
        let dir = lock(&self.disk).dir.clone();
        blocking(move || write_atomically(&dir, META_FILE, &meta)).await
    }
}

impl LogReader {
    /// The committed log index as last persisted.
    pub(crate) fn committed(&self) -> Option<LogId> {
        lock(&self.mem).meta.committed
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        Ok(lock(&self.mem).entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader().try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let mem = lock(&self.mem);
        let last_purged_log_id = mem.meta.last_purged;
        let last_log_id = mem
            .entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.write_meta(|m| m.vote = Some(vote))
            .await
            .map_err(|e| StorageIOError::write_vote(io_error(&e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(lock(&self.mem).meta.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.write_meta(|m| m.committed = committed)
            .await
            .map_err(|e| StorageIOError::write(io_error(&e)).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(lock(&self.mem).meta.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        {
            let mut mem = lock(&self.mem);
            for entry in entries {
                let body = serde_json::to_vec(&entry).map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?;
                offsets.push((entry.log_id.index, buf.len() as u64));
                put_frame(&mut buf, &body);
                mem.entries.insert(entry.log_id.index, entry);
            }
        }
        let disk = self.disk.clone();
        let written = blocking(move || {
            let mut d = lock(&disk);
            let base = d.len_bytes;
            d.file.write_all_at(&buf, base)?;
            // Durable before openraft is told: the log-flushed callback below.
            d.file.sync_data()?;
            d.len_bytes += buf.len() as u64;
            d.positions.extend(offsets.into_iter().map(|(i, at)| (i, base + at)));
            Ok(())
        })
        .await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::new(e.kind(), e.to_string())));
                Err(StorageIOError::write_logs(io_error(&e)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        lock(&self.mem).entries.split_off(&log_id.index);
        let disk = self.disk.clone();
        blocking(move || {
            let mut d = lock(&disk);
            if let Some(&at) = d.positions.get(&log_id.index) {
                d.file.set_len(at)?;
                d.file.sync_all()?;
                d.len_bytes = at;
                d.positions.split_off(&log_id.index);
            }
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_logs(io_error(&e)).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let map_err = |e: std::io::Error| -> StorageError { StorageIOError::write_logs(io_error(&e)).into() };
        self.write_meta(|m| m.last_purged = Some(log_id))
            .await
            .map_err(map_err)?;
        let kept: Vec<(u64, Vec<u8>)> = {
            let mut mem = lock(&self.mem);
            mem.entries = mem.entries.split_off(&(log_id.index + 1));
            mem.entries
                .iter()
                .map(|(i, e)| Ok((*i, serde_json::to_vec(e)?)))
                .collect::<Result<_, serde_json::Error>>()
                .map_err(|e| StorageIOError::write_logs(AnyError::new(&e)))?
        };
        let disk = self.disk.clone();
        blocking(move || {
            let mut d = lock(&disk);
            let mut buf = Vec::new();
            let mut positions = BTreeMap::new();
            for (index, body) in kept {
                positions.insert(index, buf.len() as u64);
                put_frame(&mut buf, &body);
            }
            write_atomically(&d.dir, LOG_FILE, &buf)?;
            d.file = OpenOptions::new().read(true).write(true).open(d.dir.join(LOG_FILE))?;
            d.len_bytes = buf.len() as u64;
            d.positions = positions;
            Ok(())
        })
        .await
        .map_err(map_err)
    }
}
