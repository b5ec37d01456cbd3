//! KIP-227 fetch sessions, each session id / epoch combination answered as
//! Kafka's FetchManager answers it: epoch -1 is a sessionless full fetch
//! whatever the id (and closes a session it names), epoch 0 opens a session,
//! any other epoch must match a live session's next epoch. Incremental
//! answers carry only partitions that changed.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::FetchRequest;

use crate::codes::*;
use crate::harness::{now_ms, topic_name, Client, TestBroker};
use crate::ops::{create_topic, metadata_topic, produce, Topic};
use crate::records::batch;

/// kafka-go's Client.Fetch version.
const V11: i16 = 11;
/// The newest version, topics by id.
const V17: i16 = 17;

fn partition(p: i32, offset: i64) -> FetchPartition {
    let mut fp = FetchPartition::default();
    fp.partition = p;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    fp.log_start_offset = -1;
    fp.current_leader_epoch = -1;
    fp
}

fn fetch_topic(version: i16, topic: &Topic, partitions: &[(i32, i64)]) -> FetchTopic {
    let mut ft = FetchTopic::default();
    if version >= 13 {
        ft.topic_id = topic.id;
    } else {
        ft.topic = topic_name(&topic.name);
    }
    ft.partitions = partitions.iter().map(|&(p, o)| partition(p, o)).collect();
    ft
}

fn forgotten(version: i16, topic: &Topic, partitions: &[i32]) -> ForgottenTopic {
    let mut f = ForgottenTopic::default();
    if version >= 13 {
        f.topic_id = topic.id;
    } else {
        f.topic = topic_name(&topic.name);
    }
    f.partitions = partitions.to_vec();
    f
}

fn request(session_id: i32, epoch: i32, topics: Vec<FetchTopic>, forget: Vec<ForgottenTopic>) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = kafka_protocol::messages::BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 8 << 20;
    req.session_id = session_id;
    req.session_epoch = epoch;
    req.topics = topics;
    req.forgotten_topics_data = forget;
    req
}

/// (topic name or id as text, partition, records bytes, high watermark) of
/// every partition in a response, in response order.
fn parts(version: i16, resp: &FetchResponse) -> Vec<(String, i32, usize, i64)> {
    resp.responses
        .iter()
        .flat_map(|t| {
            let topic = if version >= 13 {
                t.topic_id.to_string()
            } else {
                t.topic.0.to_string()
            };
            t.partitions.iter().map(move |p| {
                assert_eq!(p.error_code, NONE, "{topic}-{}: partition error", p.partition_index);
                (
                    topic.clone(),
                    p.partition_index,
                    p.records.as_ref().map_or(0, Bytes::len),
                    p.high_watermark,
                )
            })
        })
        .collect()
}

fn tname(version: i16, topic: &Topic) -> String {
    if version >= 13 {
        topic.id.to_string()
    } else {
        topic.name.clone()
    }
}

/// Which (topic, partition) pairs a response carries, and whether each had records.
fn carried(version: i16, resp: &FetchResponse) -> Vec<(String, i32, bool)> {
    parts(version, resp)
        .into_iter()
        .map(|(t, p, bytes, _)| (t, p, bytes > 0))
        .collect()
}

fn assert_session_error(resp: &FetchResponse, code: i16, what: &str) {
    assert_eq!(resp.error_code, code, "{what}: top-level error");
    assert_eq!(resp.session_id, 0, "{what}: session id");
    assert!(resp.responses.is_empty(), "{what}: no partitions");
}

/// A topic `name` with `partitions` partitions, each holding one batch of 3.
async fn topic_with_data(c: &mut Client, name: &str, partitions: i32) -> Topic {
    let t = create_topic(c, name, partitions, &[]).await;
    for p in 0..partitions {
        produce(c, &t, p, batch(3, now_ms())).await;
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessionless_fetches_whatever_the_id() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let t = topic_with_data(&mut c, "sessionless", 1).await;
    // (0, -1): the classic sessionless fetch; (-1, -1): kafka-go's
    // Client.Fetch; (4242, -1): an id nobody holds. All three are full,
    // sessionless fetches with the data.
    for (id, v) in [(0, V11), (-1, V11), (4242, V11), (-1, V17)] {
        let resp = c
            .call(v, &request(id, -1, vec![fetch_topic(v, &t, &[(0, 0)])], vec![]))
            .await;
        assert_eq!(resp.error_code, NONE, "id {id} v{v}: top-level error");
        assert_eq!(resp.session_id, 0, "id {id} v{v}: no session");
        assert_eq!(
            parts(v, &resp),
            vec![(tname(v, &t), 0, parts(v, &resp)[0].2, 3)],
            "id {id} v{v}"
        );
        assert!(parts(v, &resp)[0].2 > 0, "id {id} v{v}: records returned");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_epoch_opens_a_session_and_incremental_fetches_carry_only_changes() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    for v in [V11, V17] {
        let a = topic_with_data(&mut c, &format!("inc-a-v{v}"), 2).await;
        let b = topic_with_data(&mut c, &format!("inc-b-v{v}"), 1).await;
        let (an, bn) = (tname(v, &a), tname(v, &b));

        // (0, 0): a full fetch of everything, and a new session id.
        let full = request(
            0,
            0,
            vec![fetch_topic(v, &a, &[(0, 3), (1, 0)]), fetch_topic(v, &b, &[(0, 3)])],
            vec![],
        );
        let resp = c.call(v, &full).await;
        assert_eq!(resp.error_code, NONE, "v{v}: full fetch");
        let id = resp.session_id;
        assert_ne!(id, 0, "v{v}: a session is opened");
        assert_eq!(
            carried(v, &resp),
            vec![(an.clone(), 0, false), (an.clone(), 1, true), (bn.clone(), 0, false)],
            "v{v}: the full answer carries every partition"
        );

        // Epoch 1, nothing named: a-1 moved on to offset 3 is named, nothing
        // changed since, so the answer is empty (but a-1 is updated).
        let resp = c
            .call(v, &request(id, 1, vec![fetch_topic(v, &a, &[(1, 3)])], vec![]))
            .await;
        assert_eq!((resp.error_code, resp.session_id), (NONE, id), "v{v}: epoch 1");
        assert_eq!(carried(v, &resp), vec![], "v{v}: nothing changed");

        // New data on a-0 only: only a-0 comes back, with records.
        produce(&mut c, &a, 0, batch(2, now_ms())).await;
        let resp = c.call(v, &request(id, 2, vec![], vec![])).await;
        assert_eq!((resp.error_code, resp.session_id), (NONE, id), "v{v}: epoch 2");
        let got = parts(v, &resp);
        assert_eq!(got.len(), 1, "v{v}: only the changed partition: {got:?}");
        assert_eq!((got[0].0.clone(), got[0].1, got[0].3), (an.clone(), 0, 5), "v{v}: a-0");
        assert!(got[0].2 > 0, "v{v}: a-0 carries the new batch");

        // a-0 moves on to 5 and b-0 is forgotten; new data on b-0 is not sent.
        produce(&mut c, &b, 0, batch(1, now_ms())).await;
        let resp = c
            .call(
                v,
                &request(id, 3, vec![fetch_topic(v, &a, &[(0, 5)])], vec![forgotten(v, &b, &[0])]),
            )
            .await;
        assert_eq!((resp.error_code, resp.session_id), (NONE, id), "v{v}: epoch 3");
        assert_eq!(carried(v, &resp), vec![], "v{v}: b-0 was forgotten");

        // b-0 named again: a partition new to the session is always sent.
        let resp = c
            .call(v, &request(id, 4, vec![fetch_topic(v, &b, &[(0, 4)])], vec![]))
            .await;
        assert_eq!(carried(v, &resp), vec![(bn.clone(), 0, false)], "v{v}: b-0 re-added");

        // The same epoch twice: INVALID_FETCH_SESSION_EPOCH, session kept.
        let resp = c.call(v, &request(id, 4, vec![], vec![])).await;
        assert_session_error(&resp, INVALID_FETCH_SESSION_EPOCH, &format!("v{v}: epoch 4 again"));
        let resp = c.call(v, &request(id, 5, vec![], vec![])).await;
        assert_eq!(
            (resp.error_code, resp.session_id),
            (NONE, id),
            "v{v}: epoch 5 still works"
        );

        // Forgetting every partition ends the session: a sessionless answer.
        let resp = c
            .call(
                v,
                &request(id, 6, vec![], vec![forgotten(v, &a, &[0, 1]), forgotten(v, &b, &[0])]),
            )
            .await;
        assert_eq!((resp.error_code, resp.session_id), (NONE, 0), "v{v}: all forgotten");
        assert!(resp.responses.is_empty(), "v{v}: nothing left to fetch");
        let resp = c.call(v, &request(id, 7, vec![], vec![])).await;
        assert_session_error(&resp, FETCH_SESSION_ID_NOT_FOUND, &format!("v{v}: ended session"));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_epoch_closes_a_session_and_initial_epoch_replaces_it() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let t = topic_with_data(&mut c, "close", 1).await;
    let open = || request(0, 0, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]);

    let id = c.call(V11, &open()).await.session_id;
    assert_ne!(id, 0, "a session is opened");
    // (id, -1): closed, and this fetch is a sessionless full fetch.
    let resp = c
        .call(V11, &request(id, -1, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]))
        .await;
    assert_eq!((resp.error_code, resp.session_id), (NONE, 0), "closing fetch");
    assert_eq!(
        carried(V11, &resp),
        vec![(t.name.clone(), 0, true)],
        "closing fetch data"
    );
    let resp = c.call(V11, &request(id, 1, vec![], vec![])).await;
    assert_session_error(&resp, FETCH_SESSION_ID_NOT_FOUND, "closed session");

    // (id, 0): the old session is closed and a new one opened.
    let id = c.call(V11, &open()).await.session_id;
    let resp = c
        .call(V11, &request(id, 0, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]))
        .await;
    let new_id = resp.session_id;
    assert_ne!(new_id, 0, "a new session");
    assert_ne!(new_id, id, "with a new id");
    let resp = c.call(V11, &request(id, 1, vec![], vec![])).await;
    assert_session_error(&resp, FETCH_SESSION_ID_NOT_FOUND, "replaced session");
    let resp = c.call(V11, &request(new_id, 1, vec![], vec![])).await;
    assert_eq!(
        (resp.error_code, resp.session_id),
        (NONE, new_id),
        "the new session works"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_fetch_errors() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let t = topic_with_data(&mut c, "errors", 1).await;

    // An unknown id with an incremental epoch, and id 0 with one.
    for (id, epoch) in [(987_654, 1), (0, 1), (-1, 3)] {
        let resp = c
            .call(V11, &request(id, epoch, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]))
            .await;
        assert_session_error(&resp, FETCH_SESSION_ID_NOT_FOUND, &format!("({id}, {epoch})"));
    }

    // A live session with a wrong epoch, ahead, behind or below -1.
    let id = c
        .call(V11, &request(0, 0, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]))
        .await
        .session_id;
    for epoch in [2, 100, -2] {
        let resp = c.call(V11, &request(id, epoch, vec![], vec![])).await;
        assert_session_error(&resp, INVALID_FETCH_SESSION_EPOCH, &format!("epoch {epoch}"));
    }

    // A v11 session continued with v13+ (ids instead of names).
    let resp = c.call(V17, &request(id, 1, vec![], vec![])).await;
    assert_session_error(&resp, FETCH_SESSION_TOPIC_ID_ERROR, "v11 session at v17");
    let resp = c.call(V11, &request(id, 1, vec![], vec![])).await;
    assert_eq!((resp.error_code, resp.session_id), (NONE, id), "the session is intact");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cache_answers_with_session_id_0() {
    let broker = TestBroker::start_with(&[("max.incremental.fetch.session.cache.slots", "1")]).await;
    let mut c = broker.client().await;
    let t = topic_with_data(&mut c, "cache-full", 1).await;
    let open = || request(0, 0, vec![fetch_topic(V11, &t, &[(0, 0)])], vec![]);
    let first = c.call(V11, &open()).await;
    assert_ne!(first.session_id, 0, "the one slot is taken");

    // The cache is full and its session young: a full answer, session id 0.
    let mut other = broker.client().await;
    let resp = other.call(V11, &open()).await;
    assert_eq!((resp.error_code, resp.session_id), (NONE, 0), "no room for a session");
    assert_eq!(
        carried(V11, &resp),
        vec![(t.name.clone(), 0, true)],
        "data all the same"
    );

    let resp = c.call(V11, &request(first.session_id, 1, vec![], vec![])).await;
    assert_eq!(
        (resp.error_code, resp.session_id),
        (NONE, first.session_id),
        "the first session is kept"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_leader_epoch_minus_one_skips_the_check() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let t = topic_with_data(&mut c, "leader-epoch", 1).await;
    let epoch = metadata_topic(&mut c, &t.name).await.partitions[0].leader_epoch;
    for v in [V11, V17] {
        for (asked, code) in [(-1, NONE), (epoch, NONE), (epoch + 1, UNKNOWN_LEADER_EPOCH)] {
            let mut ft = fetch_topic(v, &t, &[(0, 0)]);
            ft.partitions[0].current_leader_epoch = asked;
            let resp = c.call(v, &request(0, -1, vec![ft], vec![])).await;
            let p = &resp.responses[0].partitions[0];
            assert_eq!(
                p.error_code, code,
                "v{v}: current_leader_epoch {asked} (leader epoch {epoch})"
            );
            if code != NONE {
                assert_eq!(p.high_watermark, -1, "v{v}: no offsets with a leader-epoch error");
            }
        }
    }
    broker.stop().await;
}
