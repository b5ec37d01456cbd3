//! DescribeProducers (KIP-664): the producers a partition's log remembers,
//! as `kafka-transactions describe-producers` and `find-hanging` read them.
//!
//! As Kafka (`KafkaApis.handleDescribeProducersRequest`,
//! `ReplicaManager.activeProducerState`): an invalid topic name is
//! INVALID_TOPIC_EXCEPTION and a topic the metadata does not know is
//! UNKNOWN_TOPIC_OR_PARTITION, for every partition asked, with a message; a
//! partition the topic does not have is UNKNOWN_TOPIC_OR_PARTITION, and one
//! this node does not host NOT_LEADER_OR_FOLLOWER, without one. Any hosted
//! replica answers, follower as well as leader: the admin client sends to
//! the leader unless told a broker (`--broker-id`), and then wants that
//! replica's own state.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::{str_bytes, HandlerError, RequestContext};
use crate::error::ApiError;
use crate::log::producer_state::ActiveProducer;
use crate::metadata::controller::validate_topic_name;

/// Kafka's message for UNKNOWN_TOPIC_OR_PARTITION (`Errors.message()`).
const UNKNOWN_TOPIC_MESSAGE: &str = "This server does not host this topic-partition.";

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeProducersRequest,
) -> Result<Option<DescribeProducersResponse>, HandlerError> {
    let broker = &ctx.broker;
    let image = broker.metadata.image();
    let mut resp = DescribeProducersResponse::default();
    for topic in req.topics {
        let name = topic.name.0.as_str();
        let topic_error = validate_topic_name(name).err().or_else(|| {
            (!image.topics.contains_key(name))
                .then(|| ApiError::new(ResponseError::UnknownTopicOrPartition, UNKNOWN_TOPIC_MESSAGE))
        });
        let mut tr = TopicResponse::default();
        tr.name = topic.name.clone();
        for index in topic.partition_indexes {
            let mut pr = PartitionResponse::default();
            pr.partition_index = index;
            if let Some(e) = &topic_error {
                pr.error_code = e.code.code();
                pr.error_message = Some(str_bytes(e.message.clone()));
            } else if let Some(part) = broker.replicas.get(name, index) {
                pr.active_producers = part.active_producers().iter().map(producer_state).collect();
            } else if image
                .topics
                .get(name)
                .is_some_and(|t| t.partitions.contains_key(&index))
            {
                pr.error_code = ResponseError::NotLeaderOrFollower.code();
            } else {
                pr.error_code = ResponseError::UnknownTopicOrPartition.code();
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(resp))
}

fn producer_state(p: &ActiveProducer) -> ProducerState {
    let mut s = ProducerState::default();
    s.producer_id = ProducerId(p.producer_id);
    s.producer_epoch = i32::from(p.epoch);
    s.last_sequence = p.last_sequence;
    s.last_timestamp = p.last_timestamp;
    s.coordinator_epoch = p.coordinator_epoch;
    s.current_txn_start_offset = p.current_txn_start_offset.unwrap_or(-1);
    s
}
