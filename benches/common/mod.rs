//! Inputs shared by the criterion benches: record batches built the way a
//! client builds them (kafka-protocol's encoder), since the log's own test
//! helpers are `#[cfg(test)]` and invisible here.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

/// Value bytes per record in the benches' batches (Kafka perf tests' 1 KiB).
pub const RECORD_VALUE_BYTES: usize = 1024;

/// Wall-clock milliseconds, for timestamps a partition log accepts.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// One uncompressed magic-2 batch of `count` records with `value_bytes`
/// values and no producer id (so a log accepts the same batch repeatedly).
pub fn batch(count: usize, value_bytes: usize, timestamp_ms: i64) -> Bytes {
    let value = Bytes::from(vec![b'x'; value_bytes]);
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch when offset - sequence changes;
            // this keeps one batch and a base sequence of -1 (no idempotence).
            sequence: i as i32 - 1,
            timestamp: timestamp_ms,
            key: None,
            value: Some(value.clone()),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("an uncompressed v2 batch encodes");
    buf.freeze()
}

/// A batch of about 16 KiB: 16 records of 1 KiB values plus headers.
pub fn batch_16k(timestamp_ms: i64) -> Bytes {
    batch(16, RECORD_VALUE_BYTES, timestamp_ms)
}
