//! The partition log: append, read, recovery, retention and the segment
//! roll rules as Kafka applies them to real batches.

use super::super::batch::test_support::batch;
use super::super::producer_state::SequenceError;
use super::*;

/// Open parameters without checkpoints: `clean` only says whether the
/// marker was there.
fn load(clean: bool) -> LoadParams {
    LoadParams {
        clean_shutdown: clean,
        ..LoadParams::default()
    }
}

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
    let mut log = PartitionLog::open(dir.path(), config(), 0, load(true)).unwrap();
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
    let log = PartitionLog::open(dir.path(), config(), 0, load(false)).unwrap();
    assert_eq!(log.log_end_offset(), 150);
    assert_eq!(log.producer_count(), 1);
}

#[test]
fn torn_tail_is_cut_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, load(true)).unwrap();
    log.append(&batch(2, -1, -1, -1, 5), 0, 10).unwrap();
    log.append(&batch(2, -1, -1, -1, 5), 0, 10).unwrap();
    drop(log);
    let path = dir.path().join(super::super::segment::file_name(0, "log"));
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 7).unwrap();
    let log = PartitionLog::open(dir.path(), config(), 0, load(false)).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn duplicates_get_original_offsets_and_retention_moves_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), roll_config(60_000), NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), roll_config(60_000), NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c.clone(), NOW_MS, load(true)).unwrap();
    for i in 0..5 {
        log.append(&batch(1, -1, -1, -1, NOW_MS + i), 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4], "time index full");
    // Equal timestamps add no time-index entries: the offset index fills.
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
    let mut log = PartitionLog::open(dir.path(), c, NOW_MS, load(true)).unwrap();
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
        let mut log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, load(true)).unwrap();
        let start = log.log_end_offset();
        for i in 0..3 {
            log.append(&batch(1, -1, -1, -1, NOW_MS + i), 0, NOW_MS).unwrap();
        }
        if clean {
            log.close().unwrap();
        }
        let reopen = LoadParams {
            clean_shutdown: clean,
            recovery_point: Some(log.recovery_point()),
            log_start_offset: None,
        };
        drop(log);
        let log = PartitionLog::open(dir.path(), roll_config(7 * DAY_MS), NOW_MS, reopen).unwrap();
        assert_eq!(log.log_end_offset(), start + 3);
        let plan = log.plan_read(0, 1 << 20, start + 3, true).unwrap().unwrap();
        assert_eq!(plan.len as u64, log.size_bytes());
        let data = plan.read().unwrap();
        assert_eq!(BatchHeader::parse(&data).unwrap().base_offset, 0);
    }
}

// ---- replicas: follower appends, truncation, clean and unclean opens ----

/// A small-segment config for the replica tests (batches of 3 records of
/// `batch()` are ~90 bytes: about ten per segment).
fn replica_config() -> LogConfig {
    let mut c = config();
    c.segment_bytes = 1024;
    c.index_interval_bytes = 128;
    c
}

/// Everything readable from `from` on, as stored bytes.
fn read_all(log: &PartitionLog, from: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let plan = log
            .plan_read(offset, 1 << 20, log.log_end_offset(), true)
            .unwrap()
            .unwrap();
        let bytes = plan.read().unwrap();
        let mut pos = 0;
        while pos < bytes.len() {
            let h = BatchHeader::parse(&bytes[pos..]).unwrap();
            offset = h.last_offset() + 1;
            pos += h.total_size();
        }
        out.extend_from_slice(&bytes);
    }
    out
}

/// A leader log of `n` idempotent batches of 3 records; epoch 1 up to
/// batch `n / 2`, epoch 2 after.
fn leader_log(dir: &Path, n: i32) -> PartitionLog {
    let mut log = PartitionLog::open(dir, replica_config(), NOW_MS, load(false)).unwrap();
    for i in 0..n {
        let epoch = if i < n / 2 { 1 } else { 2 };
        log.append(&batch(3, 7, 0, i * 3, NOW_MS + i as i64), epoch, NOW_MS)
            .unwrap();
    }
    log
}

fn reopen(log: PartitionLog, clean: bool) -> PartitionLog {
    let dir = log.dir().to_path_buf();
    let params = LoadParams {
        clean_shutdown: clean,
        recovery_point: Some(log.recovery_point()),
        log_start_offset: Some(log.log_start_offset()),
    };
    drop(log);
    PartitionLog::open(&dir, replica_config(), NOW_MS, params).unwrap()
}

#[test]
fn a_follower_stores_the_leaders_batches_unchanged() {
    let leader_dir = tempfile::tempdir().unwrap();
    let leader = leader_log(leader_dir.path(), 30);
    let dir = tempfile::tempdir().unwrap();
    let mut follower = PartitionLog::open(dir.path(), replica_config(), NOW_MS, load(false)).unwrap();
    // Fetch like a replica: whatever plan_read gives, from the follower's end.
    while follower.log_end_offset() < leader.log_end_offset() {
        let plan = leader
            .plan_read(follower.log_end_offset(), 500, leader.log_end_offset(), true)
            .unwrap()
            .unwrap();
        let chunk = plan.read().unwrap();
        let before = follower.log_end_offset();
        let info = follower.append_as_follower(&chunk, NOW_MS).unwrap();
        assert_eq!(info.base_offset, before);
        assert_eq!(info.last_offset + 1, follower.log_end_offset());
    }
    assert_eq!(read_all(&follower, 0), read_all(&leader, 0));
    assert!(follower.segment_count() > 1, "the follower rolls too");
    assert_eq!(follower.epochs().entries(), leader.epochs().entries());
    assert_eq!(follower.end_offset_for_epoch(1), (1, 45));
    // The follower learnt the producer: as a new leader it spots a retry.
    let retry = batch(3, 7, 0, 29 * 3, NOW_MS);
    let again = follower.append(&retry, 3, NOW_MS).unwrap();
    assert!(again.duplicate);
    assert_eq!(again.base_offset, 87);
}

#[test]
fn a_follower_append_checks_offsets_and_crcs() {
    let leader_dir = tempfile::tempdir().unwrap();
    let leader = leader_log(leader_dir.path(), 4);
    let all = Bytes::from(read_all(&leader, 0));
    let dir = tempfile::tempdir().unwrap();
    let mut follower = PartitionLog::open(dir.path(), replica_config(), NOW_MS, load(false)).unwrap();
    let size = BatchHeader::parse(&all).unwrap().total_size();
    // A partial batch at the end (fetch cut at max_bytes) is left out.
    let cut = all.slice(..all.len() - 10);
    let info = follower.append_as_follower(&cut, NOW_MS).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 8));
    // Starting below the log end offset: an error the fetcher can act on.
    match follower.append_as_follower(&all.slice(2 * size..), NOW_MS) {
        Err(LogError::UnexpectedAppendOffset { first: 6, log_end: 9 }) => {}
        other => panic!("{other:?}"),
    }
    // A corrupt batch is refused whole.
    let mut bad = all.slice(3 * size..4 * size).to_vec();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(follower.append_as_follower(&Bytes::from(bad), NOW_MS).is_err());
    assert_eq!(follower.log_end_offset(), 9);
    let empty = follower.append_as_follower(&Bytes::new(), NOW_MS).unwrap();
    assert_eq!((empty.base_offset, empty.last_offset), (9, 8));
    // A gap (a compacted leader log) is accepted, as Kafka accepts it.
    let mut later = all.slice(3 * size..4 * size).to_vec();
    later[0..8].copy_from_slice(&20i64.to_be_bytes());
    let info = follower.append_as_follower(&Bytes::from(later), NOW_MS).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (20, 22));
    assert_eq!(follower.log_end_offset(), 23);
    assert_eq!(read_all(&follower, 9).len(), size);
}

#[test]
fn truncate_in_the_middle_of_a_segment_then_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let bases = segment_bases(&log);
    assert!(bases.len() >= 3);
    // An offset inside the second segment, at a batch boundary.
    let target = bases[1] + 6;
    assert!(log.truncate_to(target, NOW_MS).unwrap());
    assert_eq!(log.log_end_offset(), target);
    assert_eq!(segment_bases(&log), bases[..2].to_vec());
    assert!(log.recovery_point() <= target);
    // Epoch 2 started at 45 (> target): gone.
    assert_eq!(log.latest_epoch(), Some(1));
    assert_eq!(log.end_offset_for_epoch(1), (1, target));
    // Producer state forgets the truncated batches: their sequences are new again.
    let next_seq = target as i32;
    let info = log.append(&batch(3, 7, 0, next_seq, NOW_MS + 100), 3, NOW_MS).unwrap();
    assert!(!info.duplicate);
    assert_eq!(info.base_offset, target);
    assert_eq!(log.end_offset_for_epoch(1), (1, target));
    assert_eq!(log.end_offset_for_epoch(3), (3, target + 3));
    let bytes = read_all(&log, 0);
    assert_eq!(BatchHeader::parse(&bytes).unwrap().base_offset, 0);
    // The state survives a crash and a clean reopen alike.
    let log = reopen(log, false);
    assert_eq!(log.log_end_offset(), target + 3);
    assert_eq!(log.latest_epoch(), Some(3));
    let mut log = reopen(log, false);
    log.close().unwrap();
    let log = reopen(log, true);
    assert_eq!(log.log_end_offset(), target + 3);
    assert_eq!(log.recovered_segments(), 0);
}

#[test]
fn truncate_at_a_segment_boundary_and_inside_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let bases = segment_bases(&log);
    // At a segment's base: that segment is emptied and stays active.
    assert!(log.truncate_to(bases[2], NOW_MS).unwrap());
    assert_eq!(segment_bases(&log), bases[..3].to_vec());
    assert_eq!(log.log_end_offset(), bases[2]);
    assert_eq!(
        log.size_bytes(),
        log.segments.values().take(2).map(Segment::size).sum::<u64>()
    );
    // Inside a batch (offsets 3..=5): the whole batch goes.
    assert!(log.truncate_to(4, NOW_MS).unwrap());
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(segment_bases(&log), vec![0]);
    // At or past the end: nothing to remove.
    assert!(!log.truncate_to(3, NOW_MS).unwrap());
    assert!(!log.truncate_to(100, NOW_MS).unwrap());
    log.append(&batch(1, -1, -1, -1, NOW_MS), 1, NOW_MS).unwrap();
    assert_eq!(log.log_end_offset(), 4);
}

#[test]
fn truncation_cuts_the_time_index_to_entries_below_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = roll_config(7 * DAY_MS);
    c.index_interval_bytes = 0;
    let mut log = PartitionLog::open(dir.path(), c.clone(), NOW_MS, load(false)).unwrap();
    // One segment, a time-index entry per batch, timestamps rising.
    for i in 0..20 {
        log.append(&batch(1, -1, -1, -1, NOW_MS + i * 1000), 0, NOW_MS).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0]);
    assert_eq!(
        log.offset_for_timestamp(NOW_MS + 15_000).unwrap(),
        Some((15, NOW_MS + 15_000))
    );
    log.truncate_to(10, NOW_MS).unwrap();
    assert_eq!(log.active().max_timestamp, NOW_MS + 9_000);
    assert_eq!(log.offset_for_timestamp(NOW_MS + 15_000).unwrap(), None);
    // New, older timestamps: the time index must not hold the cut entries.
    for i in 0..5 {
        log.append(&batch(1, -1, -1, -1, NOW_MS + 9_500 + i), 0, NOW_MS)
            .unwrap();
    }
    assert_eq!(
        log.offset_for_timestamp(NOW_MS + 9_501).unwrap(),
        Some((11, NOW_MS + 9_501))
    );
    assert_eq!(log.offset_for_timestamp(NOW_MS + 12_000).unwrap(), None);
    // The same after a crash (the dropped slots were zeroed on disk).
    drop(log);
    let log = PartitionLog::open(dir.path(), c, NOW_MS, load(false)).unwrap();
    assert_eq!(log.log_end_offset(), 15);
    assert_eq!(
        log.offset_for_timestamp(NOW_MS + 9_503).unwrap(),
        Some((13, NOW_MS + 9_503))
    );
}

#[test]
fn truncate_fully_and_start_at_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    log.truncate_fully_and_start_at(500, NOW_MS).unwrap();
    assert_eq!(segment_bases(&log), vec![500]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 500));
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(log.producer_count(), 0);
    assert!(producer_snapshot::list(dir.path()).unwrap().is_empty());
    let mut fetched = batch(2, -1, -1, -1, NOW_MS).to_vec();
    fetched[0..8].copy_from_slice(&500i64.to_be_bytes());
    fetched[12..16].copy_from_slice(&4i32.to_be_bytes());
    log.append_as_follower(&Bytes::from(fetched), NOW_MS).unwrap();
    assert_eq!(log.log_end_offset(), 502);
    assert_eq!(log.end_offset_for_epoch(4), (4, 502));
    let log = reopen(log, false);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 502));
    // Truncating below the first segment empties the log the same way.
    let mut log = log;
    assert!(log.truncate_to(100, NOW_MS).unwrap());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (100, 100));
}

/// Flips one byte inside the records (not the header) of the batch at
/// offset `offset` of the segment file `base`.
fn garble_body(dir: &Path, base: i64, offset: i64) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(super::super::segment::file_name(base, "log"));
    let bytes = std::fs::read(&path).unwrap();
    let mut pos = 0;
    loop {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        if h.last_offset() >= offset {
            let at = pos + HEADER_SIZE + 2;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[bytes[at] ^ 0xff], at as u64).unwrap();
            return;
        }
        pos += h.total_size();
    }
}

#[test]
fn a_clean_open_reads_no_segment_body_and_a_crash_open_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let bases = segment_bases(&log);
    let leo = log.log_end_offset();
    let stats: Vec<(i64, i64)> = log
        .segments
        .values()
        .map(|s| (s.max_timestamp, s.offset_of_max_timestamp))
        .collect();
    log.close().unwrap();
    assert_eq!(log.recovery_point(), leo);
    assert!(log.append(&batch(1, -1, -1, -1, NOW_MS), 2, NOW_MS).is_err(), "closed");
    // Corrupt a batch in the middle of the first and of the last segment.
    garble_body(dir.path(), bases[0], 3);
    garble_body(dir.path(), *bases.last().unwrap(), leo - 4);
    let log = reopen(log, true);
    // Nothing noticed: no CRC was computed, no body read.
    assert_eq!(log.recovered_segments(), 0);
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(segment_bases(&log), bases);
    let after: Vec<(i64, i64)> = log
        .segments
        .values()
        .map(|s| (s.max_timestamp, s.offset_of_max_timestamp))
        .collect();
    assert_eq!(after, stats, "largest timestamps come from the time indexes");
    assert_eq!(log.latest_epoch(), Some(2));
    assert_eq!(log.producer_count(), 1);
    // The same files after a crash (no marker, no recovery point): every
    // segment is CRC-checked and the log ends before the first bad batch.
    let dir_path = log.dir().to_path_buf();
    drop(log);
    let log = PartitionLog::open(&dir_path, replica_config(), NOW_MS, load(false)).unwrap();
    assert_eq!(log.recovered_segments(), 1, "the rest was deleted after the cut");
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(segment_bases(&log), vec![0]);
    assert_eq!(log.latest_epoch(), Some(1));
}

#[test]
fn a_crash_open_recovers_only_from_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let bases = segment_bases(&log);
    // Flush what rolled, as the background flush does.
    let job = log.rolled_flush().unwrap();
    job.run().unwrap();
    log.mark_flushed(&job);
    let active = *bases.last().unwrap();
    assert_eq!(log.recovery_point(), active);
    assert!(log.rolled_flush().is_none());
    // Below the recovery point corruption goes unnoticed; above it is cut.
    garble_body(dir.path(), bases[0], 3);
    garble_body(dir.path(), active, active + 3);
    let log = reopen(log, false);
    assert_eq!(log.recovered_segments(), 1);
    assert_eq!(log.log_end_offset(), active + 3);
    assert_eq!(segment_bases(&log), bases);
    // Producer state: the snapshot at the active base plus one batch.
    assert_eq!(log.producer_count(), 1);
    let mut log = log;
    let retry = log.append(&batch(3, 7, 0, active as i32, NOW_MS), 2, NOW_MS).unwrap();
    assert!(retry.duplicate, "the batch at the active base is known");
}

#[test]
fn producer_state_comes_from_the_snapshot_or_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let leo = log.log_end_offset();
    log.close().unwrap();
    let snapshots = producer_snapshot::list(dir.path()).unwrap();
    assert_eq!(snapshots.last(), Some(&leo));
    assert!(snapshots.len() <= producer_snapshot::SNAPSHOTS_KEPT);
    let mut log = reopen(log, true);
    let retry = batch(3, 7, 0, 87, NOW_MS);
    assert!(log.append(&retry, 2, NOW_MS).unwrap().duplicate);
    log.close().unwrap();
    // Without any snapshot, the headers rebuild the same state.
    producer_snapshot::delete_all(dir.path()).unwrap();
    let mut log = reopen(log, true);
    assert!(log.append(&retry, 2, NOW_MS).unwrap().duplicate);
    assert!(matches!(
        log.append(&batch(3, 7, 0, 95, NOW_MS), 2, NOW_MS),
        Err(LogError::Sequence(_))
    ));
}

#[test]
fn epochs_persist_and_a_log_without_a_checkpoint_rebuilds_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 10);
    log.assign_leader_epoch(5).unwrap();
    let entries = log.epochs().entries().to_vec();
    assert_eq!(entries.len(), 3);
    let mut log = reopen(log, false);
    // Kafka's LogLoader drops epochs starting at the log end (no batch was
    // written in them); a leader assigns its epoch again when it leads.
    assert_eq!(log.epochs().entries(), &entries[..2]);
    log.assign_leader_epoch(5).unwrap();
    log.append(&batch(1, -1, -1, -1, NOW_MS), 5, NOW_MS).unwrap();
    let entries = log.epochs().entries().to_vec();
    log.close().unwrap();
    let log = reopen(log, true);
    assert_eq!(log.epochs().entries(), entries.as_slice());
    // A log from before the checkpoint existed: epochs from batch headers.
    std::fs::remove_file(dir.path().join(super::super::epoch_cache::LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
    let log = reopen(log, true);
    assert_eq!(log.epochs().entries(), entries.as_slice());
}

#[test]
fn the_legacy_log_start_offset_file_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = leader_log(dir.path(), 10);
    drop(log);
    std::fs::write(dir.path().join(LEGACY_LOG_START_OFFSET_FILE), "6").unwrap();
    let log = PartitionLog::open(dir.path(), replica_config(), NOW_MS, load(false)).unwrap();
    assert_eq!(log.log_start_offset(), 6);
}

#[test]
fn a_clean_shutdown_of_an_older_version_is_trusted_and_its_state_rebuilt_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let epochs = log.epochs().entries().to_vec();
    log.close().unwrap();
    drop(log);
    // What an older fjord left: no checkpoints, no snapshots, the marker.
    producer_snapshot::delete_all(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join(super::super::epoch_cache::LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
    garble_body(dir.path(), 0, 3);
    let mut log = PartitionLog::open(dir.path(), replica_config(), NOW_MS, load(true)).unwrap();
    assert_eq!(log.recovered_segments(), 0, "no CRC check after a clean shutdown");
    assert_eq!(log.log_end_offset(), 90);
    assert_eq!(log.epochs().entries(), epochs.as_slice());
    assert!(log.append(&batch(3, 7, 0, 87, NOW_MS), 2, NOW_MS).unwrap().duplicate);
}

#[test]
fn moving_the_log_start_truncates_epochs_and_deletes_snapshots_with_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_log(dir.path(), 30);
    let bases = segment_bases(&log);
    let snapshots = producer_snapshot::list(dir.path()).unwrap();
    assert_eq!(
        snapshots,
        bases[bases.len() - 2..].to_vec(),
        "one per roll, newest two kept"
    );
    // Past epoch 1's start (0) and epoch 2's (45): epoch 2 now starts there.
    let start = log.delete_records_before(50, 90).unwrap();
    assert_eq!(start, 50);
    assert_eq!(
        log.epochs().entries(),
        &[super::super::epoch_cache::EpochEntry {
            epoch: 2,
            start_offset: 50
        }]
    );
    // Deleting the segment a snapshot is based at deletes that snapshot.
    let last = *bases.last().unwrap();
    log.delete_records_before(last + 3, 90).unwrap();
    assert_eq!(producer_snapshot::list(dir.path()).unwrap(), vec![last]);
    log.roll(NOW_MS).unwrap();
    log.delete_records_before(90, 90).unwrap();
    assert!(!producer_snapshot::list(dir.path()).unwrap().contains(&last));
}

/// `batch` with the transactional attribute (CRC recomputed).
fn txn_batch(count: i32, producer_id: i64, epoch: i16, base_sequence: i32) -> Bytes {
    let mut b = batch(count, producer_id, epoch, base_sequence, NOW_MS).to_vec();
    b[21..23].copy_from_slice(&super::super::batch::ATTR_TRANSACTIONAL.to_be_bytes());
    let crc = batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

fn marker(producer_id: i64, commit: bool, coordinator_epoch: i32) -> Bytes {
    control::marker_batch(
        producer_id,
        0,
        EndTxnMarker {
            commit,
            coordinator_epoch,
        },
        NOW_MS,
        0,
    )
}

/// Offsets 0-1 idempotent; producer 7's transaction 2-4 aborted by the
/// marker at 7; producer 8's 5-6 committed at 8; producer 7's next
/// transaction open from 9.
fn transactional_log(dir: &Path) -> PartitionLog {
    let mut log = PartitionLog::open(dir, replica_config(), NOW_MS, load(false)).unwrap();
    log.append(&batch(2, 5, 0, 0, NOW_MS), 1, NOW_MS).unwrap();
    log.append(&txn_batch(3, 7, 0, 0), 1, NOW_MS).unwrap();
    log.append(&txn_batch(2, 8, 0, 0), 1, NOW_MS).unwrap();
    assert_eq!(log.first_unstable_offset(), Some(2));
    assert_eq!(
        log.append_marker(&marker(7, false, 1), 1, NOW_MS).unwrap().base_offset,
        7
    );
    assert_eq!(
        log.first_unstable_offset(),
        Some(5),
        "producer 8's transaction is still open"
    );
    assert_eq!(
        log.append_marker(&marker(8, true, 1), 1, NOW_MS).unwrap().base_offset,
        8
    );
    assert_eq!(log.first_unstable_offset(), None);
    log.append(&txn_batch(1, 7, 0, 3), 1, NOW_MS).unwrap();
    log
}

const ABORTED_7: AbortedTxn = AbortedTxn {
    producer_id: 7,
    first_offset: 2,
    last_offset: 7,
    last_stable_offset: 5,
};

#[test]
fn open_transactions_bound_the_stable_offset_and_aborts_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = transactional_log(dir.path());
    assert_eq!(log.first_unstable_offset(), Some(9));
    assert_eq!(log.aborted_transactions(0, 100), vec![ABORTED_7]);
    assert_eq!(log.aborted_transactions(7, 100), vec![ABORTED_7]);
    assert_eq!(log.aborted_transactions(8, 100), vec![], "the abort ended before 8");
    assert_eq!(log.aborted_transactions(0, 2), vec![], "the abort began at 2");
    // A marker from an older coordinator is refused; so is one from a client.
    assert!(matches!(
        log.append_marker(&marker(7, false, 0), 1, NOW_MS),
        Err(LogError::Sequence(SequenceError::CoordinatorFenced { .. }))
    ));
    assert!(matches!(
        log.append(&marker(7, false, 1), 1, NOW_MS),
        Err(LogError::Batch(BatchError::Invalid(_)))
    ));
    assert_eq!(log.log_end_offset(), 10);
}

#[test]
fn transaction_state_survives_clean_and_unclean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let log = transactional_log(dir.path());
    // A crash: nothing was flushed, so everything is replayed from the log
    // and the index is rebuilt without repeating its entry.
    let log = reopen(log, false);
    assert_eq!(log.first_unstable_offset(), Some(9));
    assert_eq!(log.aborted_transactions(0, 100), vec![ABORTED_7]);
    let mut log = log;
    log.close().unwrap();
    // A clean start: the snapshot and the index file.
    let log = reopen(log, true);
    assert_eq!(log.first_unstable_offset(), Some(9));
    assert_eq!(log.aborted_transactions(0, 100), vec![ABORTED_7]);
}

#[test]
fn a_follower_indexes_the_leaders_aborts() {
    let leader_dir = tempfile::tempdir().unwrap();
    let leader = transactional_log(leader_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let mut follower = PartitionLog::open(dir.path(), replica_config(), NOW_MS, load(false)).unwrap();
    follower
        .append_as_follower(&Bytes::from(read_all(&leader, 0)), NOW_MS)
        .unwrap();
    assert_eq!(follower.log_end_offset(), 10);
    assert_eq!(follower.first_unstable_offset(), Some(9));
    assert_eq!(follower.aborted_transactions(0, 100), vec![ABORTED_7]);
}

#[test]
fn truncating_below_a_marker_reopens_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = transactional_log(dir.path());
    assert!(log.truncate_to(7, NOW_MS).unwrap());
    assert_eq!(log.aborted_transactions(0, 100), vec![]);
    assert_eq!(log.first_unstable_offset(), Some(2), "both transactions are open again");
    // The marker comes again (from the new leader) and is indexed once.
    log.append_marker(&marker(7, false, 1), 1, NOW_MS).unwrap();
    assert_eq!(log.aborted_transactions(0, 100), vec![ABORTED_7]);
    let log = reopen(log, false);
    assert_eq!(log.aborted_transactions(0, 100), vec![ABORTED_7]);
}

#[test]
fn an_append_reports_the_leader_epoch_it_was_written_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), config(), 0, load(true)).unwrap();
    let b = batch(2, 9, 0, 0, 100);
    assert_eq!(log.append(&b, 3, 200).unwrap().leader_epoch, 3);
    let retry = log.append(&b, 4, 200).unwrap();
    assert!(retry.duplicate);
    assert_eq!(
        retry.leader_epoch, 4,
        "a retry answered in a later epoch waits on that one"
    );
    assert_eq!(log.append_marker(&marker(9, false, 0), 5, 200).unwrap().leader_epoch, 5);
}
