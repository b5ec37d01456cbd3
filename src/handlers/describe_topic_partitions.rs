//! DescribeTopicPartitions (KIP-966): topics and their partitions from the
//! metadata image, paged by a partition limit and a cursor, as Kafka's
//! DescribeTopicPartitionsRequestHandler and KRaftMetadataCache answer.
//! `kafka-topics --describe` uses it when the broker offers it.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName};
use uuid::Uuid;

use super::metadata::is_internal;
use super::{str_bytes, HandlerError, RequestContext};
use crate::metadata::controller::{validate_topic_name, NO_LEADER};
use crate::metadata::{ClusterImage, TopicImage};

/// Kafka's `max.request.partition.size.limit` default: the most partitions
/// one response carries.
const MAX_PARTITIONS: i32 = 2000;

/// The operations Kafka reports on a topic without an authorizer: READ,
/// WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
const TOPIC_OPERATIONS: i32 = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeTopicPartitionsRequest,
) -> Result<Option<DescribeTopicPartitionsResponse>, HandlerError> {
    let image = ctx.broker.metadata.image();
    let all = req.topics.is_empty();
    let cursor_topic = req
        .cursor
        .as_ref()
        .map(|c| c.topic_name.0.to_string())
        .unwrap_or_default();
    let mut names: Vec<String> = if all {
        image.topics.keys().cloned().collect()
    } else {
        req.topics.iter().map(|t| t.name.0.to_string()).collect()
    };
    names.retain(|n| *n >= cursor_topic);
    names.sort();
    names.dedup();
    if let Some(c) = &req.cursor {
        if (!all && !names.contains(&cursor_topic)) || c.partition_index < 0 {
            // Kafka throws InvalidRequestException: the connection's request fails.
            return Err(HandlerError(format!(
                "DescribeTopicPartitionsRequest cursor is not valid: {cursor_topic}:{}",
                c.partition_index
            )));
        }
    }
    let start = |name: &str| {
        req.cursor
            .as_ref()
            .filter(|c| c.topic_name.0.as_str() == name)
            .map_or(0, |c| c.partition_index)
    };
    let mut remaining = req.response_partition_limit.clamp(1, MAX_PARTITIONS);
    let mut resp = DescribeTopicPartitionsResponse::default();
    for name in names {
        if remaining == 0 {
            let mut c = Cursor::default();
            c.topic_name = TopicName(str_bytes(name));
            c.partition_index = 0;
            resp.next_cursor = Some(c);
            break;
        }
        let Some(topic) = image.topics.get(&name) else {
            if !all {
                let mut t = DescribeTopicPartitionsResponseTopic::default();
                t.error_code = if validate_topic_name(&name).is_ok() {
                    ResponseError::UnknownTopicOrPartition.code()
                } else {
                    ResponseError::InvalidTopicException.code()
                };
                t.is_internal = is_internal(&name);
                t.name = Some(TopicName(str_bytes(name)));
                t.topic_id = Uuid::nil();
                t.topic_authorized_operations = TOPIC_OPERATIONS;
                resp.topics.push(t);
            }
            continue;
        };
        let (t, next) = describe_topic(&image, topic, start(&name), remaining);
        remaining -= t.partitions.len() as i32;
        resp.topics.push(t);
        if let Some(next) = next {
            let mut c = Cursor::default();
            c.topic_name = TopicName(str_bytes(name));
            c.partition_index = next;
            resp.next_cursor = Some(c);
            break;
        }
    }
    Ok(Some(resp))
}

/// One topic's partitions from `start`, at most `max` of them, and the
/// next partition index when some are left.
fn describe_topic(
    image: &ClusterImage,
    topic: &TopicImage,
    start: i32,
    max: i32,
) -> (DescribeTopicPartitionsResponseTopic, Option<i32>) {
    let count = topic.partitions.len() as i32;
    let upper = count.min(start.saturating_add(max));
    let ids = |v: &[i32]| v.iter().map(|&id| BrokerId(id)).collect::<Vec<_>>();
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.name = Some(TopicName(str_bytes(topic.name.clone())));
    t.topic_id = topic.id;
    t.is_internal = is_internal(&topic.name);
    t.topic_authorized_operations = TOPIC_OPERATIONS;
    for index in start..upper {
        let Some(p) = topic.partitions.get(&index) else {
            continue;
        };
        let mut r = DescribeTopicPartitionsResponsePartition::default();
        r.partition_index = index;
        // A leader that is not registered: no leader (Kafka's getAliveEndpoint).
        r.leader_id = BrokerId(if image.brokers.contains_key(&p.leader) {
            p.leader
        } else {
            NO_LEADER
        });
        r.leader_epoch = p.leader_epoch;
        r.replica_nodes = ids(&p.replicas);
        r.isr_nodes = ids(&p.isr);
        r.eligible_leader_replicas = Some(Vec::new());
        r.last_known_elr = Some(Vec::new());
        r.offline_replicas = p
            .replicas
            .iter()
            .copied()
            .filter(|id| image.brokers.get(id).is_none_or(|b| b.fenced))
            .map(BrokerId)
            .collect();
        t.partitions.push(r);
    }
    (t, (upper < count).then_some(upper))
}
