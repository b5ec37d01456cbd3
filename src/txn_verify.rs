//! Transaction verification (KIP-890, Kafka's AddPartitionsToTxnManager):
//! before a partition leader appends a producer's first transactional
//! batch of a transaction, or the group coordinator writes its first
//! transactional offsets, it asks the transaction coordinator whether the
//! partition is in the producer's ongoing transaction (older clients, which
//! add partitions themselves) or has it added (transaction version 2
//! clients: Produce v12+, TxnOffsetCommit v5+). Data that no transaction
//! knows of would otherwise hang: nothing would ever end it, and the last
//! stable offset would stop there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::{AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId};

use crate::broker::Broker;
use crate::coordinator::transaction::state::TopicPartition;
use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;
use crate::handlers::str_bytes;

/// How long a verification waits for a remote coordinator.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// AddPartitionsToTxn v4 verifies, v5 may add (KIP-890 part 2).
const VERIFY_VERSION: i16 = 4;
const ADD_VERSION: i16 = 5;

/// Verifies (`add` false) or adds (`add` true) `partitions` in the
/// transaction of `transactional_id` / `producer_id` / `producer_epoch`.
/// Returns the partitions that may not be written, with the error the
/// writer answers (Kafka's mapping: a coordinator that is busy or moving is
/// NOT_ENOUGH_REPLICAS, which producers retry; a fenced producer is
/// INVALID_PRODUCER_EPOCH).
pub async fn add_or_verify(
    broker: &Broker,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    partitions: &[TopicPartition],
    add: bool,
) -> HashMap<TopicPartition, ResponseError> {
    let outcome = coordinate(broker, transactional_id, producer_id, producer_epoch, partitions, add).await;
    outcome
        .into_iter()
        .filter_map(|(tp, e)| e.map(|e| (tp, for_writer(e))))
        .collect()
}

fn for_writer(e: ResponseError) -> ResponseError {
    match e {
        ResponseError::ConcurrentTransactions
        | ResponseError::CoordinatorLoadInProgress
        | ResponseError::CoordinatorNotAvailable
        | ResponseError::NotCoordinator
        | ResponseError::NetworkException
        | ResponseError::RequestTimedOut => ResponseError::NotEnoughReplicas,
        ResponseError::ProducerFenced => ResponseError::InvalidProducerEpoch,
        other => other,
    }
}

async fn coordinate(
    broker: &Broker,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    partitions: &[TopicPartition],
    add: bool,
) -> Vec<(TopicPartition, Option<ResponseError>)> {
    let every = |e: ResponseError| partitions.iter().map(|tp| (tp.clone(), Some(e))).collect::<Vec<_>>();
    let coordinator = &broker.transactions;
    let image = broker.metadata.image();
    let leader = image
        .topics
        .get(TRANSACTION_STATE_TOPIC)
        .and_then(|t| t.partitions.get(&coordinator.partition_for(transactional_id)))
        .map_or(-1, |p| p.leader);
    if leader < 0 {
        return every(ResponseError::CoordinatorNotAvailable);
    }
    if leader == broker.config.node_id {
        if !add {
            return coordinator
                .verify_partitions(transactional_id, producer_id, producer_epoch, partitions)
                .unwrap_or_else(every);
        }
        let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        return match coordinator
            .add_partitions(transactional_id, producer_id, producer_epoch, &set)
            .await
        {
            Ok(()) => partitions.iter().map(|tp| (tp.clone(), None)).collect(),
            Err(e) => every(e),
        };
    }
    let listener = &broker.config.quorum.inter_broker_listener_name;
    let Some(addr) = image.inter_broker_address(leader, listener) else {
        return every(ResponseError::CoordinatorNotAvailable);
    };
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    let mut txn = AddPartitionsToTxnTransaction::default();
    txn.transactional_id = TransactionalId(str_bytes(transactional_id));
    txn.producer_id = ProducerId(producer_id);
    txn.producer_epoch = producer_epoch;
    txn.verify_only = !add;
    for (t, ps) in by_topic {
        let mut topic = AddPartitionsToTxnTopic::default();
        topic.name = TopicName(str_bytes(t));
        topic.partitions = ps;
        txn.topics.push(topic);
    }
    let mut req = AddPartitionsToTxnRequest::default();
    req.transactions.push(txn);
    let version = if add { ADD_VERSION } else { VERIFY_VERSION };
    let resp = match broker.peers.get(leader, addr).call(&req, version, VERIFY_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(transactional_id, error = %e, "transaction verification failed");
            return every(ResponseError::NetworkException);
        }
    };
    if resp.error_code != 0 {
        return every(ResponseError::try_from_code(resp.error_code).unwrap_or(ResponseError::UnknownServerError));
    }
    let mut answered: HashMap<TopicPartition, i16> = HashMap::new();
    for r in resp.results_by_transaction {
        for t in r.topic_results {
            for p in t.results_by_partition {
                answered.insert((t.name.0.to_string(), p.partition_index), p.partition_error_code);
            }
        }
    }
    partitions
        .iter()
        .map(|tp| {
            let e = match answered.get(tp) {
                Some(0) => None,
                Some(code) => Some(ResponseError::try_from_code(*code).unwrap_or(ResponseError::UnknownServerError)),
                None => Some(ResponseError::UnknownServerError),
            };
            (tp.clone(), e)
        })
        .collect()
}
