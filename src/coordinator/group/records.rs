//! Records of the `__consumer_offsets` topic, in Kafka's own key and value
//! formats (non-flexible versions), so Kafka's tools can read them:
//! OffsetCommitKey (v1) / OffsetCommitValue (v3) and GroupMetadataKey (v2)
//! / GroupMetadataValue (v3). A null value is a tombstone.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::CommittedOffset;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
}

/// The parts of a group's metadata fjord persists and restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp_ms: i64,
    pub members: Vec<MemberValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_str(b: &mut BytesMut, s: &Option<String>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

impl RecordKey {
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        match self {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => {
                b.put_i16(1);
                put_str(&mut b, group);
                put_str(&mut b, topic);
                b.put_i32(*partition);
            }
            RecordKey::Group { group } => {
                b.put_i16(2);
                put_str(&mut b, group);
            }
        }
        b.freeze()
    }

    pub fn decode(mut buf: &[u8]) -> Option<Self> {
        let version = get_i16(&mut buf)?;
        match version {
            0 | 1 => Some(RecordKey::Offset {
                group: get_str(&mut buf)?,
                topic: get_str(&mut buf)?,
                partition: get_i32(&mut buf)?,
            }),
            2 => Some(RecordKey::Group {
                group: get_str(&mut buf)?,
            }),
            _ => None,
        }
    }
}

pub fn encode_offset_value(o: &CommittedOffset) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    b.put_i64(o.offset);
    b.put_i32(o.leader_epoch);
    put_str(&mut b, &o.metadata);
    b.put_i64(o.commit_timestamp_ms);
    b.freeze()
}

/// Offset values of versions 0 to 3.
pub fn decode_offset_value(mut buf: &[u8]) -> Option<CommittedOffset> {
    let version = get_i16(&mut buf)?;
    let offset = get_i64(&mut buf)?;
    let leader_epoch = if version >= 3 { get_i32(&mut buf)? } else { -1 };
    let metadata = get_str(&mut buf)?;
    let commit_timestamp_ms = get_i64(&mut buf)?;
    Some(CommittedOffset {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
    })
}

pub fn encode_group_value(g: &GroupMetadataValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, &g.protocol_type);
    b.put_i32(g.generation_id);
    put_nullable_str(&mut b, &g.protocol_name);
    put_nullable_str(&mut b, &g.leader);
    b.put_i64(g.state_timestamp_ms);
    b.put_i32(g.members.len() as i32);
    for m in &g.members {
        put_str(&mut b, &m.member_id);
        put_nullable_str(&mut b, &m.group_instance_id);
        put_str(&mut b, &m.client_id);
        put_str(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        b.put_i32(m.session_timeout_ms);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

/// Group values of version 3 (what fjord writes; Kafka 4.x writes v3 too).
pub fn decode_group_value(mut buf: &[u8]) -> Option<GroupMetadataValue> {
    if get_i16(&mut buf)? != 3 {
        return None;
    }
    let protocol_type = get_str(&mut buf)?;
    let generation_id = get_i32(&mut buf)?;
    let protocol_name = get_nullable_str(&mut buf)?;
    let leader = get_nullable_str(&mut buf)?;
    let state_timestamp_ms = get_i64(&mut buf)?;
    let count = get_i32(&mut buf)?;
    if count < 0 || count as usize > buf.len() {
        return None;
    }
    let mut members = Vec::with_capacity(count as usize);
    for _ in 0..count {
        members.push(MemberValue {
            member_id: get_str(&mut buf)?,
            group_instance_id: get_nullable_str(&mut buf)?,
            client_id: get_str(&mut buf)?,
            client_host: get_str(&mut buf)?,
            rebalance_timeout_ms: get_i32(&mut buf)?,
            session_timeout_ms: get_i32(&mut buf)?,
            subscription: get_bytes(&mut buf)?,
            assignment: get_bytes(&mut buf)?,
        });
    }
    Some(GroupMetadataValue {
        protocol_type,
        generation_id,
        protocol_name,
        leader,
        state_timestamp_ms,
        members,
    })
}

fn get_i16(b: &mut &[u8]) -> Option<i16> {
    (b.len() >= 2).then(|| b.get_i16())
}
fn get_i32(b: &mut &[u8]) -> Option<i32> {
    (b.len() >= 4).then(|| b.get_i32())
}
fn get_i64(b: &mut &[u8]) -> Option<i64> {
    (b.len() >= 8).then(|| b.get_i64())
}
fn get_str(b: &mut &[u8]) -> Option<String> {
    get_nullable_str(b)?.or(Some(String::new()))
}
fn get_nullable_str(b: &mut &[u8]) -> Option<Option<String>> {
    let len = get_i16(b)?;
    if len < 0 {
        return Some(None);
    }
    let len = len as usize;
    if b.len() < len {
        return None;
    }
    let s = String::from_utf8_lossy(&b[..len]).to_string();
    b.advance(len);
    Some(Some(s))
}
fn get_bytes(b: &mut &[u8]) -> Option<Bytes> {
    let len = get_i32(b)?;
    if len < 0 {
        return Some(Bytes::new());
    }
    let len = len as usize;
    if b.len() < len {
        return None;
    }
    let v = Bytes::copy_from_slice(&b[..len]);
    b.advance(len);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let k = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        };
        assert_eq!(RecordKey::decode(&k.encode()), Some(k));
        let k = RecordKey::Group { group: "g".into() };
        assert_eq!(RecordKey::decode(&k.encode()), Some(k));
        let o = CommittedOffset {
            offset: 42,
            leader_epoch: 1,
            metadata: "m".into(),
            commit_timestamp_ms: 7,
        };
        assert_eq!(decode_offset_value(&encode_offset_value(&o)), Some(o));
        let g = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation_id: 4,
            protocol_name: Some("range".into()),
            leader: None,
            state_timestamp_ms: 9,
            members: vec![MemberValue {
                member_id: "m".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout_ms: 1,
                session_timeout_ms: 2,
                subscription: Bytes::from_static(b"s"),
                assignment: Bytes::new(),
            }],
        };
        assert_eq!(decode_group_value(&encode_group_value(&g)), Some(g));
    }
}
