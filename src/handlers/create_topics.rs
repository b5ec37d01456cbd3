//! CreateTopics: validates each topic (name, partitions, replication
//! factor, assignments, configs) and commits it to the metadata log, or
//! only validates with `validate_only`. v5+ returns the topic's configs.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::describe_configs::topic_entries;
use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::placement_seed;
use crate::broker::OwnedNewTopic;
use crate::error::ApiError;
use crate::metadata::controller::{self, NewTopic};

pub async fn handle(
    ctx: &RequestContext,
    req: CreateTopicsRequest,
) -> Result<Option<CreateTopicsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut resp = CreateTopicsResponse::default();
    let mut seen = std::collections::HashSet::new();
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        if !seen.insert(name.clone()) {
            r.error_code = kafka_protocol::error::ResponseError::InvalidRequest.code();
            r.error_message = Some(str_bytes(format!("Duplicate topic name {name} in the request.")));
            resp.topics.push(r);
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.to_string(), v.to_string());
                }
                None => null_config = Some(c.name.to_string()),
            }
        }
        let assignments = (!t.assignments.is_empty()).then(|| {
            t.assignments
                .iter()
                .map(|a| (a.partition_index, a.broker_ids.iter().map(|b| b.0).collect()))
                .collect::<Vec<(i32, Vec<i32>)>>()
        });
        let new_topic = NewTopic {
            name: &name,
            num_partitions: if t.num_partitions == -1 {
                broker.config.num_partitions
            } else {
                t.num_partitions
            },
            replication_factor: if t.replication_factor == -1 {
                broker.config.default_replication_factor
            } else {
                t.replication_factor
            },
            assignments: assignments.clone(),
            configs: configs.clone(),
        };
        if assignments.is_some() && (t.num_partitions != -1 || t.replication_factor != -1) {
            fail(&mut r, ApiError::new(
                kafka_protocol::error::ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
            ));
            resp.topics.push(r);
            continue;
        }
        if let Some(key) = null_config {
            fail(
                &mut r,
                ApiError::new(
                    kafka_protocol::error::ResponseError::InvalidConfig,
                    format!("Null value not supported for topic configs: {key}"),
                ),
            );
            resp.topics.push(r);
            continue;
        }
        let outcome = if req.validate_only {
            controller::create_topic(&broker.metadata.image(), &new_topic, placement_seed()).map(|_| None)
        } else {
            let owned = OwnedNewTopic {
                name: name.clone(),
                num_partitions: new_topic.num_partitions,
                replication_factor: new_topic.replication_factor,
                assignments: new_topic.assignments.clone(),
                configs: new_topic.configs.clone(),
            };
            broker
                .write_metadata(move |image| controller::create_topic(image, &owned.borrowed(), placement_seed()))
                .await
                .map(Some)
        };
        match outcome {
            Ok(image) => {
                if let Some(image) = &image {
                    if let Some(created) = image.topics.get(&name) {
                        r.topic_id = created.id;
                    }
                    tracing::info!(topic = %name, "created topic");
                }
                r.num_partitions = match &assignments {
                    Some(a) => a.len() as i32,
                    None => new_topic.num_partitions,
                };
                r.replication_factor = match &assignments {
                    Some(a) => a.first().map_or(0, |(_, v)| v.len() as i16),
                    None => new_topic.replication_factor,
                };
                r.configs = Some(
                    topic_entries(broker, &broker.metadata.image(), &configs)
                        .into_iter()
                        .map(|e| {
                            let mut c = CreatableTopicConfigs::default();
                            c.name = str_bytes(e.name);
                            c.value = e.value.map(str_bytes);
                            c.read_only = e.read_only;
                            c.config_source = e.source;
                            c.is_sensitive = e.sensitive;
                            c
                        })
                        .collect(),
                );
            }
            Err(e) => fail(&mut r, e),
        }
        resp.topics.push(r);
    }
    Ok(Some(resp))
}

fn fail(r: &mut CreatableTopicResult, e: ApiError) {
    r.error_code = e.code.code();
    r.error_message = Some(str_bytes(e.message));
    r.num_partitions = -1;
    r.replication_factor = -1;
}
