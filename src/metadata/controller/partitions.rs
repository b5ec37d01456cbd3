//! Partition changes leaders ask for: AlterPartition (KIP-497), the ISR
//! shrinks and expansions a leader proposes, validated as Kafka's
//! ReplicationControlManager validates them.

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::change::{is_live, PartitionChange};
use crate::metadata::{ClusterImage, MetadataRecord, PartitionImage};

/// One partition of an AlterPartition request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The proposed ISR, with each member's broker epoch (-1: unchecked).
    pub new_isr: Vec<(i32, i64)>,
}

/// Whether the requesting broker's registration is current: an older
/// incarnation's request is STALE_BROKER_EPOCH for the whole request.
pub fn check_requester(image: &ClusterImage, broker_id: i32, broker_epoch: i64) -> Result<(), ResponseError> {
    match image.brokers.get(&broker_id) {
        Some(b) if broker_epoch == -1 || b.epoch == broker_epoch => Ok(()),
        _ => Err(ResponseError::StaleBrokerEpoch),
    }
}

/// Decides one partition of an AlterPartition from `leader`: the record
/// to commit (none when the ISR is unchanged) and the partition as it
/// will be, or the partition's error.
pub fn alter_isr(
    image: &ClusterImage,
    leader: i32,
    change: &IsrChange,
) -> Result<(Option<MetadataRecord>, PartitionImage), ResponseError> {
    let topic = image
        .topic_by_id(&change.topic_id)
        .ok_or(ResponseError::UnknownTopicId)?;
    let p = topic
        .partitions
        .get(&change.partition)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    if p.leader != leader {
        return Err(ResponseError::InvalidRequest);
    }
    if change.leader_epoch != p.leader_epoch {
        return Err(ResponseError::FencedLeaderEpoch);
    }
    if change.partition_epoch != p.partition_epoch {
        return Err(ResponseError::InvalidUpdateVersion);
    }
    let mut isr: Vec<i32> = change.new_isr.iter().map(|(id, _)| *id).collect();
    isr.sort_unstable();
    isr.dedup();
    if !isr.contains(&leader) || isr.iter().any(|id| !p.replicas.contains(id)) {
        return Err(ResponseError::InvalidRequest);
    }
    // Only live replicas of the current incarnation may join (KIP-841).
    for &(id, epoch) in &change.new_isr {
        if p.isr.contains(&id) {
            continue;
        }
        match image.brokers.get(&id) {
            Some(b) if !b.fenced && (epoch == -1 || epoch == b.epoch) => {}
            _ => return Err(ResponseError::IneligibleReplica),
        }
    }
    let mut current = p.isr.clone();
    current.sort_unstable();
    if current == isr {
        return Ok((None, p.clone()));
    }
    // The ISR keeps the replica order of the assignment, as Kafka's does.
    // A reassignment whose targets are now all in sync completes here
    // (Kafka re-evaluates it on every ISR change).
    let ordered: Vec<i32> = p.replicas.iter().copied().filter(|r| isr.contains(r)).collect();
    let live = |id| is_live(image, id);
    let mut builder = PartitionChange::new(p, &live);
    builder.isr = ordered;
    let Some(next) = builder.build() else {
        return Ok((None, p.clone()));
    };
    let record = next.record(change.topic_id, change.partition);
    Ok((Some(record), next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::BrokerRegistration;

    fn cluster() -> (ClusterImage, Uuid) {
        let mut image = ClusterImage::default();
        for id in 1..=3 {
            image.brokers.insert(
                id,
                BrokerRegistration {
                    id,
                    incarnation_id: Uuid::from_u128(id as u128),
                    epoch: 10 + id as i64,
                    listeners: Vec::new(),
                    rack: None,
                    fenced: id == 3,
                },
            );
        }
        let topic_id = Uuid::from_u128(7);
        image.apply(&MetadataRecord::Topic {
            name: "t".into(),
            topic_id,
        });
        image.apply(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2, 3],
            isr: vec![1],
            leader: 1,
            leader_epoch: 4,
            partition_epoch: 9,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        });
        (image, topic_id)
    }

    fn change(topic_id: Uuid, leader_epoch: i32, partition_epoch: i32, isr: &[(i32, i64)]) -> IsrChange {
        IsrChange {
            topic_id,
            partition: 0,
            leader_epoch,
            partition_epoch,
            new_isr: isr.to_vec(),
        }
    }

    #[test]
    fn an_expansion_by_the_leader_bumps_the_partition_epoch_only() {
        let (image, id) = cluster();
        let (record, next) = alter_isr(&image, 1, &change(id, 4, 9, &[(1, 11), (2, 12)])).unwrap();
        assert!(record.is_some());
        assert_eq!(next.isr, vec![1, 2]);
        assert_eq!((next.leader, next.leader_epoch, next.partition_epoch), (1, 4, 10));
    }

    #[test]
    fn stale_or_invalid_proposals_get_kafkas_errors() {
        let (image, id) = cluster();
        let ok = [(1, -1), (2, -1)];
        assert_eq!(
            alter_isr(&image, 2, &change(id, 4, 9, &ok)).unwrap_err(),
            ResponseError::InvalidRequest
        );
        assert_eq!(
            alter_isr(&image, 1, &change(id, 3, 9, &ok)).unwrap_err(),
            ResponseError::FencedLeaderEpoch
        );
        assert_eq!(
            alter_isr(&image, 1, &change(id, 4, 8, &ok)).unwrap_err(),
            ResponseError::InvalidUpdateVersion
        );
        // The leader must stay; members must be replicas.
        assert_eq!(
            alter_isr(&image, 1, &change(id, 4, 9, &[(2, -1)])).unwrap_err(),
            ResponseError::InvalidRequest
        );
        assert_eq!(
            alter_isr(&image, 1, &change(id, 4, 9, &[(1, -1), (5, -1)])).unwrap_err(),
            ResponseError::InvalidRequest
        );
        // A fenced broker or an older incarnation may not join.
        assert_eq!(
            alter_isr(&image, 1, &change(id, 4, 9, &[(1, -1), (3, -1)])).unwrap_err(),
            ResponseError::IneligibleReplica
        );
        assert_eq!(
            alter_isr(&image, 1, &change(id, 4, 9, &[(1, -1), (2, 5)])).unwrap_err(),
            ResponseError::IneligibleReplica
        );
        let mut unknown = change(id, 4, 9, &ok);
        unknown.topic_id = Uuid::from_u128(8);
        assert_eq!(
            alter_isr(&image, 1, &unknown).unwrap_err(),
            ResponseError::UnknownTopicId
        );
        assert_eq!(check_requester(&image, 1, 10), Err(ResponseError::StaleBrokerEpoch));
        assert_eq!(check_requester(&image, 1, 11), Ok(()));
    }

    #[test]
    fn an_unchanged_isr_commits_nothing() {
        let (image, id) = cluster();
        let (record, next) = alter_isr(&image, 1, &change(id, 4, 9, &[(1, 11)])).unwrap();
        assert!(record.is_none());
        assert_eq!(next.partition_epoch, 9);
    }
}
