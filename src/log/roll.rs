//! When the active segment rolls: Kafka's `LogSegment.shouldRoll` as a pure
//! decision over the segment's state and the incoming batch, so every rule
//! is tested alone. `PartitionLog::append` gathers the inputs and acts.

/// What the incoming batch brings, as Kafka's `RollParams` carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RollParams {
    /// `LogConfig.maxSegmentMs`: `segment.ms`, or `max.compaction.lag.ms`
    /// when that is smaller on a compacted topic.
    pub(crate) max_segment_ms: i64,
    pub(crate) max_segment_bytes: u64,
    /// The batch's max timestamp as it will be stored (the append time on a
    /// LogAppendTime topic).
    pub(crate) max_timestamp_in_messages: i64,
    pub(crate) max_offset_in_messages: i64,
    pub(crate) messages_size_bytes: u64,
    pub(crate) now_ms: i64,
}

/// What the active segment knows about itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActiveSegment {
    pub(crate) base_offset: i64,
    pub(crate) size_bytes: u64,
    /// Max timestamp of the segment's first batch (Kafka's
    /// `rollingBasedTimestamp`); `None` while the segment is empty.
    pub(crate) rolling_based_timestamp: Option<i64>,
    /// When the segment was created or loaded (Kafka's `created`).
    pub(crate) created_ms: i64,
    /// Chosen once per segment, at creation (`LogConfig.randomSegmentJitter`).
    pub(crate) roll_jitter_ms: i64,
    pub(crate) offset_index_full: bool,
    pub(crate) time_index_full: bool,
}

/// Why a segment rolled, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RollReason {
    Size,
    Time,
    OffsetIndexFull,
    TimeIndexFull,
    OffsetOverflow,
}

impl ActiveSegment {
    /// Kafka's `LogSegment.timeWaitedForRoll`: measured in record time from
    /// the first batch's timestamp when it has one, so back-dated records
    /// that are close together share a segment; in wall-clock time since the
    /// segment was created otherwise.
    pub(crate) fn time_waited_for_roll_ms(&self, now_ms: i64, message_timestamp: i64) -> i64 {
        match self.rolling_based_timestamp {
            Some(ts) if ts >= 0 => message_timestamp.saturating_sub(ts),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// Kafka's `LogSegment.shouldRoll`, rule for rule and in its order.
    pub(crate) fn should_roll(&self, p: &RollParams) -> Option<RollReason> {
        let waited_ms = self.time_waited_for_roll_ms(p.now_ms, p.max_timestamp_in_messages);
        let reached_roll_ms = waited_ms > p.max_segment_ms.saturating_sub(self.roll_jitter_ms);
        if self.size_bytes + p.messages_size_bytes > p.max_segment_bytes {
            Some(RollReason::Size)
        } else if self.size_bytes > 0 && reached_roll_ms {
            Some(RollReason::Time)
        } else if self.offset_index_full {
            Some(RollReason::OffsetIndexFull)
        } else if self.time_index_full {
            Some(RollReason::TimeIndexFull)
        } else if !fits_relative_offset(self.base_offset, p.max_offset_in_messages) {
            Some(RollReason::OffsetOverflow)
        } else {
            None
        }
    }
}

/// Kafka's `AbstractIndex.canAppendOffset`: index entries store offsets
/// relative to the segment's base offset as a non-negative Java int.
pub(crate) fn fits_relative_offset(base_offset: i64, offset: i64) -> bool {
    let relative = offset - base_offset;
    (0..=i64::from(i32::MAX)).contains(&relative)
}

/// Kafka's `LogConfig.randomSegmentJitter`: 0 without jitter, otherwise
/// `abs(random int) % min(segment.jitter.ms, segment.ms)`. `random` is a
/// uniformly random `i32`, passed in so the choice is testable.
pub(crate) fn segment_jitter_ms(segment_jitter_ms: i64, segment_ms: i64, random: i32) -> i64 {
    if segment_jitter_ms == 0 {
        return 0;
    }
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if random == i32::MIN { 0 } else { i64::from(random.abs()) };
    let bound = segment_jitter_ms.min(segment_ms);
    if bound <= 0 {
        // Kafka would divide by zero here; segment.ms >= 1 and
        // segment.jitter.ms >= 0 are enforced by validation.
        return 0;
    }
    abs % bound
}

/// A fresh jitter for a new segment, from the operating system's randomness
/// (the uuid crate's v4 generator) as Kafka's `ThreadLocalRandom` would give.
pub(crate) fn random_segment_jitter_ms(segment_jitter_ms: i64, segment_ms: i64) -> i64 {
    if segment_jitter_ms == 0 {
        return 0;
    }
    let random = uuid::Uuid::new_v4().as_u128() as u32 as i32;
    self::segment_jitter_ms(segment_jitter_ms, segment_ms, random)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;
    const WEEK_MS: i64 = 7 * DAY_MS;
    const NOW_MS: i64 = 1_800_000_000_000;

    fn segment() -> ActiveSegment {
        ActiveSegment {
            base_offset: 100,
            size_bytes: 1_000,
            rolling_based_timestamp: Some(NOW_MS - 30 * DAY_MS),
            created_ms: NOW_MS - 1_000,
            roll_jitter_ms: 0,
            offset_index_full: false,
            time_index_full: false,
        }
    }

    fn params(max_timestamp: i64) -> RollParams {
        RollParams {
            max_segment_ms: WEEK_MS,
            max_segment_bytes: 1 << 30,
            max_timestamp_in_messages: max_timestamp,
            max_offset_in_messages: 200,
            messages_size_bytes: 100,
            now_ms: NOW_MS,
        }
    }

    #[test]
    fn back_dated_batches_close_together_share_a_segment() {
        // 30 days old, but a second after the first batch: no roll, though
        // wall-clock time is far past segment.ms from the first timestamp.
        assert_eq!(segment().should_roll(&params(NOW_MS - 30 * DAY_MS + 1_000)), None);
    }

    #[test]
    fn time_roll_compares_record_timestamps_strictly() {
        let first = NOW_MS - 30 * DAY_MS;
        assert_eq!(segment().should_roll(&params(first + WEEK_MS)), None);
        assert_eq!(
            segment().should_roll(&params(first + WEEK_MS + 1)),
            Some(RollReason::Time)
        );
    }

    #[test]
    fn an_older_batch_never_rolls_by_time() {
        // Timestamps going backwards give a negative wait.
        assert_eq!(segment().should_roll(&params(NOW_MS - 90 * DAY_MS)), None);
    }

    #[test]
    fn future_dated_batches_roll_only_when_far_from_the_first() {
        let s = ActiveSegment {
            rolling_based_timestamp: Some(NOW_MS + DAY_MS),
            ..segment()
        };
        assert_eq!(s.should_roll(&params(NOW_MS + DAY_MS + 10)), None);
        // A current batch after a future-dated first one waits a negative time.
        assert_eq!(s.should_roll(&params(NOW_MS)), None);
        assert_eq!(s.should_roll(&params(NOW_MS + 9 * DAY_MS)), Some(RollReason::Time));
    }

    #[test]
    fn log_append_time_rolls_by_append_times() {
        // On a LogAppendTime topic both timestamps are append times.
        let s = ActiveSegment {
            rolling_based_timestamp: Some(NOW_MS - WEEK_MS),
            ..segment()
        };
        assert_eq!(s.should_roll(&params(NOW_MS)), None);
        assert_eq!(s.should_roll(&params(NOW_MS + 1)), Some(RollReason::Time));
    }

    #[test]
    fn without_timestamps_wall_clock_since_creation_counts() {
        let s = ActiveSegment {
            rolling_based_timestamp: Some(-1),
            created_ms: NOW_MS - WEEK_MS,
            ..segment()
        };
        assert_eq!(s.should_roll(&params(-1)), None);
        let later = RollParams {
            now_ms: NOW_MS + 1,
            ..params(-1)
        };
        assert_eq!(s.should_roll(&later), Some(RollReason::Time));
    }

    #[test]
    fn an_empty_segment_never_rolls_by_time() {
        let s = ActiveSegment {
            size_bytes: 0,
            rolling_based_timestamp: None,
            created_ms: NOW_MS - 10 * WEEK_MS,
            ..segment()
        };
        assert_eq!(s.should_roll(&params(NOW_MS)), None);
    }

    #[test]
    fn jitter_brings_the_time_roll_forward() {
        let s = ActiveSegment {
            roll_jitter_ms: DAY_MS,
            ..segment()
        };
        let first = NOW_MS - 30 * DAY_MS;
        assert_eq!(s.should_roll(&params(first + WEEK_MS - DAY_MS)), None);
        assert_eq!(
            s.should_roll(&params(first + WEEK_MS - DAY_MS + 1)),
            Some(RollReason::Time)
        );
    }

    #[test]
    fn size_rolls_when_the_batch_would_not_fit() {
        let p = RollParams {
            max_segment_bytes: 1_100,
            ..params(NOW_MS - 30 * DAY_MS)
        };
        assert_eq!(segment().should_roll(&p), None, "exactly full is allowed");
        let p = RollParams {
            messages_size_bytes: 101,
            ..p
        };
        assert_eq!(segment().should_roll(&p), Some(RollReason::Size));
        // Kafka checks size even on an empty segment (LocalLog.roll then
        // replaces the empty segment).
        let empty = ActiveSegment {
            size_bytes: 0,
            ..segment()
        };
        let p = RollParams {
            messages_size_bytes: 2_000,
            ..p
        };
        assert_eq!(empty.should_roll(&p), Some(RollReason::Size));
    }

    #[test]
    fn full_indexes_roll() {
        let p = params(NOW_MS - 30 * DAY_MS);
        let s = ActiveSegment {
            offset_index_full: true,
            ..segment()
        };
        assert_eq!(s.should_roll(&p), Some(RollReason::OffsetIndexFull));
        let s = ActiveSegment {
            time_index_full: true,
            ..segment()
        };
        assert_eq!(s.should_roll(&p), Some(RollReason::TimeIndexFull));
    }

    #[test]
    fn offsets_must_fit_a_relative_int() {
        let base = segment().base_offset;
        let p = RollParams {
            max_offset_in_messages: base + i64::from(i32::MAX),
            ..params(NOW_MS - 30 * DAY_MS)
        };
        assert_eq!(segment().should_roll(&p), None);
        let p = RollParams {
            max_offset_in_messages: base + i64::from(i32::MAX) + 1,
            ..p
        };
        assert_eq!(segment().should_roll(&p), Some(RollReason::OffsetOverflow));
        assert!(!fits_relative_offset(base, base - 1));
    }

    #[test]
    fn jitter_is_bounded_by_both_configs() {
        assert_eq!(segment_jitter_ms(0, WEEK_MS, 12_345), 0);
        assert_eq!(segment_jitter_ms(1_000, WEEK_MS, 12_345), 345);
        assert_eq!(segment_jitter_ms(1_000, WEEK_MS, -12_345), 345);
        assert_eq!(segment_jitter_ms(WEEK_MS, 100, 12_345), 45);
        assert_eq!(segment_jitter_ms(1_000, WEEK_MS, i32::MIN), 0);
        for _ in 0..100 {
            let j = random_segment_jitter_ms(1_000, 500);
            assert!((0..500).contains(&j));
        }
    }
}
