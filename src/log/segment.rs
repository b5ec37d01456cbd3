//! One log segment: `<base>.log` plus its `.index` and `.timeindex`, named by
//! the 20-digit base offset as Kafka names them.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use super::batch::{BatchHeader, BatchIter, HEADER_SIZE};
use super::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use super::txn_index::{TxnIndex, TXN_INDEX_SUFFIX};

pub fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

pub struct Segment {
    pub base_offset: i64,
    /// Shared with in-flight fetches so a deleted segment stays readable.
    log: Arc<File>,
    log_path: PathBuf,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    /// The transactions aborted by markers in this segment.
    pub txn_index: TxnIndex,
    index_interval_bytes: u32,
    bytes_since_index: u32,
    /// Largest record timestamp in the segment and the last offset of the
    /// batch carrying it (-1 when empty).
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: i64,
    /// Next offset after the last batch (base_offset when empty).
    pub next_offset: i64,
    /// When this segment was created or loaded (Kafka's `LogSegment.created`):
    /// time-based rolling counts from here while no batch has a timestamp.
    pub created_ms: i64,
    /// The log file's modification time when loaded, `created_ms` for a new
    /// segment: what retention falls back to without timestamps.
    pub file_time_ms: i64,
    /// Max timestamp of the first batch (Kafka's `rollingBasedTimestamp`),
    /// which time-based rolling measures from (`segment.ms`).
    pub first_batch_timestamp: Option<i64>,
    /// Subtracted from `segment.ms` for this segment only, chosen when it is
    /// created or loaded (`segment.jitter.ms`), so that partitions created
    /// together do not all roll at once.
    pub roll_jitter_ms: i64,
}

/// Whatever a scan of a segment's batches found.
pub struct ScannedBatch {
    pub position: u64,
    pub header: BatchHeader,
}

impl Segment {
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u32,
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> io::Result<Self> {
        Self::open_files(dir, base_offset, index_max_bytes, index_interval_bytes, now_ms, true)
    }

    fn open_files(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u32,
        index_interval_bytes: u32,
        now_ms: i64,
        create: bool,
    ) -> io::Result<Self> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(&log_path)?;
        let size = log.metadata()?.len();
        let offset_index = OffsetIndex::open(&dir.join(file_name(base_offset, "index")), index_max_bytes)?;
        let time_index = TimeIndex::open(&dir.join(file_name(base_offset, "timeindex")), index_max_bytes)?;
        let txn_index = TxnIndex::open(&dir.join(file_name(base_offset, TXN_INDEX_SUFFIX)))?;
        Ok(Segment {
            base_offset,
            log: Arc::new(log),
            log_path,
            size,
            offset_index,
            time_index,
            txn_index,
            index_interval_bytes,
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            created_ms: now_ms,
            file_time_ms: now_ms,
            first_batch_timestamp: None,
            roll_jitter_ms: 0,
        })
    }

    /// Opens an existing segment without reading its body (a clean start,
    /// or a segment below the recovery point): the indexes are trusted,
    /// the largest timestamp comes from the time index's last entry, and
    /// the next offset is `next_base` (the following segment's base) or,
    /// for the last segment (`next_base` = None), found by walking batch
    /// headers from the offset index's last entry to the end of the file.
    /// Returns the segment and whether its indexes look sane; an insane one
    /// must be recovered instead.
    pub fn load(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u32,
        index_interval_bytes: u32,
        now_ms: i64,
        next_base: Option<i64>,
    ) -> io::Result<(Self, bool)> {
        let mut seg = Self::open_files(dir, base_offset, index_max_bytes, index_interval_bytes, now_ms, false)?;
        seg.file_time_ms = modified_ms(&seg.log_path).unwrap_or(now_ms);
        if !seg.indexes_look_sane() {
            return Ok((seg, false));
        }
        if let Some(last) = seg.time_index.last() {
            seg.max_timestamp = last.timestamp;
            seg.offset_of_max_timestamp = base_offset + last.relative_offset as i64;
        }
        match next_base {
            Some(next) => seg.next_offset = next,
            None => {
                let last_entry = seg.offset_index.last();
                let start = last_entry.map_or(0, |e| e.position as u64);
                // The batch the entry points at starts at its offset: the
                // end is at least there even if that batch is torn.
                seg.next_offset = base_offset + last_entry.map_or(0, |e| e.relative_offset as i64);
                let mut end = start;
                seg.bytes_since_index = 0;
                loop {
                    let found = seg.scan_from(end, |_| true);
                    let Ok(Some((pos, h))) = found else { break };
                    if pos + h.total_size() as u64 > seg.size || h.base_offset < seg.next_offset {
                        break;
                    }
                    seg.observe(pos, &h, false)?;
                    end = pos + h.total_size() as u64;
                }
                if end < seg.size {
                    tracing::warn!(segment = %seg.log_path.display(), position = end, "cutting a torn log tail");
                    seg.log.set_len(end)?;
                    seg.size = end;
                }
            }
        }
        // Only the active segment rolls by its first batch's timestamp (a
        // sealed one recomputes it if a truncation makes it active again).
        seg.first_batch_timestamp = None;
        if next_base.is_none() && seg.size > 0 {
            let mut buf = [0u8; HEADER_SIZE];
            seg.log.read_exact_at(&mut buf, 0)?;
            if let Ok(h) = BatchHeader::parse(&buf) {
                seg.first_batch_timestamp = Some(h.max_timestamp);
            }
        }
        (&*seg.log).seek(SeekFrom::Start(seg.size))?;
        Ok((seg, true))
    }

    /// Opens an existing segment and recovers it: batches are walked (with
    /// CRC checks when `verify` is set), a torn or corrupt tail is cut, and
    /// the indexes are rebuilt when `rebuild_indexes` is set or they disagree
    /// with the log. Calls `visit` for every good batch, in order.
    #[allow(clippy::too_many_arguments)]
    pub fn recover(
        dir: &Path,
        base_offset: i64,
        index_max_bytes: u32,
        index_interval_bytes: u32,
        now_ms: i64,
        verify: bool,
        mut rebuild_indexes: bool,
        visit: &mut dyn FnMut(&ScannedBatch),
    ) -> io::Result<Self> {
        let mut seg = Self::open_files(dir, base_offset, index_max_bytes, index_interval_bytes, now_ms, false)?;
        if let Some(ms) = modified_ms(&seg.log_path) {
            seg.file_time_ms = ms;
        }
        if !rebuild_indexes && !seg.indexes_look_sane() {
            tracing::warn!(segment = %seg.log_path.display(), "index disagrees with the log, rebuilding");
            rebuild_indexes = true;
        }
        if rebuild_indexes {
            seg.offset_index.clear();
            seg.time_index.clear();
        }
        let valid = if seg.size == 0 {
            0
        } else {
            // SAFETY: read-only view of a file this broker owns; the log is
            // not written while it is being recovered.
            let map = unsafe { Mmap::map(&*seg.log)? };
            let mut it = BatchIter::new(&map, verify);
            let mut prev_next = base_offset;
            let mut valid = 0usize;
            for (pos, header) in it.by_ref() {
                if header.base_offset < prev_next && pos > 0 || header.last_offset() < header.base_offset {
                    tracing::warn!(segment = %seg.log_path.display(), position = pos, "offsets go backwards, cutting the log here");
                    break;
                }
                prev_next = header.last_offset() + 1;
                seg.observe(pos as u64, &header, rebuild_indexes)?;
                visit(&ScannedBatch {
                    position: pos as u64,
                    header,
                });
                valid = pos + header.total_size();
            }
            if let Some(err) = &it.error {
                tracing::warn!(segment = %seg.log_path.display(), position = valid, error = %err, "cutting a torn or corrupt log tail");
            }
            valid as u64
        };
        if valid < seg.size {
            seg.log.set_len(valid)?;
            seg.size = valid;
            let cut = seg.next_offset;
            seg.offset_index.truncate_to_key(cut - base_offset);
        }
        // Appends write through the file's cursor: put it at the end of the
        // valid data (a freshly opened file has it at 0).
        (&*seg.log).seek(SeekFrom::Start(seg.size))?;
        Ok(seg)
    }

    /// Index entries must point inside the log, in order.
    fn indexes_look_sane(&self) -> bool {
        if let Some(last) = self.offset_index.last() {
            if last.position as u64 >= self.size.max(1) {
                return false;
            }
        }
        if let Some(last) = self.time_index.last() {
            if last.relative_offset as i64 > i64::from(u32::MAX) {
                return false;
            }
        }
        true
    }

    /// Bookkeeping for one batch at `position` (append and recovery share it).
    fn observe(&mut self, position: u64, h: &BatchHeader, index: bool) -> io::Result<()> {
        let size = h.total_size() as u32;
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        self.next_offset = h.last_offset() + 1;
        if index && (self.bytes_since_index >= self.index_interval_bytes || position == 0) {
            self.offset_index.append(OffsetEntry {
                relative_offset: (h.base_offset - self.base_offset) as u32,
                position: position as u32,
            })?;
            self.time_index.append(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: (self.offset_of_max_timestamp - self.base_offset) as u32,
            })?;
            self.bytes_since_index = 0;
        }
        self.bytes_since_index = self.bytes_since_index.saturating_add(size);
        Ok(())
    }

    /// Appends one batch. `head` replaces the batch's first bytes (base
    /// offset, length, leader epoch and anything else rewritten); `tail` is
    /// the client's bytes after them, written without copying.
    pub fn append(&mut self, header: &BatchHeader, head: &[u8], tail: &[u8]) -> io::Result<()> {
        debug_assert!(header.base_offset >= self.next_offset, "offsets must increase");
        let position = self.size;
        let mut bufs = [IoSlice::new(head), IoSlice::new(tail)];
        let mut slices: &mut [IoSlice] = &mut bufs;
        let total = head.len() + tail.len();
        let mut written = 0;
        let mut file = &*self.log;
        while written < total {
            let n = file.write_vectored(slices)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "log write returned 0"));
            }
            written += n;
            IoSlice::advance_slices(&mut slices, n);
        }
        self.size += total as u64;
        self.observe(position, header, true)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn file(&self) -> Arc<File> {
        self.log.clone()
    }

    pub fn offset_index_full(&self) -> bool {
        self.offset_index.is_full()
    }

    /// Kafka's `TimeIndex.isFull`: one slot stays free for the entry a
    /// segment may add when it stops being active.
    pub fn time_index_full(&self) -> bool {
        self.time_index.len() + 1 >= self.time_index.capacity()
    }

    /// File position of the first batch whose last offset is >= `offset`,
    /// found by the offset index and a short scan of batch headers.
    pub fn position_of(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let start = self
            .offset_index
            .floor(offset - self.base_offset)
            .map_or(0, |e| e.position as u64);
        self.scan_from(start, |h| h.last_offset() >= offset)
    }

    /// First batch (from `start`) for which `stop` holds.
    pub fn scan_from(
        &self,
        mut position: u64,
        mut stop: impl FnMut(&BatchHeader) -> bool,
    ) -> io::Result<Option<(u64, BatchHeader)>> {
        let mut buf = [0u8; HEADER_SIZE];
        while position + HEADER_SIZE as u64 <= self.size {
            self.log.read_exact_at(&mut buf, position)?;
            let header = BatchHeader::parse(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if stop(&header) {
                return Ok(Some((position, header)));
            }
            position += header.total_size() as u64;
        }
        Ok(None)
    }

    /// Calls `f` with the header of every batch from `position` to the end,
    /// in order, stopping at the first incomplete one. Walks a sequential
    /// mapping rather than reading header by header: a pass over a whole
    /// log (rebuilding producer state or epochs) is then one streaming read
    /// instead of a synchronous small read per batch.
    /// `f` also gets the batch's bytes (markers are read from them).
    pub fn for_each_header_from(&self, position: u64, f: &mut dyn FnMut(&BatchHeader, &[u8])) -> io::Result<()> {
        if position >= self.size {
            return Ok(());
        }
        // SAFETY: read-only view of a file this broker owns; the caller holds
        // the partition, so the segment is not written meanwhile.
        let map = unsafe { Mmap::map(&*self.log)? };
        let end = (self.size as usize).min(map.len());
        if position as usize >= end {
            return Ok(());
        }
        map.advise(memmap2::Advice::Sequential)?;
        let batches = &map[position as usize..end];
        for (at, h) in BatchIter::new(batches, false) {
            f(&h, &batches[at..at + h.total_size()]);
        }
        Ok(())
    }

    /// Position of the first batch whose max timestamp is >= `timestamp`.
    pub fn position_of_timestamp(&self, timestamp: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let start_offset = self
            .time_index
            .floor(timestamp - 1)
            .map_or(self.base_offset, |e| self.base_offset + e.relative_offset as i64);
        let start = self
            .offset_index
            .floor(start_offset - self.base_offset)
            .map_or(0, |e| e.position as u64);
        self.scan_from(start, |h| h.max_timestamp >= timestamp)
    }

    pub fn read_at(&self, position: u64, len: usize) -> io::Result<bytes::Bytes> {
        let mut buf = vec![0u8; len];
        self.log.read_exact_at(&mut buf, position)?;
        Ok(bytes::Bytes::from(buf))
    }

    /// Removes every batch whose last offset is >= `offset` (a follower
    /// truncating, or recovery), cutting both indexes to the entries below
    /// it and recomputing the largest timestamp from what is left. Returns
    /// the segment's next offset afterwards (the base offset of the first
    /// removed batch, or `offset` when nothing was removed), or `None` when
    /// nothing at or above `offset` was in the segment.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<Option<i64>> {
        let Some((pos, first_cut)) = self.position_of(offset)? else {
            return Ok(None);
        };
        self.log.set_len(pos)?;
        (&*self.log).seek(SeekFrom::Start(pos))?;
        self.size = pos;
        let next = first_cut.base_offset.min(offset).max(self.base_offset);
        let relative = next - self.base_offset;
        self.offset_index
            .truncate_while(|e| e.relative_offset as i64 >= relative);
        self.time_index.truncate_while(|e| e.relative_offset as i64 >= relative);
        self.txn_index.truncate_to(next)?;
        self.next_offset = next;
        // Kafka's LogSegment.truncateTo: the largest timestamp is recomputed
        // over what is left; an emptied segment rolls by its next first batch.
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.first_batch_timestamp = None;
        self.bytes_since_index = 0;
        let mut position = 0;
        while let Some((p, h)) = self.scan_from(position, |_| true)? {
            if self.first_batch_timestamp.is_none() {
                self.first_batch_timestamp = Some(h.max_timestamp);
            }
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            position = p + h.total_size() as u64;
        }
        let last_indexed = self.offset_index.last().map_or(0, |e| e.position as u64);
        self.bytes_since_index = (self.size - last_indexed.min(self.size)) as u32;
        Ok(Some(next))
    }

    /// The segment stops being active: cut its indexes to their entries.
    /// No fsync here: a roll happens inside an append, and durability comes
    /// from the page cache and replication unless `flush.*` asks for more
    /// (Kafka flushes rolled segments in the background for the same reason).
    pub fn seal(&mut self) -> io::Result<()> {
        // Kafka's onBecomeInactiveSegment: a last time-index entry carries
        // the segment's largest timestamp, so a start that reads no log body
        // still knows it (retention, ListOffsets). The time index always
        // keeps a slot free for it.
        if self.max_timestamp >= 0 {
            self.time_index.append(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: (self.offset_of_max_timestamp - self.base_offset) as u32,
            })?;
        }
        self.offset_index.trim()?;
        self.time_index.trim()
    }

    /// The files a background flush of this (sealed) segment must fsync
    /// (the transaction index only exists once a transaction aborted here).
    pub fn sync_files(&self) -> (Arc<File>, [PathBuf; 3]) {
        (
            self.log.clone(),
            [
                self.offset_index.path().to_path_buf(),
                self.time_index.path().to_path_buf(),
                self.txn_index.path().to_path_buf(),
            ],
        )
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn flush(&self) -> io::Result<()> {
        self.log.sync_data()?;
        self.offset_index.flush()?;
        self.time_index.flush()?;
        self.txn_index.flush()
    }

    pub fn delete(self) -> io::Result<()> {
        let paths = [
            self.log_path.clone(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ];
        drop(self);
        for p in paths {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A file's modification time in ms since the epoch (a stat, no read).
fn modified_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}
