//! The controller's decisions: turning admin requests into metadata records
//! against the current image, with Kafka's validation and error codes.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::records::{MetadataRecord, RESOURCE_BROKER, RESOURCE_TOPIC};
use super::ClusterImage;
use crate::broker_configs;
use crate::log::config as topic_config;

/// A refused admin operation: the Kafka error and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ResponseError,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// What the controller writes when it becomes active. As Kafka 4.1 does
/// (KIP-966, for eligible leader replicas), the cluster-wide
/// `min.insync.replicas` is recorded once as a dynamic default, taken from
/// the broker's own setting, so that changing it later is an ordinary
/// cluster config change.
pub fn activation_records(image: &ClusterImage, static_min_insync_replicas: i32) -> Vec<MetadataRecord> {
    const KEY: &str = "min.insync.replicas";
    if image.broker_config("").is_some_and(|c| c.contains_key(KEY)) {
        return Vec::new();
    }
    vec![MetadataRecord::Config {
        resource_type: RESOURCE_BROKER,
        resource_name: String::new(),
        name: KEY.to_string(),
        value: Some(static_min_insync_replicas.to_string()),
    }]
}

/// Kafka's `Topic.validate`: 1..=249 chars of `[a-zA-Z0-9._-]`, not `.`/`..`.
pub fn validate_topic_name(name: &str) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::new(ResponseError::InvalidTopicException, m));
    if name.is_empty() {
        return bad("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return bad("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return bad(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in configs {
        topic_config::validate(k, v).map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
    }
    Ok(())
}

/// What a new topic should look like.
pub struct NewTopic<'a> {
    pub name: &'a str,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// Explicit replica assignment, (partition, brokers) in request order
    /// (CreateTopics); a partition named twice is refused, as in Kafka.
    pub assignments: Option<Vec<(i32, Vec<i32>)>>,
    pub configs: BTreeMap<String, String>,
}

/// Validates a new topic against the image and the live brokers and
/// returns the records that create it.
pub fn create_topic(image: &ClusterImage, topic: &NewTopic, brokers: &[i32]) -> Result<Vec<MetadataRecord>, ApiError> {
    validate_topic_name(topic.name)?;
    if image.topics.contains_key(topic.name) {
        return Err(ApiError::new(
            ResponseError::TopicAlreadyExists,
            format!("Topic '{}' already exists.", topic.name),
        ));
    }
    validate_topic_configs(&topic.configs)?;
    let assignments = match &topic.assignments {
        Some(a) => {
            let mut parts: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            let mut replication_factor = None;
            for (partition, replicas) in a {
                if parts.contains_key(partition) {
                    return Err(ApiError::new(
                        ResponseError::InvalidReplicaAssignment,
                        format!("Found multiple manual partition assignments for partition {partition}"),
                    ));
                }
                validate_manual_assignment(replicas, brokers, replication_factor)?;
                replication_factor = Some(replicas.len());
                parts.insert(*partition, replicas.clone());
            }
            if parts.keys().copied().ne(0..parts.len() as i32) {
                return Err(ApiError::new(
                    ResponseError::InvalidReplicaAssignment,
                    "partitions should be a consecutive 0-based integer sequence",
                ));
            }
            parts
        }
        None => {
            if topic.num_partitions <= 0 {
                return Err(ApiError::new(
                    ResponseError::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.",
                ));
            }
            if topic.replication_factor <= 0 {
                return Err(ApiError::new(
                    ResponseError::InvalidReplicationFactor,
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                ));
            }
            if topic.replication_factor as usize > brokers.len() {
                return Err(ApiError::new(
                    ResponseError::InvalidReplicationFactor,
                    format!(
                        "Unable to replicate the partition {} time(s): The target replication factor of {} cannot be reached because only {} broker(s) are registered.",
                        topic.replication_factor,
                        topic.replication_factor,
                        brokers.len()
                    ),
                ));
            }
            (0..topic.num_partitions)
                .map(|p| {
                    let rf = topic.replication_factor as usize;
                    let replicas = (0..rf).map(|i| brokers[(p as usize + i) % brokers.len()]).collect();
                    (p, replicas)
                })
                .collect()
        }
    };
    let topic_id = Uuid::new_v4();
    let mut records = vec![MetadataRecord::Topic {
        name: topic.name.to_string(),
        topic_id,
    }];
    for (k, v) in &topic.configs {
        records.push(MetadataRecord::Config {
            resource_type: RESOURCE_TOPIC,
            resource_name: topic.name.to_string(),
            name: k.clone(),
            value: Some(v.clone()),
        });
    }
    for (partition, replicas) in assignments {
        records.push(partition_record(topic_id, partition, replicas));
    }
    Ok(records)
}

/// Kafka's ReplicationControlManager.validateManualPartitionAssignment:
/// a non-empty list of registered brokers, each once, as many as the
/// partitions before it have (when there are any).
fn validate_manual_assignment(
    replicas: &[i32],
    brokers: &[i32],
    replication_factor: Option<usize>,
) -> Result<(), ApiError> {
    let invalid = |m: String| Err(ApiError::new(ResponseError::InvalidReplicaAssignment, m));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    let mut previous = None;
    for &id in &sorted {
        if !brokers.contains(&id) {
            return invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            ));
        }
        if previous == Some(id) {
            return invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
        previous = Some(id);
    }
    match replication_factor {
        Some(rf) if rf != sorted.len() => invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).",
            sorted.len()
        )),
        _ => Ok(()),
    }
}

fn partition_record(topic_id: Uuid, partition: i32, replicas: Vec<i32>) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition,
        leader: replicas[0],
        isr: replicas.clone(),
        replicas,
        leader_epoch: 0,
    }
}

/// CreatePartitions: grows a topic to `count` partitions, placing the new
/// ones on `assignments` (one replica list per new partition) when given,
/// validated as Kafka's ReplicationControlManager.createPartitions does.
pub fn create_partitions(
    image: &ClusterImage,
    name: &str,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
    brokers: &[i32],
) -> Result<Vec<MetadataRecord>, ApiError> {
    let topic = image.topics.get(name).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        )
    })?;
    let current = topic.partitions.len() as i32;
    if count < current {
        return Err(ApiError::new(
            ResponseError::InvalidPartitions,
            format!("The topic {name} currently has {current} partition(s); {count} would not be an increase."),
        ));
    }
    if count == current {
        return Err(ApiError::new(
            ResponseError::InvalidPartitions,
            format!("Topic already has {current} partition(s)."),
        ));
    }
    let additional = (count - current) as usize;
    if let Some(a) = assignments {
        if a.len() != additional {
            return Err(ApiError::new(
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                    a.len()
                ),
            ));
        }
        let rf = topic.partitions.values().next().map_or(1, |p| p.replicas.len());
        for replicas in a {
            validate_manual_assignment(replicas, brokers, Some(rf))?;
        }
        return Ok((current..count)
            .zip(a)
            .map(|(p, replicas)| partition_record(topic.id, p, replicas.clone()))
            .collect());
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map_or(1, |p| p.replicas.len())
        .min(brokers.len());
    Ok((current..count)
        .map(|p| {
            let replicas = (0..rf).map(|i| brokers[(p as usize + i) % brokers.len()]).collect();
            partition_record(topic.id, p, replicas)
        })
        .collect())
}

pub fn delete_topic(image: &ClusterImage, name: &str) -> Result<Vec<MetadataRecord>, ApiError> {
    let topic = image.topics.get(name).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        )
    })?;
    Ok(vec![MetadataRecord::RemoveTopic { topic_id: topic.id }])
}

/// Config changes on a topic: `Some` sets, `None` deletes.
pub fn alter_topic_configs(
    image: &ClusterImage,
    name: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<Vec<MetadataRecord>, ApiError> {
    if !image.topics.contains_key(name) {
        return Err(ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    }
    let mut records = Vec::new();
    for (k, v) in changes {
        match v {
            Some(value) => topic_config::validate(k, value),
            None => topic_config::definition(k)
                .map(|_| ())
                .ok_or_else(|| format!("Unknown topic config name: {k}")),
        }
        .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
        records.push(MetadataRecord::Config {
            resource_type: RESOURCE_TOPIC,
            resource_name: name.to_string(),
            name: k.clone(),
            value: v.clone(),
        });
    }
    Ok(records)
}

/// Kafka's check of a BROKER resource name in AlterConfigs and
/// IncrementalAlterConfigs (ConfigAdminManager.validateResourceNameIsCurrentNodeId):
/// empty for the cluster-wide default, else this node's id.
pub fn validate_broker_resource(name: &str, node_id: i32) -> Result<(), ApiError> {
    if name.is_empty() {
        return Ok(());
    }
    let id: i32 = name.parse().map_err(|_| {
        ApiError::new(
            ResponseError::InvalidRequest,
            format!("Node id must be an integer, but it is: {name}"),
        )
    })?;
    if id != node_id {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unexpected broker id, expected {node_id}, but received {name}"),
        ));
    }
    Ok(())
}

/// Dynamic broker config changes (KIP-226) for one broker (`name` = its
/// node id) or the cluster-wide default (`name` empty): `Some` sets, `None`
/// deletes (back to the static value). Kafka's DynamicBrokerConfig.validateConfigs
/// decides; its ConfigExceptions reach the client as INVALID_REQUEST
/// (ConfigAdminManager, KAFKA-13609). Names fjord does not know are stored
/// as Kafka stores custom configs.
pub fn alter_broker_configs(
    name: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<Vec<MetadataRecord>, ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidRequest, m);
    let set: Vec<(&String, &String)> = changes.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))).collect();
    let listed = |keys: Vec<&str>| format!("Set({})", keys.join(", "));
    let static_only: Vec<&str> = set
        .iter()
        .filter(|(k, _)| !broker_configs::is_dynamic(k))
        .map(|(k, _)| k.as_str())
        .collect();
    if !static_only.is_empty() {
        return Err(invalid(format!(
            "Cannot update these configs dynamically: {}",
            listed(static_only)
        )));
    }
    for (k, v) in &set {
        let Some(def) = broker_configs::definition(k) else {
            continue;
        };
        broker_configs::parse_value(def, v).map_err(invalid)?;
        // The topic config a broker config defaults is validated as
        // Kafka's LogConfig validates it, named by the broker key.
        if let Some(t) = topic_config::TOPIC_CONFIGS
            .iter()
            .find(|t| t.broker_synonym == Some(def.name))
        {
            topic_config::validate(t.name, v).map_err(|m| {
                invalid(m.replace(
                    &format!("configuration {}:", t.name),
                    &format!("configuration {}:", def.name),
                ))
            })?;
        }
    }
    if name.is_empty() {
        let per_broker: Vec<&str> = set
            .iter()
            .filter(|(k, _)| broker_configs::PER_BROKER_ONLY.contains(&k.as_str()))
            .map(|(k, _)| k.as_str())
            .collect();
        if !per_broker.is_empty() {
            return Err(invalid(format!(
                "Cannot update these configs at default cluster level, broker id must be specified: {}",
                listed(per_broker)
            )));
        }
    }
    Ok(changes
        .iter()
        .map(|(k, v)| MetadataRecord::Config {
            resource_type: RESOURCE_BROKER,
            resource_name: name.to_string(),
            name: k.clone(),
            value: v.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_topic(name: &str, partitions: i32, rf: i16) -> NewTopic<'_> {
        NewTopic {
            name,
            num_partitions: partitions,
            replication_factor: rf,
            assignments: None,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn topic_creation_rules() {
        let mut image = ClusterImage::default();
        let records = create_topic(&image, &new_topic("orders", 3, 1), &[1]).unwrap();
        assert_eq!(records.len(), 4);
        for r in &records {
            image.apply(r);
        }
        assert_eq!(image.topics["orders"].partitions.len(), 3);
        let err = |t: NewTopic| create_topic(&image, &t, &[1]).unwrap_err().code;
        assert_eq!(err(new_topic("orders", 1, 1)), ResponseError::TopicAlreadyExists);
        assert_eq!(err(new_topic("bad name", 1, 1)), ResponseError::InvalidTopicException);
        assert_eq!(err(new_topic("x", 0, 1)), ResponseError::InvalidPartitions);
        assert_eq!(err(new_topic("x", 1, 3)), ResponseError::InvalidReplicationFactor);
        let mut bad_config = new_topic("x", 1, 1);
        bad_config.configs.insert("retention.ms".into(), "never".into());
        assert_eq!(err(bad_config), ResponseError::InvalidConfig);
        assert_eq!(
            create_partitions(&image, "orders", 2, None, &[1]).unwrap_err().code,
            ResponseError::InvalidPartitions
        );
        assert_eq!(create_partitions(&image, "orders", 5, None, &[1]).unwrap().len(), 2);
        assert_eq!(
            delete_topic(&image, "nope").unwrap_err().code,
            ResponseError::UnknownTopicOrPartition
        );
    }

    #[test]
    fn manual_assignments_are_checked_as_kafka_checks_them() {
        let mut image = ClusterImage::default();
        let mut topic = new_topic("t", -1, -1);
        let err = |image: &ClusterImage, t: &NewTopic| create_topic(image, t, &[1, 2]).unwrap_err();
        topic.assignments = Some(vec![(0, vec![1]), (0, vec![2])]);
        assert_eq!(
            err(&image, &topic).message,
            "Found multiple manual partition assignments for partition 0"
        );
        topic.assignments = Some(vec![(0, vec![1]), (1, vec![1, 2])]);
        assert!(err(&image, &topic)
            .message
            .contains("includes a partition with 2 replica(s)"));
        topic.assignments = Some(vec![(0, vec![2, 2])]);
        assert_eq!(
            err(&image, &topic).message,
            "The manual partition assignment includes the broker 2 more than once."
        );
        topic.assignments = Some(vec![(0, vec![])]);
        assert_eq!(err(&image, &topic).code, ResponseError::InvalidReplicaAssignment);
        topic.assignments = Some(vec![(1, vec![1])]);
        assert_eq!(
            err(&image, &topic).message,
            "partitions should be a consecutive 0-based integer sequence"
        );
        topic.assignments = Some(vec![(0, vec![1, 2])]);
        for r in create_topic(&image, &topic, &[1, 2]).unwrap() {
            image.apply(&r);
        }
        let grow = |count, a: &[Vec<i32>]| create_partitions(&image, "t", count, Some(a), &[1, 2]);
        assert_eq!(
            grow(3, &[vec![2, 1]]).unwrap_err().message,
            "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."
        );
        assert_eq!(
            grow(2, &[vec![9, 1]]).unwrap_err().message,
            "The manual partition assignment includes broker 9, but no such broker is registered."
        );
        assert!(grow(2, &[vec![2]])
            .unwrap_err()
            .message
            .contains("which have 2 replica(s)"));
        let records = grow(2, &[vec![2, 1]]).unwrap();
        assert!(matches!(
            &records[..],
            [MetadataRecord::Partition {
                partition: 1,
                leader: 2,
                ..
            }]
        ));
    }

    #[test]
    fn broker_configs_follow_kafkas_dynamic_rules() {
        let set = |k: &str, v: &str| BTreeMap::from([(k.to_string(), Some(v.to_string()))]);
        let err = |name: &str, c| alter_broker_configs(name, &c).unwrap_err();
        assert_eq!(
            err("1", set("log.retention.hours", "1")).message,
            "Cannot update these configs dynamically: Set(log.retention.hours)"
        );
        assert_eq!(
            err("1", set("broker.rack", "r1")).message,
            "Cannot update these configs dynamically: Set(broker.rack)"
        );
        assert_eq!(
            err("1", set("log.retention.hours", "1")).code,
            ResponseError::InvalidRequest
        );
        assert_eq!(
            err("1", set("log.retention.ms", "soon")).message,
            "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"
        );
        assert!(err("", set("log.cleanup.policy", "sometimes"))
            .message
            .starts_with("Invalid value sometimes for configuration log.cleanup.policy:"));
        assert_eq!(
            err("", set("listeners", "PLAINTEXT://:9093")).message,
            "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)"
        );
        assert!(alter_broker_configs("1", &set("listeners", "PLAINTEXT://:9093")).is_ok());
        let records = alter_broker_configs("", &set("log.retention.ms", "1000")).unwrap();
        let mut image = ClusterImage::default();
        image.apply(&records[0]);
        assert_eq!(image.broker_config("").unwrap()["log.retention.ms"], "1000");
        let deleted = alter_broker_configs("", &BTreeMap::from([("log.retention.ms".to_string(), None)])).unwrap();
        image.apply(&deleted[0]);
        assert!(image.broker_config("").is_none());
        assert_eq!(
            validate_broker_resource("x", 1).unwrap_err().message,
            "Node id must be an integer, but it is: x"
        );
        assert_eq!(
            validate_broker_resource("2", 1).unwrap_err().message,
            "Unexpected broker id, expected 1, but received 2"
        );
    }
}
