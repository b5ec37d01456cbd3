//! Fetch, every advertised version: the produced batches come back byte for
//! byte (only base offset and partition leader epoch written in), with the
//! high watermark, last stable offset and log start offset each version
//! carries; v13+ addresses topics by id.

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    EpochEndOffset, FetchResponse, LeaderIdAndEpoch, PartitionData, SnapshotId,
};
use kafka_protocol::messages::{ApiKey, BrokerId};
use uuid::Uuid;

use crate::codes::*;
use crate::harness::{each_version, now_ms, Client, TestBroker};
use crate::ops::{create_topic, fetch_request, metadata_topic, produce, Topic};
use crate::records::{as_stored, batch};

/// The single partition of a single-topic fetch response, after checking
/// the top-level fields and the topic echo.
fn only_partition(resp: &FetchResponse, topic: &Topic, version: i16) -> PartitionData {
    assert_eq!(resp.throttle_time_ms, 0, "v{version}: throttle");
    assert_eq!(resp.error_code, NONE, "v{version}: top-level error");
    assert_eq!(resp.session_id, 0, "v{version}: sessionless fetch");
    assert!(
        resp.node_endpoints.is_empty(),
        "v{version}: node endpoints only accompany NOT_LEADER errors"
    );
    assert_eq!(resp.responses.len(), 1, "v{version}: one topic");
    let t = &resp.responses[0];
    if version >= 13 {
        assert_eq!(t.topic_id, topic.id, "v{version}: topic id echo");
    } else {
        assert_eq!(t.topic.0.as_str(), topic.name, "v{version}: topic name echo");
    }
    assert_eq!(t.partitions.len(), 1, "v{version}: one partition");
    t.partitions[0].clone()
}

/// Checks the offsets and the fields that stay at their defaults in a
/// successful single-replica, non-transactional fetch.
fn assert_partition(p: &PartitionData, version: i16, high_watermark: i64, log_start_offset: i64, what: &str) {
    assert_eq!(p.partition_index, 0, "{what}: partition index");
    assert_eq!(p.error_code, NONE, "{what}: error code");
    assert_eq!(p.high_watermark, high_watermark, "{what}: high watermark");
    assert_eq!(
        p.last_stable_offset, high_watermark,
        "{what}: last stable offset (no transactions)"
    );
    let start = if version >= 5 {
        log_start_offset
    } else {
        PartitionData::default().log_start_offset
    };
    assert_eq!(p.log_start_offset, start, "{what}: log start offset");
    assert_eq!(p.preferred_read_replica, BrokerId(-1), "{what}: preferred read replica");
    assert_eq!(p.diverging_epoch, EpochEndOffset::default(), "{what}: diverging epoch");
    assert_eq!(p.current_leader, LeaderIdAndEpoch::default(), "{what}: current leader");
    assert_eq!(p.snapshot_id, SnapshotId::default(), "{what}: snapshot id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::Fetch, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("fetch-v{v}"), 1, &[]).await;
            let leader_epoch = metadata_topic(&mut c, &topic.name).await.partitions[0].leader_epoch;
            let first = batch(3, now_ms());
            let second = batch(2, now_ms());
            assert_eq!(produce(&mut c, &topic, 0, first.clone()).await, 0);
            assert_eq!(produce(&mut c, &topic, 0, second.clone()).await, 3);
            let stored_first = as_stored(&first, 0, leader_epoch);
            let stored_second = as_stored(&second, 3, leader_epoch);

            // From offset 0: both batches, byte-identical but for base
            // offset and leader epoch.
            let resp = c.call(v, &fetch_request(v, &topic, 0, 0)).await;
            let p = only_partition(&resp, &topic, v);
            assert_partition(&p, v, 5, 0, &format!("v{v} fetch at 0"));
            assert_eq!(
                p.aborted_transactions, None,
                "v{v}: read_uncommitted has no aborted transaction list"
            );
            let expected: Vec<u8> = [stored_first.clone(), stored_second.clone()].concat();
            assert_eq!(
                p.records.as_deref(),
                Some(&expected[..]),
                "v{v}: records at 0 are the produced batches"
            );

            // From offset 3: only the second batch.
            let resp = c.call(v, &fetch_request(v, &topic, 0, 3)).await;
            let p = only_partition(&resp, &topic, v);
            assert_partition(&p, v, 5, 0, &format!("v{v} fetch at 3"));
            assert_eq!(p.records.as_deref(), Some(&stored_second[..]), "v{v}: records at 3");

            // At the log end: empty records, never null (librdkafka rejects
            // a MessageSetSize of -1).
            let resp = c.call(v, &fetch_request(v, &topic, 0, 5)).await;
            let p = only_partition(&resp, &topic, v);
            assert_partition(&p, v, 5, 0, &format!("v{v} fetch at the log end"));
            assert_eq!(
                p.records,
                Some(Bytes::new()),
                "v{v}: empty, non-null records at the log end"
            );

            // read_committed: same data, an (empty) aborted transaction list.
            let mut req = fetch_request(v, &topic, 0, 0);
            req.isolation_level = 1;
            let resp = c.call(v, &req).await;
            let p = only_partition(&resp, &topic, v);
            assert_partition(&p, v, 5, 0, &format!("v{v} read_committed fetch"));
            assert_eq!(
                p.aborted_transactions,
                Some(Vec::new()),
                "v{v}: read_committed aborted transactions"
            );
            assert_eq!(
                p.records.as_deref(),
                Some(&expected[..]),
                "v{v}: read_committed records"
            );

            // An unknown topic: UNKNOWN_TOPIC_ID by id (v13+), else by name.
            let unknown = Topic {
                name: format!("no-such-topic-v{v}"),
                id: Uuid::new_v4(),
            };
            let resp = c.call(v, &fetch_request(v, &unknown, 0, 0)).await;
            let p = &resp.responses[0].partitions[0];
            let code = if v >= 13 {
                UNKNOWN_TOPIC_ID
            } else {
                UNKNOWN_TOPIC_OR_PARTITION
            };
            assert_eq!(p.error_code, code, "v{v}: unknown topic");
            assert_eq!(
                p.records,
                Some(Bytes::new()),
                "v{v}: empty, non-null records with an error"
            );
        }
    })
    .await;
    broker.stop().await;
}

/// Request fields Kafka reads with a special value, answered as Kafka does:
/// replica id -1 (consumer) and -2 (debugging tool) read; a replica id >= 0
/// is a follower, and a single node has none (Kafka's
/// `followerReplicaOrThrow`); `last_fetched_epoch` -1 is no check, a
/// known epoch whose end is below the fetch offset is a diverging epoch, an
/// unknown one is OFFSET_OUT_OF_RANGE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_special_values() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "fetch-special", 1, &[]).await;
    produce(&mut c, &topic, 0, batch(3, now_ms())).await;
    let epoch = metadata_topic(&mut c, &topic.name).await.partitions[0].leader_epoch;
    for v in [11i16, 12, 14, 15, 17] {
        for replica in [-1, -2, 1, 5] {
            for current_epoch in [-1, epoch] {
                let mut req = fetch_request(v, &topic, 0, 0);
                req.topics[0].partitions[0].current_leader_epoch = current_epoch;
                if v >= 15 {
                    req.replica_state.replica_id = BrokerId(replica);
                } else {
                    req.replica_id = BrokerId(replica);
                }
                let resp = c.call(v, &req).await;
                let p = &resp.responses[0].partitions[0];
                let want = match (replica >= 0, current_epoch) {
                    (false, _) => NONE,
                    (true, -1) => NOT_LEADER_OR_FOLLOWER,
                    (true, _) => UNKNOWN_LEADER_EPOCH,
                };
                let what = format!("v{v} replica {replica} current epoch {current_epoch}");
                assert_eq!(p.error_code, want, "{what}");
                if want == NONE {
                    assert_eq!(p.high_watermark, 3, "{what}: high watermark");
                    assert!(p.records.as_ref().is_some_and(|r| !r.is_empty()), "{what}: records");
                } else {
                    assert_eq!(p.high_watermark, -1, "{what}: no offsets with the error");
                }
                if v >= 16 && want == NOT_LEADER_OR_FOLLOWER {
                    assert_eq!(p.current_leader.leader_id, BrokerId(crate::harness::NODE_ID), "{what}");
                    assert_eq!(resp.node_endpoints.len(), 1, "{what}: the leader's endpoint");
                }
            }
        }
    }
    for v in [12i16, 17] {
        let with_last = |offset: i64, last: i32| {
            let mut req = fetch_request(v, &topic, 0, offset);
            req.topics[0].partitions[0].last_fetched_epoch = last;
            req
        };
        let p = c.call(v, &with_last(3, epoch)).await.responses[0].partitions[0].clone();
        assert_eq!(
            (p.error_code, p.diverging_epoch.epoch),
            (NONE, -1),
            "v{v}: same epoch, no divergence"
        );
        let p = c.call(v, &with_last(4, epoch)).await.responses[0].partitions[0].clone();
        assert_eq!(p.error_code, NONE, "v{v}: diverging");
        assert_eq!(
            (p.diverging_epoch.epoch, p.diverging_epoch.end_offset),
            (epoch, 3),
            "v{v}: epoch {epoch} ends at 3, before the fetch offset 4"
        );
        assert_eq!(p.records, Some(Bytes::new()), "v{v}: no records when diverging");
        let p = c.call(v, &with_last(3, epoch + 1)).await.responses[0].partitions[0].clone();
        assert_eq!(p.error_code, OFFSET_OUT_OF_RANGE, "v{v}: an epoch the log never had");
    }
    broker.stop().await;
}
