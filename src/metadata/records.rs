//! The typed records of the cluster metadata log (KRaft's TopicRecord,
//! PartitionRecord, ConfigRecord, RemoveTopicRecord, ProducerIdsRecord) and
//! their on-disk encoding: `[u32 length][u32 crc32c][body]`, big-endian.

use bytes::{Buf, BufMut, BytesMut};
use uuid::Uuid;

/// ConfigResource types as Kafka numbers them.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

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
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed metadata record: {0}")]
pub struct DecodeError(&'static str);

const TAG_TOPIC: u8 = 1;
const TAG_PARTITION: u8 = 2;
const TAG_CONFIG: u8 = 3;
const TAG_REMOVE_TOPIC: u8 = 4;
const TAG_PRODUCER_IDS: u8 = 5;

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
            } => {
                buf.put_u8(TAG_PARTITION);
                buf.put_slice(topic_id.as_bytes());
                buf.put_i32(*partition);
                put_ids(buf, replicas);
                put_ids(buf, isr);
                buf.put_i32(*leader);
                buf.put_i32(*leader_epoch);
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
        }
    }

    /// Appends the framed record (length, CRC, body) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut body = BytesMut::new();
        self.encode_body(&mut body);
        buf.put_u32(body.len() as u32);
        buf.put_u32(crc32c::crc32c(&body));
        buf.put_slice(&body);
    }

    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(body);
        let rec = match r.u8()? {
            TAG_TOPIC => MetadataRecord::Topic {
                name: r.str()?,
                topic_id: r.uuid()?,
            },
            TAG_PARTITION => MetadataRecord::Partition {
                topic_id: r.uuid()?,
                partition: r.i32()?,
                replicas: r.ids()?,
                isr: r.ids()?,
                leader: r.i32()?,
                leader_epoch: r.i32()?,
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
        Ok(Some((Self::decode_body(body)?, 8 + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let id = Uuid::new_v4();
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
}
