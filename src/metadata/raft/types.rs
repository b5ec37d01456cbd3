//! openraft's type configuration for the metadata log, and the one
//! application payload a raft entry carries: a batch of metadata records.

use bytes::BytesMut;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::metadata::records::MetadataRecord;

openraft::declare_raft_types!(
    /// The metadata quorum's openraft types: node ids are Kafka node ids
    /// widened to u64, a node is known by its controller listener address.
    pub(crate) TypeConfig:
        D = MetadataBatch,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub(crate) type Entry = openraft::Entry<TypeConfig>;
pub(crate) type LogId = openraft::LogId<u64>;
pub(crate) type Vote = openraft::Vote<u64>;
pub(crate) type StorageError = openraft::StorageError<u64>;
pub(crate) type StoredMembership = openraft::StoredMembership<u64, openraft::BasicNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<u64, openraft::BasicNode>;
pub(crate) type Raft = openraft::Raft<TypeConfig>;

/// Kafka node ids are non-negative i32s; openraft wants a u64.
pub(crate) fn raft_id(node_id: i32) -> u64 {
    debug_assert!(node_id >= 0, "Kafka node ids are non-negative");
    node_id as u64
}

pub(crate) fn kafka_id(raft_id: u64) -> i32 {
    raft_id as i32
}

/// One raft entry's application data: records committed together and
/// applied together. Records travel in their own framing
/// (`MetadataRecord::encode`), hex-encoded inside the serde document, so
/// record kinds added later flow through unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataBatch {
    #[serde(serialize_with = "records_to_hex", deserialize_with = "records_from_hex")]
    pub records: Vec<MetadataRecord>,
    /// The one batch that carried an upgraded single node's `metadata.log`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

/// Frames records back to back (`MetadataRecord::encode`).
pub(crate) fn encode_records(records: &[MetadataRecord], buf: &mut BytesMut) {
    for r in records {
        r.encode(buf);
    }
}

/// Decodes back-to-back framed records; every byte must belong to a whole,
/// valid record.
pub(crate) fn decode_records(mut bytes: &[u8]) -> Result<Vec<MetadataRecord>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match MetadataRecord::decode(bytes) {
            Ok(Some((r, used))) => {
                out.push(r);
                bytes = &bytes[used..];
            }
            Ok(None) => return Err("truncated metadata record".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn records_to_hex<S: Serializer>(records: &[MetadataRecord], s: S) -> Result<S::Ok, S::Error> {
    let mut buf = BytesMut::new();
    encode_records(records, &mut buf);
    let mut hex = String::with_capacity(buf.len() * 2);
    for b in buf.iter() {
        hex.push(HEX[(b >> 4) as usize] as char);
        hex.push(HEX[(b & 0xf) as usize] as char);
    }
    s.serialize_str(&hex)
}

fn records_from_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MetadataRecord>, D::Error> {
    use serde::de::Error;
    let hex = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(D::Error::custom("records: not a hex digit")),
    };
    let hex = hex.as_bytes();
    if hex.len() % 2 != 0 {
        return Err(D::Error::custom("records: odd hex length"));
    }
    let bytes = hex
        .chunks(2)
        .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
        .collect::<Result<Vec<u8>, D::Error>>()?;
    decode_records(&bytes).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_through_json() {
        let batch = MetadataBatch {
            records: vec![MetadataRecord::ProducerIds {
                broker_id: 1,
                next_producer_id: 42,
            }],
            imported: false,
        };
        let json = serde_json::to_string(&batch).unwrap();
        assert!(!json.contains("imported"));
        assert_eq!(serde_json::from_str::<MetadataBatch>(&json).unwrap(), batch);
        assert!(serde_json::from_str::<MetadataBatch>(r#"{"records":"0g"}"#).is_err());
    }
}
