//! One test per rule of Kafka's FetchManager and FetchSessionCache.

use std::sync::atomic::{AtomicI32, Ordering};

use super::*;

fn key(topic: &str, partition: i32) -> PartitionKey {
    PartitionKey {
        topic: TopicKey::Name(topic.into()),
        partition,
    }
}

fn preq(fetch_offset: i64) -> PartitionRequest {
    PartitionRequest {
        fetch_offset,
        log_start_offset: -1,
        max_bytes: 1 << 20,
        current_leader_epoch: -1,
        last_fetched_epoch: -1,
    }
}

fn outcome(records_bytes: usize, high_watermark: i64) -> PartitionOutcome {
    PartitionOutcome {
        records_bytes,
        high_watermark,
        log_start_offset: 0,
        error: false,
    }
}

fn sreq(session_id: i32, epoch: i32) -> SessionRequest {
    SessionRequest {
        session_id,
        epoch,
        uses_topic_ids: false,
        from_follower: false,
    }
}

/// A cache holding one session over `t-0` and `t-1` (both answered with
/// high watermark 10), created at `now_ms`; returns its id.
fn with_session(cache: &mut FetchSessionCache, now_ms: i64) -> i32 {
    let data = vec![(key("t", 0), preq(0)), (key("t", 1), preq(0))];
    assert_eq!(cache.new_context(sreq(0, 0), &data, &[], now_ms), FetchContext::Full);
    let answered = data.into_iter().map(|(k, r)| (k, r, outcome(0, 10))).collect();
    let id = cache.maybe_create_session(sreq(0, 0), answered, now_ms);
    assert_ne!(id, INVALID_SESSION_ID, "a new session gets a non-zero id");
    id
}

#[test]
fn next_epoch_keeps_final_and_wraps_past_initial() {
    assert_eq!(next_epoch(FINAL_EPOCH), FINAL_EPOCH);
    assert_eq!(next_epoch(-7), FINAL_EPOCH);
    assert_eq!(next_epoch(INITIAL_EPOCH), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
}

#[test]
fn id_0_epoch_final_is_sessionless_and_opens_nothing() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let ctx = cache.new_context(sreq(0, FINAL_EPOCH), &[(key("t", 0), preq(0))], &[], 0);
    assert_eq!(ctx, FetchContext::Sessionless);
    assert_eq!(cache.sessions.len(), 0);
}

#[test]
fn any_id_with_epoch_final_is_sessionless() {
    // kafka-go's Client.Fetch sends session id -1, epoch -1.
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    assert_eq!(
        cache.new_context(sreq(-1, FINAL_EPOCH), &[], &[], 0),
        FetchContext::Sessionless
    );
    assert_eq!(
        cache.new_context(sreq(12345, FINAL_EPOCH), &[], &[], 0),
        FetchContext::Sessionless
    );
}

#[test]
fn initial_epoch_opens_a_session_expecting_epoch_1() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    assert!(id > 0, "Kafka's session ids are positive");
    assert_eq!(cache.sessions[&id].epoch, 1);
    assert_eq!(cache.sessions[&id].partitions.len(), 2);
}

#[test]
fn known_id_with_final_epoch_closes_the_session() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    assert_eq!(
        cache.new_context(sreq(id, FINAL_EPOCH), &[], &[], 1),
        FetchContext::Sessionless
    );
    assert_eq!(cache.sessions.len(), 0);
    assert_eq!(
        cache.new_context(sreq(id, 1), &[], &[], 2),
        FetchContext::Error(SessionError::IdNotFound)
    );
}

#[test]
fn known_id_with_initial_epoch_closes_it_and_asks_for_a_new_one() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    assert_eq!(
        cache.new_context(sreq(id, INITIAL_EPOCH), &[], &[], 1),
        FetchContext::Full
    );
    assert!(!cache.sessions.contains_key(&id));
}

#[test]
fn incremental_for_an_unknown_id_is_id_not_found() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    assert_eq!(
        cache.new_context(sreq(777, 1), &[], &[], 0),
        FetchContext::Error(SessionError::IdNotFound)
    );
    assert_eq!(
        cache.new_context(sreq(0, 1), &[], &[], 0),
        FetchContext::Error(SessionError::IdNotFound)
    );
}

#[test]
fn incremental_with_a_wrong_epoch_is_invalid_epoch_and_changes_nothing() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    for epoch in [2, 5, -2] {
        assert_eq!(
            cache.new_context(sreq(id, epoch), &[(key("u", 0), preq(0))], &[], 1),
            FetchContext::Error(SessionError::InvalidEpoch),
            "epoch {epoch}"
        );
    }
    assert_eq!(cache.sessions[&id].epoch, 1);
    assert_eq!(cache.sessions[&id].partitions.len(), 2);
}

#[test]
fn incremental_with_other_topic_id_use_is_topic_id_error() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    let mut req = sreq(id, 1);
    req.uses_topic_ids = true;
    assert_eq!(
        cache.new_context(req, &[], &[], 1),
        FetchContext::Error(SessionError::TopicIdMismatch)
    );
}

#[test]
fn incremental_adds_updates_and_forgets_partitions() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    let ctx = cache.new_context(
        sreq(id, 1),
        &[(key("t", 1), preq(7)), (key("u", 0), preq(3))],
        &[key("t", 0), key("never", 9)],
        1,
    );
    assert_eq!(
        ctx,
        FetchContext::Incremental {
            session_id: id,
            partitions: vec![(key("t", 1), preq(7)), (key("u", 0), preq(3))],
        }
    );
    assert_eq!(cache.sessions[&id].epoch, 2);
    // An empty incremental request fetches everything the session holds.
    let FetchContext::Incremental { partitions, .. } = cache.new_context(sreq(id, 2), &[], &[], 2) else {
        panic!("incremental");
    };
    assert_eq!(partitions.len(), 2);
}

#[test]
fn forgetting_every_partition_ends_the_session() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    let ctx = cache.new_context(sreq(id, 1), &[], &[key("t", 0), key("t", 1)], 1);
    assert_eq!(ctx, FetchContext::Sessionless);
    assert_eq!(cache.sessions.len(), 0);
}

#[test]
fn incremental_answer_carries_only_changes() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    cache.new_context(sreq(id, 1), &[], &[], 1);
    // Nothing new: t-0 and t-1 still at high watermark 10.
    let send = cache
        .incremental_response(id, 1, &[(key("t", 0), outcome(0, 10)), (key("t", 1), outcome(0, 10))])
        .expect("epoch matches");
    assert_eq!(send, vec![false, false]);

    cache.new_context(sreq(id, 2), &[], &[], 2);
    let mut moved_start = outcome(0, 10);
    moved_start.log_start_offset = 4;
    let send = cache
        .incremental_response(id, 2, &[(key("t", 0), outcome(100, 12)), (key("t", 1), moved_start)])
        .expect("epoch matches");
    assert_eq!(send, vec![true, true], "records and a moved log start offset are sent");

    cache.new_context(sreq(id, 3), &[], &[], 3);
    let mut failed = outcome(0, -1);
    failed.error = true;
    let send = cache
        .incremental_response(id, 3, &[(key("t", 1), failed), (key("t", 0), outcome(0, 12))])
        .expect("epoch matches");
    assert_eq!(send, vec![true, false], "an error is always sent");
    // After an error the next good answer is sent even if nothing moved.
    cache.new_context(sreq(id, 4), &[], &[], 4);
    let mut same = outcome(0, 10);
    same.log_start_offset = 4;
    let send = cache
        .incremental_response(id, 4, &[(key("t", 1), same)])
        .expect("epoch");
    assert_eq!(send, vec![true]);
}

#[test]
fn partitions_that_returned_records_move_to_the_back() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    cache.new_context(sreq(id, 1), &[], &[], 1);
    cache
        .incremental_response(id, 1, &[(key("t", 0), outcome(10, 11)), (key("t", 1), outcome(0, 10))])
        .expect("epoch matches");
    let FetchContext::Incremental { partitions, .. } = cache.new_context(sreq(id, 2), &[], &[], 2) else {
        panic!("incremental");
    };
    let order: Vec<i32> = partitions.iter().map(|(k, _)| k.partition).collect();
    assert_eq!(order, vec![1, 0]);
}

#[test]
fn a_request_overtaken_on_its_session_answers_invalid_epoch() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    let id = with_session(&mut cache, 0);
    cache.new_context(sreq(id, 1), &[], &[], 1);
    cache.new_context(sreq(id, 2), &[], &[], 1);
    assert_eq!(cache.incremental_response(id, 1, &[]), Err(SessionError::InvalidEpoch));
}

#[test]
fn a_full_cache_answers_sessionless() {
    let mut cache = FetchSessionCache::new(1, MIN_EVICTION_MS);
    with_session(&mut cache, 0);
    let one = vec![(key("x", 0), preq(0), outcome(0, 0))];
    assert_eq!(cache.maybe_create_session(sreq(0, 0), one, 1_000), INVALID_SESSION_ID);
    assert_eq!(cache.sessions.len(), 1);
}

#[test]
fn zero_slots_never_open_a_session() {
    let mut cache = FetchSessionCache::new(0, MIN_EVICTION_MS);
    assert_eq!(
        cache.maybe_create_session(sreq(0, 0), Vec::new(), 0),
        INVALID_SESSION_ID
    );
}

#[test]
fn a_session_idle_past_the_eviction_time_makes_room() {
    let mut cache = FetchSessionCache::new(1, MIN_EVICTION_MS);
    let old = with_session(&mut cache, 0);
    let id = cache.maybe_create_session(sreq(0, 0), Vec::new(), MIN_EVICTION_MS + 1);
    assert_ne!(id, INVALID_SESSION_ID);
    assert!(!cache.sessions.contains_key(&old));
}

#[test]
fn an_old_busy_session_yields_only_to_one_at_least_as_large() {
    let mut cache = FetchSessionCache::new(1, MIN_EVICTION_MS);
    let old = with_session(&mut cache, 0);
    // Used recently, but created more than the eviction time ago.
    cache.new_context(sreq(old, 1), &[], &[], MIN_EVICTION_MS + 10);
    let now = MIN_EVICTION_MS + 20;
    let small = vec![(key("x", 0), preq(0), outcome(0, 0))];
    assert_eq!(cache.maybe_create_session(sreq(0, 0), small, now), INVALID_SESSION_ID);
    let large: Vec<_> = (0..3).map(|p| (key("x", p), preq(0), outcome(0, 0))).collect();
    assert_ne!(cache.maybe_create_session(sreq(0, 0), large, now), INVALID_SESSION_ID);
    assert!(!cache.sessions.contains_key(&old));
}

#[test]
fn a_follower_evicts_a_young_consumer_session_but_not_a_follower_one() {
    let mut cache = FetchSessionCache::new(1, MIN_EVICTION_MS);
    let consumer = with_session(&mut cache, 0);
    let mut follower = sreq(0, 0);
    follower.from_follower = true;
    let first = cache.maybe_create_session(follower, Vec::new(), 10);
    assert_ne!(first, INVALID_SESSION_ID, "privileged beats a young consumer session");
    assert!(!cache.sessions.contains_key(&consumer));
    assert_eq!(cache.maybe_create_session(follower, Vec::new(), 20), INVALID_SESSION_ID);
    assert_eq!(
        cache.maybe_create_session(sreq(0, 0), Vec::new(), 30),
        INVALID_SESSION_ID
    );
}

static NEXT_IDS: AtomicI32 = AtomicI32::new(0);

fn colliding_ids() -> i32 {
    // 0, then 5 twice, then 6.
    match NEXT_IDS.fetch_add(1, Ordering::SeqCst) {
        0 => 0,
        1..=2 => 5,
        _ => 6,
    }
}

#[test]
fn session_ids_skip_zero_and_ids_in_use() {
    let mut cache = FetchSessionCache::new(10, MIN_EVICTION_MS);
    cache.random_id = colliding_ids;
    assert_eq!(cache.maybe_create_session(sreq(0, 0), Vec::new(), 0), 5);
    assert_eq!(cache.maybe_create_session(sreq(0, 0), Vec::new(), 0), 6);
}
