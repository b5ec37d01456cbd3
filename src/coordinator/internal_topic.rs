//! How coordinators use their internal topics (`__consumer_offsets`,
//! `__transaction_state`): records are key/value pairs in the topic's own
//! formats, appended as one batch by the partition's leader with acks=all
//! (the write completes once every in-sync replica holds it, as Kafka's
//! coordinators write), and read back in order when a node comes to lead a
//! partition. A null value is a tombstone.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::clock::now_ms;
use crate::log::batch::{BatchHeader, HEADER_SIZE};
use crate::log::control;
use crate::log::producer_state::{SequenceError, VerificationGuard};
use crate::log::LogError;
use crate::replication::partition::{Isolation, PartitionError};
use crate::replication::{Partition, ReplicaManager};

/// Records a coordinator appended to its internal topic, to be replicated
/// before the request that wrote them is answered.
pub struct Written {
    part: Arc<Partition>,
    pub base_offset: i64,
    end_offset: i64,
    leader_epoch: i32,
}

impl Written {
    /// Waits until every in-sync replica holds the records; the error is
    /// what Kafka's coordinators answer for a write that did not complete.
    pub async fn replicated(self, timeout: Duration) -> Result<(), ResponseError> {
        self.part
            .wait_for_replication(self.end_offset, self.leader_epoch, timeout)
            .await
            .map_err(|e| match e {
                PartitionError::NotLeader => ResponseError::NotCoordinator,
                _ => ResponseError::CoordinatorNotAvailable,
            })
    }
}

/// Appends `kvs` as one batch to `topic`-`partition`, which this node must
/// lead (else NOT_COORDINATOR; a partition not hosted here, or a refused
/// append, is COORDINATOR_NOT_AVAILABLE).
pub fn append(
    replicas: &ReplicaManager,
    topic: &str,
    partition: i32,
    kvs: Vec<(Bytes, Option<Bytes>)>,
) -> Result<Written, ResponseError> {
    append_for(replicas, topic, partition, None, kvs)
}

/// The transaction a coordinator's write joins (TxnOffsetCommit's offsets):
/// its producer, and the guard of the verification that lets it open the
/// transaction in the partition (KIP-890) when it is not open there yet.
#[derive(Debug, Clone, Copy)]
pub struct TxnProducer {
    pub id: i64,
    pub epoch: i16,
    pub guard: Option<VerificationGuard>,
}

/// `append`, as part of the transaction of `producer` when given: the
/// batch is transactional (TxnOffsetCommit's offsets), and its records take
/// effect when the transaction's marker follows.
pub fn append_for(
    replicas: &ReplicaManager,
    topic: &str,
    partition: i32,
    producer: Option<TxnProducer>,
    kvs: Vec<(Bytes, Option<Bytes>)>,
) -> Result<Written, ResponseError> {
    let (producer_id, producer_epoch) = producer.map_or((-1, -1), |p| (p.id, p.epoch));
    let part = replicas
        .get(topic, partition)
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    let now = now_ms();
    let recs: Vec<Record> = kvs
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps records in one batch while offset minus
            // sequence is constant; this also leaves base sequence -1.
            sequence: i as i32 - 1,
            timestamp: now,
            key: Some(k),
            value: v,
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &recs,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|_| ResponseError::UnknownServerError)?;
    let guard = producer.and_then(|p| p.guard);
    let info = part.append_as_coordinator(&buf.freeze(), now, guard).map_err(|e| {
        tracing::warn!(topic, partition, error = %e, "write to an internal topic failed");
        match e {
            PartitionError::NotLeader => ResponseError::NotCoordinator,
            // A marker overtook the verification: the transaction it
            // verified is over.
            PartitionError::Log(LogError::Sequence(SequenceError::Unverified { .. })) => ResponseError::InvalidTxnState,
            _ => ResponseError::CoordinatorNotAvailable,
        }
    })?;
    Ok(Written {
        part,
        base_offset: info.base_offset,
        end_offset: info.last_offset + 1,
        leader_epoch: info.leader_epoch,
    })
}

/// One entry of an internal topic, as replay reads it.
pub enum Entry {
    /// A key and value (a null value is a tombstone); `producer` is the
    /// transaction (producer id) it belongs to, if it was written in one.
    Record {
        key: Bytes,
        value: Option<Bytes>,
        producer: Option<i64>,
        offset: i64,
    },
    /// The end of `producer_id`'s transaction at `offset`.
    Marker {
        producer_id: i64,
        commit: bool,
        offset: i64,
    },
}

/// Reads `topic`-`partition` from its log start to its log end and calls
/// `f` with every record and transaction marker, in order. Returns how many
/// records were read.
pub fn replay(replicas: &ReplicaManager, topic: &str, partition: i32, mut f: impl FnMut(Entry)) -> usize {
    let mut read = 0usize;
    let Some(part) = replicas.get(topic, partition) else {
        return 0;
    };
    let mut offset = part.offsets().log_start_offset;
    loop {
        let snap = match part.fetch(offset, 1 << 20, true, Isolation::LogEnd, None) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(topic, partition, error = %e, "cannot replay an internal topic");
                break;
            }
        };
        let Some(plan) = snap.plan else { break };
        let Ok(mut data) = plan.read() else { break };
        let before = offset;
        while data.len() >= HEADER_SIZE {
            let Ok(h) = BatchHeader::parse(&data) else {
                break;
            };
            if h.total_size() > data.len() {
                break;
            }
            let mut one = data.split_to(h.total_size());
            offset = h.last_offset() + 1;
            if h.is_control() {
                if let Ok(m) = control::parse_marker(&h, &one) {
                    f(Entry::Marker {
                        producer_id: h.producer_id,
                        commit: m.commit,
                        offset: h.base_offset,
                    });
                }
                continue;
            }
            let producer = h.is_transactional().then_some(h.producer_id);
            if let Ok(set) = RecordBatchDecoder::decode(&mut one) {
                for r in set.records {
                    if let Some(key) = r.key {
                        f(Entry::Record {
                            key,
                            value: r.value,
                            producer,
                            offset: r.offset,
                        });
                        read += 1;
                    }
                }
            }
        }
        if offset == before {
            break;
        }
    }
    read
}
