//! The partition log: append, read, recovery, retention and the segment
//! roll rules as Kafka applies them to real batches.

use super::super::batch::test_support::batch;
use super::*;

fn config() -> LogConfig {
    let mut c = LogConfig::new(&crate::config::Config::embedded().log, &Default::default());
    c.segment_bytes = 1024;
    c.index_interval_bytes = 64;
    c.segment_index_bytes = 4096;
    c
}

#[test]
fn append_read_roll_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, true).unwrap();
    for i in 0..50 {
        let info = log.append(&batch(3, 1, 0, i * 3, 1000 + i as i64), 0, 2000).unwrap();
        assert_eq!(info.base_offset, i as i64 * 3);
    }
    assert_eq!(log.log_end_offset(), 150);
    assert!(log.segment_count() > 1, "segments roll at segment.bytes");
    let plan = log.plan_read(100, 1 << 20, 150, true).unwrap().unwrap();
    let data = plan.read().unwrap();
    let h = BatchHeader::parse(&data).unwrap();
    assert!(h.base_offset <= 100 && h.last_offset() >= 100);
    assert_eq!(log.offset_for_timestamp(1010).unwrap(), Some((30, 1010)));
    drop(log);
    // Unclean reopen: state comes back from the files.
    let log = PartitionLog::open(dir.path(), config(), 0, false).unwrap();
    assert_eq!(log.log_end_offset(), 150);
    assert_eq!(log.producer_count(), 1);
}

#[test]
fn torn_tail_is_cut_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, true).unwrap();
    log.append(&batch(2, -1, -1, -1, 5), 0, 10).unwrap();
    log.append(&batch(2, -1, -1, -1, 5), 0, 10).unwrap();
    drop(log);
    let path = dir.path().join(super::super::segment::file_name(0, "log"));
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 7).unwrap();
    let log = PartitionLog::open(dir.path(), config(), 0, false).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn duplicates_get_original_offsets_and_retention_moves_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, true).unwrap();
    let b = batch(4, 9, 0, 0, 100);
    assert_eq!(log.append(&b, 0, 200).unwrap().base_offset, 0);
    let again = log.append(&b, 0, 200).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.base_offset, 0);
    assert_eq!(log.log_end_offset(), 4);
    for i in 1..40 {
        log.append(&batch(4, 9, 0, i * 4, 100), 0, 200).unwrap();
    }
    let mut c = config();
    c.retention_bytes = 1024;
    log.set_config(c);
    assert!(log.enforce_retention(300).unwrap() > 0);
    assert!(log.log_start_offset() > 0);
    assert!(matches!(
        log.plan_read(0, 100, 1000, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let start = log.delete_records_before(150, 160).unwrap();
    assert_eq!(start, 150);
}

const DAY_MS: i64 = 86_400_000;
const NOW_MS: i64 = 1_800_000_000_000;

fn roll_config(segment_ms: i64) -> LogConfig {
    let mut c = config();
    c.segment_bytes = 1 << 30;
    c.index_interval_bytes = 4096;
    c.segment_index_bytes = 10 << 20;
    c.segment_ms = segment_ms;
    c
}

fn segment_bases(log: &PartitionLog) -> Vec<i64> {
    log.segments.keys().copied().collect()
}

#[test]
fn back_dated_batches_close_together_share_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, true).unwrap();
    for i in 0..500 {
        let ts = NOW_MS - 30 * DAY_MS + i * 1_000;
        log.append(&batch(1, -1, -1, -1, ts), 0, NOW_MS + i).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0]);
    // One read returns every batch.
    let plan = log.plan_read(0, 1 << 20, 500, true).unwrap().unwrap();
    assert_eq!(plan.len as u64, log.size_bytes());
}

#[test]
fn record_time_past_segment_ms_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), roll_config(60_000), NOW_MS, true).unwrap();
    // Back-dated by a month, 10 s apart: a roll once a batch is more than
    // 60 s of record time after its segment's first batch.
    for i in 0..20 {
        let ts = NOW_MS - 30 * DAY_MS + i * 10_000;
        log.append(&batch(1, -1, -1, -1, ts), 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 7, 14]);
}

#[test]
fn a_future_dated_first_batch_holds_the_segment_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = roll_config(3_600_000);
    c.timestamp_after_max_ms = i64::MAX;
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    log.append(&batch(1, -1, -1, -1, NOW_MS + DAY_MS), 0, NOW_MS).unwrap();
    // Current timestamps are "before" the first batch: no time roll, as
    // in Kafka, however much wall-clock time passes.
    for i in 0..10 {
        let now = NOW_MS + i * 3_600_000;
        log.append(&batch(1, -1, -1, -1, now), 0, now).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0]);
    let ts = NOW_MS + DAY_MS + 3_600_001;
    log.append(&batch(1, -1, -1, -1, ts), 0, NOW_MS).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 11]);
}

#[test]
fn log_append_time_rolls_by_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = roll_config(60_000);
    c.log_append_time = true;
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    // The client's (ancient, far apart) timestamps do not matter.
    log.append(&batch(1, -1, -1, -1, 1_000), 0, NOW_MS).unwrap();
    log.append(&batch(1, -1, -1, -1, 9_000_000), 0, NOW_MS + 60_000)
        .unwrap();
    assert_eq!(segment_bases(&log), vec![0]);
    log.append(&batch(1, -1, -1, -1, 5), 0, NOW_MS + 60_001).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
}

#[test]
fn without_timestamps_wall_clock_since_creation_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), roll_config(60_000), NOW_MS, true).unwrap();
    log.append(&batch(1, -1, -1, -1, -1), 0, NOW_MS).unwrap();
    log.append(&batch(1, -1, -1, -1, -1), 0, NOW_MS + 60_000).unwrap();
    assert_eq!(segment_bases(&log), vec![0]);
    log.append(&batch(1, -1, -1, -1, -1), 0, NOW_MS + 60_001).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
}

#[test]
fn each_segment_rolls_early_by_its_own_jitter() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = roll_config(60_000);
    c.segment_jitter_ms = 60_000;
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    let jitter = log.active().roll_jitter_ms;
    assert!((0..60_000).contains(&jitter));
    let first = NOW_MS - DAY_MS;
    log.append(&batch(1, -1, -1, -1, first), 0, NOW_MS).unwrap();
    log.append(&batch(1, -1, -1, -1, first + 60_000 - jitter), 0, NOW_MS)
        .unwrap();
    assert_eq!(segment_bases(&log), vec![0]);
    log.append(&batch(1, -1, -1, -1, first + 60_001 - jitter), 0, NOW_MS)
        .unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    assert!((0..60_000).contains(&log.active().roll_jitter_ms));
}

#[test]
fn full_offset_or_time_index_rolls() {
    // 36 index bytes: 4 offset entries, 3 time entries of which Kafka
    // keeps one free, so the time index is full at 2.
    let mut c = roll_config(7 * DAY_MS);
    c.index_interval_bytes = 0;
    c.segment_index_bytes = 36;
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), c.clone(), NOW_MS, true).unwrap();
    for i in 0..5 {
        log.append(&batch(1, -1, -1, -1, NOW_MS + i), 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4], "time index full");
    // Equal timestamps add no time-index entries: the offset index fills.
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    for _ in 0..6 {
        log.append(&batch(1, -1, -1, -1, NOW_MS), 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 4], "offset index full");
}

#[test]
fn size_rolls_before_a_batch_that_would_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(1, -1, -1, -1, NOW_MS);
    let mut c = roll_config(7 * DAY_MS);
    c.segment_bytes = 3 * b.len() as u64;
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    for _ in 0..4 {
        log.append(&b, 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 3], "exactly full is allowed");
}

#[test]
fn a_read_stays_in_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(1, -1, -1, -1, NOW_MS);
    let mut c = roll_config(7 * DAY_MS);
    c.segment_bytes = 3 * b.len() as u64;
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, true).unwrap();
    for _ in 0..9 {
        log.append(&b, 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 3, 6]);
    // Kafka's LocalLog.read: the rest of offset 1's segment, not more,
    // though max_bytes would take everything.
    let plan = log.plan_read(1, 1 << 20, 9, true).unwrap().unwrap();
    assert_eq!(plan.len, 2 * b.len());
    let plan = log.plan_read(3, 1 << 20, 9, true).unwrap().unwrap();
    assert_eq!(plan.len, 3 * b.len());
    assert_eq!(BatchHeader::parse(&plan.read().unwrap()).unwrap().base_offset, 3);
}

#[test]
fn appends_after_a_reopen_go_after_the_existing_batches() {
    // The log file was written through its cursor, which a reopened file
    // has at 0: appends after a restart overwrote the segment's head.
    let dir = tempfile::tempdir().unwrap();
    for clean in [true, false] {
        let mut log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, true).unwrap();
        let start = log.log_end_offset();
        for i in 0..3 {
            log.append(&batch(1, -1, -1, -1, NOW_MS + i), 0, NOW_MS).unwrap();
        }
        if clean {
            log.close().unwrap();
        }
        drop(log);
        let log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, clean).unwrap();
        assert_eq!(log.log_end_offset(), start + 3);
        let plan = log.plan_read(0, 1 << 20, start + 3, true).unwrap().unwrap();
        assert_eq!(plan.len as u64, log.size_bytes());
        let data = plan.read().unwrap();
        assert_eq!(BatchHeader::parse(&data).unwrap().base_offset, 0);
    }
}
