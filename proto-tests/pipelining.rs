//! Pipelined requests on one connection: the broker answers strictly in
//! request order, and requests take effect in the order they were sent
//! (Kafka's per-connection guarantees). Requests that cannot see each other
//! may overlap: a long-poll Fetch does not hold up an OffsetCommit.
//!
//! Every request here is written without waiting for the answers to the
//! ones before it, as librdkafka, franz-go and the Java client do.

use std::time::{Duration, Instant};

use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    FetchRequest, HeartbeatRequest, JoinGroupRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    SyncGroupRequest,
};

use crate::codes::*;
use crate::groups::{
    commit_request, committed, fetch_committed, find_coordinator, group_id, join_and_sync, join_request,
    offset_fetch_request, sync_request, GROUP_SETTINGS,
};
use crate::harness::{decode_response, encode_request, now_ms, str_bytes, topic_name, TestBroker};
use crate::ops::{create_topic, fetch_request, init_producer_id, metadata_topic, produce_request, RESOURCE_TOPIC};
use crate::records::{batch, idempotent_batch, Producer};
use crate::topics::creatable;

const FETCH_VERSION: i16 = 12;

/// A long-poll fetch on an empty partition followed by four ApiVersions,
/// all written at once: the ApiVersions answers are ready first, but must
/// wait behind the fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_come_back_in_request_order() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "idle", 1, &[]).await;

    let mut fetch = fetch_request(FETCH_VERSION, &topic, 0, 0);
    fetch.max_wait_ms = 500;
    fetch.min_bytes = 1;
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    let fetch_id = c.take_correlation_id();
    ids.push(fetch_id);
    bytes.extend_from_slice(&encode_request(FETCH_VERSION, fetch_id, &fetch));
    for _ in 0..4 {
        let id = c.take_correlation_id();
        ids.push(id);
        bytes.extend_from_slice(&encode_request(3, id, &ApiVersionsRequest::default()));
    }
    let started = Instant::now();
    c.write_raw(&bytes).await;

    let first = c.read_frame().await.expect("the fetch response");
    let waited = started.elapsed();
    let resp = decode_response::<FetchRequest>(FETCH_VERSION, ids[0], first);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.high_watermark),
        (NONE, 0),
        "the long-poll fetch on an empty partition"
    );
    assert_eq!(p.records.as_ref().map(|r| r.len()), Some(0), "no records");
    assert!(
        waited >= Duration::from_millis(400),
        "the fetch waited for max_wait_ms (answered after {waited:?})"
    );
    for id in &ids[1..] {
        let frame = c.read_frame().await.expect("an ApiVersions response");
        let resp = decode_response::<ApiVersionsRequest>(3, *id, frame);
        assert_eq!(resp.error_code, NONE);
    }
    broker.stop().await;
}

/// Five idempotent batches written back to back: appended in order, each
/// answered in order, none refused as out of sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_produces_append_in_order() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "pipelined", 1, &[]).await;
    let (id, epoch) = init_producer_id(&mut c).await;
    let version = 9;
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..5 {
        let records = idempotent_batch(
            2,
            now_ms(),
            Producer {
                id,
                epoch,
                base_sequence: i * 2,
            },
        );
        let req: ProduceRequest = produce_request(version, &topic, 0, records, -1);
        let cid = c.take_correlation_id();
        ids.push(cid);
        bytes.extend_from_slice(&encode_request(version, cid, &req));
    }
    c.write_raw(&bytes).await;
    for (i, cid) in ids.iter().enumerate() {
        let frame = c.read_frame().await.expect("a produce response");
        let resp = decode_response::<ProduceRequest>(version, *cid, frame);
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(p.error_code, NONE, "batch {i}: {:?}", p.error_message);
        assert_eq!(p.base_offset, i as i64 * 2, "batch {i}: base offset");
    }
    broker.stop().await;
}

/// 100 commits of rising offsets for one partition, then an OffsetFetch:
/// the last commit sent is the one that stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commits_take_effect_in_order() {
    let broker = TestBroker::start_with(GROUP_SETTINGS).await;
    let mut c = broker.client().await;
    let (group, topic) = ("pipelined-commits", "committed");
    create_topic(&mut c, topic, 1, &[]).await;
    find_coordinator(&mut c, group).await;
    let mut commits = Vec::new();
    for offset in 1..=100 {
        commits.push(c.send(8, &commit_request(8, group, None, topic, &[(0, offset)])).await);
    }
    let fetch = c.send(8, &offset_fetch_request(group, topic, &[0])).await;
    for (i, id) in commits.into_iter().enumerate() {
        let resp = c.receive::<OffsetCommitRequest>(8, id).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, NONE, "commit {}", i + 1);
    }
    let resp = c.receive::<OffsetFetchRequest>(8, fetch).await;
    assert_eq!(
        committed(&resp, group)[0].1,
        100,
        "the OffsetFetch sent after the commits"
    );
    assert_eq!(
        fetch_committed(&mut c, group, topic, &[0]).await[0].1,
        100,
        "and afterwards"
    );
    broker.stop().await;
}

fn delete_topic_request(name: &str) -> DeleteTopicsRequest {
    let mut t = DeleteTopicState::default();
    t.name = Some(topic_name(name));
    let mut req = DeleteTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    req
}

fn create_topic_request(name: &str) -> CreateTopicsRequest {
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![creatable(name, 1, 1, &[])];
    req.timeout_ms = 10_000;
    req
}

/// Create, delete and create again the same topic, ten times over: every
/// step succeeds and the topic exists at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_create_delete_create_leaves_the_topic() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    for round in 0..10 {
        let name = format!("recreated-{round}");
        let created = c.send(7, &create_topic_request(&name)).await;
        let deleted = c.send(6, &delete_topic_request(&name)).await;
        let recreated = c.send(7, &create_topic_request(&name)).await;
        let resp = c.receive::<CreateTopicsRequest>(7, created).await;
        assert_eq!(resp.topics[0].error_code, NONE, "{name}: first create");
        let resp = c.receive::<DeleteTopicsRequest>(6, deleted).await;
        assert_eq!(resp.responses[0].error_code, NONE, "{name}: delete");
        let resp = c.receive::<CreateTopicsRequest>(7, recreated).await;
        assert_eq!(resp.topics[0].error_code, NONE, "{name}: second create");
        assert_eq!(metadata_topic(&mut c, &name).await.error_code, NONE, "{name} exists");
    }
    broker.stop().await;
}

/// Twenty AlterConfigs of `retention.ms`, then a DescribeConfigs: the
/// value is the last one sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_alter_configs_end_at_the_last_value() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = "altered";
    create_topic(&mut c, topic, 1, &[]).await;
    let alter = |retention_ms: i64| {
        let mut config = AlterableConfig::default();
        config.name = str_bytes("retention.ms");
        config.value = Some(str_bytes(&retention_ms.to_string()));
        let mut res = AlterConfigsResource::default();
        res.resource_type = RESOURCE_TOPIC;
        res.resource_name = str_bytes(topic);
        res.configs = vec![config];
        let mut req = AlterConfigsRequest::default();
        req.resources = vec![res];
        req
    };
    let values: Vec<i64> = (1..=20).map(|i| 3_600_000 * i).collect();
    let mut ids = Vec::new();
    for v in &values {
        ids.push(c.send(2, &alter(*v)).await);
    }
    let mut res = DescribeConfigsResource::default();
    res.resource_type = RESOURCE_TOPIC;
    res.resource_name = str_bytes(topic);
    res.configuration_keys = Some(vec![str_bytes("retention.ms")]);
    let mut describe = DescribeConfigsRequest::default();
    describe.resources = vec![res];
    let described = c.send(4, &describe).await;
    for id in ids {
        let resp = c.receive::<AlterConfigsRequest>(2, id).await;
        assert_eq!(
            resp.responses[0].error_code, NONE,
            "{:?}",
            resp.responses[0].error_message
        );
    }
    let resp = c.receive::<DescribeConfigsRequest>(4, described).await;
    let value = resp.results[0].configs[0].value.as_ref().map(|v| v.to_string());
    assert_eq!(value, Some(values[values.len() - 1].to_string()));
    broker.stop().await;
}

/// A Stable one-member group rejoins, syncs and heartbeats ten times, every
/// request written before any answer is read: each rejoin starts the next
/// generation, and the SyncGroup and Heartbeat behind it name that
/// generation, so any of them taking effect early is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_group_requests_keep_their_order() {
    let broker = TestBroker::start_with(GROUP_SETTINGS).await;
    let mut c = broker.client().await;
    let (group, topic) = ("pipelined-group", "grouped");
    create_topic(&mut c, topic, 1, &[]).await;
    let m = join_and_sync(&mut c, group, topic).await;
    let mut ids = Vec::new();
    for round in 1..=10 {
        let generation = m.generation_id + round;
        let join = c.send(9, &join_request(9, group, &m.member_id, &m.metadata)).await;
        let sync = c.send(5, &sync_request(5, &m, generation, &m.member_id)).await;
        let mut heartbeat = HeartbeatRequest::default();
        heartbeat.group_id = group_id(group);
        heartbeat.generation_id = generation;
        heartbeat.member_id = str_bytes(&m.member_id);
        let beat = c.send(4, &heartbeat).await;
        let commit = c
            .send(
                8,
                &commit_request(8, group, Some((&m.member_id, generation)), topic, &[(0, round as i64)]),
            )
            .await;
        ids.push((generation, join, sync, beat, commit));
    }
    for (generation, join, sync, beat, commit) in ids {
        let resp = c.receive::<JoinGroupRequest>(9, join).await;
        assert_eq!(
            (resp.error_code, resp.generation_id),
            (NONE, generation),
            "rejoin into generation {generation}"
        );
        let resp = c.receive::<SyncGroupRequest>(5, sync).await;
        assert_eq!(resp.error_code, NONE, "sync of generation {generation}");
        let resp = c.receive::<HeartbeatRequest>(4, beat).await;
        assert_eq!(resp.error_code, NONE, "heartbeat of generation {generation}");
        let resp = c.receive::<OffsetCommitRequest>(8, commit).await;
        assert_eq!(
            resp.topics[0].partitions[0].error_code, NONE,
            "member commit in generation {generation}"
        );
    }
    assert_eq!(fetch_committed(&mut c, group, topic, &[0]).await[0].1, 10);
    broker.stop().await;
}

/// Produce, then fetch at the offset just written, twenty times over: each
/// fetch (which does not wait) sees the batch produced before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_sees_the_produce_sent_before_it() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "produced-then-fetched", 1, &[]).await;
    let mut ids = Vec::new();
    for offset in 0..20 {
        let produce = c.send(9, &produce_request(9, &topic, 0, batch(1, now_ms()), 1)).await;
        let mut fetch = fetch_request(FETCH_VERSION, &topic, 0, offset);
        fetch.min_bytes = 0;
        let fetched = c.send(FETCH_VERSION, &fetch).await;
        ids.push((offset, produce, fetched));
    }
    for (offset, produce, fetched) in ids {
        let resp = c.receive::<ProduceRequest>(9, produce).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (NONE, offset), "produce {offset}");
        let resp = c.receive::<FetchRequest>(FETCH_VERSION, fetched).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.high_watermark),
            (NONE, offset + 1),
            "the fetch at {offset} after its produce"
        );
        assert!(
            p.records.as_ref().is_some_and(|r| !r.is_empty()),
            "the fetch at {offset} returns the batch"
        );
    }
    broker.stop().await;
}

/// A long-poll fetch on an empty partition, then a commit: the commit takes
/// effect at once (another connection sees it) while the fetch still waits,
/// and the answers still come in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_fetch_does_not_hold_up_a_commit() {
    let broker = TestBroker::start_with(GROUP_SETTINGS).await;
    let mut c = broker.client().await;
    let mut observer = broker.client().await;
    let group = "behind-a-fetch";
    let topic = create_topic(&mut c, "long-poll", 1, &[]).await;
    find_coordinator(&mut c, group).await;
    let mut fetch = fetch_request(FETCH_VERSION, &topic, 0, 0);
    fetch.max_wait_ms = 3_000;
    fetch.min_bytes = 1;
    let started = Instant::now();
    let fetched = c.send(FETCH_VERSION, &fetch).await;
    let committed_id = c
        .send(8, &commit_request(8, group, None, &topic.name, &[(0, 42)]))
        .await;
    loop {
        let seen = fetch_committed(&mut observer, group, &topic.name, &[0]).await[0].1;
        if seen == 42 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(2_000),
            "the commit waited behind the long-poll fetch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = c.receive::<FetchRequest>(FETCH_VERSION, fetched).await;
    assert!(
        started.elapsed() >= Duration::from_millis(2_900),
        "the fetch waited its max_wait_ms"
    );
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 0);
    let resp = c.receive::<OffsetCommitRequest>(8, committed_id).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, NONE);
    broker.stop().await;
}
