//! Replica placement over the live (unfenced) brokers, in the spirit of
//! Kafka's StripedReplicaPlacer: leaders (first replicas) and replicas
//! spread evenly across brokers, each partition's replicas on distinct
//! racks where the racks allow it. Deterministic given `seed`: the caller
//! passes a random one, as Kafka's placer draws from its `Random`, and tests
//! pass fixed ones.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use crate::error::ApiError;
use crate::metadata::LiveBroker;

/// Kafka's CreateTopics / CreatePartitions refusal when the replicas
/// cannot be placed (ReplicationControlManager wraps the placer's message).
pub fn unable_to_replicate(replication_factor: i16, reason: &str) -> ApiError {
    ApiError::new(
        ResponseError::InvalidReplicationFactor,
        format!("Unable to replicate the partition {replication_factor} time(s): {reason}"),
    )
}

/// Places `partitions` new partitions with `replication_factor` replicas
/// each on `brokers`. Returns one replica list per partition, the leader
/// first.
pub fn place(
    brokers: &[LiveBroker],
    partitions: usize,
    replication_factor: i16,
    seed: u64,
) -> Result<Vec<Vec<i32>>, ApiError> {
    if replication_factor <= 0 {
        return Err(unable_to_replicate(
            replication_factor,
            &format!("Invalid replication factor {replication_factor}: the replication factor must be positive."),
        ));
    }
    if brokers.is_empty() {
        return Err(unable_to_replicate(
            replication_factor,
            "All brokers are currently fenced.",
        ));
    }
    let rf = replication_factor as usize;
    if rf > brokers.len() {
        return Err(unable_to_replicate(
            replication_factor,
            &format!(
                "The target replication factor of {replication_factor} cannot be reached because only {} broker(s) are registered.",
                brokers.len()
            ),
        ));
    }
    let order = striped_order(brokers, seed);
    let n = order.len();
    let mut leaders = vec![0usize; n];
    let mut replicas = vec![0usize; n];
    let mut out = Vec::with_capacity(partitions);
    for p in 0..partitions {
        // The stripe cursor moves one broker per partition, so ties go
        // round the (rack-alternating) order instead of piling up.
        let cursor = p % n;
        let distance = |i: usize| (i + n - cursor) % n;
        // The leader first: one of the brokers leading least, so leader
        // counts never differ by more than one.
        let leader = (0..n)
            .min_by_key(|&i| (leaders[i], replicas[i], distance(i)))
            .expect("at least one live broker");
        leaders[leader] += 1;
        let fewest_leaders = leaders.iter().copied().min().unwrap_or(0);
        let mut chosen = vec![leader];
        let mut racks = vec![order[leader].rack.as_deref()];
        while chosen.len() < rf {
            // Followers: racks this partition does not use yet, then the
            // fewest replicas, counting the leadership still owed to
            // brokers that lead least (it brings them a replica later).
            let owed = |i: usize| replicas[i] + usize::from(leaders[i] == fewest_leaders);
            let from_leader = |i: usize| (i + n - leader) % n;
            let next = (0..n)
                .filter(|i| !chosen.contains(i))
                .min_by_key(|&i| (racks.contains(&order[i].rack.as_deref()), owed(i), from_leader(i)))
                .expect("replication factor is at most the broker count");
            racks.push(order[next].rack.as_deref());
            chosen.push(next);
        }
        for &i in &chosen {
            replicas[i] += 1;
        }
        debug_assert_eq!(chosen.len(), rf);
        out.push(chosen.into_iter().map(|i| order[i].id).collect());
    }
    Ok(out)
}

/// The brokers in the order placement walks them: racks alternate (as in
/// Kafka's rack-alternated broker list), and `seed` rotates both the racks
/// and the brokers within each rack so that equal requests do not all
/// start on the same broker.
fn striped_order(brokers: &[LiveBroker], seed: u64) -> Vec<&LiveBroker> {
    let mut by_rack: BTreeMap<Option<&str>, Vec<&LiveBroker>> = BTreeMap::new();
    for b in brokers {
        by_rack.entry(b.rack.as_deref()).or_default().push(b);
    }
    let mut racks: Vec<Vec<&LiveBroker>> = by_rack.into_values().collect();
    let rack_count = racks.len();
    racks.rotate_left((seed % rack_count as u64) as usize);
    for rack in &mut racks {
        rack.sort_by_key(|b| b.id);
        let len = rack.len() as u64;
        rack.rotate_left(((seed / rack_count as u64) % len) as usize);
    }
    let longest = racks.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| racks.iter().filter_map(move |r| r.get(i).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn brokers(count: i32, racks: usize) -> Vec<LiveBroker> {
        (0..count)
            .map(|id| LiveBroker {
                id: id + 1,
                rack: (racks > 0).then(|| format!("r{}", id as usize % racks)),
            })
            .collect()
    }

    fn spread(counts: &BTreeMap<i32, usize>, brokers: &[LiveBroker]) -> usize {
        let all: Vec<usize> = brokers
            .iter()
            .map(|b| counts.get(&b.id).copied().unwrap_or(0))
            .collect();
        all.iter().max().unwrap() - all.iter().min().unwrap()
    }

    #[test]
    fn placement_is_balanced_distinct_and_rack_diverse() {
        for count in 1..=9 {
            for racks in [0usize, 1, 2, 3] {
                let live = brokers(count, racks);
                let rack_of: BTreeMap<i32, Option<String>> = live.iter().map(|b| (b.id, b.rack.clone())).collect();
                let distinct_racks = live.iter().map(|b| &b.rack).collect::<BTreeSet<_>>().len();
                for rf in 1..=count as i16 {
                    for partitions in [1usize, 2, 3, 7, 12, 50] {
                        for seed in [0u64, 1, 7, 12345] {
                            let placed = place(&live, partitions, rf, seed).unwrap();
                            let case = format!("brokers {count} racks {racks} rf {rf} partitions {partitions}");
                            assert_eq!(placed.len(), partitions, "{case}");
                            let mut leaders = BTreeMap::new();
                            let mut replicas = BTreeMap::new();
                            for r in &placed {
                                assert_eq!(r.len(), rf as usize, "{case}");
                                assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), r.len(), "{case}: {r:?}");
                                *leaders.entry(r[0]).or_insert(0) += 1;
                                for id in r {
                                    *replicas.entry(*id).or_insert(0) += 1;
                                }
                                let used = r.iter().map(|id| &rack_of[id]).collect::<BTreeSet<_>>().len();
                                assert_eq!(used, distinct_racks.min(rf as usize), "{case}: {r:?}");
                            }
                            assert!(spread(&leaders, &live) <= 1, "{case}: leaders {leaders:?}");
                            // Racks of equal size (or none) leave nothing to
                            // force an uneven spread of replicas; the leader
                            // balance comes first, so replicas may be off by
                            // two.
                            if racks == 0 || (count as usize).is_multiple_of(racks) {
                                assert!(spread(&replicas, &live) <= 2, "{case}: replicas {replicas:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn placement_is_deterministic_for_a_seed() {
        let live = brokers(5, 2);
        assert_eq!(place(&live, 10, 3, 42).unwrap(), place(&live, 10, 3, 42).unwrap());
        let first_leaders: BTreeSet<i32> = (0..10).map(|seed| place(&live, 1, 1, seed).unwrap()[0][0]).collect();
        assert!(first_leaders.len() > 1, "the seed moves the first leader");
    }

    #[test]
    fn refusals_use_kafkas_messages() {
        let e = place(&brokers(2, 0), 1, 3, 0).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidReplicationFactor);
        assert_eq!(
            e.message,
            "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."
        );
        let e = place(&[], 1, 1, 0).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidReplicationFactor);
        assert_eq!(
            e.message,
            "Unable to replicate the partition 1 time(s): All brokers are currently fenced."
        );
        assert_eq!(
            place(&brokers(2, 0), 1, 0, 0).unwrap_err().code,
            ResponseError::InvalidReplicationFactor
        );
    }
}
