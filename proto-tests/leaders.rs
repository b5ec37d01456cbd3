//! Reassignments and leaders, every advertised version:
//! AlterPartitionReassignments, ListPartitionReassignments, ElectLeaders
//! and DescribeTopicPartitions against one node (the multi-node paths are
//! in the controller's unit tests and compat/cluster).

use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use kafka_protocol::messages::alter_partition_reassignments_response::ReassignablePartitionResponse;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, ApiKey, BrokerId, DescribeTopicPartitionsRequest, ElectLeadersRequest,
    ListPartitionReassignmentsRequest,
};

use crate::codes::*;
use crate::harness::{each_version, no_message, topic_name, Client, TestBroker};
use crate::ops::create_topic;

async fn reassign(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    replicas: Option<&[i32]>,
    allow_rf_change: bool,
) -> ReassignablePartitionResponse {
    let mut p = ReassignablePartition::default();
    p.partition_index = partition;
    p.replicas = replicas.map(|r| r.iter().map(|&id| BrokerId(id)).collect());
    let mut t = ReassignableTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = 10_000;
    req.allow_replication_factor_change = allow_rf_change;
    req.topics = vec![t];
    let mut resp = c.call(version, &req).await;
    assert_eq!(resp.error_code, NONE, "v{version}: top-level error");
    assert_eq!(resp.responses.len(), 1);
    assert_eq!(resp.responses[0].name, topic_name(topic));
    resp.responses.remove(0).partitions.remove(0)
}

#[tokio::test]
async fn alter_partition_reassignments_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::AlterPartitionReassignments, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("reassign-v{v}");
            create_topic(&mut c, &name, 2, &[]).await;
            // Onto the replica it already has: nothing to do, no error.
            let r = reassign(&mut c, v, &name, 0, Some(&[1]), true).await;
            assert_eq!(r.error_code, NONE, "v{v}: same replicas ({:?})", r.error_message);
            assert!(no_message(&r.error_message), "v{v}: no message on success");
            // A broker that is not registered, a duplicate, an empty list.
            for target in [&[7][..], &[1, 1][..], &[][..]] {
                let r = reassign(&mut c, v, &name, 1, Some(target), true).await;
                assert_eq!(r.error_code, INVALID_REPLICA_ASSIGNMENT, "v{v}: {target:?}");
                assert!(r.error_message.is_some(), "v{v}: an error carries a message");
            }
            // Cancelling without a reassignment in progress.
            let r = reassign(&mut c, v, &name, 1, None, true).await;
            assert_eq!(r.error_code, NO_REASSIGNMENT_IN_PROGRESS, "v{v}: cancel");
            let r = reassign(&mut c, v, &name, 9, Some(&[1]), true).await;
            assert_eq!(r.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown partition");
            let r = reassign(&mut c, v, &format!("reassign-missing-v{v}"), 0, Some(&[1]), true).await;
            assert_eq!(r.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
            if v >= 1 {
                // KIP-860: a changed replication factor when it is not allowed.
                let r = reassign(&mut c, v, &name, 0, Some(&[]), false).await;
                assert_eq!(r.error_code, INVALID_REPLICATION_FACTOR, "v{v}: rf change refused");
            }
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn list_partition_reassignments_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::ListPartitionReassignments, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("list-reassign-v{v}");
            create_topic(&mut c, &name, 2, &[]).await;
            let mut req = ListPartitionReassignmentsRequest::default();
            req.timeout_ms = 10_000;
            req.topics = None;
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, NONE, "v{v}");
            assert!(resp.topics.is_empty(), "v{v}: nothing in progress");
            let mut t = ListPartitionReassignmentsTopics::default();
            t.name = topic_name(&name);
            t.partition_indexes = vec![0, 1, 5];
            req.topics = Some(vec![t]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, NONE, "v{v}");
            assert!(resp.topics.is_empty(), "v{v}: nothing in progress for the topic");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn elect_leaders_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::ElectLeaders, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("elect-v{v}");
            create_topic(&mut c, &name, 2, &[]).await;
            for election_type in if v == 0 { vec![0] } else { vec![0, 1] } {
                let mut t = TopicPartitions::default();
                t.topic = topic_name(&name);
                t.partitions = vec![0, 1, 7];
                let mut req = ElectLeadersRequest::default();
                req.election_type = election_type;
                req.timeout_ms = 10_000;
                req.topic_partitions = Some(vec![t]);
                let resp = c.call(v, &req).await;
                assert_eq!(resp.error_code, NONE, "v{v}");
                assert_eq!(resp.replica_election_results.len(), 1);
                let r = &resp.replica_election_results[0];
                assert_eq!(r.topic, topic_name(&name));
                let codes: Vec<(i32, i16)> = r
                    .partition_result
                    .iter()
                    .map(|p| (p.partition_id, p.error_code))
                    .collect();
                // The only replica leads already.
                assert_eq!(
                    codes,
                    vec![
                        (0, ELECTION_NOT_NEEDED),
                        (1, ELECTION_NOT_NEEDED),
                        (7, UNKNOWN_TOPIC_OR_PARTITION)
                    ],
                    "v{v} type {election_type}"
                );
                assert!(r.partition_result.iter().all(|p| p.error_message.is_some()));
            }
            // Every partition: those needing no election are left out.
            let mut req = ElectLeadersRequest::default();
            req.timeout_ms = 10_000;
            req.topic_partitions = None;
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, NONE, "v{v}");
            let mine = resp
                .replica_election_results
                .iter()
                .find(|r| r.topic == topic_name(&name))
                .expect("every topic is listed");
            assert!(mine.partition_result.is_empty(), "v{v}: {:?}", mine.partition_result);
            let _ = PREFERRED_LEADER_NOT_AVAILABLE;
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test]
async fn describe_topic_partitions_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeTopicPartitions, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("dtp-v{v}");
            let topic = create_topic(&mut c, &name, 3, &[]).await;
            let missing = format!("dtp-v{v}-missing");
            let mut req = DescribeTopicPartitionsRequest::default();
            req.response_partition_limit = 2;
            req.topics = [&name, &missing]
                .iter()
                .map(|n| {
                    let mut t = TopicRequest::default();
                    t.name = topic_name(n);
                    t
                })
                .collect();
            let resp = c.call(v, &req).await;
            // Sorted by name: the topic, cut after two partitions.
            assert_eq!(resp.topics.len(), 1, "v{v}: {:?}", resp.topics);
            let t = &resp.topics[0];
            assert_eq!((t.error_code, t.topic_id, t.is_internal), (NONE, topic.id, false));
            assert_eq!(t.topic_authorized_operations, 3576, "v{v}: every topic operation");
            let indexes: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
            assert_eq!(indexes, vec![0, 1]);
            for p in &t.partitions {
                assert_eq!(
                    (
                        p.leader_id,
                        p.leader_epoch,
                        p.replica_nodes.clone(),
                        p.isr_nodes.clone()
                    ),
                    (BrokerId(1), 0, vec![BrokerId(1)], vec![BrokerId(1)])
                );
                assert!(p.offline_replicas.is_empty());
                assert_eq!(p.eligible_leader_replicas, Some(vec![]));
            }
            let next = resp.next_cursor.expect("a cursor to continue");
            assert_eq!((next.topic_name.clone(), next.partition_index), (topic_name(&name), 2));
            // Continue from the cursor: the last partition, then the unknown topic.
            let mut cursor = Cursor::default();
            cursor.topic_name = next.topic_name;
            cursor.partition_index = next.partition_index;
            req.cursor = Some(cursor);
            req.response_partition_limit = 2000;
            let resp = c.call(v, &req).await;
            assert_eq!(resp.topics.len(), 2, "v{v}: {:?}", resp.topics);
            assert_eq!(resp.topics[0].partitions.len(), 1);
            assert_eq!(resp.topics[0].partitions[0].partition_index, 2);
            let m = &resp.topics[1];
            assert_eq!(m.name, Some(topic_name(&missing)));
            assert_eq!(m.error_code, UNKNOWN_TOPIC_OR_PARTITION);
            assert!(m.topic_id.is_nil());
            assert!(resp.next_cursor.is_none());
        }
    })
    .await;
    broker.stop().await;
}
