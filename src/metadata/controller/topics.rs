//! Topic decisions: CreateTopics, CreatePartitions and DeleteTopics turned
//! into metadata records against the current image, with Kafka's
//! validation and error codes (ReplicationControlManager).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::configs::validate_topic_configs;
use super::placement::{place, unable_to_replicate};
use crate::error::ApiError;
use crate::metadata::records::{MetadataRecord, RESOURCE_TOPIC};
use crate::metadata::ClusterImage;

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

/// Validates a new topic against the image and returns the records that
/// create it, its replicas placed over the image's live brokers
/// (`placement_seed`: any value; the caller passes a random one).
pub fn create_topic(
    image: &ClusterImage,
    topic: &NewTopic,
    placement_seed: u64,
) -> Result<Vec<MetadataRecord>, ApiError> {
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
                validate_manual_assignment(image, replicas, replication_factor)?;
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
            let placed = place(
                &image.live_brokers(),
                topic.num_partitions as usize,
                topic.replication_factor,
                placement_seed,
            )?;
            (0..topic.num_partitions).zip(placed).collect()
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
        records.push(partition_record(image, topic_id, partition, replicas)?);
    }
    Ok(records)
}

/// Kafka's ReplicationControlManager.validateManualPartitionAssignment:
/// a non-empty list of registered (possibly fenced) brokers, each once, as
/// many as the partitions before it have (when there are any).
fn validate_manual_assignment(
    image: &ClusterImage,
    replicas: &[i32],
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
        if !image.brokers.contains_key(&id) {
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

/// A new partition: its ISR is the live replicas, its leader the first of
/// them (placement puts the leader first and places only on live
/// brokers, so there ISR = replicas); epochs start at 0. A manual
/// assignment naming only fenced brokers is refused, as in Kafka.
fn partition_record(
    image: &ClusterImage,
    topic_id: Uuid,
    partition: i32,
    replicas: Vec<i32>,
) -> Result<MetadataRecord, ApiError> {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|id| image.brokers.get(id).is_some_and(|b| !b.fenced))
        .collect();
    let Some(&leader) = isr.first() else {
        return Err(ApiError::new(
            ResponseError::InvalidReplicaAssignment,
            format!(
                "All brokers specified in the manual partition assignment for partition {partition} are fenced or in controlled shutdown."
            ),
        ));
    };
    Ok(MetadataRecord::Partition {
        topic_id,
        partition,
        replicas,
        isr,
        leader,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    })
}

/// CreatePartitions: grows a topic to `count` partitions, placing the new
/// ones on `assignments` (one replica list per new partition) when given,
/// validated as Kafka's ReplicationControlManager.createPartitions does.
pub fn create_partitions(
    image: &ClusterImage,
    name: &str,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
    placement_seed: u64,
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
            validate_manual_assignment(image, replicas, Some(rf))?;
        }
        return (current..count)
            .zip(a)
            .map(|(p, replicas)| partition_record(image, topic.id, p, replicas.clone()))
            .collect();
    }
    let rf = topic.partitions.values().next().map_or(1, |p| p.replicas.len());
    let rf = i16::try_from(rf).map_err(|_| unable_to_replicate(i16::MAX, "too many replicas"))?;
    let placed = place(&image.live_brokers(), additional, rf, placement_seed)?;
    (current..count)
        .zip(placed)
        .map(|(p, replicas)| partition_record(image, topic.id, p, replicas))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::BrokerEndpoint;

    /// An image with `live` registered and unfenced, and `fenced` registered.
    fn cluster(live: &[i32], fenced: &[i32]) -> ClusterImage {
        let mut image = ClusterImage::default();
        for &id in live.iter().chain(fenced) {
            image.apply(&MetadataRecord::RegisterBroker {
                broker_id: id,
                incarnation_id: Uuid::from_u128(id as u128),
                broker_epoch: id as i64,
                listeners: vec![BrokerEndpoint {
                    name: "PLAINTEXT".into(),
                    host: "localhost".into(),
                    port: 9092 + id,
                    security_protocol: 0,
                }],
                rack: None,
                fenced: fenced.contains(&id),
            });
        }
        image
    }

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
        let mut image = cluster(&[1], &[]);
        let records = create_topic(&image, &new_topic("orders", 3, 1), 0).unwrap();
        assert_eq!(records.len(), 4);
        for r in &records {
            image.apply(r);
        }
        assert_eq!(image.topics["orders"].partitions.len(), 3);
        let err = |t: NewTopic| create_topic(&image, &t, 0).unwrap_err().code;
        assert_eq!(err(new_topic("orders", 1, 1)), ResponseError::TopicAlreadyExists);
        assert_eq!(err(new_topic("bad name", 1, 1)), ResponseError::InvalidTopicException);
        assert_eq!(err(new_topic("x", 0, 1)), ResponseError::InvalidPartitions);
        assert_eq!(err(new_topic("x", 1, 3)), ResponseError::InvalidReplicationFactor);
        let mut bad_config = new_topic("x", 1, 1);
        bad_config.configs.insert("retention.ms".into(), "never".into());
        assert_eq!(err(bad_config), ResponseError::InvalidConfig);
        assert_eq!(
            create_partitions(&image, "orders", 2, None, 0).unwrap_err().code,
            ResponseError::InvalidPartitions
        );
        assert_eq!(create_partitions(&image, "orders", 5, None, 0).unwrap().len(), 2);
        assert_eq!(
            delete_topic(&image, "nope").unwrap_err().code,
            ResponseError::UnknownTopicOrPartition
        );
    }

    #[test]
    fn manual_assignments_are_checked_as_kafka_checks_them() {
        let mut image = cluster(&[1, 2], &[]);
        let mut topic = new_topic("t", -1, -1);
        let err = |image: &ClusterImage, t: &NewTopic| create_topic(image, t, 0).unwrap_err();
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
        for r in create_topic(&image, &topic, 0).unwrap() {
            image.apply(&r);
        }
        let grow = |count, a: &[Vec<i32>]| create_partitions(&image, "t", count, Some(a), 0);
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
    fn new_topics_are_placed_on_live_brokers_with_leader_first() {
        let image = cluster(&[1, 2, 3], &[4]);
        let records = create_topic(&image, &new_topic("t", 6, 3), 9).unwrap();
        let mut leaders = BTreeMap::new();
        for r in &records[1..] {
            let MetadataRecord::Partition {
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                ..
            } = r
            else {
                panic!("expected partition records after the topic, got {r:?}");
            };
            assert_eq!(isr, replicas);
            assert_eq!(*leader, replicas[0]);
            assert_eq!((*leader_epoch, *partition_epoch), (0, 0));
            assert!(!replicas.contains(&4), "fenced brokers get no replicas");
            *leaders.entry(*leader).or_insert(0) += 1;
        }
        assert_eq!(leaders, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
        let e = create_topic(&image, &new_topic("t", 1, 4), 0).unwrap_err();
        assert_eq!(
            e.message,
            "Unable to replicate the partition 4 time(s): The target replication factor of 4 cannot be reached because only 3 broker(s) are registered."
        );
        let e = create_topic(&cluster(&[], &[1]), &new_topic("t", 1, 1), 0).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidReplicationFactor);
    }

    #[test]
    fn manual_assignments_get_live_replicas_as_isr() {
        let mut image = cluster(&[1], &[2]);
        let mut topic = new_topic("t", -1, -1);
        topic.assignments = Some(vec![(0, vec![2, 1])]);
        let records = create_topic(&image, &topic, 0).unwrap();
        assert!(matches!(
            &records[1],
            MetadataRecord::Partition { leader: 1, isr, .. } if isr == &vec![1]
        ));
        topic.assignments = Some(vec![(0, vec![2])]);
        let e = create_topic(&image, &topic, 0).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidReplicaAssignment);
        assert_eq!(
            e.message,
            "All brokers specified in the manual partition assignment for partition 0 are fenced or in controlled shutdown."
        );
        for r in create_topic(&image, &new_topic("grow", 1, 1), 0).unwrap() {
            image.apply(&r);
        }
        let grown = create_partitions(&image, "grow", 3, None, 0).unwrap();
        assert!(grown
            .iter()
            .all(|r| matches!(r, MetadataRecord::Partition { replicas, .. } if replicas == &vec![1])));
    }
}
