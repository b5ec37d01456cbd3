//! The typed records of the cluster metadata log (KRaft's TopicRecord,
//! PartitionRecord, ConfigRecord, RemoveTopicRecord, ProducerIdsRecord,
//! RegisterBrokerRecord, BrokerRegistrationChangeRecord,
//! UnregisterBrokerRecord, FeatureLevelRecord) and their on-disk encoding:
//! `[u32 length][u32 crc32c][body]`, big-endian, the body starting with a
//! one-byte tag. A tag's layout never changes once written: a record that
//! gains fields gets a new tag, and the old tag still decodes (with
//! defaults), so data dirs written by older fjord keep loading.

use bytes::{Buf, BufMut, BytesMut};
use uuid::Uuid;

/// ConfigResource types as Kafka numbers them.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// One listener a broker registered (KRaft's BrokerEndpoint): what
/// Metadata and FindCoordinator answers carry for that listener name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub name: String,
    pub host: String,
    pub port: i32,
    /// Kafka's SecurityProtocol id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
    pub security_protocol: i16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    Topic {
        name: String,
        topic_id: Uuid,
    },
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        /// Bumped on every change of the partition (KRaft's partitionEpoch),
        /// so AlterPartition can refuse requests based on an older state.
        partition_epoch: i32,
        /// A reassignment in progress (KIP-455): replicas joining and
        /// leaving; both empty when none is.
        adding_replicas: Vec<i32>,
        removing_replicas: Vec<i32>,
    },
    /// `value: None` removes the key (back to the default).
    Config {
        resource_type: i8,
        resource_name: String,
        name: String,
        value: Option<String>,
    },
    RemoveTopic {
        topic_id: Uuid,
    },
    /// The next producer id not yet handed out (a block was allocated).
    ProducerIds {
        broker_id: i32,
        next_producer_id: i64,
    },
    /// A broker (incarnation) registered; replaces any earlier registration
    /// of the same id. `broker_epoch` identifies this registration in
    /// heartbeats.
    RegisterBroker {
        broker_id: i32,
        incarnation_id: Uuid,
        broker_epoch: i64,
        listeners: Vec<BrokerEndpoint>,
        rack: Option<String>,
        fenced: bool,
    },
    /// A registered broker was fenced or unfenced.
    BrokerRegistrationChange {
        broker_id: i32,
        broker_epoch: i64,
        fenced: bool,
    },
    UnregisterBroker {
        broker_id: i32,
        broker_epoch: i64,
    },
    /// A finalized feature level (e.g. `metadata.version`); level 0 removes it.
    FeatureLevel {
        name: String,
        level: i16,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed metadata record: {0}")]
pub struct DecodeError(&'static str);

const TAG_TOPIC: u8 = 1;
const TAG_CONFIG: u8 = 3;
const TAG_REMOVE_TOPIC: u8 = 4;
const TAG_PRODUCER_IDS: u8 = 5;
const TAG_REGISTER_BROKER: u8 = 6;
const TAG_BROKER_REGISTRATION_CHANGE: u8 = 7;
const TAG_UNREGISTER_BROKER: u8 = 8;
const TAG_FEATURE_LEVEL: u8 = 9;
/// Partition with `partition_epoch` and the replicas a reassignment adds
/// and removes. `TAG_PARTITION_V1` (no reassignment) still decodes with
/// none in progress, and `TAG_PARTITION_V0` (no epoch) with epoch 0.
const TAG_PARTITION: u8 = 11;
const TAG_PARTITION_V1: u8 = 10;
const TAG_PARTITION_V0: u8 = 2;

fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_u32(s.len() as u32);
    buf.put_slice(s.as_bytes());
}

fn put_opt_str(buf: &mut BytesMut, s: &Option<String>) {
    match s {
        Some(s) => {
            buf.put_i32(s.len() as i32);
            buf.put_slice(s.as_bytes());
        }
        None => buf.put_i32(-1),
    }
}

fn put_ids(buf: &mut BytesMut, ids: &[i32]) {
    buf.put_u32(ids.len() as u32);
    for id in ids {
        buf.put_i32(*id);
    }
}

fn put_endpoints(buf: &mut BytesMut, endpoints: &[BrokerEndpoint]) {
    buf.put_u32(endpoints.len() as u32);
    for e in endpoints {
        put_str(buf, &e.name);
        put_str(buf, &e.host);
        buf.put_i32(e.port);
        buf.put_i16(e.security_protocol);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.0.remaining() < n {
            Err(DecodeError("truncated"))
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn i8(&mut self) -> Result<i8, DecodeError> {
        self.need(1)?;
        Ok(self.0.get_i8())
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        self.need(2)?;
        Ok(self.0.get_i16())
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("bad boolean")),
        }
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.0.get_i64())
    }
    fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        self.need(16)?;
        let mut b = [0u8; 16];
        self.0.copy_to_slice(&mut b);
        Ok(Uuid::from_bytes(b))
    }
    fn bytes(&mut self, n: usize) -> Result<String, DecodeError> {
        self.need(n)?;
        let s = std::str::from_utf8(&self.0[..n])
            .map_err(|_| DecodeError("invalid utf-8"))?
            .to_string();
        self.0.advance(n);
        Ok(s)
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Err(DecodeError("negative string length"));
        }
        self.bytes(n as usize)
    }
    fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        self.bytes(n as usize).map(Some)
    }
    fn ids(&mut self) -> Result<Vec<i32>, DecodeError> {
        let n = self.i32()?;
        if n < 0 || n as usize > self.0.remaining() / 4 {
            return Err(DecodeError("bad id count"));
        }
        (0..n).map(|_| self.i32()).collect()
    }
    fn endpoints(&mut self) -> Result<Vec<BrokerEndpoint>, DecodeError> {
        let n = self.i32()?;
        // An endpoint takes at least 14 bytes: two lengths, port, protocol.
        if n < 0 || n as usize > self.0.remaining() / 14 {
            return Err(DecodeError("bad endpoint count"));
        }
        (0..n)
            .map(|_| {
                Ok(BrokerEndpoint {
                    name: self.str()?,
                    host: self.str()?,
                    port: self.i32()?,
                    security_protocol: self.i16()?,
                })
            })
            .collect()
    }
}

impl MetadataRecord {
    fn encode_body(&self, buf: &mut BytesMut) {
        match self {
            MetadataRecord::Topic { name, topic_id } => {
                buf.put_u8(TAG_TOPIC);
                put_str(buf, name);
                buf.put_slice(topic_id.as_bytes());
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                adding_replicas,
                removing_replicas,
            } => {
                buf.put_u8(TAG_PARTITION);
                buf.put_slice(topic_id.as_bytes());
                buf.put_i32(*partition);
                put_ids(buf, replicas);
                put_ids(buf, isr);
                buf.put_i32(*leader);
                buf.put_i32(*leader_epoch);
                buf.put_i32(*partition_epoch);
                put_ids(buf, adding_replicas);
                put_ids(buf, removing_replicas);
            }
            MetadataRecord::Config {
                resource_type,
                resource_name,
                name,
                value,
            } => {
                buf.put_u8(TAG_CONFIG);
                buf.put_i8(*resource_type);
                put_str(buf, resource_name);
                put_str(buf, name);
                put_opt_str(buf, value);
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                buf.put_u8(TAG_REMOVE_TOPIC);
                buf.put_slice(topic_id.as_bytes());
            }
            MetadataRecord::ProducerIds {
                broker_id,
                next_producer_id,
            } => {
                buf.put_u8(TAG_PRODUCER_IDS);
                buf.put_i32(*broker_id);
                buf.put_i64(*next_producer_id);
            }
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                broker_epoch,
                listeners,
                rack,
                fenced,
            } => {
                buf.put_u8(TAG_REGISTER_BROKER);
                buf.put_i32(*broker_id);
                buf.put_slice(incarnation_id.as_bytes());
                buf.put_i64(*broker_epoch);
                put_endpoints(buf, listeners);
                put_opt_str(buf, rack);
                buf.put_u8(u8::from(*fenced));
            }
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
            } => {
                buf.put_u8(TAG_BROKER_REGISTRATION_CHANGE);
                buf.put_i32(*broker_id);
                buf.put_i64(*broker_epoch);
                buf.put_u8(u8::from(*fenced));
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                buf.put_u8(TAG_UNREGISTER_BROKER);
                buf.put_i32(*broker_id);
                buf.put_i64(*broker_epoch);
            }
            MetadataRecord::FeatureLevel { name, level } => {
                buf.put_u8(TAG_FEATURE_LEVEL);
                put_str(buf, name);
                buf.put_i16(*level);
            }
        }
    }

    /// Appends the framed record (length, CRC, body) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut body = BytesMut::new();
        self.encode_body(&mut body);
        put_frame(buf, &body);
    }

    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(body);
        let rec = match r.u8()? {
            TAG_TOPIC => MetadataRecord::Topic {
                name: r.str()?,
                topic_id: r.uuid()?,
            },
            tag @ (TAG_PARTITION | TAG_PARTITION_V1 | TAG_PARTITION_V0) => MetadataRecord::Partition {
                topic_id: r.uuid()?,
                partition: r.i32()?,
                replicas: r.ids()?,
                isr: r.ids()?,
                leader: r.i32()?,
                leader_epoch: r.i32()?,
                partition_epoch: if tag == TAG_PARTITION_V0 { 0 } else { r.i32()? },
                adding_replicas: if tag == TAG_PARTITION { r.ids()? } else { Vec::new() },
                removing_replicas: if tag == TAG_PARTITION { r.ids()? } else { Vec::new() },
            },
            TAG_CONFIG => MetadataRecord::Config {
                resource_type: r.i8()?,
                resource_name: r.str()?,
                name: r.str()?,
                value: r.opt_str()?,
            },
            TAG_REMOVE_TOPIC => MetadataRecord::RemoveTopic { topic_id: r.uuid()? },
            TAG_PRODUCER_IDS => MetadataRecord::ProducerIds {
                broker_id: r.i32()?,
                next_producer_id: r.i64()?,
            },
            TAG_REGISTER_BROKER => MetadataRecord::RegisterBroker {
                broker_id: r.i32()?,
                incarnation_id: r.uuid()?,
                broker_epoch: r.i64()?,
                listeners: r.endpoints()?,
                rack: r.opt_str()?,
                fenced: r.bool()?,
            },
            TAG_BROKER_REGISTRATION_CHANGE => MetadataRecord::BrokerRegistrationChange {
                broker_id: r.i32()?,
                broker_epoch: r.i64()?,
                fenced: r.bool()?,
            },
            TAG_UNREGISTER_BROKER => MetadataRecord::UnregisterBroker {
                broker_id: r.i32()?,
                broker_epoch: r.i64()?,
            },
            TAG_FEATURE_LEVEL => MetadataRecord::FeatureLevel {
                name: r.str()?,
                level: r.i16()?,
            },
            _ => return Err(DecodeError("unknown record type")),
        };
        if !r.0.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(rec)
    }

    /// Decodes one framed record from the front of `buf`, returning it and
    /// the bytes it used; `Ok(None)` when `buf` ends before a whole record.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, DecodeError> {
        match split_frame(buf)? {
            Some((body, used)) => Ok(Some((Self::decode_body(body)?, used))),
            None => Ok(None),
        }
    }
}

/// `[u32 length][u32 crc32c(body)][body]`, big-endian: how metadata
/// records are framed, and the raft log's entries and snapshots with them.
pub(crate) fn put_frame(out: &mut impl BufMut, body: &[u8]) {
    out.put_u32(body.len() as u32);
    out.put_u32(crc32c::crc32c(body));
    out.put_slice(body);
}

/// The body of the frame at the front of `buf` and the bytes it used;
/// `Ok(None)` when `buf` ends inside it, an error when its CRC does not match.
pub(crate) fn split_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, DecodeError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let len = u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
    if buf.len() - 8 < len {
        return Ok(None);
    }
    let body = &buf[8..8 + len];
    if crc32c::crc32c(body) != crc {
        return Err(DecodeError("crc mismatch"));
    }
    Ok(Some((body, 8 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let id = Uuid::from_u128(1);
        let records = vec![
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
            },
            MetadataRecord::Partition {
                topic_id: id,
                partition: 2,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 4,
                adding_replicas: vec![],
                removing_replicas: vec![],
            },
            MetadataRecord::Partition {
                topic_id: id,
                partition: 3,
                replicas: vec![2, 3, 1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 2,
                partition_epoch: 5,
                adding_replicas: vec![2, 3],
                removing_replicas: vec![1],
            },
            MetadataRecord::Config {
                resource_type: RESOURCE_TOPIC,
                resource_name: "t".into(),
                name: "retention.ms".into(),
                value: None,
            },
            MetadataRecord::RemoveTopic { topic_id: id },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                next_producer_id: 1000,
            },
            MetadataRecord::RegisterBroker {
                broker_id: 2,
                incarnation_id: Uuid::from_u128(7),
                broker_epoch: 42,
                listeners: vec![
                    BrokerEndpoint {
                        name: "PLAINTEXT".into(),
                        host: "localhost".into(),
                        port: 9092,
                        security_protocol: 0,
                    },
                    BrokerEndpoint {
                        name: "SSL".into(),
                        host: "h".into(),
                        port: 9093,
                        security_protocol: 1,
                    },
                ],
                rack: Some("r1".into()),
                fenced: true,
            },
            MetadataRecord::RegisterBroker {
                broker_id: 3,
                incarnation_id: Uuid::from_u128(8),
                broker_epoch: 43,
                listeners: vec![],
                rack: None,
                fenced: false,
            },
            MetadataRecord::BrokerRegistrationChange {
                broker_id: 2,
                broker_epoch: 42,
                fenced: false,
            },
            MetadataRecord::UnregisterBroker {
                broker_id: 3,
                broker_epoch: 43,
            },
            MetadataRecord::FeatureLevel {
                name: "metadata.version".into(),
                level: 27,
            },
        ];
        let mut buf = BytesMut::new();
        for r in &records {
            r.encode(&mut buf);
        }
        let mut at = 0;
        let mut out = Vec::new();
        while let Some((r, n)) = MetadataRecord::decode(&buf[at..]).unwrap() {
            out.push(r);
            at += n;
        }
        assert_eq!(out, records);
        assert_eq!(MetadataRecord::decode(&buf[..5]).unwrap(), None);
    }

    /// A partition record as fjord wrote it before partition epochs (tag 2)
    /// still loads, with partition epoch 0.
    #[test]
    fn old_partition_records_decode_with_epoch_zero() {
        let id = Uuid::from_u128(9);
        let mut body = BytesMut::new();
        body.put_u8(TAG_PARTITION_V0);
        body.put_slice(id.as_bytes());
        body.put_i32(3);
        put_ids(&mut body, &[1, 2]);
        put_ids(&mut body, &[2]);
        body.put_i32(2);
        body.put_i32(5);
        let mut buf = BytesMut::new();
        buf.put_u32(body.len() as u32);
        buf.put_u32(crc32c::crc32c(&body));
        buf.put_slice(&body);
        let (record, used) = MetadataRecord::decode(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(
            record,
            MetadataRecord::Partition {
                topic_id: id,
                partition: 3,
                replicas: vec![1, 2],
                isr: vec![2],
                leader: 2,
                leader_epoch: 5,
                partition_epoch: 0,
                adding_replicas: vec![],
                removing_replicas: vec![],
            }
        );
    }

    /// A partition record as fjord wrote it before reassignments (tag 10)
    /// still loads, with none in progress.
    #[test]
    fn partition_records_without_reassignment_decode() {
        let id = Uuid::from_u128(9);
        let mut body = BytesMut::new();
        body.put_u8(TAG_PARTITION_V1);
        body.put_slice(id.as_bytes());
        body.put_i32(0);
        put_ids(&mut body, &[1, 2]);
        put_ids(&mut body, &[1, 2]);
        body.put_i32(1);
        body.put_i32(3);
        body.put_i32(7);
        let mut buf = BytesMut::new();
        buf.put_u32(body.len() as u32);
        buf.put_u32(crc32c::crc32c(&body));
        buf.put_slice(&body);
        let (record, _) = MetadataRecord::decode(&buf).unwrap().unwrap();
        assert_eq!(
            record,
            MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1, 2],
                isr: vec![1, 2],
                leader: 1,
                leader_epoch: 3,
                partition_epoch: 7,
                adding_replicas: vec![],
                removing_replicas: vec![],
            }
        );
    }

    #[test]
    fn hostile_counts_and_booleans_are_refused() {
        let framed = |body: &[u8]| {
            let mut buf = BytesMut::new();
            buf.put_u32(body.len() as u32);
            buf.put_u32(crc32c::crc32c(body));
            buf.put_slice(body);
            buf
        };
        let mut body = BytesMut::new();
        body.put_u8(TAG_REGISTER_BROKER);
        body.put_i32(1);
        body.put_slice(Uuid::from_u128(1).as_bytes());
        body.put_i64(1);
        body.put_i32(i32::MAX);
        assert_eq!(
            MetadataRecord::decode(&framed(&body)).unwrap_err(),
            DecodeError("bad endpoint count")
        );
        let mut body = BytesMut::new();
        body.put_u8(TAG_BROKER_REGISTRATION_CHANGE);
        body.put_i32(1);
        body.put_i64(1);
        body.put_u8(2);
        assert_eq!(
            MetadataRecord::decode(&framed(&body)).unwrap_err(),
            DecodeError("bad boolean")
        );
    }
}
