//! The aborted-transaction index of a segment (`<base offset>.txnindex`),
//! in Kafka's layout: one 34-byte entry per transaction aborted by a
//! marker in the segment — version (i16, 0), producer id (i64), first
//! offset (i64), last offset (i64, the marker's), and the last stable
//! offset just after the abort (i64) — big-endian. A read_committed fetch
//! returns the aborted transactions its range overlaps, and the consumer
//! drops their records.
//!
//! Entries are few (one per aborted transaction that wrote here), so the
//! index keeps them in memory as well; the file is appended to, synced
//! and deleted with its segment. A torn last entry (a crash mid-write) is dropped when
//! the file is opened.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut};

pub const TXN_INDEX_SUFFIX: &str = "txnindex";
const ENTRY_BYTES: usize = 34;
const VERSION: i16 = 0;

/// A transaction that was aborted: consumers in read_committed skip the
/// producer's records from `first_offset` to `last_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i16(VERSION);
        out.put_i64(self.producer_id);
        out.put_i64(self.first_offset);
        out.put_i64(self.last_offset);
        out.put_i64(self.last_stable_offset);
    }

    fn decode(mut buf: &[u8]) -> io::Result<AbortedTxn> {
        let version = buf.get_i16();
        if version != VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown transaction index entry version {version}"),
            ));
        }
        Ok(AbortedTxn {
            producer_id: buf.get_i64(),
            first_offset: buf.get_i64(),
            last_offset: buf.get_i64(),
            last_stable_offset: buf.get_i64(),
        })
    }
}

/// What a fetch learns from one index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub aborted: Vec<AbortedTxn>,
    /// No later segment can hold an aborted transaction overlapping the
    /// range (an entry's last stable offset reached its upper bound).
    pub complete: bool,
}

#[derive(Debug)]
pub struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
    /// Opened on the first append.
    file: Option<File>,
}

impl TxnIndex {
    /// Opens the index at `path`, reading its entries if the file exists.
    pub fn open(path: &Path) -> io::Result<TxnIndex> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let whole = bytes.len() / ENTRY_BYTES * ENTRY_BYTES;
        let entries = bytes[..whole]
            .chunks_exact(ENTRY_BYTES)
            .map(AbortedTxn::decode)
            .collect::<io::Result<Vec<_>>>()?;
        let mut index = TxnIndex {
            path: path.to_path_buf(),
            entries,
            file: None,
        };
        if whole != bytes.len() {
            index.rewrite()?;
        }
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an aborted transaction (markers come in offset order).
    pub fn append(&mut self, txn: AbortedTxn) -> io::Result<()> {
        if let Some(last) = self.entries.last() {
            if txn.last_offset <= last.last_offset {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "aborted transaction ending at {} appended after one ending at {}",
                        txn.last_offset, last.last_offset
                    ),
                ));
            }
        }
        let mut buf = Vec::with_capacity(ENTRY_BYTES);
        txn.encode(&mut buf);
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        }
        self.file.as_mut().expect("opened above").write_all(&buf)?;
        self.entries.push(txn);
        Ok(())
    }

    /// Makes the appended entries durable.
    pub fn flush(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }

    /// Drops the transactions whose marker is at or above `offset` (the
    /// log was truncated there).
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let keep = self.entries.partition_point(|t| t.last_offset < offset);
        if keep < self.entries.len() {
            self.entries.truncate(keep);
            self.rewrite()?;
        }
        Ok(())
    }

    /// The aborted transactions overlapping `[fetch_offset, upper_bound)`.
    pub fn collect(&self, fetch_offset: i64, upper_bound: i64) -> Collected {
        let mut out = Collected::default();
        let from = self.entries.partition_point(|t| t.last_offset < fetch_offset);
        for t in &self.entries[from..] {
            if t.first_offset < upper_bound {
                out.aborted.push(*t);
            }
            if t.last_stable_offset >= upper_bound {
                out.complete = true;
                break;
            }
        }
        out
    }

    fn rewrite(&mut self) -> io::Result<()> {
        self.file = None;
        if self.entries.is_empty() {
            // No aborted transaction left: no file, as for a new segment.
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let mut buf = Vec::with_capacity(self.entries.len() * ENTRY_BYTES);
        self.entries.iter().for_each(|t| t.encode(&mut buf));
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        f.write_all(&buf)?;
        f.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    fn path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join(super::super::segment::file_name(0, TXN_INDEX_SUFFIX))
    }

    #[test]
    fn entries_are_kafkas_34_bytes_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir);
        let mut index = TxnIndex::open(&p).unwrap();
        assert!(index.is_empty());
        assert!(!p.exists(), "no file until an entry is written");
        index.append(txn(7, 10, 20, 21)).unwrap();
        index.append(txn(8, 15, 30, 31)).unwrap();
        index.flush().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), 68);
        let expected: Vec<u8> = [
            &0i16.to_be_bytes()[..],
            &7i64.to_be_bytes(),
            &10i64.to_be_bytes(),
            &20i64.to_be_bytes(),
            &21i64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(&bytes[..34], &expected[..]);
        let reopened = TxnIndex::open(&p).unwrap();
        assert_eq!(reopened.entries(), index.entries());
    }

    #[test]
    fn a_torn_last_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir);
        let mut index = TxnIndex::open(&p).unwrap();
        index.append(txn(7, 10, 20, 21)).unwrap();
        drop(index);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[0, 0, 0, 0, 0, 9]).unwrap();
        let index = TxnIndex::open(&p).unwrap();
        assert_eq!(index.entries(), &[txn(7, 10, 20, 21)]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 34);
    }

    #[test]
    fn collect_finds_overlapping_aborts_and_stops_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = TxnIndex::open(&path(&dir)).unwrap();
        // Two interleaved transactions, then a later one.
        index.append(txn(1, 0, 10, 5)).unwrap(); // pid 5's transaction was still open
        index.append(txn(5, 5, 12, 13)).unwrap();
        index.append(txn(9, 40, 50, 51)).unwrap();
        let c = index.collect(11, 20);
        assert_eq!(c.aborted, vec![txn(5, 5, 12, 13)]);
        assert!(
            c.complete,
            "the abort at 50 began at or after 20: nothing later overlaps"
        );
        let c = index.collect(11, 60);
        assert_eq!(c.aborted, vec![txn(5, 5, 12, 13), txn(9, 40, 50, 51)]);
        assert!(!c.complete, "no entry's LSO reached 60: later segments may hold more");
        let c = index.collect(0, 12);
        assert_eq!(c.aborted, vec![txn(1, 0, 10, 5), txn(5, 5, 12, 13)]);
        assert!(c.complete);
        let c = index.collect(0, 100);
        assert_eq!(c.aborted.len(), 3);
        assert!(!c.complete);
        assert_eq!(index.collect(51, 100).aborted, vec![]);
    }

    #[test]
    fn truncation_drops_aborts_marked_at_or_above_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir);
        let mut index = TxnIndex::open(&p).unwrap();
        index.append(txn(1, 0, 10, 11)).unwrap();
        index.append(txn(2, 11, 20, 21)).unwrap();
        index.truncate_to(20).unwrap();
        assert_eq!(index.entries(), &[txn(1, 0, 10, 11)]);
        assert_eq!(TxnIndex::open(&p).unwrap().entries(), &[txn(1, 0, 10, 11)]);
        // Appends go on after a truncation.
        index.append(txn(3, 12, 15, 16)).unwrap();
        assert_eq!(TxnIndex::open(&p).unwrap().entries().len(), 2);
        index.truncate_to(0).unwrap();
        assert!(!p.exists());
        assert!(index.append(txn(4, 1, 2, 3)).is_ok());
        assert!(index.append(txn(4, 1, 2, 3)).is_err(), "markers come in offset order");
    }
}
