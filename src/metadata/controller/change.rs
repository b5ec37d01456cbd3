//! One partition's next state (Kafka's PartitionChangeBuilder): a target
//! replica list and ISR, a reassignment completed once its target replicas
//! are all in sync (PartitionReassignmentReplicas.maybeCompleteReassignment),
//! and a leader elected as the election kind allows. Fencing, unfencing,
//! AlterPartition, reassignments and leader elections all go through it,
//! so every partition change follows the same rules.

use crate::metadata::records::RESOURCE_TOPIC;
use crate::metadata::{ClusterImage, PartitionImage};

use super::brokers::NO_LEADER;

/// Which leaders a change may elect (Kafka's PartitionChangeBuilder.Election).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Keep a valid leader; otherwise the first live in-sync replica.
    Online,
    /// The first replica if it is live and in sync; else as `Online`.
    Preferred,
    /// As `Online`, and with no live in-sync replica any live replica,
    /// which becomes the ISR alone.
    Unclean,
}

/// A change of one partition under construction.
pub struct PartitionChange<'a> {
    current: &'a PartitionImage,
    live: &'a dyn Fn(i32) -> bool,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
    pub election: Election,
}

impl<'a> PartitionChange<'a> {
    /// Starts from `current`; `live` says which brokers may lead (unfenced,
    /// as the caller sees the cluster after its own change).
    pub fn new(current: &'a PartitionImage, live: &'a dyn Fn(i32) -> bool) -> Self {
        PartitionChange {
            current,
            live,
            replicas: current.replicas.clone(),
            isr: current.isr.clone(),
            adding: current.adding_replicas.clone(),
            removing: current.removing_replicas.clone(),
            election: Election::Online,
        }
    }

    pub fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    /// A reassignment whose target replicas are all in the ISR completes:
    /// the removed replicas leave the replicas and the ISR (unless that
    /// would leave either empty).
    fn complete_reassignment(&mut self) {
        if self.adding.is_empty() && self.removing.is_empty() {
            return;
        }
        let keep = |r: &i32| !self.removing.contains(r);
        let isr: Vec<i32> = self.isr.iter().copied().filter(keep).collect();
        let replicas: Vec<i32> = self.replicas.iter().copied().filter(keep).collect();
        if isr.is_empty() || replicas.is_empty() || !replicas.iter().all(|r| isr.contains(r)) {
            return;
        }
        self.replicas = replicas;
        self.isr = isr;
        self.adding.clear();
        self.removing.clear();
    }

    fn valid_leader(&self, id: i32) -> bool {
        id != NO_LEADER && self.replicas.contains(&id) && self.isr.contains(&id) && (self.live)(id)
    }

    /// The leader after the change, and whether it was elected uncleanly.
    fn elect(&self) -> (i32, bool) {
        let current = self.current.leader;
        if self.election == Election::Preferred {
            if let Some(&preferred) = self.replicas.first() {
                if self.valid_leader(preferred) {
                    return (preferred, false);
                }
            }
        }
        if self.valid_leader(current) {
            return (current, false);
        }
        if let Some(&id) = self.replicas.iter().find(|&&id| self.valid_leader(id)) {
            return (id, false);
        }
        // No in-sync replica can lead: an unclean election picks any live
        // replica, when the ISR has no live member at all.
        if self.election == Election::Unclean && !self.isr.iter().any(|&id| (self.live)(id)) {
            if let Some(&id) = self.replicas.iter().find(|&&id| (self.live)(id)) {
                return (id, true);
            }
        }
        (NO_LEADER, false)
    }

    /// The partition after the change; `None` when nothing changes.
    pub fn build(mut self) -> Option<PartitionImage> {
        self.complete_reassignment();
        let replicas = self.replicas.clone();
        self.isr.retain(|r| replicas.contains(r));
        let (leader, unclean) = self.elect();
        if unclean {
            self.isr = vec![leader];
        }
        let c = self.current;
        if leader == c.leader
            && self.replicas == c.replicas
            && self.isr == c.isr
            && self.adding == c.adding_replicas
            && self.removing == c.removing_replicas
        {
            return None;
        }
        Some(PartitionImage {
            replicas: self.replicas,
            isr: self.isr,
            leader,
            leader_epoch: c.leader_epoch + i32::from(leader != c.leader),
            partition_epoch: c.partition_epoch + 1,
            adding_replicas: self.adding,
            removing_replicas: self.removing,
        })
    }
}

/// Whether `broker_id` is registered and unfenced.
pub fn is_live(image: &ClusterImage, broker_id: i32) -> bool {
    image.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
}

/// `unclean.leader.election.enable` of `topic`: its own override, else the
/// cluster-wide dynamic default, else Kafka's default (false).
pub fn unclean_election_enabled(image: &ClusterImage, topic: &str) -> bool {
    let key = "unclean.leader.election.enable";
    image
        .resource_config(RESOURCE_TOPIC, topic)
        .and_then(|c| c.get(key))
        .or_else(|| image.broker_config("").and_then(|c| c.get(key)))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The election a topic's leaderless partitions get on their own: unclean
/// where the topic allows it.
pub fn default_election(image: &ClusterImage, topic: &str) -> Election {
    if unclean_election_enabled(image, topic) {
        Election::Unclean
    } else {
        Election::Online
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionImage {
        PartitionImage {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 7,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

    #[test]
    fn nothing_to_change_builds_nothing() {
        let p = part(&[1, 2], &[1, 2], 2);
        let live = |_| true;
        assert_eq!(PartitionChange::new(&p, &live).build(), None);
        // The preferred replica already leads: nothing either.
        let p = part(&[1, 2], &[1, 2], 1);
        assert_eq!(
            PartitionChange::new(&p, &live).election(Election::Preferred).build(),
            None
        );
    }

    #[test]
    fn preferred_election_moves_leadership_to_the_first_live_in_sync_replica() {
        let p = part(&[1, 2, 3], &[1, 2, 3], 2);
        let live = |_| true;
        let next = PartitionChange::new(&p, &live)
            .election(Election::Preferred)
            .build()
            .unwrap();
        assert_eq!((next.leader, next.leader_epoch, next.partition_epoch), (1, 4, 8));
        // Not in sync, or not live: the current leader stays.
        let p = part(&[1, 2, 3], &[2, 3], 2);
        assert_eq!(
            PartitionChange::new(&p, &live).election(Election::Preferred).build(),
            None
        );
        let p = part(&[1, 2, 3], &[1, 2, 3], 2);
        let not_one = |id| id != 1;
        assert_eq!(
            PartitionChange::new(&p, &not_one).election(Election::Preferred).build(),
            None
        );
    }

    #[test]
    fn a_leader_that_cannot_lead_is_replaced_by_a_live_in_sync_replica_or_nobody() {
        let p = part(&[1, 2, 3], &[1, 3], 1);
        let not_one = |id| id != 1;
        let next = PartitionChange::new(&p, &not_one).build().unwrap();
        assert_eq!(next.leader, 3);
        let only_two = |id| id == 2;
        let next = PartitionChange::new(&p, &only_two).build().unwrap();
        assert_eq!((next.leader, next.isr.clone()), (NO_LEADER, vec![1, 3]));
    }

    #[test]
    fn unclean_election_takes_any_live_replica_only_when_no_isr_member_is_live() {
        let p = part(&[1, 2, 3], &[1], NO_LEADER);
        let two_three = |id| id != 1;
        let next = PartitionChange::new(&p, &two_three)
            .election(Election::Unclean)
            .build()
            .unwrap();
        assert_eq!((next.leader, next.isr.clone(), next.leader_epoch), (2, vec![2], 4));
        // An in-sync replica that is live is elected cleanly.
        let p = part(&[1, 2, 3], &[1, 3], NO_LEADER);
        let next = PartitionChange::new(&p, &two_three)
            .election(Election::Unclean)
            .build()
            .unwrap();
        assert_eq!((next.leader, next.isr), (3, vec![1, 3]));
        // Nobody live: nothing to elect.
        let p = part(&[1, 2], &[1], NO_LEADER);
        let none = |_| false;
        assert_eq!(
            PartitionChange::new(&p, &none).election(Election::Unclean).build(),
            None
        );
    }

    #[test]
    fn a_reassignment_completes_once_its_targets_are_in_sync_and_the_leader_moves_off_removed_replicas() {
        // 1,2 -> 2,3 in progress: replicas 2,3,1, adding 3, removing 1.
        let mut p = part(&[2, 3, 1], &[1, 2], 1);
        p.adding_replicas = vec![3];
        p.removing_replicas = vec![1];
        let live = |_| true;
        // 3 not yet in sync: an ISR change that does not add it keeps it pending.
        assert_eq!(PartitionChange::new(&p, &live).build(), None);
        let mut change = PartitionChange::new(&p, &live);
        change.isr = vec![1, 2, 3];
        let next = change.build().unwrap();
        assert_eq!(next.replicas, vec![2, 3]);
        assert_eq!(next.isr, vec![2, 3]);
        assert_eq!((next.leader, next.leader_epoch), (2, 4));
        assert!(!next.is_reassigning());
    }
}
