//! Producer-state snapshots, as Kafka's `ProducerStateManager` takes them:
//! `<offset>.snapshot` in the partition directory (20-digit offset, like a
//! segment) holds the idempotent-producer state as of `offset`, so opening
//! a log replays only the batches after the newest snapshot instead of the
//! whole log. Taken when a segment rolls (at the new segment's base) and at
//! clean shutdown (at the log end offset); the newest [`SNAPSHOTS_KEPT`] are
//! kept; truncation deletes those above the new end.
//!
//! The format is fjord's own (Kafka's is a versioned struct with a CRC-32C
//! too): magic `FJPS`, version u16, CRC-32C (u32) of everything after it,
//! then the offset (i64), the producer count (u32) and per producer its id
//! (i64), epoch (i16), in version 2 its last marker's coordinator epoch
//! (i32) and its open transaction's first offset (i64, -1 for none), then
//! batch count (u8) and batches (first and last sequence i32, first and
//! last offset i64, timestamp i64), big-endian. Version 1 (no transaction
//! fields) is still read.
//! A file that fails the check is ignored and deleted, and the state is
//! rebuilt from an older snapshot or the log.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut};

use super::producer_state::{BatchMetadata, ProducerEntry, ProducerStateManager, BATCHES_RETAINED};

pub const SNAPSHOT_SUFFIX: &str = "snapshot";
/// How many snapshots a partition keeps.
pub const SNAPSHOTS_KEPT: usize = 2;

const MAGIC: &[u8; 4] = b"FJPS";
const VERSION: u16 = 2;
const HEADER_BYTES: usize = 4 + 2 + 4;
const BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;

pub fn path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(super::segment::file_name(offset, SNAPSHOT_SUFFIX))
}

/// Snapshot offsets present in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<i64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".snapshot") {
            if let Ok(offset) = stem.parse::<i64>() {
                out.push(offset);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

pub fn encode(state: &ProducerStateManager, offset: i64) -> Vec<u8> {
    let mut body = Vec::with_capacity(12 + state.len() * (23 + BATCHES_RETAINED * BATCH_BYTES));
    body.put_i64(offset);
    body.put_u32(state.len() as u32);
    let mut producers: Vec<(i64, &ProducerEntry)> = state.entries().collect();
    producers.sort_unstable_by_key(|(id, _)| *id);
    for (id, entry) in producers {
        body.put_i64(id);
        body.put_i16(entry.epoch);
        body.put_i32(entry.coordinator_epoch);
        body.put_i64(entry.current_txn_first_offset.unwrap_or(-1));
        body.put_u8(entry.batches.len() as u8);
        for b in &entry.batches {
            body.put_i32(b.first_seq);
            body.put_i32(b.last_seq);
            body.put_i64(b.first_offset);
            body.put_i64(b.last_offset);
            body.put_i64(b.timestamp);
        }
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(MAGIC);
    out.put_u16(VERSION);
    out.put_u32(crc32c::crc32c(&body));
    out.extend_from_slice(&body);
    out
}

/// Decodes a snapshot; `None` if it is torn, corrupt or of another version.
pub fn decode(bytes: &[u8]) -> Option<(i64, ProducerStateManager)> {
    if bytes.len() < HEADER_BYTES + 12 || &bytes[..4] != MAGIC {
        return None;
    }
    let mut head = &bytes[4..HEADER_BYTES];
    let version = head.get_u16();
    if version != 1 && version != VERSION {
        return None;
    }
    let producer_bytes = if version == 1 { 11 } else { 23 };
    let crc = head.get_u32();
    let mut body = &bytes[HEADER_BYTES..];
    if crc32c::crc32c(body) != crc {
        return None;
    }
    let offset = body.get_i64();
    let count = body.get_u32() as usize;
    let mut state = ProducerStateManager::default();
    for _ in 0..count {
        if body.remaining() < producer_bytes {
            return None;
        }
        let id = body.get_i64();
        let epoch = body.get_i16();
        let (coordinator_epoch, first) = if version == 1 {
            (-1, -1)
        } else {
            (body.get_i32(), body.get_i64())
        };
        let n = body.get_u8() as usize;
        if body.remaining() < n * BATCH_BYTES {
            return None;
        }
        let mut batches = VecDeque::with_capacity(n);
        for _ in 0..n {
            batches.push_back(BatchMetadata {
                first_seq: body.get_i32(),
                last_seq: body.get_i32(),
                first_offset: body.get_i64(),
                last_offset: body.get_i64(),
                timestamp: body.get_i64(),
            });
        }
        state.insert(
            id,
            ProducerEntry {
                epoch,
                batches,
                coordinator_epoch,
                current_txn_first_offset: (first >= 0).then_some(first),
            },
        );
    }
    if body.has_remaining() {
        return None;
    }
    Some((offset, state))
}

/// Writes the snapshot of `state` at `offset` (write to a temporary file,
/// rename). With `sync` the file and the directory are fsynced (clean
/// shutdown); without, a roll leaves that to the flush of the rolled
/// segment ([`sync`]), as Kafka does. Older snapshots beyond
/// [`SNAPSHOTS_KEPT`] are deleted.
pub fn write(dir: &Path, offset: i64, state: &ProducerStateManager, sync: bool) -> io::Result<()> {
    let target = path(dir, offset);
    let tmp = target.with_extension("snapshot.tmp");
    {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(&encode(state, offset))?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, &target)?;
    let all = list(dir)?;
    if all.len() > SNAPSHOTS_KEPT {
        for &old in &all[..all.len() - SNAPSHOTS_KEPT] {
            remove(dir, old)?;
        }
    }
    if sync {
        super::checkpoint::sync_dir(dir)?;
    }
    Ok(())
}

/// Fsyncs the snapshot at `offset` if it still exists.
pub fn sync(dir: &Path, offset: i64) -> io::Result<()> {
    match std::fs::File::open(path(dir, offset)) {
        Ok(f) => f.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn remove(dir: &Path, offset: i64) -> io::Result<()> {
    match std::fs::remove_file(path(dir, offset)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes every snapshot above `offset` (the log was truncated there).
pub fn delete_above(dir: &Path, offset: i64) -> io::Result<()> {
    for s in list(dir)? {
        if s > offset {
            remove(dir, s)?;
        }
    }
    Ok(())
}

/// Deletes every snapshot (the log was emptied).
pub fn delete_all(dir: &Path) -> io::Result<()> {
    delete_above(dir, i64::MIN)
}

/// The newest readable snapshot at or below `offset`, with its offset.
/// Snapshots above `offset` are left alone; unreadable ones are deleted.
pub fn load_latest_at_or_below(dir: &Path, offset: i64) -> io::Result<Option<(i64, ProducerStateManager)>> {
    for s in list(dir)?.into_iter().rev() {
        if s > offset {
            continue;
        }
        let bytes = std::fs::read(path(dir, s))?;
        match decode(&bytes) {
            Some((at, state)) if at == s => return Ok(Some((at, state))),
            _ => {
                tracing::warn!(dir = %dir.display(), offset = s, "deleting a corrupt producer-state snapshot");
                remove(dir, s)?;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::batch::BatchHeader;
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            max_timestamp: 77,
            ..super::super::batch::test_support::header(pid, epoch, seq, count, base_offset)
        }
    }

    fn state() -> ProducerStateManager {
        let mut s = ProducerStateManager::default();
        for i in 0..7 {
            s.update(&header(1, 3, i * 2, 2, 100 + i as i64 * 2));
        }
        s.update(&header(9, 0, 0, 1, 200));
        s
    }

    #[test]
    fn a_snapshot_round_trips_and_keeps_duplicate_detection() {
        let dir = tempfile::tempdir().unwrap();
        let s = state();
        write(dir.path(), 201, &s, true).unwrap();
        let (at, loaded) = load_latest_at_or_below(dir.path(), 500).unwrap().unwrap();
        assert_eq!(at, 201);
        assert_eq!(loaded.len(), 2);
        // The same batches are remembered: a retry is still a duplicate.
        let retry = header(1, 3, 12, 2, 999);
        assert_eq!(loaded.check(&retry), s.check(&retry));
        assert!(matches!(
            loaded.check(&retry),
            Ok(super::super::producer_state::Check::Duplicate(_))
        ));
        assert_eq!(encode(&loaded, 201), encode(&s, 201));
    }

    #[test]
    fn an_open_transaction_and_the_coordinator_epoch_round_trip() {
        use super::super::control::EndTxnMarker;
        let mut s = ProducerStateManager::default();
        let mut txn = header(4, 2, 0, 3, 50);
        txn.attributes = super::super::batch::ATTR_TRANSACTIONAL;
        s.update(&txn);
        let mut marker = header(5, 0, -1, 1, 40);
        marker.attributes = super::super::batch::ATTR_TRANSACTIONAL | super::super::batch::ATTR_CONTROL;
        s.complete_txn(
            &marker,
            EndTxnMarker {
                commit: true,
                coordinator_epoch: 6,
            },
        );
        let (_, loaded) = decode(&encode(&s, 60)).unwrap();
        assert_eq!(loaded.first_unstable_offset(), Some(50));
        let fenced = EndTxnMarker {
            commit: false,
            coordinator_epoch: 5,
        };
        assert!(
            loaded.check_marker(&marker, fenced).is_err(),
            "the coordinator epoch was kept"
        );
        assert_eq!(encode(&loaded, 60), encode(&s, 60));
    }

    #[test]
    fn version_1_snapshots_are_still_read() {
        let s = state();
        let mut body = Vec::new();
        body.put_i64(201);
        body.put_u32(s.len() as u32);
        let mut producers: Vec<_> = s.entries().collect();
        producers.sort_unstable_by_key(|(id, _)| *id);
        for (id, e) in producers {
            body.put_i64(id);
            body.put_i16(e.epoch);
            body.put_u8(e.batches.len() as u8);
            for b in &e.batches {
                body.put_i32(b.first_seq);
                body.put_i32(b.last_seq);
                body.put_i64(b.first_offset);
                body.put_i64(b.last_offset);
                body.put_i64(b.timestamp);
            }
        }
        let mut v1 = MAGIC.to_vec();
        v1.put_u16(1);
        v1.put_u32(crc32c::crc32c(&body));
        v1.extend_from_slice(&body);
        let (at, loaded) = decode(&v1).expect("a version 1 snapshot decodes");
        assert_eq!(at, 201);
        assert_eq!(encode(&loaded, 201), encode(&s, 201));
        assert_eq!(loaded.first_unstable_offset(), None);
    }

    #[test]
    fn only_the_newest_are_kept_and_corrupt_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let s = state();
        for offset in [10, 20, 30] {
            write(dir.path(), offset, &s, false).unwrap();
        }
        assert_eq!(list(dir.path()).unwrap(), vec![20, 30]);
        assert_eq!(load_latest_at_or_below(dir.path(), 25).unwrap().unwrap().0, 20);
        assert!(load_latest_at_or_below(dir.path(), 19).unwrap().is_none());
        // A flipped byte fails the CRC: the older snapshot is used.
        let p = path(dir.path(), 30);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
        assert_eq!(load_latest_at_or_below(dir.path(), 100).unwrap().unwrap().0, 20);
        assert_eq!(list(dir.path()).unwrap(), vec![20], "the corrupt one is deleted");
        delete_above(dir.path(), 19).unwrap();
        assert_eq!(list(dir.path()).unwrap(), Vec::<i64>::new());
    }
}
