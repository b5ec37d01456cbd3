//! Metadata: brokers, cluster id, controller and topics with their
//! partitions, read from the metadata image. Unknown topics are created
//! when `auto.create.topics.enable` and the request allow it.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::broker::OwnedNewTopic;
use crate::metadata::controller;
use crate::metadata::{ClusterImage, TopicImage};

/// Kafka's internal topics, reported with `is_internal`.
pub fn is_internal(topic: &str) -> bool {
    topic == "__consumer_offsets" || topic == "__transaction_state"
}

pub async fn handle(ctx: &RequestContext, req: MetadataRequest) -> Result<Option<MetadataResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut image = broker.metadata.image();
    let mut resp = MetadataResponse::default();
    resp.brokers = brokers(&image, &ctx.listener);
    resp.cluster_id = Some(str_bytes(broker.cluster_id.clone()));
    resp.controller_id = BrokerId(controller_id(broker, &image));

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
            match auto_create(broker, &name).await {
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

async fn auto_create(broker: &Broker, name: &str) -> Result<std::sync::Arc<ClusterImage>, ResponseError> {
    let live = broker.metadata.image().live_brokers().len();
    let rf = broker.config.default_replication_factor.min(live as i16);
    let topic = OwnedNewTopic {
        name: name.to_string(),
        num_partitions: broker.config.num_partitions,
        replication_factor: rf,
        assignments: None,
        configs: BTreeMap::new(),
    };
    let partitions = topic.num_partitions;
    broker.create_topic_via_controller(topic).await.map_err(|e| e.code)?;
    tracing::info!(topic = name, partitions, "auto-created topic");
    Ok(broker.metadata.image())
}

/// The live (registered, unfenced) brokers with an endpoint on `listener`,
/// as Kafka answers each client with the listener it connected through.
pub fn brokers(image: &ClusterImage, listener: &str) -> Vec<MetadataResponseBroker> {
    image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let e = b.listeners.iter().find(|e| e.name == listener)?;
            let mut r = MetadataResponseBroker::default();
            r.node_id = BrokerId(b.id);
            r.host = str_bytes(e.host.clone());
            r.port = e.port;
            r.rack = b.rack.clone().map(str_bytes);
            Some(r)
        })
        .collect()
}

/// The controller id clients are told: in KRaft mode Kafka names a live
/// broker (clients cannot reach controllers); fjord names the active
/// controller when it is also a broker, as it is in combined mode.
pub fn controller_id(broker: &Broker, image: &ClusterImage) -> i32 {
    let live = |id: &i32| image.brokers.get(id).is_some_and(|b| !b.fenced);
    broker
        .active_controller()
        .filter(live)
        .or_else(|| image.brokers.values().find(|b| !b.fenced).map(|b| b.id))
        .unwrap_or(-1)
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
            // Kafka's KRaftMetadataCache: a partition without a leader
            // (its only in-sync replica is fenced) is LEADER_NOT_AVAILABLE.
            if p.leader == controller::NO_LEADER {
                mp.error_code = ResponseError::LeaderNotAvailable.code();
            }
            mp.leader_id = BrokerId(p.leader);
            mp.leader_epoch = p.leader_epoch;
            mp.replica_nodes = p.replicas.iter().map(|&r| BrokerId(r)).collect();
            mp.isr_nodes = p.isr.iter().map(|&r| BrokerId(r)).collect();
            mp
        })
        .collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::PartitionImage;

    #[test]
    fn a_partition_without_a_leader_is_leader_not_available() {
        let partition = |leader: i32| PartitionImage {
            replicas: vec![2],
            isr: vec![2],
            leader,
            leader_epoch: 3,
            partition_epoch: 4,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        };
        let topic = TopicImage {
            name: "t".into(),
            id: uuid::Uuid::new_v4(),
            partitions: BTreeMap::from([(0, partition(2)), (1, partition(controller::NO_LEADER))]),
        };
        let r = topic_response(&topic);
        assert_eq!(r.error_code, 0, "the topic itself is fine");
        let led: Vec<_> = r
            .partitions
            .iter()
            .map(|p| (p.leader_id.0, p.leader_epoch, p.error_code))
            .collect();
        assert_eq!(led, vec![(2, 3, 0), (-1, 3, ResponseError::LeaderNotAvailable.code())]);
    }
}
