//! Records of the `__transaction_state` topic in Kafka's own formats, so
//! that Kafka's tools read them: TransactionLogKey v0 (the transactional
//! id) and TransactionLogValue v0 (classic) or v1 (flexible, with the
//! tagged fields PreviousProducerId = 0, NextProducerId = 1 and
//! ClientTransactionVersion = 2). A null value is the tombstone of an
//! expired transactional id.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TopicPartition, TxnState, TxnTransition, NO_PRODUCER_ID};

/// The key version Kafka writes (and the only one it reads).
const KEY_VERSION: i16 = 0;
/// The first flexible value version (transaction.version ≥ 1).
const FLEXIBLE_VALUE_VERSION: i16 = 1;
const TAG_PREVIOUS_PRODUCER_ID: u32 = 0;
const TAG_NEXT_PRODUCER_ID: u32 = 1;
const TAG_CLIENT_TRANSACTION_VERSION: u32 = 2;

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError(pub String);

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn short(what: &str) -> RecordError {
    RecordError(format!("transaction log record ends inside {what}"))
}

pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + transactional_id.len());
    b.put_i16(KEY_VERSION);
    put_str(&mut b, transactional_id);
    b.freeze()
}

pub fn decode_key(mut buf: &[u8]) -> Result<String, RecordError> {
    let version = get_i16(&mut buf, "the key version")?;
    if version != KEY_VERSION {
        return Err(RecordError(format!("unknown transaction log key version {version}")));
    }
    get_str(&mut buf, "the transactional id")
}

/// The value of `transition`, in version 1 when the transaction version in
/// force is at least 1 (as Kafka's TransactionLog does), else version 0.
pub fn encode_value(t: &TxnTransition, transaction_version_level: i16) -> Bytes {
    let flexible = transaction_version_level >= 1;
    let mut b = BytesMut::with_capacity(64);
    b.put_i16(if flexible { FLEXIBLE_VALUE_VERSION } else { 0 });
    b.put_i64(t.producer_id);
    b.put_i16(t.producer_epoch);
    b.put_i32(t.timeout_ms);
    b.put_i8(t.state.id());
    // Kafka writes no partition list (null) for Empty.
    let partitions = (t.state != TxnState::Empty).then(|| by_topic(&t.partitions));
    match (&partitions, flexible) {
        (None, false) => b.put_i32(-1),
        (None, true) => put_uvarint(&mut b, 0),
        (Some(topics), false) => {
            b.put_i32(topics.len() as i32);
            for (topic, ids) in topics {
                put_str(&mut b, topic);
                b.put_i32(ids.len() as i32);
                ids.iter().for_each(|p| b.put_i32(*p));
            }
        }
        (Some(topics), true) => {
            put_uvarint(&mut b, topics.len() as u32 + 1);
            for (topic, ids) in topics {
                put_uvarint(&mut b, topic.len() as u32 + 1);
                b.put_slice(topic.as_bytes());
                put_uvarint(&mut b, ids.len() as u32 + 1);
                ids.iter().for_each(|p| b.put_i32(*p));
                put_uvarint(&mut b, 0); // the entry's tagged fields
            }
        }
    }
    b.put_i64(t.last_update_ms);
    b.put_i64(t.start_ms);
    if flexible {
        let mut tagged: Vec<(u32, Vec<u8>)> = Vec::new();
        if t.previous_producer_id != NO_PRODUCER_ID {
            tagged.push((TAG_PREVIOUS_PRODUCER_ID, t.previous_producer_id.to_be_bytes().to_vec()));
        }
        if t.next_producer_id != NO_PRODUCER_ID {
            tagged.push((TAG_NEXT_PRODUCER_ID, t.next_producer_id.to_be_bytes().to_vec()));
        }
        if t.client_version != 0 {
            tagged.push((TAG_CLIENT_TRANSACTION_VERSION, t.client_version.to_be_bytes().to_vec()));
        }
        put_uvarint(&mut b, tagged.len() as u32);
        for (tag, data) in tagged {
            put_uvarint(&mut b, tag);
            put_uvarint(&mut b, data.len() as u32);
            b.put_slice(&data);
        }
    }
    b.freeze()
}

/// A value of version 0 or 1. The last producer epoch is not in the
/// record: a loaded transaction has none (-1), as in Kafka.
pub fn decode_value(mut buf: &[u8]) -> Result<TxnTransition, RecordError> {
    let version = get_i16(&mut buf, "the value version")?;
    if !(0..=FLEXIBLE_VALUE_VERSION).contains(&version) {
        return Err(RecordError(format!("unknown transaction log value version {version}")));
    }
    let flexible = version >= FLEXIBLE_VALUE_VERSION;
    let producer_id = get_i64(&mut buf, "ProducerId")?;
    let producer_epoch = get_i16(&mut buf, "ProducerEpoch")?;
    let timeout_ms = get_i32(&mut buf, "TransactionTimeoutMs")?;
    let status = get_i8(&mut buf, "TransactionStatus")?;
    let state = TxnState::from_id(status).ok_or_else(|| RecordError(format!("unknown transaction status {status}")))?;
    let mut partitions = BTreeSet::new();
    let topics = if flexible {
        get_uvarint(&mut buf, "TransactionPartitions")?.checked_sub(1)
    } else {
        u32::try_from(get_i32(&mut buf, "TransactionPartitions")?).ok()
    };
    for _ in 0..topics.unwrap_or(0) {
        let topic = if flexible {
            let len = get_uvarint(&mut buf, "Topic")?
                .checked_sub(1)
                .ok_or_else(|| RecordError("null topic in TransactionPartitions".into()))?;
            get_utf8(&mut buf, len as usize, "Topic")?
        } else {
            get_str(&mut buf, "Topic")?
        };
        let count = if flexible {
            get_uvarint(&mut buf, "PartitionIds")?.saturating_sub(1) as usize
        } else {
            get_i32(&mut buf, "PartitionIds")?.max(0) as usize
        };
        for _ in 0..count {
            partitions.insert((topic.clone(), get_i32(&mut buf, "PartitionIds")?));
        }
        if flexible {
            skip_tagged(&mut buf)?;
        }
    }
    let last_update_ms = get_i64(&mut buf, "TransactionLastUpdateTimestampMs")?;
    let start_ms = get_i64(&mut buf, "TransactionStartTimestampMs")?;
    let mut t = TxnTransition {
        producer_id,
        previous_producer_id: NO_PRODUCER_ID,
        next_producer_id: NO_PRODUCER_ID,
        producer_epoch,
        last_producer_epoch: -1,
        timeout_ms,
        state,
        partitions: if state == TxnState::Empty {
            BTreeSet::new()
        } else {
            partitions
        },
        start_ms,
        last_update_ms,
        client_version: 0,
    };
    if flexible {
        let count = get_uvarint(&mut buf, "the tagged fields")?;
        for _ in 0..count {
            let tag = get_uvarint(&mut buf, "a tag")?;
            let size = get_uvarint(&mut buf, "a tag's size")? as usize;
            if buf.len() < size {
                return Err(short("a tagged field"));
            }
            let (mut data, rest) = buf.split_at(size);
            match tag {
                TAG_PREVIOUS_PRODUCER_ID => t.previous_producer_id = get_i64(&mut data, "PreviousProducerId")?,
                TAG_NEXT_PRODUCER_ID => t.next_producer_id = get_i64(&mut data, "NextProducerId")?,
                TAG_CLIENT_TRANSACTION_VERSION => t.client_version = get_i16(&mut data, "ClientTransactionVersion")?,
                _ => {} // a field a later version added
            }
            buf = rest;
        }
    }
    Ok(t)
}

fn by_topic(partitions: &BTreeSet<TopicPartition>) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, p) in partitions {
        topics.entry(topic.as_str()).or_default().push(*p);
    }
    topics
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn get_i8(buf: &mut &[u8], what: &str) -> Result<i8, RecordError> {
    (buf.remaining() >= 1).then(|| buf.get_i8()).ok_or_else(|| short(what))
}

fn get_i16(buf: &mut &[u8], what: &str) -> Result<i16, RecordError> {
    (buf.remaining() >= 2).then(|| buf.get_i16()).ok_or_else(|| short(what))
}

fn get_i32(buf: &mut &[u8], what: &str) -> Result<i32, RecordError> {
    (buf.remaining() >= 4).then(|| buf.get_i32()).ok_or_else(|| short(what))
}

fn get_i64(buf: &mut &[u8], what: &str) -> Result<i64, RecordError> {
    (buf.remaining() >= 8).then(|| buf.get_i64()).ok_or_else(|| short(what))
}

fn get_uvarint(buf: &mut &[u8], what: &str) -> Result<u32, RecordError> {
    let mut value = 0u32;
    for i in 0..5 {
        let b = u32::from(get_i8(buf, what)? as u8);
        value |= (b & 0x7f) << (i * 7);
        if b < 0x80 {
            return Ok(value);
        }
    }
    Err(RecordError(format!("varint of {what} longer than five bytes")))
}

fn get_utf8(buf: &mut &[u8], len: usize, what: &str) -> Result<String, RecordError> {
    if buf.len() < len {
        return Err(short(what));
    }
    let (s, rest) = buf.split_at(len);
    *buf = rest;
    String::from_utf8(s.to_vec()).map_err(|_| RecordError(format!("{what} is not UTF-8")))
}

fn get_str(buf: &mut &[u8], what: &str) -> Result<String, RecordError> {
    let len = get_i16(buf, what)?;
    let len = usize::try_from(len).map_err(|_| RecordError(format!("null {what}")))?;
    get_utf8(buf, len, what)
}

fn skip_tagged(buf: &mut &[u8]) -> Result<(), RecordError> {
    for _ in 0..get_uvarint(buf, "the tagged fields")? {
        get_uvarint(buf, "a tag")?;
        let size = get_uvarint(buf, "a tag's size")? as usize;
        if buf.len() < size {
            return Err(short("a tagged field"));
        }
        buf.advance(size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ongoing() -> TxnTransition {
        TxnTransition {
            producer_id: 4000,
            previous_producer_id: 3999,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: 7,
            last_producer_epoch: -1,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [
                ("orders".to_string(), 2),
                ("orders".to_string(), 0),
                ("audit".to_string(), 1),
            ]
            .into_iter()
            .collect(),
            start_ms: 1_700_000_000_000,
            last_update_ms: 1_700_000_000_500,
            client_version: 2,
        }
    }

    #[test]
    fn key_is_version_zero_and_the_id() {
        let key = encode_key("tx-1");
        assert_eq!(&key[..], &[0, 0, 0, 4, b't', b'x', b'-', b'1']);
        assert_eq!(decode_key(&key).unwrap(), "tx-1");
        assert!(decode_key(&[0, 1, 0, 0]).is_err());
        assert!(decode_key(&[0, 0, 0, 9, b'x']).is_err());
    }

    #[test]
    fn flexible_value_round_trips_with_its_tagged_fields() {
        let t = ongoing();
        let bytes = encode_value(&t, 2);
        assert_eq!(&bytes[..2], &[0, 1]);
        assert_eq!(decode_value(&bytes).unwrap(), t);
    }

    #[test]
    fn classic_value_round_trips_without_the_tagged_fields() {
        let t = ongoing();
        let bytes = encode_value(&t, 0);
        assert_eq!(&bytes[..2], &[0, 0]);
        let back = decode_value(&bytes).unwrap();
        assert_eq!(back.previous_producer_id, NO_PRODUCER_ID);
        assert_eq!(back.client_version, 0);
        assert_eq!(
            TxnTransition {
                previous_producer_id: t.previous_producer_id,
                client_version: t.client_version,
                ..back
            },
            t
        );
    }

    #[test]
    fn classic_value_bytes_match_kafkas_layout() {
        // Kafka's TransactionLogValue v0 for producer 1, epoch 2, 1000 ms,
        // Ongoing, partitions t-0, last update 5, start 4.
        let t = TxnTransition {
            producer_id: 1,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: 2,
            last_producer_epoch: -1,
            timeout_ms: 1000,
            state: TxnState::Ongoing,
            partitions: [("t".to_string(), 0)].into_iter().collect(),
            start_ms: 4,
            last_update_ms: 5,
            client_version: 0,
        };
        let expected: Vec<u8> = [
            &[0u8, 0][..],
            &1i64.to_be_bytes(),
            &2i16.to_be_bytes(),
            &1000i32.to_be_bytes(),
            &[1],
            &1i32.to_be_bytes(),
            &[0, 1, b't'],
            &1i32.to_be_bytes(),
            &0i32.to_be_bytes(),
            &5i64.to_be_bytes(),
            &4i64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(&encode_value(&t, 0)[..], &expected[..]);
    }

    #[test]
    fn empty_writes_a_null_partition_list() {
        let t = TxnTransition {
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            ..ongoing()
        };
        for level in [0, 2] {
            let bytes = encode_value(&t, level);
            assert_eq!(decode_value(&bytes).unwrap().partitions, BTreeSet::new());
        }
        // v0: the array length right after the status byte is -1.
        let v0 = encode_value(&t, 0);
        assert_eq!(&v0[17..21], &(-1i32).to_be_bytes());
    }

    #[test]
    fn truncated_and_unknown_values_are_errors() {
        let bytes = encode_value(&ongoing(), 2);
        for cut in 0..bytes.len() {
            assert!(decode_value(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut unknown = bytes.to_vec();
        unknown[1] = 9;
        assert!(decode_value(&unknown).is_err());
        let mut bad_state = encode_value(&ongoing(), 0).to_vec();
        bad_state[16] = 42;
        assert!(decode_value(&bad_state).is_err());
    }

    #[test]
    fn unknown_tagged_fields_are_skipped() {
        let mut bytes = encode_value(&ongoing(), 2).to_vec();
        // Replace the tagged-field section (2 fields) with 3: tag 9 first.
        let t = ongoing();
        let mut tail = BytesMut::new();
        put_uvarint(&mut tail, 3);
        put_uvarint(&mut tail, 9);
        put_uvarint(&mut tail, 3);
        tail.put_slice(&[1, 2, 3]);
        put_uvarint(&mut tail, TAG_PREVIOUS_PRODUCER_ID);
        put_uvarint(&mut tail, 8);
        tail.put_i64(t.previous_producer_id);
        put_uvarint(&mut tail, TAG_CLIENT_TRANSACTION_VERSION);
        put_uvarint(&mut tail, 2);
        tail.put_i16(t.client_version);
        let section = 1 + 2 + 8 + 2 + 2; // count, (tag, size, i64), (tag, size, i16)
        bytes.truncate(bytes.len() - section);
        bytes.extend_from_slice(&tail);
        assert_eq!(decode_value(&bytes).unwrap(), t);
    }
}
