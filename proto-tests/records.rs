//! Record batches as a client sends them: magic 2, built by kafka-protocol's
//! encoder, always exactly one batch per call (Produce v3+ requires it).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};

/// Byte ranges of the v2 batch header the broker may rewrite on append;
/// both lie outside the CRC.
pub const BASE_OFFSET: std::ops::Range<usize> = 0..8;
pub const PARTITION_LEADER_EPOCH: std::ops::Range<usize> = 12..16;
pub const HEADER_SIZE: usize = 61;

/// Who wrote a batch: an idempotent producer's id, epoch and base sequence.
#[derive(Clone, Copy, Debug)]
pub struct Producer {
    pub id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// One uncompressed batch of `count` records with timestamps
/// `first_timestamp_ms`, `+1`, ...; values are `value_len` bytes.
pub fn batch_of(count: usize, first_timestamp_ms: i64, value_len: usize, producer: Option<Producer>) -> Bytes {
    records_batch(count, first_timestamp_ms, value_len, producer, false)
}

/// `batch_of`, with the transactional attribute when `transactional` (the
/// encoder takes it from the records, as it does the producer fields).
fn records_batch(
    count: usize,
    first_timestamp_ms: i64,
    value_len: usize,
    producer: Option<Producer>,
    transactional: bool,
) -> Bytes {
    assert!(count > 0);
    assert!(
        !transactional || producer.is_some(),
        "a transactional batch has a producer"
    );
    // The encoder starts a new batch whenever offset - sequence changes, so
    // sequences always run alongside offsets; a batch without a producer
    // then carries base sequence -1, as clients send it.
    let (id, epoch, base_sequence) = match producer {
        Some(p) => (p.id, p.epoch, p.base_sequence),
        None => (NO_PRODUCER_ID, NO_PRODUCER_EPOCH, -1),
    };
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_sequence.wrapping_add(i as i32),
            timestamp: first_timestamp_ms + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(value(i, value_len))),
            headers: Default::default(),
        })
        .collect();
    encode_one_batch(&records)
}

/// Encodes `records` uncompressed, checking that they make one batch.
fn encode_one_batch(records: &[Record]) -> Bytes {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).expect("encode record batch");
    let bytes = buf.freeze();
    let batch_length = i32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    assert_eq!(batch_length + 12, bytes.len(), "the encoder produced exactly one batch");
    bytes
}

/// One uncompressed batch of records with the given keys (None: keyless)
/// and timestamps, no producer id.
pub fn batch_with(records: &[(Option<&str>, i64)]) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: (i as i32).wrapping_sub(1),
            timestamp: *timestamp,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::from(value(i, 16))),
            headers: Default::default(),
        })
        .collect();
    encode_one_batch(&records)
}

pub fn batch(count: usize, first_timestamp_ms: i64) -> Bytes {
    batch_of(count, first_timestamp_ms, 16, None)
}

pub fn idempotent_batch(count: usize, first_timestamp_ms: i64, producer: Producer) -> Bytes {
    batch_of(count, first_timestamp_ms, 16, Some(producer))
}

/// A batch a transactional producer writes inside its transaction.
pub fn transactional_batch(count: usize, first_timestamp_ms: i64, producer: Producer) -> Bytes {
    records_batch(count, first_timestamp_ms, 16, Some(producer), true)
}

fn value(i: usize, len: usize) -> Vec<u8> {
    let seed = format!("value-{i}-");
    seed.bytes().cycle().take(len).collect()
}

/// A produced batch as the broker stores and returns it: the client's bytes
/// with the assigned base offset and the partition leader epoch written in.
pub fn as_stored(batch: &Bytes, base_offset: i64, leader_epoch: i32) -> Vec<u8> {
    let mut b = batch.to_vec();
    b[BASE_OFFSET].copy_from_slice(&base_offset.to_be_bytes());
    b[PARTITION_LEADER_EPOCH].copy_from_slice(&leader_epoch.to_be_bytes());
    b
}
