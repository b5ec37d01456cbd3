//! Set-up and read-back steps shared by the conformance tests, each at one
//! fixed, recent version. The version under test is always the one the
//! test itself sends; these only arrange and observe broker state.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    CreateTopicsRequest, DescribeConfigsRequest, FetchRequest, InitProducerIdRequest, ListOffsetsRequest,
    MetadataRequest, ProduceRequest,
};
use uuid::Uuid;

use crate::harness::{str_bytes, topic_name, Client};

/// A topic as tests address it: by name up to the versions that use names,
/// by id after.
#[derive(Clone, Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
}

/// Kafka's DescribeConfigs resource type for topics.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;
pub const MAX_TIMESTAMP: i64 = -3;

/// Creates a topic (CreateTopics v7) and returns it with its id.
pub async fn create_topic(c: &mut Client, name: &str, partitions: i32, configs: &[(&str, &str)]) -> Topic {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = partitions;
    t.replication_factor = 1;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = str_bytes(k);
            c.value = Some(str_bytes(v));
            c
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    let resp = c.call(7, &req).await;
    let r = &resp.topics[0];
    assert_eq!(r.error_code, 0, "set-up: create topic {name}: {:?}", r.error_message);
    assert!(!r.topic_id.is_nil(), "set-up: created topic {name} has an id");
    Topic {
        name: name.to_string(),
        id: r.topic_id,
    }
}

/// Metadata v12 for one topic, never auto-creating it.
pub async fn metadata_topic(c: &mut Client, name: &str) -> MetadataResponseTopic {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name(name));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    let mut resp = c.call(12, &req).await;
    assert_eq!(resp.topics.len(), 1);
    resp.topics.remove(0)
}

pub fn produce_request(version: i16, topic: &Topic, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    let mut pd = PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = TopicProduceData::default();
    if version >= 13 {
        td.topic_id = topic.id;
    } else {
        td.name = topic_name(&topic.name);
    }
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 10_000;
    req.topic_data = vec![td];
    req
}

/// Produces one batch at `version` (acks=all) and returns the partition result.
pub async fn produce_at(
    c: &mut Client,
    version: i16,
    topic: &Topic,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let req = produce_request(version, topic, partition, records, -1);
    let mut resp = c.call(version, &req).await;
    assert_eq!(resp.responses.len(), 1, "one topic in the produce response");
    let mut t = resp.responses.remove(0);
    assert_eq!(t.partition_responses.len(), 1, "one partition in the produce response");
    t.partition_responses.remove(0)
}

/// Produces one batch that must succeed; returns its base offset.
pub async fn produce(c: &mut Client, topic: &Topic, partition: i32, records: Bytes) -> i64 {
    let p = produce_at(c, 9, topic, partition, records).await;
    assert_eq!(
        p.error_code, 0,
        "set-up: produce to {}-{partition}: {:?}",
        topic.name, p.error_message
    );
    p.base_offset
}

pub fn fetch_request(version: i16, topic: &Topic, partition: i32, offset: i64) -> FetchRequest {
    let mut fp = FetchPartition::default();
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    if version >= 5 {
        fp.log_start_offset = -1;
    }
    let mut ft = FetchTopic::default();
    if version >= 13 {
        ft.topic_id = topic.id;
    } else {
        ft.topic = topic_name(&topic.name);
    }
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 8 << 20;
    req.topics = vec![ft];
    req
}

/// ListOffsets v9 for one partition and timestamp spec.
pub async fn list_offset(c: &mut Client, topic: &str, partition: i32, timestamp: i64) -> ListOffsetsPartitionResponse {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = topic_name(topic);
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = (-1).into();
    req.topics = vec![t];
    let mut resp = c.call(9, &req).await;
    let mut t = resp.topics.remove(0);
    t.partitions.remove(0)
}

/// A fresh idempotent producer id (InitProducerId v4).
pub async fn init_producer_id(c: &mut Client) -> (i64, i16) {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = None;
    req.transaction_timeout_ms = 60_000;
    let resp = c.call(4, &req).await;
    assert_eq!(resp.error_code, 0, "set-up: InitProducerId");
    (resp.producer_id.0, resp.producer_epoch)
}

/// A described config: value and source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub value: Option<String>,
    pub source: i8,
}

/// Every config of a topic (DescribeConfigs v4), by name.
pub async fn topic_configs(c: &mut Client, topic: &str) -> BTreeMap<String, Described> {
    let mut res = DescribeConfigsResource::default();
    res.resource_type = RESOURCE_TOPIC;
    res.resource_name = str_bytes(topic);
    res.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![res];
    let resp = c.call(4, &req).await;
    let r = &resp.results[0];
    assert_eq!(
        r.error_code, 0,
        "set-up: describe configs of {topic}: {:?}",
        r.error_message
    );
    r.configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                Described {
                    value: e.value.as_ref().map(|v| v.to_string()),
                    source: e.config_source,
                },
            )
        })
        .collect()
}
