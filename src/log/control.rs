//! Transaction markers: the control batches a transaction coordinator has
//! written into each partition of a transaction to end it (Kafka's
//! EndTransactionMarker). A marker batch is transactional and control,
//! carries the producer id and epoch of the transaction, no sequence, and
//! one record whose key is `[version: i16 = 0, type: i16]` (ABORT = 0,
//! COMMIT = 1) and whose value is `[version: i16 = 0, coordinator epoch:
//! i32]`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_SEQUENCE,
};

use super::batch::{BatchError, BatchHeader};

const ABORT: i16 = 0;
const COMMIT: i16 = 1;

/// The end of a transaction in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnMarker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// A marker batch for `producer_id` / `producer_epoch`, at offset 0 (the
/// log assigns the real one) and in leader epoch `leader_epoch`.
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    timestamp_ms: i64,
    leader_epoch: i32,
) -> Bytes {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(if marker.commit { COMMIT } else { ABORT });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(marker.coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: leader_epoch,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: NO_SEQUENCE,
        timestamp: timestamp_ms,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    };
    let mut b = BytesMut::with_capacity(96);
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut b, [&record], &options).expect("an uncompressed batch of one record encodes");
    b.freeze()
}

/// The marker a control batch holds. `batch` is the whole batch, its
/// header already parsed as `header`.
pub fn parse_marker(header: &BatchHeader, batch: &[u8]) -> Result<EndTxnMarker, BatchError> {
    if !header.is_control() || !header.is_transactional() {
        return Err(BatchError::Invalid("not a transaction marker batch"));
    }
    let mut bytes = Bytes::copy_from_slice(batch.get(..header.total_size()).ok_or(BatchError::Truncated)?);
    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|_| BatchError::Invalid("undecodable marker batch"))?;
    let [record] = &set.records[..] else {
        return Err(BatchError::Invalid("a transaction marker batch holds one record"));
    };
    let mut key = record.key.as_deref().unwrap_or_default();
    let mut value = record.value.as_deref().unwrap_or_default();
    if key.len() < 4 || value.len() < 6 {
        return Err(BatchError::Invalid("transaction marker record too short"));
    }
    let _key_version = key.get_i16();
    let commit = match key.get_i16() {
        ABORT => false,
        COMMIT => true,
        _ => return Err(BatchError::Invalid("control record is not a transaction marker")),
    };
    let _value_version = value.get_i16();
    Ok(EndTxnMarker {
        commit,
        coordinator_epoch: value.get_i32(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::batch::{single_batch, test_support, HEADER_SIZE};
    use super::*;

    #[test]
    fn markers_round_trip_as_valid_control_batches() {
        for commit in [true, false] {
            let marker = EndTxnMarker {
                commit,
                coordinator_epoch: 7,
            };
            let b = marker_batch(42, 3, marker, 1_700_000_000_000, 5);
            let h = single_batch(&b).expect("a valid batch with a correct CRC");
            assert!(h.is_control() && h.is_transactional());
            assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (42, 3, -1));
            assert_eq!(
                (h.records_count, h.last_offset_delta, h.partition_leader_epoch),
                (1, 0, 5)
            );
            assert_eq!(parse_marker(&h, &b), Ok(marker));
        }
    }

    #[test]
    fn the_record_is_kafkas_end_transaction_marker() {
        let b = marker_batch(
            1,
            0,
            EndTxnMarker {
                commit: true,
                coordinator_epoch: 2,
            },
            0,
            0,
        );
        // length 16, attributes, timestamp delta, offset delta, key length 4,
        // key [0, 1], value length 6, value [0, 2], no headers.
        assert_eq!(
            &b[HEADER_SIZE..],
            &[32, 0, 0, 0, 8, 0, 0, 0, 1, 12, 0, 0, 0, 0, 0, 2, 0][..]
        );
    }

    #[test]
    fn data_batches_and_damaged_markers_are_refused() {
        let data = test_support::batch(1, 1, 0, 0, 0);
        let h = single_batch(&data).unwrap();
        assert!(parse_marker(&h, &data).is_err());
        let b = marker_batch(
            1,
            0,
            EndTxnMarker {
                commit: false,
                coordinator_epoch: 0,
            },
            0,
            0,
        );
        let h = single_batch(&b).unwrap();
        for cut in HEADER_SIZE..b.len() {
            assert!(parse_marker(&h, &b[..cut]).is_err(), "cut at {cut}");
        }
        let mut unknown = b.to_vec();
        unknown[HEADER_SIZE + 8] = 9; // the key's type
        assert!(parse_marker(&h, &unknown).is_err());
    }
}
