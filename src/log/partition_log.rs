//! The log of one partition: an ordered set of segments, the log start
//! offset, producer state and the leader-epoch history, with append, read,
//! roll, retention and recovery. Callers serialize access per partition.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::batch::{self, BatchHeader, ATTR_TIMESTAMP_TYPE_LOG_APPEND, HEADER_SIZE};
use super::config::LogConfig;
use super::producer_state::{BatchMetadata, Check, ProducerStateManager};
use super::roll::{self, ActiveSegment, RollParams};
use super::segment::Segment;
use super::{validate, LogError};

const LOG_START_OFFSET_FILE: &str = "log-start-offset";

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    pub duplicate: bool,
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
    /// (leader epoch, first offset written in it), ascending.
    epochs: Vec<(i32, i64)>,
    unflushed_messages: i64,
}

impl PartitionLog {
    /// Opens a partition directory, creating it if needed, and recovers it.
    /// `clean` says the broker shut down cleanly, so CRCs need not be re-read.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64, clean: bool) -> Result<Self, LogError> {
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
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments: BTreeMap::new(),
            log_start_offset: 0,
            producers: ProducerStateManager::default(),
            epochs: Vec::new(),
            unflushed_messages: 0,
        };
        let last = bases.last().copied();
        for base in bases {
            let active = Some(base) == last;
            let mut producers = std::mem::take(&mut log.producers);
            let mut epochs = std::mem::take(&mut log.epochs);
            let mut seg = Segment::recover(
                dir,
                base,
                log.config.segment_index_bytes,
                log.config.index_interval_bytes,
                now_ms,
                active && !clean,
                active,
                &mut |b| {
                    producers.update(&b.header);
                    record_epoch(&mut epochs, b.header.partition_leader_epoch, b.header.base_offset);
                },
            )?;
            log.producers = producers;
            log.epochs = epochs;
            // Kafka draws a fresh jitter for every segment it loads, too.
            seg.roll_jitter_ms = roll::random_segment_jitter_ms(log.config.segment_jitter_ms, log.config.segment_ms);
            log.segments.insert(base, seg);
        }
        if log.segments.is_empty() {
            let seg = log.create_segment(0, now_ms)?;
            log.segments.insert(0, seg);
        }
        let first_base = *log.segments.keys().next().expect("at least one segment");
        let checkpoint = std::fs::read_to_string(dir.join(LOG_START_OFFSET_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        log.log_start_offset = checkpoint.max(first_base).min(log.log_end_offset());
        log.producers.truncate_head(log.log_start_offset);
        Ok(log)
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
        let header = batch::single_batch(records)?;
        if records.len() > self.config.max_message_bytes as usize {
            return Err(LogError::RecordTooLarge {
                size: records.len(),
                max: self.config.max_message_bytes,
            });
        }
        let partition = self.dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        validate::check_records(records, &header, &self.config, &partition, now_ms)?;
        if let Check::Duplicate(m) = self.producers.check(&header)? {
            return Ok(self.duplicate_info(m));
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
        self.active_mut().append(&stored, &head, &records[HEADER_SIZE..])?;
        self.producers.update(&stored);
        record_epoch(&mut self.epochs, leader_epoch, base_offset);
        self.unflushed_messages += stored.records_count as i64;
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: stored.last_offset(),
            log_append_time_ms,
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    fn duplicate_info(&self, m: BatchMetadata) -> AppendInfo {
        AppendInfo {
            base_offset: m.first_offset,
            last_offset: m.last_offset,
            log_append_time_ms: -1,
            log_start_offset: self.log_start_offset,
            duplicate: true,
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

    fn set_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        self.log_start_offset = offset;
        let tmp = self.dir.join(format!("{LOG_START_OFFSET_FILE}.tmp"));
        std::fs::write(&tmp, offset.to_string())?;
        std::fs::rename(&tmp, self.dir.join(LOG_START_OFFSET_FILE))?;
        self.producers.truncate_head(offset);
        Ok(())
    }

    fn delete_segments_below_start(&mut self) -> Result<(), LogError> {
        while self.segments.len() > 1 {
            let (&base, seg) = self.segments.iter().next().expect("len > 1");
            if seg.next_offset > self.log_start_offset {
                break;
            }
            let seg = self.segments.remove(&base).expect("present");
            seg.delete()?;
        }
        Ok(())
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
        seg.delete()?;
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
        let leo = self.log_end_offset();
        if epoch < 0 {
            return (-1, -1);
        }
        if self.epochs.last().is_some_and(|(e, _)| *e == epoch) {
            return (epoch, leo);
        }
        let Some(higher) = self.epochs.iter().find(|(e, _)| *e > epoch) else {
            return (-1, -1);
        };
        match self.epochs.iter().rev().find(|(e, _)| *e <= epoch) {
            Some((floor, _)) => (*floor, higher.1),
            None => (epoch, higher.1),
        }
    }

    /// A leader epoch starts at the current log end offset (Kafka's
    /// `Partition.makeLeader` assigns it before any batch is written).
    pub fn assign_leader_epoch(&mut self, epoch: i32) {
        let leo = self.log_end_offset();
        record_epoch(&mut self.epochs, epoch, leo);
    }

    pub fn flush(&mut self) -> Result<(), LogError> {
        self.active().flush()?;
        self.unflushed_messages = 0;
        Ok(())
    }

    /// Clean shutdown: fsync every segment and trim the active segment's
    /// indexes, so the next start can trust them.
    pub fn close(&mut self) -> Result<(), LogError> {
        for seg in self.segments.values() {
            seg.flush()?;
        }
        self.active_mut().seal()?;
        self.unflushed_messages = 0;
        Ok(())
    }

    pub fn producer_count(&self) -> usize {
        self.producers.len()
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

fn record_epoch(epochs: &mut Vec<(i32, i64)>, epoch: i32, offset: i64) {
    if epoch < 0 {
        return;
    }
    match epochs.last() {
        Some((e, _)) if *e >= epoch => {}
        _ => epochs.push((epoch, offset)),
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
