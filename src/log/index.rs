//! Sparse, memory-mapped segment indexes, as Kafka lays them out:
//! `.index` holds 8-byte entries (relative offset u32, file position u32),
//! `.timeindex` 12-byte entries (timestamp i64, relative offset u32).
//! Files are pre-sized to `segment.index.bytes` while a segment is active
//! and trimmed to their entries when it rolls.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// A fixed-width entry format.
pub trait Entry: Copy {
    const SIZE: usize;
    fn read(buf: &[u8]) -> Self;
    fn write(&self, buf: &mut [u8]);
    /// The key entries are ordered and searched by.
    fn key(&self) -> i64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl Entry for OffsetEntry {
    const SIZE: usize = 8;
    fn read(buf: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes")),
        }
    }
    fn write(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        buf[4..8].copy_from_slice(&self.position.to_be_bytes());
    }
    fn key(&self) -> i64 {
        self.relative_offset as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl Entry for TimeEntry {
    const SIZE: usize = 12;
    fn read(buf: &[u8]) -> Self {
        TimeEntry {
            timestamp: i64::from_be_bytes(buf[0..8].try_into().expect("8 bytes")),
            relative_offset: u32::from_be_bytes(buf[8..12].try_into().expect("4 bytes")),
        }
    }
    fn write(&self, buf: &mut [u8]) {
        buf[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn key(&self) -> i64 {
        self.timestamp
    }
}

/// One index file. `mmap` is `None` while the file is empty.
pub struct Index<E: Entry> {
    path: PathBuf,
    file: File,
    mmap: Option<MmapMut>,
    entries: usize,
    capacity: usize,
    _entry: std::marker::PhantomData<E>,
}

impl<E: Entry> Index<E> {
    /// Opens (or creates) an index, trusting the entries on disk up to the
    /// first zeroed or out-of-order one; `sanity_check` says whether they
    /// agree with the log.
    pub fn open(path: &Path, max_bytes: u32) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len() as usize;
        let mut index = Index {
            path: path.to_path_buf(),
            file,
            mmap: None,
            entries: len / E::SIZE,
            capacity: (max_bytes as usize / E::SIZE).max(1),
            _entry: std::marker::PhantomData,
        };
        if len > 0 {
            index.mmap = Some(map(&index.file)?);
            index.entries = index.count_valid();
        }
        Ok(index)
    }

    /// Entries up to the first one that breaks ordering (a pre-sized file's
    /// zero tail after a crash ends the valid prefix).
    fn count_valid(&self) -> usize {
        let n = self.file_entries();
        let mut prev: Option<i64> = None;
        for i in 0..n {
            let e = self.entry(i);
            if let Some(p) = prev {
                if e.key() <= p {
                    return i;
                }
            }
            prev = Some(e.key());
        }
        n
    }

    fn file_entries(&self) -> usize {
        self.mmap.as_ref().map_or(0, |m| m.len() / E::SIZE)
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// How many entries fit (`segment.index.bytes` / entry size).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_full(&self) -> bool {
        self.entries >= self.capacity
    }

    pub fn entry(&self, i: usize) -> E {
        let m = self.mmap.as_ref().expect("entry() is only called below len()");
        E::read(&m[i * E::SIZE..(i + 1) * E::SIZE])
    }

    pub fn last(&self) -> Option<E> {
        (self.entries > 0).then(|| self.entry(self.entries - 1))
    }

    /// The last entry whose key is <= `key`.
    pub fn floor(&self, key: i64) -> Option<E> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry(mid).key() <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo > 0).then(|| self.entry(lo - 1))
    }

    /// Appends an entry; keys must increase (Kafka's invariant).
    pub fn append(&mut self, e: E) -> io::Result<()> {
        if let Some(last) = self.last() {
            if e.key() <= last.key() {
                return Ok(());
            }
        }
        if self.is_full() {
            return Ok(());
        }
        if self.file_entries() <= self.entries {
            self.resize(self.capacity * E::SIZE)?;
        }
        let i = self.entries;
        let m = self.mmap.as_mut().expect("resized above");
        e.write(&mut m[i * E::SIZE..(i + 1) * E::SIZE]);
        self.entries += 1;
        Ok(())
    }

    /// Drops every entry whose key is >= `key` (after a log truncation).
    pub fn truncate_to_key(&mut self, key: i64) {
        self.truncate_while(|e| e.key() >= key);
    }

    /// Drops trailing entries for which `drop` holds (entries are ordered
    /// by key and, for both index kinds, by offset too).
    pub fn truncate_while(&mut self, mut drop: impl FnMut(&E) -> bool) {
        let before = self.entries;
        while let Some(last) = self.last() {
            if !drop(&last) {
                break;
            }
            self.entries -= 1;
        }
        // Zero the dropped slots: a reopen after a crash counts entries up
        // to the first out-of-order one and must not revive them.
        if let Some(m) = self.mmap.as_mut() {
            m[self.entries * E::SIZE..before * E::SIZE].fill(0);
        }
    }

    pub fn clear(&mut self) {
        self.truncate_while(|_| true);
    }

    fn resize(&mut self, bytes: usize) -> io::Result<()> {
        // Unmapping a shared mapping keeps its writes in the page cache: no
        // msync is needed (durability is `flush`'s job, as for the log).
        self.mmap = None;
        self.file.set_len(bytes as u64)?;
        if bytes > 0 {
            self.mmap = Some(map(&self.file)?);
        }
        Ok(())
    }

    /// Cuts the file to exactly its entries (when the segment stops being
    /// active, or at clean shutdown), as Kafka's `trimToValidSize` does.
    pub fn trim(&mut self) -> io::Result<()> {
        self.resize(self.entries * E::SIZE)?;
        self.capacity = self.capacity.max(self.entries);
        Ok(())
    }

    pub fn flush(&self) -> io::Result<()> {
        match &self.mmap {
            Some(m) => m.flush(),
            None => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Maps an index file for random access. Without `MADV_RANDOM` the first
/// write into a pre-sized, sparse index makes the kernel read ahead megabytes
/// of zeroes, which made a partition's first append cost milliseconds.
fn map(file: &File) -> io::Result<MmapMut> {
    // SAFETY: the file is owned by this broker's data directory and is only
    // mutated through this mapping.
    let m = unsafe { MmapMut::map_mut(file)? };
    m.advise(memmap2::Advice::Random)?;
    Ok(m)
}

pub type OffsetIndex = Index<OffsetEntry>;
pub type TimeIndex = Index<TimeEntry>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_lookup_and_reopen_after_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&path, 8 * 100).unwrap();
        for i in 0..10u32 {
            idx.append(OffsetEntry {
                relative_offset: i * 10,
                position: i * 4096,
            })
            .unwrap();
        }
        assert_eq!(idx.floor(5).unwrap().relative_offset, 0);
        assert_eq!(idx.floor(55).unwrap().position, 5 * 4096);
        assert_eq!(idx.floor(1000).unwrap().relative_offset, 90);
        idx.flush().unwrap();
        drop(idx);
        // A pre-sized file with a zero tail reopens with its real entries.
        let idx = OffsetIndex::open(&path, 8 * 100).unwrap();
        assert_eq!(idx.len(), 10);
        assert!(idx.floor(-1).is_none());
    }

    #[test]
    fn time_index_truncates_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut idx = TimeIndex::open(&path, 12 * 10).unwrap();
        for i in 0..5 {
            idx.append(TimeEntry {
                timestamp: 100 + i,
                relative_offset: i as u32,
            })
            .unwrap();
        }
        idx.truncate_to_key(103);
        assert_eq!(idx.len(), 3);
        idx.trim().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 36);
    }
}
