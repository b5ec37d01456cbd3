//! Bad input answered with Kafka's error codes, one case per test: the
//! request is well formed, its content is refused, the connection stays up.

use bytes::Bytes;
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::ApiVersionsRequest;
use uuid::Uuid;

use crate::codes::*;
use crate::harness::{now_ms, Client, TestBroker};
use crate::ops::{create_topic, fetch_request, list_offset, produce, produce_at, produce_request, Topic, LATEST};
use crate::records::{batch, batch_of, HEADER_SIZE};
use crate::topics::{creatable, create_one};

const PRODUCE_VERSION: i16 = 9;

/// A refused produce: the error, offsets -1, the connection still usable.
async fn assert_produce_refused(c: &mut Client, p: &PartitionProduceResponse, code: i16, what: &str) {
    assert_eq!(p.error_code, code, "{what}: error code ({:?})", p.error_message);
    assert_eq!(p.base_offset, -1, "{what}: base offset");
    assert_eq!(p.log_append_time_ms, -1, "{what}: log append time");
    let resp = c.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, NONE, "{what}: the connection still serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_to_unknown_topic() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = Topic {
        name: "no-such-topic".into(),
        id: Uuid::nil(),
    };
    let p = produce_at(&mut c, PRODUCE_VERSION, &topic, 0, batch(1, now_ms())).await;
    assert_produce_refused(&mut c, &p, UNKNOWN_TOPIC_OR_PARTITION, "unknown topic").await;
    let md = crate::ops::metadata_topic(&mut c, "no-such-topic").await;
    assert_eq!(
        md.error_code, UNKNOWN_TOPIC_OR_PARTITION,
        "produce does not auto-create topics"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_to_unknown_partition() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "one-partition", 1, &[]).await;
    let p = produce_at(&mut c, PRODUCE_VERSION, &topic, 5, batch(1, now_ms())).await;
    assert_produce_refused(&mut c, &p, UNKNOWN_TOPIC_OR_PARTITION, "partition 5 of 1").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_with_corrupt_crc() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "crc", 1, &[]).await;
    let mut bytes = batch(3, now_ms()).to_vec();
    // Flip a bit in the first record, which the CRC covers.
    bytes[HEADER_SIZE + 2] ^= 0x40;
    let p = produce_at(&mut c, PRODUCE_VERSION, &topic, 0, Bytes::from(bytes)).await;
    assert_produce_refused(&mut c, &p, CORRUPT_MESSAGE, "corrupted CRC").await;
    assert_eq!(
        list_offset(&mut c, "crc", 0, LATEST).await.offset,
        0,
        "nothing appended"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_batch_larger_than_max_message_bytes() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "small-messages", 1, &[("max.message.bytes", "1000")]).await;
    let big = batch_of(2, now_ms(), 1000, None);
    assert!(big.len() > 1000);
    let p = produce_at(&mut c, PRODUCE_VERSION, &topic, 0, big).await;
    assert_produce_refused(&mut c, &p, MESSAGE_TOO_LARGE, "batch over max.message.bytes").await;
    // A batch under the limit still goes in.
    assert_eq!(produce(&mut c, &topic, 0, batch_of(1, now_ms(), 100, None)).await, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_with_invalid_acks() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "acks", 1, &[]).await;
    let req = produce_request(PRODUCE_VERSION, &topic, 0, batch(1, now_ms()), 2);
    let resp = c.call(PRODUCE_VERSION, &req).await;
    let p = resp.responses[0].partition_responses[0].clone();
    assert_produce_refused(&mut c, &p, INVALID_REQUIRED_ACKS, "acks=2").await;
    assert_eq!(
        list_offset(&mut c, "acks", 0, LATEST).await.offset,
        0,
        "nothing appended"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_beyond_log_end() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "short", 1, &[]).await;
    produce(&mut c, &topic, 0, batch(2, now_ms())).await;
    let resp = c.call(12, &fetch_request(12, &topic, 0, 10)).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, OFFSET_OUT_OF_RANGE, "fetch at 10 of 2");
    assert_eq!(p.high_watermark, 2, "the high watermark comes with the error");
    assert_eq!(p.log_start_offset, 0, "the log start offset comes with the error");
    assert_eq!(p.records, Some(Bytes::new()), "no records with the error");
    broker.stop().await;
}

/// One CreateTopics that must fail with `code` and create nothing.
async fn assert_create_refused(
    c: &mut Client,
    topic: kafka_protocol::messages::create_topics_request::CreatableTopic,
    code: i16,
) {
    let name = topic.name.0.to_string();
    let r = create_one(c, 7, topic, false).await;
    assert_eq!(
        r.error_code, code,
        "create {name:?}: error code ({:?})",
        r.error_message
    );
    assert!(
        r.error_message.as_ref().is_some_and(|m| !m.is_empty()),
        "create {name:?}: an error carries a message"
    );
    assert!(r.topic_id.is_nil(), "create {name:?}: no topic id");
    assert_eq!(
        (r.num_partitions, r.replication_factor),
        (-1, -1),
        "create {name:?}: -1 partitions and replication factor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topic_with_invalid_name() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    for name in ["bad name", "..", "slash/topic", &"x".repeat(250)] {
        assert_create_refused(&mut c, creatable(name, 1, 1, &[]), INVALID_TOPIC_EXCEPTION).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topic_that_exists() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let first = create_topic(&mut c, "twice", 1, &[]).await;
    assert_create_refused(&mut c, creatable("twice", 3, 1, &[]), TOPIC_ALREADY_EXISTS).await;
    let md = crate::ops::metadata_topic(&mut c, "twice").await;
    assert_eq!(
        (md.topic_id, md.partitions.len()),
        (first.id, 1),
        "the existing topic is untouched"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topic_with_zero_partitions() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    assert_create_refused(&mut c, creatable("no-partitions", 0, 1, &[]), INVALID_PARTITIONS).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topic_with_replication_factor_above_brokers() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    assert_create_refused(&mut c, creatable("three-copies", 1, 3, &[]), INVALID_REPLICATION_FACTOR).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topic_with_invalid_config() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    for (k, v) in [
        ("retention.ms", "soon"),
        ("cleanup.policy", "sometimes"),
        ("no.such.config", "1"),
    ] {
        let name = format!("bad-config-{}", k.replace('.', "-"));
        assert_create_refused(&mut c, creatable(&name, 1, 1, &[(k, v)]), INVALID_CONFIG).await;
        let md = crate::ops::metadata_topic(&mut c, &name).await;
        assert_eq!(md.error_code, UNKNOWN_TOPIC_OR_PARTITION, "{k}={v}: nothing created");
    }
    broker.stop().await;
}
