//! Offset lookups and log-start moves, every advertised version:
//! ListOffsets (earliest, latest, by timestamp, max timestamp),
//! DeleteRecords and OffsetForLeaderEpoch.

use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::delete_records_response::DeleteRecordsPartitionResult;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;
use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use kafka_protocol::messages::offset_for_leader_epoch_response::EpochEndOffset;
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, ListOffsetsRequest, OffsetForLeaderEpochRequest};

use crate::codes::*;
use crate::harness::{each_version, now_ms, topic_name, Client, TestBroker};
use crate::ops::{create_topic, fetch_request, list_offset, produce, EARLIEST, LATEST, MAX_TIMESTAMP};
use crate::records::batch;

async fn list_offsets(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> ListOffsetsPartitionResponse {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    if version >= 4 {
        p.current_leader_epoch = -1;
    }
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.topics = vec![t];
    if version >= 10 {
        req.timeout_ms = 10_000;
    }
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1, "v{version}: one topic");
    assert_eq!(resp.topics[0].name.0.as_str(), topic, "v{version}: topic echo");
    assert_eq!(resp.topics[0].partitions.len(), 1, "v{version}: one partition");
    let p = resp.topics[0].partitions[0].clone();
    assert_eq!(p.partition_index, partition, "v{version}: partition echo");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::ListOffsets, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("list-offsets-v{v}");
            let topic = create_topic(&mut c, &name, 1, &[]).await;
            // Offsets 0..3 at t0..t0+2, offsets 3..5 at t0+100, t0+101.
            let t0 = now_ms() - 10_000;
            produce(&mut c, &topic, 0, batch(3, t0)).await;
            produce(&mut c, &topic, 0, batch(2, t0 + 100)).await;
            // The leader epoch is reported from v4; before, the default.
            let epoch = if v >= 4 {
                0
            } else {
                ListOffsetsPartitionResponse::default().leader_epoch
            };

            let check = |p: ListOffsetsPartitionResponse, offset: i64, timestamp: i64, epoch: i32, what: &str| {
                assert_eq!(p.error_code, NONE, "v{v} {what}: error code");
                assert_eq!(p.offset, offset, "v{v} {what}: offset");
                assert_eq!(p.timestamp, timestamp, "v{v} {what}: timestamp");
                assert_eq!(p.leader_epoch, epoch, "v{v} {what}: leader epoch");
            };
            check(
                list_offsets(&mut c, v, &name, 0, EARLIEST).await,
                0,
                -1,
                epoch,
                "earliest",
            );
            check(list_offsets(&mut c, v, &name, 0, LATEST).await, 5, -1, epoch, "latest");
            check(
                list_offsets(&mut c, v, &name, 0, t0 + 1).await,
                1,
                t0 + 1,
                epoch,
                "at t0+1",
            );
            check(
                list_offsets(&mut c, v, &name, 0, t0 + 50).await,
                3,
                t0 + 100,
                epoch,
                "at t0+50",
            );
            let none = ListOffsetsPartitionResponse::default().leader_epoch;
            check(
                list_offsets(&mut c, v, &name, 0, t0 + 10_000_000).await,
                -1,
                -1,
                none,
                "after the last timestamp",
            );
            if v >= 7 {
                check(
                    list_offsets(&mut c, v, &name, 0, MAX_TIMESTAMP).await,
                    4,
                    t0 + 101,
                    epoch,
                    "max timestamp",
                );
            }
            let p = list_offsets(&mut c, v, &name, 7, LATEST).await;
            assert_eq!(p.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown partition");
        }
    })
    .await;
    broker.stop().await;
}

async fn delete_records(c: &mut Client, version: i16, topic: &str, offset: i64) -> DeleteRecordsPartitionResult {
    let mut p = DeleteRecordsPartition::default();
    p.partition_index = 0;
    p.offset = offset;
    let mut t = DeleteRecordsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut req = DeleteRecordsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1);
    assert_eq!(resp.topics[0].name.0.as_str(), topic, "v{version}: topic echo");
    assert_eq!(resp.topics[0].partitions.len(), 1);
    let p = resp.topics[0].partitions[0].clone();
    assert_eq!(p.partition_index, 0);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DeleteRecords, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("delete-records-v{v}");
            let topic = create_topic(&mut c, &name, 1, &[]).await;
            produce(&mut c, &topic, 0, batch(3, now_ms())).await;
            produce(&mut c, &topic, 0, batch(2, now_ms())).await;

            let p = delete_records(&mut c, v, &name, 3).await;
            assert_eq!((p.error_code, p.low_watermark), (NONE, 3), "v{v}: delete before 3");
            assert_eq!(
                list_offset(&mut c, &name, 0, EARLIEST).await.offset,
                3,
                "v{v}: earliest after delete"
            );
            let resp = c.call(12, &fetch_request(12, &topic, 0, 0)).await;
            assert_eq!(
                resp.responses[0].partitions[0].error_code, OFFSET_OUT_OF_RANGE,
                "v{v}: fetching a deleted offset"
            );

            let p = delete_records(&mut c, v, &name, -1).await;
            assert_eq!(
                (p.error_code, p.low_watermark),
                (NONE, 5),
                "v{v}: delete up to the high watermark (-1)"
            );

            let p = delete_records(&mut c, v, &name, 99).await;
            assert_eq!(
                p.error_code, OFFSET_OUT_OF_RANGE,
                "v{v}: delete past the high watermark"
            );
            assert_eq!(p.low_watermark, -1, "v{v}: low watermark with an error");

            let p = delete_records(&mut c, v, &format!("no-such-topic-v{v}"), 1).await;
            assert_eq!(p.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
        }
    })
    .await;
    broker.stop().await;
}

async fn offset_for_epoch(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> EpochEndOffset {
    let mut p = OffsetForLeaderPartition::default();
    p.partition = partition;
    p.current_leader_epoch = current_leader_epoch;
    p.leader_epoch = leader_epoch;
    let mut t = OffsetForLeaderTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![p];
    let mut req = OffsetForLeaderEpochRequest::default();
    if version >= 3 {
        // A consumer's replica id.
        req.replica_id = (-1).into();
    }
    req.topics = vec![t];
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1);
    assert_eq!(resp.topics[0].topic.0.as_str(), topic, "v{version}: topic echo");
    assert_eq!(resp.topics[0].partitions.len(), 1);
    let e = resp.topics[0].partitions[0].clone();
    assert_eq!(e.partition, partition, "v{version}: partition echo");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_for_leader_epoch_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::OffsetForLeaderEpoch, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("epochs-v{v}");
            let topic = create_topic(&mut c, &name, 1, &[]).await;
            produce(&mut c, &topic, 0, batch(3, now_ms())).await;
            produce(&mut c, &topic, 0, batch(2, now_ms())).await;

            for current in [0, -1] {
                let e = offset_for_epoch(&mut c, v, &name, 0, current, 0).await;
                assert_eq!(e.error_code, NONE, "v{v} current epoch {current}: error");
                assert_eq!(
                    (e.leader_epoch, e.end_offset),
                    (0, 5),
                    "v{v} current epoch {current}: epoch 0 ends at the log end"
                );
            }
            let e = offset_for_epoch(&mut c, v, &name, 0, 1, 0).await;
            assert_eq!(
                e.error_code, UNKNOWN_LEADER_EPOCH,
                "v{v}: current leader epoch ahead of the broker"
            );
            let e = offset_for_epoch(&mut c, v, &name, 9, -1, 0).await;
            assert_eq!(e.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown partition");
            assert_eq!(
                (e.leader_epoch, e.end_offset),
                (-1, -1),
                "v{v}: unknown partition offsets"
            );
        }
    })
    .await;
    broker.stop().await;
}

/// Epochs the log has no batch for, as Kafka's LeaderEpochFileCache answers
/// them: a new leader records its epoch at the log end offset
/// (Partition.makeLeader), so epoch 0 of an empty log ends at 0; an epoch
/// above every known one has no end offset (UNDEFINED_EPOCH, -1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_for_leader_epoch_unwritten_epochs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::OffsetForLeaderEpoch, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("unwritten-epochs-v{v}");
            let topic = create_topic(&mut c, &name, 1, &[]).await;
            let empty = offset_for_epoch(&mut c, v, &name, 0, 0, 0).await;
            produce(&mut c, &topic, 0, batch(3, now_ms())).await;
            let above = offset_for_epoch(&mut c, v, &name, 0, -1, 5).await;
            assert_eq!((empty.error_code, above.error_code), (NONE, NONE), "v{v}: errors");
            assert_eq!(
                [
                    (empty.leader_epoch, empty.end_offset),
                    (above.leader_epoch, above.end_offset)
                ],
                [(0, 0), (-1, -1)],
                "v{v}: [epoch 0 of an empty log, epoch 5 above the latest] as (epoch, end offset)"
            );
        }
    })
    .await;
    broker.stop().await;
}

/// current_leader_epoch -1 is no check in ListOffsets and
/// OffsetForLeaderEpoch; any other value must be the leader's epoch, and
/// only -1 means "none" (-2 is an old epoch: FENCED_LEADER_EPOCH). Replica
/// id -2 (a debugging tool) lists offsets like a consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_epoch_special_values() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "epoch-special", 1, &[]).await;
    produce(&mut c, &topic, 0, batch(3, now_ms())).await;
    for (current, code) in [
        (-1, NONE),
        (0, NONE),
        (1, UNKNOWN_LEADER_EPOCH),
        (-2, FENCED_LEADER_EPOCH),
    ] {
        for replica in [-1, -2] {
            let mut p = ListOffsetsPartition::default();
            p.partition_index = 0;
            p.timestamp = LATEST;
            p.current_leader_epoch = current;
            let mut t = ListOffsetsTopic::default();
            t.name = topic_name(&topic.name);
            t.partitions = vec![p];
            let mut req = ListOffsetsRequest::default();
            req.replica_id = replica.into();
            req.topics = vec![t];
            let resp = c.call(9, &req).await;
            let p = &resp.topics[0].partitions[0];
            let what = format!("ListOffsets current epoch {current} replica {replica}");
            assert_eq!(p.error_code, code, "{what}");
            let want = if code == NONE { (3, 0) } else { (-1, -1) };
            assert_eq!((p.offset, p.leader_epoch), want, "{what}: offset and epoch");
        }
        let e = offset_for_epoch(&mut c, 4, &topic.name, 0, current, 0).await;
        assert_eq!(e.error_code, code, "OffsetForLeaderEpoch current epoch {current}");
    }
    broker.stop().await;
}
