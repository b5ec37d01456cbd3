//! Broker lifecycle decisions (Kafka's ClusterControlManager and the
//! fencing half of ReplicationControlManager): registration, heartbeats,
//! fencing and unfencing, as records against the image. Sans-I/O: session
//! times live in `BrokerHeartbeats`, which the caller owns and consults.

use std::collections::HashMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::change::{default_election, is_live, PartitionChange};
use crate::error::ApiError;
use crate::metadata::records::{BrokerEndpoint, MetadataRecord};
use crate::metadata::{BrokerRegistration, ClusterImage};

/// Kafka's "no leader" partition leader id.
pub const NO_LEADER: i32 = -1;

/// What a BrokerRegistration request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistrationRequest {
    pub broker_id: i32,
    pub incarnation_id: Uuid,
    pub listeners: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
}

/// A registration's outcome: the records to commit and the broker epoch to
/// answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub records: Vec<MetadataRecord>,
    pub broker_epoch: i64,
}

/// The answer to a heartbeat (Kafka's BrokerHeartbeatReply, without
/// controlled shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatReply {
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub should_shut_down: bool,
}

/// A broker epoch greater than every registration in the image, for a
/// caller without a metadata log offset. Kafka uses the offset at which the
/// RegisterBroker record lands, which the raft-backed controller should
/// pass instead; either way epochs only grow for a given broker id,
/// because its previous registration stays in the image until replaced.
pub fn next_broker_epoch(image: &ClusterImage) -> i64 {
    image.brokers.values().map(|b| b.epoch).max().map_or(1, |e| e + 1)
}

/// Kafka's ClusterControlManager.registerBroker. `session_live` says
/// whether the current registration of this id still has a heartbeat
/// session (`BrokerHeartbeats::has_live_session`); `new_broker_epoch` must
/// be greater than any epoch the id had (the log offset of the record, or
/// `next_broker_epoch`).
///
/// - the same incarnation again is a retry: its epoch and fencing stay,
///   and a changed listener or rack amends the registration;
/// - another incarnation while the session is live is
///   DUPLICATE_BROKER_REGISTRATION;
/// - otherwise a new registration, fenced until it catches up. The old
///   incarnation went away without a clean shutdown, so it leaves the ISRs
///   and leaderships it held first (Kafka's handleBrokerUncleanShutdown).
pub fn register_broker(
    image: &ClusterImage,
    req: &BrokerRegistrationRequest,
    session_live: bool,
    new_broker_epoch: i64,
) -> Result<Registered, ApiError> {
    let existing = image.brokers.get(&req.broker_id);
    let record = |epoch: i64, fenced: bool| MetadataRecord::RegisterBroker {
        broker_id: req.broker_id,
        incarnation_id: req.incarnation_id,
        broker_epoch: epoch,
        listeners: req.listeners.clone(),
        rack: req.rack.clone(),
        fenced,
    };
    if let Some(old) = existing.filter(|b| b.incarnation_id == req.incarnation_id) {
        let unchanged = old.listeners == req.listeners && old.rack == req.rack;
        return Ok(Registered {
            records: if unchanged {
                Vec::new()
            } else {
                vec![record(old.epoch, old.fenced)]
            },
            broker_epoch: old.epoch,
        });
    }
    if existing.is_some() && session_live {
        return Err(ApiError::new(
            ResponseError::DuplicateBrokerRegistration,
            "Another broker is registered with that broker id.",
        ));
    }
    debug_assert!(
        existing.is_none_or(|old| new_broker_epoch > old.epoch),
        "broker epochs only grow"
    );
    let mut records = existing.map_or_else(Vec::new, |_| leave_partitions(image, req.broker_id));
    records.push(record(new_broker_epoch, true));
    Ok(Registered {
        records,
        broker_epoch: new_broker_epoch,
    })
}

/// Kafka's processBrokerHeartbeat, with the state machine of
/// BrokerHeartbeatManager.calculateNextBrokerState: a fenced broker is
/// unfenced once it asks and has caught up with its registration record;
/// an unfenced broker is fenced when it asks. A broker that wants to shut
/// down is fenced and told to go (Kafka first moves leaderships away in a
/// controlled shutdown; fencing moves them at once). The caller also
/// `touch`es the broker's session.
pub fn heartbeat(
    image: &ClusterImage,
    broker_id: i32,
    broker_epoch: i64,
    want_fence: bool,
    want_shutdown: bool,
    caught_up_to_metadata: bool,
) -> Result<(Vec<MetadataRecord>, HeartbeatReply), ApiError> {
    let broker = check_broker_epoch(image, broker_id, broker_epoch)?;
    let (records, fenced) = if broker.fenced {
        if !want_shutdown && !want_fence && caught_up_to_metadata {
            (unfence_broker(image, broker_id)?, false)
        } else {
            (Vec::new(), true)
        }
    } else if want_fence || want_shutdown {
        (fence_broker(image, broker_id)?, true)
    } else {
        (Vec::new(), false)
    };
    Ok((
        records,
        HeartbeatReply {
            is_caught_up: caught_up_to_metadata,
            is_fenced: fenced,
            should_shut_down: want_shutdown,
        },
    ))
}

/// Kafka's ClusterControlManager.checkBrokerEpoch.
fn check_broker_epoch(
    image: &ClusterImage,
    broker_id: i32,
    broker_epoch: i64,
) -> Result<&BrokerRegistration, ApiError> {
    let broker = image.brokers.get(&broker_id).ok_or_else(|| {
        ApiError::new(
            ResponseError::StaleBrokerEpoch,
            format!("No broker registration found for broker {broker_id}"),
        )
    })?;
    if broker.epoch != broker_epoch {
        return Err(ApiError::new(
            ResponseError::StaleBrokerEpoch,
            format!(
                "Expected broker epoch {}, but got broker epoch {broker_epoch}",
                broker.epoch
            ),
        ));
    }
    Ok(broker)
}

fn registered(image: &ClusterImage, broker_id: i32) -> Result<&BrokerRegistration, ApiError> {
    image.brokers.get(&broker_id).ok_or_else(|| {
        ApiError::new(
            ResponseError::BrokerIdNotRegistered,
            format!("Broker {broker_id} is not registered."),
        )
    })
}

/// Kafka's handleBrokerFenced: the broker leaves every ISR (unless it is
/// the last member) and every leadership, then is marked fenced. Already
/// fenced: nothing to do.
pub fn fence_broker(image: &ClusterImage, broker_id: i32) -> Result<Vec<MetadataRecord>, ApiError> {
    let broker = registered(image, broker_id)?;
    if broker.fenced {
        return Ok(Vec::new());
    }
    let mut records = leave_partitions(image, broker_id);
    records.push(MetadataRecord::BrokerRegistrationChange {
        broker_id,
        broker_epoch: broker.epoch,
        fenced: true,
    });
    Ok(records)
}

/// Kafka's handleBrokerUnfenced: the broker is marked unfenced and leads
/// the leaderless partitions whose ISR holds it. Already unfenced: nothing
/// to do.
pub fn unfence_broker(image: &ClusterImage, broker_id: i32) -> Result<Vec<MetadataRecord>, ApiError> {
    let broker = registered(image, broker_id)?;
    if !broker.fenced {
        return Ok(Vec::new());
    }
    let mut records = vec![MetadataRecord::BrokerRegistrationChange {
        broker_id,
        broker_epoch: broker.epoch,
        fenced: false,
    }];
    // Leaderless partitions get a leader now that one more broker is live
    // (unclean where the topic allows it: any live replica).
    let live = |id| id == broker_id || is_live(image, id);
    for (name, topic) in &image.topics {
        let election = default_election(image, name);
        for (&partition, p) in &topic.partitions {
            if p.leader != NO_LEADER || !p.replicas.contains(&broker_id) {
                continue;
            }
            if let Some(next) = PartitionChange::new(p, &live).election(election).build() {
                records.push(next.record(topic.id, partition));
            }
        }
    }
    Ok(records)
}

/// The partition changes when `broker_id` goes away: it leaves each ISR it
/// is in, unless it is the last member (the ISR then keeps naming the only
/// replica known to hold every committed record); where it led, the next
/// live ISR member leads, or, where the topic's
/// `unclean.leader.election.enable` allows it and no ISR member is live,
/// any live replica (the ISR becomes that replica alone); otherwise nobody
/// (-1). A leader change bumps the leader epoch; any change bumps the
/// partition epoch.
fn leave_partitions(image: &ClusterImage, broker_id: i32) -> Vec<MetadataRecord> {
    let live = |id: i32| id != broker_id && is_live(image, id);
    let mut records = Vec::new();
    for (name, topic) in &image.topics {
        let election = default_election(image, name);
        for (&partition, p) in &topic.partitions {
            if !p.isr.contains(&broker_id) && p.leader != broker_id {
                continue;
            }
            let mut change = PartitionChange::new(p, &live).election(election);
            change.isr.retain(|&id| id != broker_id);
            if change.isr.is_empty() {
                change.isr = p.isr.clone();
            }
            if let Some(next) = change.build() {
                records.push(next.record(topic.id, partition));
            }
        }
    }
    records
}

/// Heartbeat sessions (Kafka's BrokerHeartbeatManager, without the
/// controlled-shutdown bookkeeping): when each broker was last heard
/// from. Time is passed in; nothing here reads a clock.
#[derive(Debug, Default)]
pub struct BrokerHeartbeats {
    last_contact_ms: HashMap<i32, i64>,
}

impl BrokerHeartbeats {
    /// Records a heartbeat (or a registration) from `broker_id`.
    pub fn touch(&mut self, broker_id: i32, now_ms: i64) {
        self.last_contact_ms.insert(broker_id, now_ms);
    }

    /// Whether `broker_id` was heard from within the session timeout.
    pub fn has_live_session(&self, broker_id: i32, now_ms: i64, session_timeout_ms: i64) -> bool {
        self.last_contact_ms
            .get(&broker_id)
            .is_some_and(|&t| now_ms - t < session_timeout_ms)
    }

    /// Brokers whose session expired, by id; the controller fences those
    /// the image shows unfenced (Kafka's maybeFenceOneStaleBroker).
    pub fn expired(&self, now_ms: i64, session_timeout_ms: i64) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .last_contact_ms
            .iter()
            .filter(|&(_, &t)| now_ms - t >= session_timeout_ms)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Forgets a broker (unregistered, or re-registered as a new incarnation).
    pub fn remove(&mut self, broker_id: i32) {
        self.last_contact_ms.remove(&broker_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::BrokerEndpoint;

    fn request(id: i32, incarnation: u128) -> BrokerRegistrationRequest {
        BrokerRegistrationRequest {
            broker_id: id,
            incarnation_id: Uuid::from_u128(incarnation),
            listeners: vec![BrokerEndpoint {
                name: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 9092 + id,
                security_protocol: 0,
            }],
            rack: None,
        }
    }

    fn apply(image: &mut ClusterImage, records: &[MetadataRecord]) {
        for r in records {
            image.apply(r);
        }
    }

    /// Brokers 1..=3 registered and unfenced; topic "t" partition 0 on
    /// [1, 2, 3] led by 1, partition 1 on [2, 3] led by 2, ISR [2].
    fn cluster() -> ClusterImage {
        let mut image = ClusterImage::default();
        for id in 1..=3 {
            let r = register_broker(&image, &request(id, id as u128), false, next_broker_epoch(&image)).unwrap();
            apply(&mut image, &r.records);
            let records = unfence_broker(&image, id).unwrap();
            apply(&mut image, &records);
        }
        let topic_id = Uuid::from_u128(77);
        apply(
            &mut image,
            &[
                MetadataRecord::Topic {
                    name: "t".into(),
                    topic_id,
                },
                MetadataRecord::Partition {
                    topic_id,
                    partition: 0,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                },
                MetadataRecord::Partition {
                    topic_id,
                    partition: 1,
                    replicas: vec![2, 3],
                    isr: vec![2],
                    leader: 2,
                    leader_epoch: 4,
                    partition_epoch: 6,
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                },
            ],
        );
        image
    }

    fn partition(image: &ClusterImage, p: i32) -> (Vec<i32>, i32, i32, i32) {
        let p = &image.topics["t"].partitions[&p];
        (p.isr.clone(), p.leader, p.leader_epoch, p.partition_epoch)
    }

    #[test]
    fn a_new_broker_registers_fenced_with_a_new_epoch() {
        let image = ClusterImage::default();
        let r = register_broker(&image, &request(5, 1), false, 10).unwrap();
        assert_eq!(r.broker_epoch, 10);
        assert!(matches!(
            &r.records[..],
            [MetadataRecord::RegisterBroker {
                broker_id: 5,
                broker_epoch: 10,
                fenced: true,
                ..
            }]
        ));
        let mut image = image;
        apply(&mut image, &r.records);
        assert!(image.live_brokers().is_empty());
        assert_eq!(next_broker_epoch(&image), 11);
    }

    #[test]
    fn the_same_incarnation_again_is_a_retry() {
        let image = cluster();
        let epoch = image.brokers[&1].epoch;
        let again = register_broker(&image, &request(1, 1), true, 99).unwrap();
        assert_eq!(
            again,
            Registered {
                records: Vec::new(),
                broker_epoch: epoch
            }
        );
        let mut moved = request(1, 1);
        moved.rack = Some("r9".into());
        let amended = register_broker(&image, &moved, true, 99).unwrap();
        assert_eq!(amended.broker_epoch, epoch);
        assert!(matches!(
            &amended.records[..],
            [MetadataRecord::RegisterBroker { fenced: false, rack: Some(_), broker_epoch, .. }] if *broker_epoch == epoch
        ));
    }

    #[test]
    fn another_incarnation_waits_for_the_old_session_to_end() {
        let image = cluster();
        let e = register_broker(&image, &request(1, 100), true, 99).unwrap_err();
        assert_eq!(e.code, ResponseError::DuplicateBrokerRegistration);
        assert_eq!(e.message, "Another broker is registered with that broker id.");
        // Session gone: the old incarnation leaves its partitions first.
        let r = register_broker(&image, &request(1, 100), false, 99).unwrap();
        let mut next = image.clone();
        apply(&mut next, &r.records);
        assert_eq!(partition(&next, 0), (vec![2, 3], 2, 1, 1));
        assert!(next.brokers[&1].fenced && next.brokers[&1].epoch == 99);
    }

    #[test]
    fn fencing_moves_leadership_and_shrinks_isrs() {
        let mut image = cluster();
        let records = fence_broker(&image, 2).unwrap();
        apply(&mut image, &records);
        assert!(image.brokers[&2].fenced);
        assert_eq!(partition(&image, 0), (vec![1, 3], 1, 0, 1), "follower leaves the ISR");
        assert_eq!(
            partition(&image, 1),
            (vec![2], NO_LEADER, 5, 7),
            "last ISR member stays, no leader"
        );
        assert_eq!(fence_broker(&image, 2).unwrap(), Vec::new(), "already fenced");
        let records = unfence_broker(&image, 2).unwrap();
        apply(&mut image, &records);
        assert!(!image.brokers[&2].fenced);
        assert_eq!(partition(&image, 1), (vec![2], 2, 6, 8), "leads again");
        assert_eq!(
            partition(&image, 0),
            (vec![1, 3], 1, 0, 1),
            "ISR expansion is the leader's business"
        );
        assert_eq!(unfence_broker(&image, 2).unwrap(), Vec::new(), "already unfenced");
        for e in [
            fence_broker(&image, 9).unwrap_err(),
            unfence_broker(&image, 9).unwrap_err(),
        ] {
            assert_eq!(e.code, ResponseError::BrokerIdNotRegistered);
        }
    }

    #[test]
    fn heartbeats_fence_and_unfence_as_kafka_does() {
        let mut image = ClusterImage::default();
        let r = register_broker(&image, &request(1, 1), false, 7).unwrap();
        apply(&mut image, &r.records);
        let beat =
            |image: &ClusterImage, fence, shutdown, caught_up| heartbeat(image, 1, 7, fence, shutdown, caught_up);
        let (records, reply) = beat(&image, false, false, false).unwrap();
        assert!(records.is_empty() && reply.is_fenced && !reply.is_caught_up);
        let (records, reply) = beat(&image, true, false, true).unwrap();
        assert!(records.is_empty() && reply.is_fenced, "asked to stay fenced");
        let (records, reply) = beat(&image, false, false, true).unwrap();
        assert_eq!(
            reply,
            HeartbeatReply {
                is_caught_up: true,
                is_fenced: false,
                should_shut_down: false
            }
        );
        apply(&mut image, &records);
        assert!(!image.brokers[&1].fenced);
        let (records, reply) = beat(&image, false, false, true).unwrap();
        assert!(records.is_empty() && !reply.is_fenced);
        let (records, reply) = beat(&image, false, true, true).unwrap();
        assert!(reply.is_fenced && reply.should_shut_down);
        apply(&mut image, &records);
        assert!(image.brokers[&1].fenced);
        let (_, reply) = beat(&image, false, true, true).unwrap();
        assert!(
            reply.is_fenced && reply.should_shut_down,
            "a fenced broker may go at once"
        );
        let e = heartbeat(&image, 1, 6, false, false, true).unwrap_err();
        assert_eq!(e.code, ResponseError::StaleBrokerEpoch);
        assert_eq!(e.message, "Expected broker epoch 7, but got broker epoch 6");
        let e = heartbeat(&image, 2, 7, false, false, true).unwrap_err();
        assert_eq!(e.code, ResponseError::StaleBrokerEpoch);
        assert_eq!(e.message, "No broker registration found for broker 2");
    }

    /// Partition 1 ([2, 3], ISR [2], led by 2): fencing 2 leaves it
    /// leaderless, unless the topic allows unclean elections, when 3 leads
    /// alone; with it leaderless, unfencing 3 elects 3 only if allowed.
    #[test]
    fn unclean_leader_election_follows_the_topic_config() {
        let image = cluster();
        let mut clean = image.clone();
        apply(&mut clean, &fence_broker(&image, 2).unwrap());
        assert_eq!(partition(&clean, 1), (vec![2], NO_LEADER, 5, 7));
        let mut unclean = image.clone();
        unclean.apply(&MetadataRecord::Config {
            resource_type: crate::metadata::records::RESOURCE_TOPIC,
            resource_name: "t".into(),
            name: "unclean.leader.election.enable".into(),
            value: Some("true".into()),
        });
        let before = unclean.clone();
        apply(&mut unclean, &fence_broker(&before, 2).unwrap());
        assert_eq!(partition(&unclean, 1), (vec![3], 3, 5, 7));
        // Leaderless with 3 fenced: unfencing 3 elects it only uncleanly.
        let mut offline = clean.clone();
        apply(&mut offline, &fence_broker(&clean, 3).unwrap());
        assert_eq!(partition(&offline, 1).1, NO_LEADER);
        let mut stays = offline.clone();
        apply(&mut stays, &unfence_broker(&offline, 3).unwrap());
        assert_eq!(partition(&stays, 1).1, NO_LEADER);
        offline.apply(&MetadataRecord::Config {
            resource_type: crate::metadata::records::RESOURCE_TOPIC,
            resource_name: "t".into(),
            name: "unclean.leader.election.enable".into(),
            value: Some("true".into()),
        });
        let before = offline.clone();
        apply(&mut offline, &unfence_broker(&before, 3).unwrap());
        assert_eq!(partition(&offline, 1).0, vec![3]);
        assert_eq!(partition(&offline, 1).1, 3);
    }

    #[test]
    fn heartbeat_sessions_expire() {
        let mut sessions = BrokerHeartbeats::default();
        sessions.touch(1, 1_000);
        sessions.touch(2, 5_000);
        assert!(sessions.has_live_session(1, 9_999, 9_000));
        assert!(!sessions.has_live_session(1, 10_000, 9_000));
        assert!(!sessions.has_live_session(3, 0, 9_000));
        assert_eq!(sessions.expired(10_000, 9_000), vec![1]);
        assert_eq!(sessions.expired(20_000, 9_000), vec![1, 2]);
        sessions.touch(1, 15_000);
        assert_eq!(sessions.expired(20_000, 9_000), vec![2]);
        sessions.remove(2);
        assert!(sessions.expired(20_000, 9_000).is_empty());
    }
}
