//! Record-level checks of a produced batch, as Kafka's LogValidator makes
//! them (KIP-467): a record of a compacted topic needs a key, and a
//! CreateTime timestamp must lie within `message.timestamp.before.max.ms`
//! before and `message.timestamp.after.max.ms` after the broker's clock.
//! Each failing record is named by its index in the batch, so the client
//! fails exactly those records.
//!
//! Records are decoded only when a check could fail: for a compacted topic,
//! or when the batch header cannot rule out a bad timestamp. A topic on the
//! defaults (no compaction, no lower timestamp bound) whose batch's largest
//! timestamp is in range is never decoded.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::batch::BatchHeader;
use super::{LogConfig, LogError};

/// Why records of a batch were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordErrors {
    /// Some record had a bad timestamp (the partition's error is then
    /// INVALID_TIMESTAMP, else INVALID_RECORD).
    pub timestamp: bool,
    /// (index of the record in its batch, message).
    pub errors: Vec<(i32, String)>,
}

impl RecordErrors {
    /// The partition-level message Kafka sends with the record errors.
    pub fn summary(&self) -> String {
        if self.timestamp {
            return "One or more records have been rejected due to invalid timestamp".to_string();
        }
        let shown: Vec<String> = self
            .errors
            .iter()
            .take(3)
            .map(|(index, message)| format!("RecordError(batchIndex={index}, message='{message}')"))
            .collect();
        format!(
            "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
            self.errors.len(),
            shown.join(", ")
        )
    }
}

/// Checks every record of `records` (one client batch, header already
/// validated) that could break a rule of `config`. `partition` names the
/// partition in messages (`topic-0`).
pub fn check_records(
    records: &Bytes,
    header: &BatchHeader,
    config: &LogConfig,
    partition: &str,
    now_ms: i64,
) -> Result<(), LogError> {
    let check_timestamps = !config.log_append_time;
    let unbounded_past = config.timestamp_before_max_ms == i64::MAX;
    let header_in_range = header.max_timestamp < 0
        || !invalid_timestamp(
            header.max_timestamp,
            now_ms,
            config.timestamp_before_max_ms,
            config.timestamp_after_max_ms,
        );
    if !config.compact && (!check_timestamps || (unbounded_past && header_in_range)) {
        return Ok(());
    }
    let mut buf = records.clone();
    let set = RecordBatchDecoder::decode(&mut buf).map_err(|e| LogError::Corrupt(e.to_string()))?;
    let mut found = RecordErrors {
        timestamp: false,
        errors: Vec::new(),
    };
    for (index, record) in set.records.iter().enumerate() {
        let index = index as i32;
        if config.compact && record.key.is_none() {
            found.errors.push((
                index,
                format!("Compacted topic cannot accept message without key in topic partition {partition}."),
            ));
        } else if check_timestamps
            && record.timestamp >= 0
            && invalid_timestamp(
                record.timestamp,
                now_ms,
                config.timestamp_before_max_ms,
                config.timestamp_after_max_ms,
            )
        {
            found.timestamp = true;
            found.errors.push((
                index,
                format!(
                    "Timestamp {} of message with offset {} is out of range. The timestamp should be within [{}, {}]",
                    record.timestamp,
                    record.offset,
                    now_ms.wrapping_sub(config.timestamp_before_max_ms),
                    now_ms.wrapping_add(config.timestamp_after_max_ms)
                ),
            ));
        }
    }
    if found.errors.is_empty() {
        Ok(())
    } else {
        Err(LogError::RecordErrors(found))
    }
}

/// Kafka's recordHasInvalidTimestamp, in its own arithmetic.
fn invalid_timestamp(timestamp: i64, now_ms: i64, before_max_ms: i64, after_max_ms: i64) -> bool {
    let diff = now_ms.wrapping_sub(timestamp);
    diff > before_max_ms || diff.wrapping_neg() > after_max_ms
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    use super::super::batch;
    use super::*;

    const NOW: i64 = 1_000_000_000;

    fn encode(records: &[(Option<&str>, i64)], compression: Compression) -> Bytes {
        let records: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, (key, ts))| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder keeps offset - sequence constant within a batch.
                sequence: i as i32 - 1,
                timestamp: *ts,
                key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
                value: Some(Bytes::from_static(b"v")),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        buf.freeze()
    }

    fn config(compact: bool, before: i64, after: i64) -> LogConfig {
        let mut c = LogConfig::new(&crate::config::Config::embedded().log, &Default::default());
        c.compact = compact;
        c.timestamp_before_max_ms = before;
        c.timestamp_after_max_ms = after;
        c
    }

    fn check(records: &Bytes, config: &LogConfig) -> Result<(), RecordErrors> {
        let header = batch::single_batch(records).unwrap();
        match check_records(records, &header, config, "t-0", NOW) {
            Ok(()) => Ok(()),
            Err(LogError::RecordErrors(e)) => Err(e),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn keyless_records_of_a_compacted_topic_are_named_by_index() {
        for compression in [Compression::None, Compression::Lz4] {
            let b = encode(
                &[(Some("a"), NOW), (None, NOW), (Some("c"), NOW), (None, NOW)],
                compression,
            );
            let e = check(&b, &config(true, i64::MAX, 3_600_000)).unwrap_err();
            assert!(!e.timestamp);
            let indexes: Vec<i32> = e.errors.iter().map(|(i, _)| *i).collect();
            assert_eq!(indexes, vec![1, 3], "{compression:?}");
            assert!(e.errors[0].1.contains("without key in topic partition t-0"));
            assert!(e
                .summary()
                .starts_with("One or more records have been rejected due to 2 record errors"));
            assert!(
                check(&b, &config(false, i64::MAX, 3_600_000)).is_ok(),
                "keys are optional elsewhere"
            );
        }
    }

    #[test]
    fn timestamps_out_of_range_are_named_by_index() {
        let hour = 3_600_000;
        let b = encode(
            &[(None, NOW), (None, NOW - 2 * hour), (None, NOW), (None, NOW + 2 * hour)],
            Compression::None,
        );
        let e = check(&b, &config(false, hour, hour)).unwrap_err();
        assert!(e.timestamp);
        assert_eq!(e.errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 3]);
        assert!(e.errors[0].1.starts_with(&format!(
            "Timestamp {} of message with offset 1 is out of range",
            NOW - 2 * hour
        )));
        assert_eq!(
            e.summary(),
            "One or more records have been rejected due to invalid timestamp"
        );
        let mut append_time = config(false, hour, hour);
        append_time.log_append_time = true;
        assert!(check(&b, &append_time).is_ok(), "LogAppendTime replaces the timestamps");
    }

    #[test]
    fn an_old_first_record_is_caught_even_when_the_batch_maximum_is_in_range() {
        let hour = 3_600_000;
        let b = encode(&[(None, NOW - 5 * hour), (None, NOW)], Compression::None);
        assert!(check(&b, &config(false, hour, hour)).is_err());
        assert!(
            check(&b, &config(false, i64::MAX, hour)).is_ok(),
            "no lower bound by default"
        );
    }
}
