//! DescribeProducers (KIP-664), every advertised version: the producers a
//! partition's log remembers, and Kafka's per-partition errors for topics
//! and partitions it does not have. A partition this node does not host
//! (NOT_LEADER_OR_FOLLOWER) needs a second node: tests/cluster.rs.

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, DescribeProducersRequest, ProducerId};

use crate::codes::*;
use crate::harness::{each_version, no_message, now_ms, str_bytes, topic_name, Client, TestBroker};
use crate::ops::{create_topic, init_producer_id, produce};
use crate::records::{batch, idempotent_batch, Producer};

/// Kafka's message for UNKNOWN_TOPIC_OR_PARTITION, which it sends when the
/// whole topic is unknown.
const UNKNOWN_TOPIC_MESSAGE: &str = "This server does not host this topic-partition.";

fn request(topics: &[(&str, &[i32])]) -> DescribeProducersRequest {
    let mut req = DescribeProducersRequest::default();
    req.topics = topics
        .iter()
        .map(|(name, partitions)| {
            let mut t = TopicRequest::default();
            t.name = topic_name(name);
            t.partition_indexes = partitions.to_vec();
            t
        })
        .collect();
    req
}

fn assert_error(p: &PartitionResponse, index: i32, code: i16, message: Option<&str>, what: &str) {
    assert_eq!(p.partition_index, index, "{what}: partition index");
    assert_eq!(p.error_code, code, "{what}: error code");
    assert_eq!(p.error_message.as_deref(), message, "{what}: error message");
    assert!(p.active_producers.is_empty(), "{what}: no producers with an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_producers_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeProducers, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("described-v{v}");
            let topic = create_topic(&mut c, &name, 2, &[]).await;
            let (id, epoch) = init_producer_id(&mut c).await;
            let producer = |base_sequence| Producer {
                id,
                epoch,
                base_sequence,
            };
            // Partition 0: an idempotent producer's sequences 0-2, then 3-4
            // (records stamped t0+3 and t0+4); partition 1: no producer id.
            let t0 = now_ms() - 60_000;
            produce(&mut c, &topic, 0, idempotent_batch(3, t0, producer(0))).await;
            produce(&mut c, &topic, 0, idempotent_batch(2, t0 + 3, producer(3))).await;
            produce(&mut c, &topic, 1, batch(4, t0)).await;

            let req = request(&[
                (&name, &[0, 1, 7]),
                ("no-such-topic", &[0, 3]),
                ("not a topic name", &[0]),
            ]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0, "v{v}: throttle");
            let names: Vec<&str> = resp.topics.iter().map(|t| t.name.0.as_str()).collect();
            assert_eq!(
                names,
                [name.as_str(), "no-such-topic", "not a topic name"],
                "v{v}: one entry per topic asked, in order"
            );

            let ps = &resp.topics[0].partitions;
            let indexes: Vec<i32> = ps.iter().map(|p| p.partition_index).collect();
            assert_eq!(indexes, [0, 1, 7], "v{v}: one entry per partition asked, in order");
            assert_eq!(ps[0].error_code, NONE, "v{v}: partition 0");
            assert!(no_message(&ps[0].error_message), "v{v}: partition 0 message");
            let mut want = ProducerState::default();
            want.producer_id = ProducerId(id);
            want.producer_epoch = i32::from(epoch);
            want.last_sequence = 4;
            want.last_timestamp = t0 + 4;
            want.coordinator_epoch = -1;
            want.current_txn_start_offset = -1;
            assert_eq!(ps[0].active_producers, vec![want], "v{v}: partition 0's producer");
            assert_eq!(ps[1].error_code, NONE, "v{v}: partition 1");
            assert!(
                ps[1].active_producers.is_empty(),
                "v{v}: batches without a producer id leave no producer state"
            );
            assert_error(
                &ps[2],
                7,
                UNKNOWN_TOPIC_OR_PARTITION,
                None,
                &format!("v{v}: partition 7"),
            );

            let unknown = &resp.topics[1].partitions;
            assert_eq!(unknown.len(), 2, "v{v}: every partition of an unknown topic");
            for (p, index) in unknown.iter().zip([0, 3]) {
                let what = format!("v{v}: unknown topic, partition {index}");
                assert_error(p, index, UNKNOWN_TOPIC_OR_PARTITION, Some(UNKNOWN_TOPIC_MESSAGE), &what);
            }
            let invalid = &resp.topics[2].partitions[0];
            assert_eq!(invalid.error_code, INVALID_TOPIC_EXCEPTION, "v{v}: invalid topic name");
            assert!(
                invalid
                    .error_message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Topic name") && m.contains("not a topic name")),
                "v{v}: the topic name check's message: {:?}",
                invalid.error_message
            );

            // The next batch moves the last sequence on; nothing else changes.
            produce(&mut c, &topic, 0, idempotent_batch(1, t0 + 10, producer(5))).await;
            let resp = c.call(v, &request(&[(&name, &[0])])).await;
            let p = &resp.topics[0].partitions[0].active_producers;
            assert_eq!(
                p.iter()
                    .map(|s| (s.last_sequence, s.last_timestamp))
                    .collect::<Vec<_>>(),
                [(5, t0 + 10)],
                "v{v}: after sequence 5"
            );
        }
    })
    .await;
    broker.stop().await;
}

/// Advertised as Kafka 4.1 advertises it (v0 only), on the broker listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_producers_is_advertised() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let mut req = ApiVersionsRequest::default();
    req.client_software_name = str_bytes("fjord-proto-tests");
    req.client_software_version = str_bytes("0.1.0");
    let resp = c.call(3, &req).await;
    let found = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::DescribeProducers as i16)
        .map(|k| (k.min_version, k.max_version));
    assert_eq!(found, Some((0, 0)));
    broker.stop().await;
}
