//! Partition reassignments (KIP-455) and leader elections (KIP-460), as
//! Kafka's ReplicationControlManager decides them: AlterPartitionReassignments,
//! ListPartitionReassignments, ElectLeaders and the controller's own
//! preferred-leader balancing.

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::brokers::NO_LEADER;
use super::change::{default_election, is_live, unclean_election_enabled, Election, PartitionChange};
use crate::error::ApiError;
use crate::metadata::{ClusterImage, MetadataRecord, PartitionImage};

fn find<'a>(image: &'a ClusterImage, topic: &str, partition: i32) -> Result<(Uuid, &'a PartitionImage), ApiError> {
    let t = image.topics.get(topic).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Unable to find a topic named {topic}."),
        )
    })?;
    let p = t.partitions.get(&partition).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Unable to find partition {topic}:{partition}."),
        )
    })?;
    Ok((t.id, p))
}

/// Kafka's validateManualPartitionAssignment for a reassignment target.
fn validate_target(image: &ClusterImage, target: &[i32]) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidReplicaAssignment, m);
    if target.is_empty() {
        return Err(invalid(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    for (i, id) in target.iter().enumerate() {
        if target[..i].contains(id) {
            return Err(invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            )));
        }
        if !image.brokers.contains_key(id) {
            return Err(invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is registered."
            )));
        }
    }
    Ok(())
}

/// One partition of AlterPartitionReassignments: `Some(target)` starts (or
/// replaces) a reassignment, `None` cancels the one in progress. Answers
/// the record to commit (none when nothing changes).
pub fn alter_reassignment(
    image: &ClusterImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> Result<Option<MetadataRecord>, ApiError> {
    let (topic_id, p) = find(image, topic, partition)?;
    let live = |id| is_live(image, id);
    let next = match target {
        None => {
            if !p.is_reassigning() {
                return Err(ApiError::new(
                    ResponseError::NoReassignmentInProgress,
                    "No partition reassignment is in progress.",
                ));
            }
            // Kafka's PartitionReassignmentRevert: the replicas being added
            // go; those being removed stay.
            let replicas: Vec<i32> = p
                .replicas
                .iter()
                .copied()
                .filter(|r| !p.adding_replicas.contains(r))
                .collect();
            let mut isr: Vec<i32> = p
                .isr
                .iter()
                .copied()
                .filter(|r| !p.adding_replicas.contains(r))
                .collect();
            let mut election = default_election(image, topic);
            if isr.is_empty() {
                if !unclean_election_enabled(image, topic) {
                    return Err(ApiError::new(
                        ResponseError::InvalidReplicaAssignment,
                        format!(
                            "Unable to revert partition assignment for {topic}:{partition} because it would require an unclean leader election."
                        ),
                    ));
                }
                isr = replicas.first().copied().into_iter().collect();
                election = Election::Unclean;
            }
            let mut change = PartitionChange::new(p, &live).election(election);
            change.replicas = replicas;
            change.isr = isr;
            change.adding.clear();
            change.removing.clear();
            change.build()
        }
        Some(target) => {
            validate_target(image, target)?;
            // Kafka's PartitionReassignmentReplicas: the target first, then
            // the replicas it removes; both differences sorted.
            let mut removing: Vec<i32> = p.replicas.iter().copied().filter(|r| !target.contains(r)).collect();
            removing.sort_unstable();
            let mut adding: Vec<i32> = target.iter().copied().filter(|r| !p.replicas.contains(r)).collect();
            adding.sort_unstable();
            let mut replicas = target.to_vec();
            replicas.extend(&removing);
            let mut change = PartitionChange::new(p, &live);
            change.replicas = replicas;
            change.adding = adding;
            change.removing = removing;
            change.build()
        }
    };
    Ok(next.map(|n| n.record(topic_id, partition)))
}

/// A reassignment in progress, as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

/// The reassignments in progress of `topic`, limited to `partitions` when
/// given; an unknown topic or partition has none.
pub fn list_reassignments(image: &ClusterImage, topic: &str, partitions: Option<&[i32]>) -> Vec<OngoingReassignment> {
    let Some(t) = image.topics.get(topic) else {
        return Vec::new();
    };
    let ongoing = |(&partition, p): (&i32, &PartitionImage)| {
        p.is_reassigning().then(|| OngoingReassignment {
            partition,
            replicas: p.replicas.clone(),
            adding: p.adding_replicas.clone(),
            removing: p.removing_replicas.clone(),
        })
    };
    match partitions {
        None => t.partitions.iter().filter_map(ongoing).collect(),
        Some(ids) => ids
            .iter()
            .filter_map(|id| t.partitions.get_key_value(id))
            .filter_map(ongoing)
            .collect(),
    }
}

/// ElectLeaders' election types (KIP-460).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    pub fn from_wire(v: i8) -> Option<Self> {
        match v {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// One partition of ElectLeaders (Kafka's electLeader): the record that
/// moves its leader, or ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
/// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION.
pub fn elect_leader(
    image: &ClusterImage,
    topic: &str,
    partition: i32,
    kind: ElectionType,
) -> Result<MetadataRecord, ApiError> {
    let unknown = |m: String| ApiError::new(ResponseError::UnknownTopicOrPartition, m);
    let t = image
        .topics
        .get(topic)
        .ok_or_else(|| unknown(format!("No such topic as {topic}")))?;
    let p = t
        .partitions
        .get(&partition)
        .ok_or_else(|| unknown(format!("No such partition as {topic}-{partition}")))?;
    let topic_id = t.id;
    let not_needed = match kind {
        ElectionType::Preferred => p.replicas.first() == Some(&p.leader),
        ElectionType::Unclean => p.leader != NO_LEADER,
    };
    if not_needed {
        return Err(ApiError::new(
            ResponseError::ElectionNotNeeded,
            "Leader election not needed for topic partition.",
        ));
    }
    let live = |id| is_live(image, id);
    let election = match kind {
        ElectionType::Preferred => Election::Preferred,
        ElectionType::Unclean => Election::Unclean,
    };
    match PartitionChange::new(p, &live).election(election).build() {
        Some(next) => Ok(next.record(topic_id, partition)),
        None => Err(match kind {
            ElectionType::Preferred => ApiError::new(
                ResponseError::PreferredLeaderNotAvailable,
                "The preferred leader was not available.",
            ),
            ElectionType::Unclean => ApiError::new(
                ResponseError::EligibleLeadersNotAvailable,
                "Eligible topic partition leaders are not available.",
            ),
        }),
    }
}

/// The controller's periodic elections (Kafka's maybeBalancePartitionLeaders
/// and maybeElectUncleanLeaders): with `preferred`, every partition led by
/// another replica than its preferred one gets a preferred election where
/// the preferred replica is live and in sync; leaderless partitions of
/// topics that allow it get an unclean election. At most `max` records.
pub fn balance_leaders(image: &ClusterImage, max: usize, preferred: bool) -> Vec<MetadataRecord> {
    let live = |id| is_live(image, id);
    let mut records = Vec::new();
    for (name, topic) in &image.topics {
        for (&partition, p) in &topic.partitions {
            if records.len() >= max {
                return records;
            }
            let election = if p.leader == NO_LEADER {
                if !unclean_election_enabled(image, name) {
                    continue;
                }
                Election::Unclean
            } else if preferred && p.replicas.first() != Some(&p.leader) {
                Election::Preferred
            } else {
                continue;
            };
            if let Some(next) = PartitionChange::new(p, &live).election(election).build() {
                records.push(next.record(topic.id, partition));
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::RESOURCE_TOPIC;
    use crate::metadata::BrokerRegistration;

    fn cluster(fenced: &[i32]) -> ClusterImage {
        let mut image = ClusterImage::default();
        for id in 1..=4 {
            image.brokers.insert(
                id,
                BrokerRegistration {
                    id,
                    incarnation_id: Uuid::from_u128(id as u128),
                    epoch: id as i64,
                    listeners: Vec::new(),
                    rack: None,
                    fenced: fenced.contains(&id),
                },
            );
        }
        image.apply(&MetadataRecord::Topic {
            name: "t".into(),
            topic_id: Uuid::from_u128(9),
        });
        image
    }

    fn set(image: &mut ClusterImage, partition: i32, replicas: &[i32], isr: &[i32], leader: i32) {
        image.apply(&MetadataRecord::Partition {
            topic_id: Uuid::from_u128(9),
            partition,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 1,
            partition_epoch: 1,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        });
    }

    fn apply(image: &mut ClusterImage, record: Option<MetadataRecord>) -> PartitionImage {
        let record = record.expect("a change");
        image.apply(&record);
        let MetadataRecord::Partition { partition, .. } = record else {
            panic!("not a partition record")
        };
        image.topics["t"].partitions[&partition].clone()
    }

    #[test]
    fn a_reassignment_adds_the_new_replicas_at_once_and_completes_when_they_are_in_sync() {
        let mut image = cluster(&[]);
        set(&mut image, 0, &[1, 2], &[1, 2], 1);
        let r = alter_reassignment(&image, "t", 0, Some(&[2, 3])).unwrap();
        let p = apply(&mut image, r);
        assert_eq!(p.replicas, vec![2, 3, 1]);
        assert_eq!(
            (p.adding_replicas.clone(), p.removing_replicas.clone()),
            (vec![3], vec![1])
        );
        assert_eq!((p.leader, p.isr.clone()), (1, vec![1, 2]));
        assert_eq!(
            list_reassignments(&image, "t", None),
            vec![OngoingReassignment {
                partition: 0,
                replicas: vec![2, 3, 1],
                adding: vec![3],
                removing: vec![1],
            }]
        );
        // The leader reports 3 in sync: the reassignment completes and
        // leadership leaves the removed replica.
        let change = super::super::partitions::IsrChange {
            topic_id: Uuid::from_u128(9),
            partition: 0,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr: vec![(1, -1), (2, -1), (3, -1)],
        };
        let (record, after) = super::super::partitions::alter_isr(&image, 1, &change).unwrap();
        assert_eq!(after.replicas, vec![2, 3]);
        assert_eq!((after.leader, after.isr.clone()), (2, vec![2, 3]));
        assert!(!after.is_reassigning());
        image.apply(&record.unwrap());
        assert!(list_reassignments(&image, "t", None).is_empty());
    }

    #[test]
    fn reordering_in_sync_replicas_completes_at_once_and_cancelling_reverts() {
        let mut image = cluster(&[]);
        set(&mut image, 0, &[1, 2], &[1, 2], 1);
        let r = alter_reassignment(&image, "t", 0, Some(&[2, 1])).unwrap();
        let p = apply(&mut image, r);
        assert_eq!((p.replicas.clone(), p.leader), (vec![2, 1], 1));
        assert!(!p.is_reassigning());
        let r = alter_reassignment(&image, "t", 0, Some(&[3, 4])).unwrap();
        let p = apply(&mut image, r);
        assert_eq!(p.replicas, vec![3, 4, 1, 2]);
        let r = alter_reassignment(&image, "t", 0, None).unwrap();
        let p = apply(&mut image, r);
        assert_eq!(
            (p.replicas.clone(), p.isr.clone(), p.leader),
            (vec![1, 2], vec![1, 2], 1)
        );
        assert!(!p.is_reassigning());
        assert_eq!(
            alter_reassignment(&image, "t", 0, None).unwrap_err().code,
            ResponseError::NoReassignmentInProgress
        );
    }

    #[test]
    fn invalid_targets_are_refused_as_kafka_refuses_them() {
        let mut image = cluster(&[]);
        set(&mut image, 0, &[1, 2], &[1, 2], 1);
        for target in [&[][..], &[1, 1][..], &[1, 7][..]] {
            assert_eq!(
                alter_reassignment(&image, "t", 0, Some(target)).unwrap_err().code,
                ResponseError::InvalidReplicaAssignment
            );
        }
        assert_eq!(
            alter_reassignment(&image, "t", 5, Some(&[1])).unwrap_err().code,
            ResponseError::UnknownTopicOrPartition
        );
        assert_eq!(
            alter_reassignment(&image, "u", 0, Some(&[1])).unwrap_err().code,
            ResponseError::UnknownTopicOrPartition
        );
    }

    fn code(image: &ClusterImage, partition: i32, kind: ElectionType) -> ResponseError {
        elect_leader(image, "t", partition, kind).unwrap_err().code
    }

    #[test]
    fn elections_answer_with_kafkas_per_partition_errors() {
        let mut image = cluster(&[3]);
        set(&mut image, 0, &[1, 2], &[1, 2], 2);
        set(&mut image, 1, &[1, 2], &[1, 2], 1);
        set(&mut image, 2, &[3, 2], &[2], 2);
        set(&mut image, 3, &[3, 1], &[3], NO_LEADER);
        let r = Some(elect_leader(&image, "t", 0, ElectionType::Preferred).unwrap());
        let p = apply(&mut image, r);
        assert_eq!(p.leader, 1);
        assert_eq!(
            code(&image, 1, ElectionType::Preferred),
            ResponseError::ElectionNotNeeded
        );
        assert_eq!(
            code(&image, 2, ElectionType::Preferred),
            ResponseError::PreferredLeaderNotAvailable
        );
        assert_eq!(code(&image, 1, ElectionType::Unclean), ResponseError::ElectionNotNeeded);
        assert_eq!(
            code(&image, 9, ElectionType::Preferred),
            ResponseError::UnknownTopicOrPartition
        );
        let r = Some(elect_leader(&image, "t", 3, ElectionType::Unclean).unwrap());
        let p = apply(&mut image, r);
        assert_eq!((p.leader, p.isr), (1, vec![1]));
        set(&mut image, 3, &[3], &[3], NO_LEADER);
        assert_eq!(
            code(&image, 3, ElectionType::Unclean),
            ResponseError::EligibleLeadersNotAvailable
        );
    }

    #[test]
    fn balancing_moves_leaders_home_and_elects_uncleanly_only_where_allowed() {
        let mut image = cluster(&[4]);
        set(&mut image, 0, &[1, 2], &[1, 2], 2);
        set(&mut image, 1, &[2, 1], &[2, 1], 2);
        set(&mut image, 2, &[4, 1], &[4], NO_LEADER);
        let records = balance_leaders(&image, 100, true);
        assert_eq!(records.len(), 1);
        assert!(matches!(
            &records[0],
            MetadataRecord::Partition {
                partition: 0,
                leader: 1,
                ..
            }
        ));
        image.apply(&MetadataRecord::Config {
            resource_type: RESOURCE_TOPIC,
            resource_name: "t".into(),
            name: "unclean.leader.election.enable".into(),
            value: Some("true".into()),
        });
        let records = balance_leaders(&image, 100, true);
        assert_eq!(records.len(), 2);
        assert!(
            matches!(&records[1], MetadataRecord::Partition { partition: 2, leader: 1, isr, .. } if isr == &vec![1])
        );
        assert_eq!(balance_leaders(&image, 1, true).len(), 1);
        // Without preferred balancing, only the unclean election.
        let records = balance_leaders(&image, 100, false);
        assert!(matches!(&records[..], [MetadataRecord::Partition { partition: 2, .. }]));
    }
}
