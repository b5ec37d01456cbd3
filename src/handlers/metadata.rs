//! Metadata: brokers, cluster id, controller and topics with their
//! partitions, read from the metadata image. Unknown topics are created
//! when `auto.create.topics.enable` and the request allow it.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::metadata::controller::{self, NewTopic};
use crate::metadata::{ClusterImage, TopicImage};

/// Kafka's internal topics, reported with `is_internal`.
pub fn is_internal(topic: &str) -> bool {
    topic == "__consumer_offsets" || topic == "__transaction_state"
}

pub async fn handle(ctx: &RequestContext, req: MetadataRequest) -> Result<Option<MetadataResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut image = broker.metadata.image();
    let mut resp = MetadataResponse::default();
    resp.brokers = brokers(broker, &ctx.listener);
    resp.cluster_id = Some(str_bytes(broker.cluster_id.clone()));
    resp.controller_id = BrokerId(broker.config.node_id);

    // In v0 an empty topic list means all topics (Kafka's MetadataRequest.isAllTopics).
    let Some(requested) = req.topics.filter(|t| !(t.is_empty() && ctx.version() == 0)) else {
        resp.topics = image.topics.values().map(topic_response).collect();
        return Ok(Some(resp));
    };
    // v0 has no flag and always auto-creates; later versions ask for it.
    let allow_create = broker.config.auto_create_topics_enable && (ctx.version() < 4 || req.allow_auto_topic_creation);
    let mut errors: BTreeMap<String, ResponseError> = BTreeMap::new();
    if allow_create {
        for t in &requested {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if image.topics.contains_key(&name) || errors.contains_key(&name) {
                continue;
            }
            match auto_create(broker, &name) {
                Ok(next) => image = next,
                Err(code) => {
                    errors.insert(name, code);
                }
            }
        }
    }
    for t in requested {
        let topic = match &t.name {
            Some(name) => image.topics.get(name.0.as_str()),
            None => image.topic_by_id(&t.topic_id),
        };
        match topic {
            Some(topic) => resp.topics.push(topic_response(topic)),
            None => {
                let mut r = MetadataResponseTopic::default();
                r.name = t.name.clone();
                r.topic_id = t.topic_id;
                r.error_code = match &t.name {
                    Some(name) => match errors.get(name.0.as_str()) {
                        Some(code) => code.code(),
                        None if controller::validate_topic_name(name.0.as_str()).is_err() => {
                            ResponseError::InvalidTopicException.code()
                        }
                        None => ResponseError::UnknownTopicOrPartition.code(),
                    },
                    None => ResponseError::UnknownTopicId.code(),
                };
                resp.topics.push(r);
            }
        }
    }
    Ok(Some(resp))
}

fn auto_create(broker: &Broker, name: &str) -> Result<std::sync::Arc<ClusterImage>, ResponseError> {
    let brokers = broker.brokers();
    let rf = broker.config.default_replication_factor.min(brokers.len() as i16);
    let topic = NewTopic {
        name,
        num_partitions: broker.config.num_partitions,
        replication_factor: rf,
        assignments: None,
        configs: BTreeMap::new(),
    };
    broker
        .write_metadata(|image| {
            if image.topics.contains_key(name) {
                return Ok(Vec::new());
            }
            controller::create_topic(image, &topic, &brokers)
        })
        .inspect(|_| {
            tracing::info!(topic = name, partitions = topic.num_partitions, "auto-created topic");
        })
        .map_err(|e| e.code)
}

pub fn brokers(broker: &Broker, listener: &str) -> Vec<MetadataResponseBroker> {
    let l = broker.config.advertised_for(listener);
    let mut b = MetadataResponseBroker::default();
    b.node_id = BrokerId(broker.config.node_id);
    b.host = str_bytes(l.host.clone());
    b.port = l.port as i32;
    vec![b]
}

fn topic_response(topic: &TopicImage) -> MetadataResponseTopic {
    let mut r = MetadataResponseTopic::default();
    r.name = Some(TopicName(str_bytes(topic.name.clone())));
    r.topic_id = topic.id;
    r.is_internal = is_internal(&topic.name);
    r.partitions = topic
        .partitions
        .iter()
        .map(|(&index, p)| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = index;
            mp.leader_id = BrokerId(p.leader);
            mp.leader_epoch = p.leader_epoch;
            mp.replica_nodes = p.replicas.iter().map(|&r| BrokerId(r)).collect();
            mp.isr_nodes = p.isr.iter().map(|&r| BrokerId(r)).collect();
            mp
        })
        .collect();
    r
}

/// Resolves a topic named by name or (newer versions) id.
pub fn resolve<'a>(image: &'a ClusterImage, name: &str, id: &Uuid) -> Option<&'a TopicImage> {
    if !name.is_empty() {
        image.topics.get(name)
    } else {
        image.topic_by_id(id)
    }
}
