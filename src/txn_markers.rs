//! Writing transaction markers (Kafka's TransactionMarkerChannelManager and
//! the WriteTxnMarkers side of its ReplicaManager): the transaction
//! coordinator's way to end a transaction in each of its partitions. A
//! partition this node leads gets its marker appended here with acks=all;
//! one led elsewhere gets it through a WriteTxnMarkers request to its
//! leader. A marker in a `__consumer_offsets` partition also completes the
//! transaction's offsets in the group coordinator.

use std::collections::{BTreeMap, HashMap};
use std::sync::Weak;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::cluster::client::NodeClient;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::coordinator::transaction::coordinator::{BoxFuture, MarkerBatch, TxnServices};
use crate::coordinator::transaction::state::TopicPartition;
use crate::handlers::errors::partition_error;
use crate::handlers::str_bytes;
use crate::log::control::{marker_batch, EndTxnMarker};

/// How long a marker waits for its partition's replicas, and a
/// WriteTxnMarkers request for its answer.
const MARKER_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TXN_MARKERS_VERSION: i16 = 1;

/// Writes one marker into `topic`-`partition`, which this node must lead,
/// and waits until its in-sync replicas hold it.
pub async fn write_local(
    broker: &Broker,
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    topic: &str,
    partition: i32,
) -> Result<(), ResponseError> {
    let image = broker.metadata.image();
    let part = broker.leader_partition(&image, topic, partition)?;
    let now = now_ms();
    let batch = marker_batch(producer_id, producer_epoch, marker, now, part.leader_epoch());
    let info = part
        .append_marker_as_leader(&batch, now)
        .map_err(|e| partition_error(&e))?;
    part.wait_for_replication(info.last_offset + 1, info.leader_epoch, MARKER_TIMEOUT)
        .await
        .map_err(|e| partition_error(&e))?;
    if topic == OFFSETS_TOPIC {
        broker.groups.complete_txn(partition, producer_id, marker.commit);
    }
    Ok(())
}

/// The broker's services to its transaction coordinator.
pub struct BrokerTxnServices {
    broker: Weak<Broker>,
}

impl BrokerTxnServices {
    pub fn new(broker: Weak<Broker>) -> Self {
        BrokerTxnServices { broker }
    }

    async fn write(&self, batch: MarkerBatch) -> Vec<(TopicPartition, Result<(), ResponseError>)> {
        let Some(broker) = self.broker.upgrade() else {
            return fail_all(batch.partitions, ResponseError::CoordinatorNotAvailable);
        };
        let marker = EndTxnMarker {
            commit: batch.commit,
            coordinator_epoch: batch.coordinator_epoch,
        };
        let image = broker.metadata.image();
        let me = broker.config.node_id;
        let mut out = Vec::new();
        let mut remote: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let count = batch.partitions.len();
        for (i, tp) in batch.partitions.into_iter().enumerate() {
            let Some(topic) = image.topics.get(&tp.0) else {
                // The topic was deleted: nothing is left to end there.
                out.push((tp, Ok(())));
                continue;
            };
            match topic.partitions.get(&tp.1).map(|p| p.leader) {
                None => out.push((tp, Ok(()))),
                Some(leader) if leader == me => {
                    let r = write_local(&broker, batch.producer_id, batch.producer_epoch, marker, &tp.0, tp.1).await;
                    if r.is_ok() && i + 1 < count {
                        crate::coordinator::transaction::crash_point("end-txn-between-markers");
                    }
                    out.push((tp, r));
                }
                Some(leader) if leader < 0 => out.push((tp, Err(ResponseError::NotLeaderOrFollower))),
                Some(leader) => remote.entry(leader).or_default().push(tp),
            }
        }
        let listener = broker.config.quorum.inter_broker_listener_name.clone();
        for (leader, partitions) in remote {
            let Some(addr) = image.inter_broker_address(leader, &listener) else {
                out.extend(fail_all(partitions, ResponseError::BrokerNotAvailable));
                continue;
            };
            let client = broker.peers.get(leader, addr);
            out.extend(send_remote(&client, &(batch.producer_id, batch.producer_epoch, marker), partitions).await);
        }
        out
    }
}

fn fail_all(partitions: Vec<TopicPartition>, e: ResponseError) -> Vec<(TopicPartition, Result<(), ResponseError>)> {
    partitions.into_iter().map(|tp| (tp, Err(e))).collect()
}

async fn send_remote(
    client: &NodeClient,
    &(producer_id, producer_epoch, marker): &(i64, i16, EndTxnMarker),
    partitions: Vec<TopicPartition>,
) -> Vec<(TopicPartition, Result<(), ResponseError>)> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    let mut m = WritableTxnMarker::default();
    m.producer_id = ProducerId(producer_id);
    m.producer_epoch = producer_epoch;
    m.transaction_result = marker.commit;
    m.coordinator_epoch = marker.coordinator_epoch;
    for (t, ps) in by_topic {
        let mut wt = WritableTxnMarkerTopic::default();
        wt.name = TopicName(str_bytes(t));
        wt.partition_indexes = ps;
        m.topics.push(wt);
    }
    let mut req = WriteTxnMarkersRequest::default();
    req.markers.push(m);
    let resp = match client.call(&req, WRITE_TXN_MARKERS_VERSION, MARKER_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(addr = client.addr(), error = %e, "WriteTxnMarkers failed");
            return fail_all(partitions, ResponseError::NetworkException);
        }
    };
    let mut answered: HashMap<TopicPartition, i16> = HashMap::new();
    for m in resp.markers {
        for t in m.topics {
            for p in t.partitions {
                answered.insert((t.name.0.to_string(), p.partition_index), p.error_code);
            }
        }
    }
    partitions
        .into_iter()
        .map(|tp| {
            let r = match answered.get(&tp) {
                Some(0) => Ok(()),
                Some(code) => Err(ResponseError::try_from_code(*code).unwrap_or(ResponseError::UnknownServerError)),
                None => Err(ResponseError::UnknownServerError),
            };
            (tp, r)
        })
        .collect()
}

impl TxnServices for BrokerTxnServices {
    fn next_producer_id(&self) -> BoxFuture<'_, Result<i64, ResponseError>> {
        Box::pin(async move {
            let broker = self.broker.upgrade().ok_or(ResponseError::CoordinatorNotAvailable)?;
            broker.next_producer_id().await.map_err(|e| e.code)
        })
    }

    fn write_markers(&self, batch: MarkerBatch) -> BoxFuture<'_, Vec<(TopicPartition, Result<(), ResponseError>)>> {
        Box::pin(self.write(batch))
    }
}
