//! The log of one partition: an ordered set of segments, the log start
//! offset, producer state and the leader-epoch history, with append, read,
//! roll, retention and recovery. Callers serialize access per partition.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::batch::{self, BatchError, BatchHeader, ATTR_TIMESTAMP_TYPE_LOG_APPEND, HEADER_SIZE};
use super::config::LogConfig;
use super::control::{self, EndTxnMarker};
use super::epoch_cache::LeaderEpochCache;
use super::producer_state::{
    ActiveProducer, BatchMetadata, Check, CompletedTxn, ProducerStateManager, VerificationGuard,
};
use super::roll::{self, ActiveSegment, RollParams};
use super::segment::Segment;
use super::txn_index::AbortedTxn;
use super::{producer_snapshot, validate, LogError};

/// The per-partition log start offset file of fjord before the per-dir
/// `log-start-offset-checkpoint`: still read when present (upgrades).
pub(crate) const LEGACY_LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// What the log directory's checkpoints and marker say about a log being
/// opened (Kafka's `LogLoader` inputs).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadParams {
    /// The broker shut down cleanly (the marker was there).
    pub clean_shutdown: bool,
    /// From `recovery-point-offset-checkpoint`: everything below was
    /// flushed. Missing means 0 (recover everything).
    pub recovery_point: Option<i64>,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
}

/// The fsyncs that make a rolled segment durable, taken out of the
/// partition lock (Kafka flushes rolled segments from its scheduler):
/// `PartitionLog::rolled_flush` under the lock, `run` outside it, then
/// `PartitionLog::mark_flushed` under the lock again.
#[derive(Debug)]
pub struct FlushJob {
    dir: PathBuf,
    logs: Vec<Arc<File>>,
    indexes: Vec<PathBuf>,
    /// The new recovery point once every file is synced.
    pub up_to: i64,
    generation: u64,
}

impl FlushJob {
    /// Fsyncs the rolled segments, their indexes and the producer snapshot
    /// taken at the roll. A file deleted meanwhile (retention) is skipped.
    pub fn run(&self) -> io::Result<()> {
        for f in &self.logs {
            f.sync_data()?;
        }
        for p in &self.indexes {
            match File::open(p) {
                Ok(f) => f.sync_all()?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        producer_snapshot::sync(&self.dir, self.up_to)?;
        super::checkpoint::sync_dir(&self.dir)
    }
}

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    pub duplicate: bool,
    /// The leader epoch the batches were written in (a follower's: that of
    /// its last batch; -1 when it appended nothing), so an acks=all wait
    /// watches the epoch of the append itself.
    pub leader_epoch: i32,
}

/// A byte range of one segment file to return to a fetcher; the read
/// itself happens after the partition lock is released.
#[derive(Debug)]
pub struct ReadPlan {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
}

impl ReadPlan {
    pub fn read(&self) -> io::Result<Bytes> {
        read_uninit(&self.file, self.position, self.len)
    }
}

pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    producers: ProducerStateManager,
    epochs: LeaderEpochCache,
    /// Everything below is on disk (fsynced): recovery after a crash starts
    /// here (Kafka's `recoveryPoint`).
    recovery_point: i64,
    /// Bumped by every truncation, so a flush planned before one cannot
    /// move the recovery point over data written after it.
    generation: u64,
    unflushed_messages: i64,
    /// Segments that opening this log had to recover (CRC-check).
    recovered_segments: usize,
    /// Set by `close`: later appends are refused, so what the shutdown
    /// checkpointed stays the whole log (a request still in flight when the
    /// broker stops gets an error instead of a write nobody checkpoints).
    closed: bool,
}

impl PartitionLog {
    /// Opens a partition directory, creating it if needed, as Kafka's
    /// `LogLoader` does. After a clean shutdown whose recovery point is the
    /// log end offset no segment body is read: indexes are trusted, the
    /// producer state comes from the snapshot at the log end, the epochs
    /// from `leader-epoch-checkpoint`, and only the last segment's batch
    /// headers after its last index entry are walked to find the end.
    /// Otherwise the segments from the recovery point on are recovered
    /// (CRC-checked, indexes rebuilt, a torn or corrupt tail cut and every
    /// later segment deleted), and producer state is rebuilt from the
    /// newest snapshot at or below the recovery point plus the batch
    /// headers after it.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64, load: LoadParams) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<i64> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            }
        }
        bases.sort_unstable();
        let (epochs, epochs_checkpointed) = LeaderEpochCache::open(dir)?;
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments: BTreeMap::new(),
            log_start_offset: 0,
            producers: ProducerStateManager::default(),
            epochs,
            recovery_point: 0,
            generation: 0,
            unflushed_messages: 0,
            recovered_segments: 0,
            closed: false,
        };
        let legacy_start = std::fs::read_to_string(dir.join(LEGACY_LOG_START_OFFSET_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let start_checkpoint = load.log_start_offset.max(legacy_start).unwrap_or(0).max(0);
        // Load every segment without reading it; remember the first whose
        // indexes cannot be trusted.
        let mut first_insane = None;
        for (i, &base) in bases.iter().enumerate() {
            let (mut seg, sane) = Segment::load(
                dir,
                base,
                log.config.segment_index_bytes,
                log.config.index_interval_bytes,
                now_ms,
                bases.get(i + 1).copied(),
            )?;
            if !sane {
                tracing::warn!(segment = %seg.log_path().display(), "index disagrees with the log");
                first_insane = first_insane.or(Some(base));
            }
            // Kafka draws a fresh jitter for every segment it loads, too.
            seg.roll_jitter_ms = roll::random_segment_jitter_ms(log.config.segment_jitter_ms, log.config.segment_ms);
            log.segments.insert(base, seg);
        }
        if log.segments.is_empty() {
            let seg = log.create_segment(start_checkpoint, now_ms)?;
            log.segments.insert(start_checkpoint, seg);
        }
        let loaded_end = log.log_end_offset();
        // A clean shutdown by a version that kept no recovery-point
        // checkpoint fsynced every segment at close: trust it as Kafka's
        // LogLoader trusts any clean shutdown.
        let checkpointed_rp = match load.recovery_point {
            Some(rp) => rp,
            None if load.clean_shutdown => loaded_end,
            None => 0,
        };
        let trusted = load.clean_shutdown && checkpointed_rp >= loaded_end && first_insane.is_none();
        let recover_from = if trusted {
            None
        } else {
            Some(checkpointed_rp.min(loaded_end).min(first_insane.unwrap_or(i64::MAX)))
        };
        if let Some(from) = recover_from {
            log.recover_from(from, now_ms)?;
        }
        let leo = log.log_end_offset();
        log.recovery_point = if trusted { leo } else { checkpointed_rp.min(leo) };
        let first_base = *log.segments.keys().next().expect("at least one segment");
        log.log_start_offset = start_checkpoint.max(first_base).min(leo);
        // A log written before the epoch checkpoint existed rebuilds it once,
        // from batch headers, in the same pass as the producer state.
        let rebuild_epochs = !epochs_checkpointed && leo > log.log_start_offset;
        if rebuild_epochs {
            tracing::info!(dir = %dir.display(), "rebuilding leader epochs from batch headers");
        }
        log.load_state(log.recovery_point, rebuild_epochs)?;
        log.epochs.truncate_from_end(leo)?;
        log.epochs.truncate_from_start(log.log_start_offset)?;
        Ok(log)
    }

    /// Recovers every segment holding offsets at or above `from`, in order;
    /// a segment cut short by corruption ends the log (later segments are
    /// deleted), as in Kafka's `LogLoader.recoverLog`.
    fn recover_from(&mut self, from: i64, now_ms: i64) -> Result<(), LogError> {
        // Segments holding an offset >= `from`; the last segment's end was
        // found from its batch headers, so a tail written after the
        // recovery point (complete or torn) makes it qualify.
        let to_recover: Vec<i64> = self
            .segments
            .values()
            .filter(|s| s.next_offset > from)
            .map(|s| s.base_offset)
            .collect();
        let last = *self.segments.keys().next_back().expect("at least one segment");
        let mut cut = false;
        for base in to_recover {
            let old = self.segments.remove(&base).expect("listed above");
            if cut {
                tracing::warn!(segment = %old.log_path().display(), "deleting a segment after a corrupt one");
                old.delete()?;
                continue;
            }
            let size_before = old.size();
            let path = old.log_path().to_path_buf();
            drop(old);
            tracing::info!(segment = %path.display(), "recovering segment");
            let epochs = &mut self.epochs;
            let mut epoch_error = None;
            let mut seg = Segment::recover(
                &self.dir,
                base,
                self.config.segment_index_bytes,
                self.config.index_interval_bytes,
                now_ms,
                true,
                true,
                &mut |b| {
                    // Kafka's LogSegment.recover: only epochs above the latest.
                    let epoch = b.header.partition_leader_epoch;
                    if epochs.latest_epoch().is_none_or(|l| epoch > l) {
                        if let Err(e) = epochs.assign(epoch, b.header.base_offset) {
                            epoch_error.get_or_insert(e);
                        }
                    }
                },
            )?;
            if let Some(e) = epoch_error {
                return Err(e);
            }
            self.recovered_segments += 1;
            cut = seg.size() < size_before;
            if base != last && !cut {
                seg.seal()?;
            }
            seg.roll_jitter_ms = roll::random_segment_jitter_ms(self.config.segment_jitter_ms, self.config.segment_ms);
            self.segments.insert(base, seg);
        }
        Ok(())
    }

    /// Rebuilds producer state: the newest snapshot at or below `at_most`
    /// (snapshots above the log end are deleted), then the batch headers
    /// after it; producers whose batches all lie below the log start are
    /// dropped. With `rebuild_epochs` the same pass over the headers, from
    /// the log start, assigns the epochs too.
    fn load_state(&mut self, at_most: i64, rebuild_epochs: bool) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        producer_snapshot::delete_above(&self.dir, leo)?;
        let (snapshot_end, state) = match producer_snapshot::load_latest_at_or_below(&self.dir, at_most.min(leo))? {
            Some((at, state)) => (at.max(self.log_start_offset), state),
            None => (self.log_start_offset, ProducerStateManager::default()),
        };
        self.producers = state;
        // Aborted transactions at or above `at_most` are indexed again from
        // their markers below: what the files hold there may be partial.
        for seg in self.segments.values_mut() {
            seg.txn_index.truncate_to(at_most)?;
        }
        let from = if rebuild_epochs {
            self.log_start_offset
        } else {
            snapshot_end
        };
        if from < leo {
            let producers = &mut self.producers;
            let epochs = &mut self.epochs;
            let mut epoch_error = None;
            let mut aborted = Vec::new();
            scan_headers(&self.segments, from, |h, bytes| {
                if rebuild_epochs && epochs.latest_epoch().is_none_or(|l| h.partition_leader_epoch > l) {
                    if let Err(e) = epochs.assign(h.partition_leader_epoch, h.base_offset) {
                        epoch_error.get_or_insert(e);
                    }
                }
                if h.base_offset < snapshot_end {
                    return;
                }
                let Some(marker) = h.is_control().then(|| read_marker(h, bytes)).flatten() else {
                    producers.update(h);
                    return;
                };
                if let Some(done) = producers.complete_txn(h, marker) {
                    if done.aborted && h.base_offset >= at_most {
                        aborted.push(aborted_entry(producers, &done));
                    }
                }
            })?;
            if let Some(e) = epoch_error {
                return Err(e);
            }
            for txn in aborted {
                if let Some((_, seg)) = self.segments.range_mut(..=txn.last_offset).next_back() {
                    seg.txn_index.append(txn)?;
                }
            }
        }
        self.producers.truncate_head(self.log_start_offset);
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has an active segment")
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends one validated client batch (Produce), assigning offsets.
    pub fn append(&mut self, records: &Bytes, leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_from(records, leader_epoch, now_ms, true)
    }

    /// Appends a coordinator's own batch (Kafka's `AppendOrigin.COORDINATOR`):
    /// as `append`, but a transactional batch written for a producer (a
    /// TxnOffsetCommit) carries no sequence, so none is checked.
    pub fn append_as_coordinator(
        &mut self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_from(records, leader_epoch, now_ms, false)
    }

    fn append_from(
        &mut self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
        check_sequence: bool,
    ) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let header = batch::single_batch(records)?;
        if header.is_control() {
            // Kafka's LogValidator: only a transaction coordinator writes markers.
            return Err(BatchError::Invalid("control batches may only be written by a transaction coordinator").into());
        }
        if records.len() > self.config.max_message_bytes as usize {
            return Err(LogError::RecordTooLarge {
                size: records.len(),
                max: self.config.max_message_bytes,
            });
        }
        let partition = self.dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        validate::check_records(records, &header, &self.config, &partition, now_ms)?;
        if check_sequence {
            if let Check::Duplicate(m) = self.producers.check(&header)? {
                return Ok(self.duplicate_info(m, leader_epoch));
            }
        }
        let base_offset = self.log_end_offset();
        // Rolling judges the batch by the timestamp it will be stored with.
        let max_timestamp = if self.config.log_append_time {
            now_ms
        } else {
            header.max_timestamp
        };
        let last_offset = base_offset + i64::from(header.last_offset_delta);
        self.maybe_roll(records.len(), max_timestamp, last_offset, now_ms)?;

        // Rewrite only what lives outside the CRC (base offset, leader
        // epoch), unless LogAppendTime also changes attributes and max
        // timestamp, which are inside it.
        let mut head = [0u8; HEADER_SIZE];
        head.copy_from_slice(&records[..HEADER_SIZE]);
        head[0..8].copy_from_slice(&base_offset.to_be_bytes());
        head[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        let mut log_append_time_ms = -1;
        if self.config.log_append_time {
            log_append_time_ms = now_ms;
            let attributes = header.attributes | ATTR_TIMESTAMP_TYPE_LOG_APPEND;
            head[21..23].copy_from_slice(&attributes.to_be_bytes());
            head[35..43].copy_from_slice(&now_ms.to_be_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&head[21..]), &records[HEADER_SIZE..]);
            head[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        let stored = BatchHeader::parse(&head)?;
        let stored = BatchHeader { base_offset, ..stored };
        self.store(&stored, &head, &records[HEADER_SIZE..], None)?;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: stored.last_offset(),
            log_append_time_ms,
            log_start_offset: self.log_start_offset,
            duplicate: false,
            leader_epoch,
        })
    }

    /// Appends batches fetched from the leader (Kafka's `appendAsFollower`):
    /// stored byte for byte, with the offsets and leader epochs the leader
    /// gave them. Every batch must be whole and pass its CRC and offsets
    /// must increase. A first batch starting below the log end offset is
    /// `LogError::UnexpectedAppendOffset` carrying that first offset (the
    /// fetcher refetches, or, on an empty log, starts it there with
    /// `truncate_fully_and_start_at`, as Kafka's fetcher does); one starting
    /// above it is accepted, as Kafka accepts the gaps of a compacted
    /// leader log. A partial batch at the end (a fetch response
    /// cut at `max_bytes`) is left out. The epoch of each batch goes into
    /// the epoch cache and producer state is updated without sequence
    /// checks (the leader made them). No size limit applies but the
    /// segment's: the leader accepted the records. Rolls like `append`.
    /// Returns the first and last offset appended (an empty `records`
    /// appends nothing and returns `base_offset` = log end offset,
    /// `last_offset` = log end offset - 1).
    pub fn append_as_follower(&mut self, records: &Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let leo = self.log_end_offset();
        let mut headers: Vec<BatchHeader> = Vec::new();
        let mut valid = 0usize;
        let mut max_timestamp = -1;
        while records.len() - valid >= HEADER_SIZE {
            let header = BatchHeader::parse(&records[valid..])?;
            if header.total_size() > records.len() - valid {
                break;
            }
            let header = batch::validate(&records[valid..valid + header.total_size()])?;
            let expected = headers.last().map_or(leo, |h| h.last_offset() + 1);
            if headers.is_empty() && header.base_offset < leo {
                return Err(LogError::UnexpectedAppendOffset {
                    first: header.base_offset,
                    log_end: leo,
                });
            }
            if header.base_offset < expected {
                return Err(LogError::Corrupt(format!(
                    "offsets go backwards in a follower append: batch at {} after {}",
                    header.base_offset,
                    expected - 1
                )));
            }
            max_timestamp = max_timestamp.max(header.max_timestamp);
            valid += header.total_size();
            headers.push(header);
        }
        let Some(last) = headers.last().copied() else {
            return Ok(AppendInfo {
                base_offset: leo,
                last_offset: leo - 1,
                log_append_time_ms: -1,
                log_start_offset: self.log_start_offset,
                duplicate: false,
                leader_epoch: -1,
            });
        };
        if valid as u64 > self.config.segment_bytes {
            return Err(LogError::RecordTooLarge {
                size: valid,
                max: self.config.segment_bytes.min(i32::MAX as u64) as i32,
            });
        }
        // Kafka rolls once for the whole set, which then shares a segment.
        self.maybe_roll(valid, max_timestamp, last.last_offset(), now_ms)?;
        let mut position = 0;
        for h in &headers {
            let bytes = &records[position..position + h.total_size()];
            let marker = if h.is_control() { read_marker(h, bytes) } else { None };
            self.store(h, &bytes[..HEADER_SIZE], &bytes[HEADER_SIZE..], marker)?;
            position += h.total_size();
        }
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset: headers[0].base_offset,
            last_offset: last.last_offset(),
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            duplicate: false,
            leader_epoch: last.partition_leader_epoch,
        })
    }

    /// Appends a transaction marker written by the transaction coordinator
    /// (WriteTxnMarkers; Kafka's `AppendOrigin.COORDINATOR`): `batch` is a
    /// marker batch from [`control::marker_batch`]. A marker from a fenced
    /// producer epoch or an older coordinator is refused. Its producer's
    /// open transaction here ends; an aborted one goes into the segment's
    /// transaction index.
    pub fn append_marker(&mut self, batch: &Bytes, leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let header = batch::single_batch(batch)?;
        let marker = control::parse_marker(&header, batch)?;
        self.producers.check_marker(&header, marker)?;
        let base_offset = self.log_end_offset();
        self.maybe_roll(batch.len(), header.max_timestamp, base_offset, now_ms)?;
        // Base offset and leader epoch lie outside the CRC.
        let mut head = [0u8; HEADER_SIZE];
        head.copy_from_slice(&batch[..HEADER_SIZE]);
        head[0..8].copy_from_slice(&base_offset.to_be_bytes());
        head[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        let stored = BatchHeader {
            base_offset,
            partition_leader_epoch: leader_epoch,
            ..header
        };
        self.store(&stored, &head, &batch[HEADER_SIZE..], Some(marker))?;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: base_offset,
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            duplicate: false,
            leader_epoch,
        })
    }

    /// Stores one batch at the log end: its leader epoch, the bytes, and
    /// the producer state (a marker ends its producer's transaction).
    fn store(
        &mut self,
        h: &BatchHeader,
        head: &[u8],
        body: &[u8],
        marker: Option<EndTxnMarker>,
    ) -> Result<(), LogError> {
        self.epochs.assign(h.partition_leader_epoch, h.base_offset)?;
        self.active_mut().append(h, head, body)?;
        match marker {
            Some(m) => self.complete_txn(h, m)?,
            None => self.producers.update(h),
        }
        self.unflushed_messages += h.records_count as i64;
        Ok(())
    }

    /// Ends the transaction `marker` closes; an aborted one is added to the
    /// transaction index of the segment holding the marker.
    fn complete_txn(&mut self, h: &BatchHeader, marker: EndTxnMarker) -> Result<(), LogError> {
        let Some(done) = self.producers.complete_txn(h, marker) else {
            return Ok(());
        };
        if done.aborted {
            let entry = aborted_entry(&self.producers, &done);
            if let Some((_, seg)) = self.segments.range_mut(..=h.base_offset).next_back() {
                seg.txn_index.append(entry)?;
            }
        }
        Ok(())
    }

    /// The first offset of the oldest transaction still open here: a
    /// read_committed consumer reads no further (the last stable offset is
    /// this or the high watermark, whichever is lower).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers.first_unstable_offset()
    }

    /// The aborted transactions a read_committed fetch of
    /// `[fetch_offset, upper_bound)` must tell the consumer about (Kafka's
    /// `collectAbortedTransactions`): from the segment holding
    /// `fetch_offset` on, until an index shows nothing later can overlap.
    pub fn aborted_transactions(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        let floor = self
            .segments
            .range(..=fetch_offset)
            .next_back()
            .map_or(fetch_offset, |(b, _)| *b);
        let mut out = Vec::new();
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            let found = seg.txn_index.collect(fetch_offset, upper_bound);
            out.extend(found.aborted);
            if found.complete {
                break;
            }
        }
        out
    }

    fn check_open(&self) -> Result<(), LogError> {
        if self.closed {
            return Err(LogError::Io(io::Error::other(format!(
                "log {} is closed",
                self.dir.display()
            ))));
        }
        Ok(())
    }

    fn duplicate_info(&self, m: BatchMetadata, leader_epoch: i32) -> AppendInfo {
        AppendInfo {
            base_offset: m.first_offset,
            last_offset: m.last_offset,
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            duplicate: true,
            leader_epoch,
        }
    }

    /// Rolls before appending when Kafka's `UnifiedLog.maybeRoll` would:
    /// `LogSegment.shouldRoll` over the batch about to be written.
    fn maybe_roll(
        &mut self,
        batch_size: usize,
        max_timestamp: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let active = self.active();
        let state = ActiveSegment {
            base_offset: active.base_offset,
            size_bytes: active.size(),
            rolling_based_timestamp: active.first_batch_timestamp,
            created_ms: active.created_ms,
            roll_jitter_ms: active.roll_jitter_ms,
            offset_index_full: active.offset_index_full(),
            time_index_full: active.time_index_full(),
        };
        let params = RollParams {
            max_segment_ms: self.config.max_segment_ms(),
            max_segment_bytes: self.config.segment_bytes,
            max_timestamp_in_messages: max_timestamp,
            max_offset_in_messages: last_offset,
            messages_size_bytes: batch_size as u64,
            now_ms,
        };
        if let Some(reason) = state.should_roll(&params) {
            tracing::debug!(
                dir = %self.dir.display(),
                ?reason,
                size_bytes = state.size_bytes,
                waited_ms = state.time_waited_for_roll_ms(now_ms, max_timestamp),
                roll_ms = params.max_segment_ms.saturating_sub(state.roll_jitter_ms),
                "rolling segment"
            );
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// A new, empty segment with its own roll jitter (Kafka's
    /// `LogSegment.open` draws `LogConfig.randomSegmentJitter` per segment).
    fn create_segment(&self, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        let mut seg = Segment::create(
            &self.dir,
            base_offset,
            self.config.segment_index_bytes,
            self.config.index_interval_bytes,
            now_ms,
        )?;
        seg.roll_jitter_ms = roll::random_segment_jitter_ms(self.config.segment_jitter_ms, self.config.segment_ms);
        Ok(seg)
    }

    /// Seals the active segment and starts a new one at the log end offset.
    pub fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let next = self.log_end_offset();
        if self.active().base_offset == next {
            return Ok(());
        }
        self.active_mut().seal()?;
        let seg = self.create_segment(next, now_ms)?;
        tracing::debug!(dir = %self.dir.display(), base_offset = next, "rolled segment");
        self.segments.insert(next, seg);
        // Kafka's UnifiedLog.roll: a producer snapshot at the new segment's
        // base, fsynced later with the rolled segment (`rolled_flush`).
        producer_snapshot::write(&self.dir, next, &self.producers, false)?;
        Ok(())
    }

    /// Plans a read of up to `max_bytes` from `offset`, never past
    /// `max_offset` (the high watermark). With `min_one`, a first batch
    /// larger than `max_bytes` is still returned whole (KIP-74).
    pub fn plan_read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
    ) -> Result<Option<ReadPlan>, LogError> {
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: leo,
            });
        }
        if offset >= max_offset {
            return Ok(None);
        }
        let Some((&floor, _)) = self.segments.range(..=offset).next_back() else {
            return Ok(None);
        };
        // Kafka's LocalLog.read: read from the segment holding `offset`; only
        // when it has nothing at or after `offset` move on to the next one.
        // A read never spans segments, even when the one it reads from holds
        // less than `max_bytes`.
        let mut found = None;
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            if let Some(hit) = seg.position_of(offset)? {
                found = Some((seg, hit));
                break;
            }
        }
        let Some((seg, (position, first))) = found else {
            return Ok(None);
        };
        // Upper bound: the end of the segment, or the first batch at or past
        // max_offset when that lies inside it.
        let end = if max_offset >= seg.next_offset {
            seg.size()
        } else {
            seg.position_of(max_offset)?.map_or(seg.size(), |(p, _)| p)
        };
        let available = (end - position) as usize;
        let mut len = available.min(max_bytes);
        if min_one && len < first.total_size() {
            len = first.total_size().min(available);
        }
        if len == 0 {
            return Ok(None);
        }
        Ok(Some(ReadPlan {
            file: seg.file(),
            position,
            len,
        }))
    }

    /// Kafka's ListOffsets by timestamp: the first offset whose record
    /// timestamp is >= `timestamp`, with that record's timestamp.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        for seg in self.segments.values() {
            if seg.max_timestamp < timestamp || seg.next_offset <= self.log_start_offset {
                continue;
            }
            if let Some((pos, header)) = seg.position_of_timestamp(timestamp)? {
                let bytes = seg.read_at(pos, header.total_size())?;
                for (offset, ts) in record_timestamps(&bytes)? {
                    if ts >= timestamp && offset >= self.log_start_offset {
                        return Ok(Some((offset, ts)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Kafka's ListOffsets MAX_TIMESTAMP: the record with the largest timestamp.
    pub fn offset_of_max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let Some(seg) = self
            .segments
            .values()
            .filter(|s| s.max_timestamp >= 0)
            .max_by_key(|s| (s.max_timestamp, std::cmp::Reverse(s.base_offset)))
        else {
            return Ok(None);
        };
        let target = seg.max_timestamp;
        if let Some((pos, header)) = seg.scan_from(0, |h| h.max_timestamp == target)? {
            let bytes = seg.read_at(pos, header.total_size())?;
            if let Some((offset, ts)) = record_timestamps(&bytes)?.into_iter().find(|(_, ts)| *ts == target) {
                return Ok(Some((offset, ts)));
            }
        }
        Ok(None)
    }

    /// DeleteRecords: moves the log start offset forward (never past the
    /// high watermark) and drops whole segments below it.
    pub fn delete_records_before(&mut self, offset: i64, high_watermark: i64) -> Result<i64, LogError> {
        if offset > high_watermark || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: high_watermark,
            });
        }
        if offset > self.log_start_offset {
            self.set_log_start_offset(offset)?;
            self.delete_segments_below_start()?;
        }
        Ok(self.log_start_offset)
    }

    /// Moves the log start offset forward. It becomes durable with the log
    /// dir's `log-start-offset-checkpoint` (written by the `LogManager`
    /// periodically and at shutdown, as Kafka does).
    fn set_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        self.log_start_offset = offset;
        self.producers.truncate_head(offset);
        self.epochs.truncate_from_start(offset)
    }

    fn delete_segments_below_start(&mut self) -> Result<(), LogError> {
        while self.segments.len() > 1 {
            let (&base, seg) = self.segments.iter().next().expect("len > 1");
            if seg.next_offset > self.log_start_offset {
                break;
            }
            let seg = self.segments.remove(&base).expect("present");
            self.delete_segment(seg)?;
        }
        Ok(())
    }

    /// Deletes a segment's files and the producer snapshot at its base
    /// (Kafka's `deleteProducerSnapshots` for deleted segments).
    fn delete_segment(&self, seg: Segment) -> Result<(), LogError> {
        let base = seg.base_offset;
        seg.delete()?;
        match std::fs::remove_file(producer_snapshot::path(&self.dir, base)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Retention by time and size: deletes whole segments from the oldest,
    /// never the only one; an expired active segment is rolled first.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        if !self.config.delete {
            return Ok(0);
        }
        let mut deleted = 0;
        if self.config.retention_ms >= 0 {
            let active_expired = {
                let a = self.active();
                !a.is_empty() && a.max_timestamp >= 0 && now_ms - a.max_timestamp > self.config.retention_ms
            };
            if active_expired {
                self.roll(now_ms)?;
            }
            while self.segments.len() > 1 {
                let seg = self.segments.values().next().expect("len > 1");
                let newest = if seg.max_timestamp >= 0 {
                    seg.max_timestamp
                } else {
                    seg.file_time_ms
                };
                if now_ms - newest <= self.config.retention_ms {
                    break;
                }
                deleted += self.delete_oldest()?;
            }
        }
        if self.config.retention_bytes >= 0 {
            while self.segments.len() > 1 {
                let oldest = self.segments.values().next().expect("len > 1").size();
                if self.size_bytes() - oldest < self.config.retention_bytes as u64 {
                    break;
                }
                deleted += self.delete_oldest()?;
            }
        }
        Ok(deleted)
    }

    fn delete_oldest(&mut self) -> Result<usize, LogError> {
        let (&base, _) = self.segments.iter().next().expect("caller checked len > 1");
        let seg = self.segments.remove(&base).expect("present");
        let next = seg.next_offset;
        tracing::info!(dir = %self.dir.display(), base_offset = base, "deleting segment by retention");
        self.delete_segment(seg)?;
        let new_start = (*self.segments.keys().next().expect("len > 0")).max(next);
        if new_start > self.log_start_offset {
            self.set_log_start_offset(new_start)?;
        }
        Ok(1)
    }

    /// The end offset of `epoch` (the start of the next epoch, or the log end
    /// offset for the latest), as Kafka's `LeaderEpochFileCache.endOffsetFor`
    /// answers OffsetForLeaderEpoch: an epoch above the latest is unknown.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// A leader epoch starts at the current log end offset (Kafka's
    /// `Partition.makeLeader` assigns it before any batch is written).
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        self.epochs.assign(epoch, leo)
    }

    /// The leader-epoch history (OffsetForLeaderEpoch, follower truncation).
    pub fn epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The latest leader epoch that has a start offset in this log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// Everything below this offset is fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// How many segments opening this log had to recover (CRC-check).
    pub fn recovered_segments(&self) -> usize {
        self.recovered_segments
    }

    /// Fsyncs every segment holding data at or above the recovery point and
    /// moves the recovery point to the log end offset.
    pub fn flush(&mut self) -> Result<(), LogError> {
        let floor = self
            .segments
            .range(..=self.recovery_point)
            .next_back()
            .map_or(self.recovery_point, |(b, _)| *b);
        for seg in self.segments.range(floor..).map(|(_, s)| s) {
            seg.flush()?;
        }
        self.unflushed_messages = 0;
        self.recovery_point = self.log_end_offset();
        Ok(())
    }

    /// The fsyncs that would move the recovery point up to the active
    /// segment's base (segments rolled but not yet flushed), if any. Cheap:
    /// call it under the partition lock, `FlushJob::run` outside, then
    /// `mark_flushed`.
    pub fn rolled_flush(&self) -> Option<FlushJob> {
        let active_base = self.active().base_offset;
        if active_base <= self.recovery_point {
            return None;
        }
        let floor = self
            .segments
            .range(..=self.recovery_point)
            .next_back()
            .map_or(self.recovery_point, |(b, _)| *b);
        let mut job = FlushJob {
            dir: self.dir.clone(),
            logs: Vec::new(),
            indexes: Vec::new(),
            up_to: active_base,
            generation: self.generation,
        };
        for seg in self.segments.range(floor..active_base).map(|(_, s)| s) {
            let (log, indexes) = seg.sync_files();
            job.logs.push(log);
            job.indexes.extend(indexes);
        }
        Some(job)
    }

    /// Moves the recovery point up after `job` ran, unless the log was
    /// truncated since it was planned.
    pub fn mark_flushed(&mut self, job: &FlushJob) {
        if job.generation == self.generation && job.up_to > self.recovery_point && job.up_to <= self.log_end_offset() {
            self.recovery_point = job.up_to;
        }
    }

    /// Clean shutdown (Kafka's `UnifiedLog.close`): a producer snapshot at
    /// the log end offset, every unflushed segment fsynced, the active
    /// segment's indexes trimmed with a last time-index entry; the recovery
    /// point becomes the log end offset, so the next clean start reads no
    /// segment body.
    pub fn close(&mut self) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        producer_snapshot::write(&self.dir, leo, &self.producers, true)?;
        self.active_mut().seal()?;
        self.flush()?;
        self.closed = true;
        Ok(())
    }

    /// Kafka's `UnifiedLog.truncateTo`: removes every offset at or above
    /// `offset` (a follower cutting a divergent tail). Segments wholly above
    /// are deleted and the one holding `offset` is cut at the first batch
    /// reaching it (so the new log end offset is `offset` or, when `offset`
    /// falls inside a batch, that batch's base offset), epochs starting at
    /// or after the new end are dropped, producer state is rebuilt from the
    /// newest snapshot at or below it (snapshots above are deleted) plus the
    /// headers after, and the recovery point moves down if above. An
    /// `offset` at or past the log end only truncates the epoch cache (a
    /// leader epoch assigned but never written). `offset` below the first
    /// segment empties the log (`truncate_fully_and_start_at`). Returns
    /// whether anything was removed.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<bool, LogError> {
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: self.log_end_offset(),
            });
        }
        let leo = self.log_end_offset();
        if offset >= leo {
            self.epochs.truncate_from_end(leo)?;
            return Ok(false);
        }
        let first_base = *self.segments.keys().next().expect("at least one segment");
        if offset < first_base {
            self.truncate_fully_and_start_at(offset, now_ms)?;
            return Ok(true);
        }
        tracing::info!(dir = %self.dir.display(), offset, log_end_offset = leo, "truncating log");
        self.generation += 1;
        let above: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in above {
            let seg = self.segments.remove(&base).expect("listed above");
            self.delete_segment(seg)?;
        }
        if self.segments.is_empty() {
            // Only reachable when `offset` == a deleted segment's base below
            // every other; keep the log's invariant of one active segment.
            let seg = self.create_segment(offset, now_ms)?;
            self.segments.insert(offset, seg);
        }
        self.active_mut().truncate_to(offset)?;
        let new_end = self.log_end_offset();
        self.epochs.truncate_from_end(new_end)?;
        self.log_start_offset = self.log_start_offset.min(new_end);
        self.recovery_point = self.recovery_point.min(new_end);
        self.load_state(new_end, false)?;
        Ok(true)
    }

    /// Kafka's `truncateFullyAndStartAt`: deletes every segment, epoch and
    /// producer snapshot and starts an empty log at `offset` (a follower
    /// whose fetch offset fell below the leader's log start offset). The
    /// log start offset, log end offset and recovery point become `offset`.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) -> Result<(), LogError> {
        tracing::info!(dir = %self.dir.display(), offset, "truncating log fully");
        self.generation += 1;
        let all: Vec<i64> = self.segments.keys().copied().collect();
        for base in all {
            let seg = self.segments.remove(&base).expect("listed above");
            self.delete_segment(seg)?;
        }
        let seg = self.create_segment(offset, now_ms)?;
        self.segments.insert(offset, seg);
        self.epochs.clear()?;
        producer_snapshot::delete_all(&self.dir)?;
        self.producers.clear();
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.unflushed_messages = 0;
        Ok(())
    }

    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// See [`ProducerStateManager::in_transaction`].
    pub fn in_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers.in_transaction(producer_id, producer_epoch)
    }

    /// See [`ProducerStateManager::start_verification`].
    pub fn start_verification(&mut self, producer_id: i64, producer_epoch: i16) -> VerificationGuard {
        self.producers.start_verification(producer_id, producer_epoch)
    }

    /// Whether a client's batch may open a transaction here
    /// ([`ProducerStateManager::check_verified`]); checked under the same
    /// lock as the append that follows, which validates the batch (CRC and
    /// all): this reads only the fixed header.
    pub fn check_verified(&self, records: &Bytes, guard: Option<VerificationGuard>) -> Result<(), LogError> {
        let header = BatchHeader::parse(records)?;
        Ok(self.producers.check_verified(&header, guard)?)
    }

    /// The producers this log remembers (DescribeProducers), by id.
    pub fn active_producers(&self) -> Vec<ActiveProducer> {
        self.producers.active_producers()
    }
}

/// Reads `len` bytes at `position` into a fresh buffer without zeroing it
/// first (the fetch path reads megabytes per request).
fn read_uninit(file: &File, position: u64, len: usize) -> io::Result<Bytes> {
    use std::os::fd::AsRawFd;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    let mut filled = 0usize;
    while filled < len {
        // SAFETY: the destination is the vector's spare capacity, at least
        // `len - filled` bytes long; pread only writes into it.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                buf.as_mut_ptr().add(filled).cast(),
                len - filled,
                (position + filled as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment shorter than planned read",
            ));
        }
        filled += n as usize;
    }
    // SAFETY: the loop above initialised exactly `len` bytes.
    unsafe { buf.set_len(len) };
    Ok(Bytes::from(buf))
}

/// Calls `f` with the header (and bytes) of every batch of `segments` whose
/// last offset is at or above `from`, in offset order; only the headers are
/// parsed (a marker's record is read by the caller).
fn scan_headers(
    segments: &BTreeMap<i64, Segment>,
    from: i64,
    mut f: impl FnMut(&BatchHeader, &[u8]),
) -> Result<(), LogError> {
    let floor = segments.range(..=from).next_back().map_or(from, |(b, _)| *b);
    for seg in segments.range(floor..).map(|(_, s)| s) {
        let Some((position, _)) = seg.position_of(from)? else {
            continue;
        };
        seg.for_each_header_from(position, &mut f)?;
    }
    Ok(())
}

/// The index entry of an aborted transaction, with the last stable offset
/// right after its marker.
fn aborted_entry(producers: &ProducerStateManager, done: &CompletedTxn) -> AbortedTxn {
    AbortedTxn {
        producer_id: done.producer_id,
        first_offset: done.first_offset,
        last_offset: done.last_offset,
        last_stable_offset: producers.last_stable_offset_after(done),
    }
}

/// The transaction marker of a control batch; `None` for a control batch
/// of another kind (nothing in a partition log but markers, in practice).
fn read_marker(h: &BatchHeader, bytes: &[u8]) -> Option<EndTxnMarker> {
    match control::parse_marker(h, bytes) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(offset = h.base_offset, error = %e, "control batch that is no transaction marker");
            None
        }
    }
}

/// (offset, timestamp) of every record in one stored batch; decodes and,
/// if needed, decompresses it. Only ListOffsets by timestamp needs this.
fn record_timestamps(batch_bytes: &Bytes) -> Result<Vec<(i64, i64)>, LogError> {
    let mut buf = batch_bytes.clone();
    let set =
        kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).map_err(|e| LogError::Corrupt(e.to_string()))?;
    Ok(set.records.iter().map(|r| (r.offset, r.timestamp)).collect())
}

#[cfg(test)]
#[path = "partition_log_tests.rs"]
mod tests;
