//! Topic administration, every advertised version: CreateTopics (and its
//! validate_only), DeleteTopics (by name, and by id from v6),
//! CreatePartitions.

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest};
use uuid::Uuid;

use crate::codes::*;
use crate::harness::{each_version, no_message, str_bytes, topic_name, Client, TestBroker};
use crate::ops::{create_topic, metadata_topic};

pub fn creatable(name: &str, partitions: i32, replication_factor: i16, configs: &[(&str, &str)]) -> CreatableTopic {
    let mut t = CreatableTopic::default();
    t.name = topic_name(name);
    t.num_partitions = partitions;
    t.replication_factor = replication_factor;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = str_bytes(k);
            c.value = Some(str_bytes(v));
            c
        })
        .collect();
    t
}

/// Sends one CreateTopics request for one topic and returns its result.
pub async fn create_one(
    c: &mut Client,
    version: i16,
    topic: CreatableTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let name = topic.name.0.to_string();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![topic];
    req.timeout_ms = 10_000;
    req.validate_only = validate_only;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1, "v{version}: one result");
    assert_eq!(resp.topics[0].name.0.as_str(), name, "v{version}: name echo");
    resp.topics[0].clone()
}

/// A successful creation result at `version`, with what v5+ reports.
fn assert_created(r: &CreatableTopicResult, version: i16, partitions: i32, with_id: bool) {
    let name = r.name.0.as_str();
    assert_eq!(r.error_code, NONE, "v{version} {name}: error ({:?})", r.error_message);
    assert!(
        no_message(&r.error_message),
        "v{version} {name}: error message {:?}",
        r.error_message
    );
    // validate_only results may or may not carry a (never used) id.
    if with_id {
        assert_eq!(
            r.topic_id.is_nil(),
            version < 7,
            "v{version} {name}: a created topic's id, from v7"
        );
    }
    let d = CreatableTopicResult::default();
    if version >= 5 {
        assert_eq!(r.topic_config_error_code, NONE, "v{version} {name}: config error");
        assert_eq!(r.num_partitions, partitions, "v{version} {name}: partitions");
        assert_eq!(r.replication_factor, 1, "v{version} {name}: replication factor");
    } else {
        assert_eq!(
            r.num_partitions, d.num_partitions,
            "v{version} {name}: no partitions before v5"
        );
        assert_eq!(r.configs, d.configs, "v{version} {name}: no configs before v5");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topics_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::CreateTopics, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("create-v{v}");
            let r = create_one(&mut c, v, creatable(&name, 2, 1, &[("retention.ms", "1234")]), false).await;
            assert_created(&r, v, 2, true);
            if v >= 5 {
                let configs = r.configs.as_ref().expect("v5+ returns the topic's configs");
                let get = |k: &str| {
                    configs
                        .iter()
                        .find(|c| c.name.as_str() == k)
                        .unwrap_or_else(|| panic!("v{v}: config {k} listed"))
                };
                let retention = get("retention.ms");
                assert_eq!(
                    retention.value.as_ref().map(|s| s.as_str()),
                    Some("1234"),
                    "v{v}: retention.ms value"
                );
                assert_eq!(
                    retention.config_source, SOURCE_DYNAMIC_TOPIC_CONFIG,
                    "v{v}: retention.ms source"
                );
                assert!(
                    !retention.read_only && !retention.is_sensitive,
                    "v{v}: retention.ms flags"
                );
                let max = get("max.message.bytes");
                assert_eq!(
                    max.value.as_ref().map(|s| s.as_str()),
                    Some("1048588"),
                    "v{v}: max.message.bytes default"
                );
                assert_eq!(
                    max.config_source, SOURCE_DEFAULT_CONFIG,
                    "v{v}: max.message.bytes source"
                );
            }
            let md = metadata_topic(&mut c, &name).await;
            assert_eq!(md.error_code, NONE, "v{v}: the topic exists");
            assert_eq!(md.partitions.len(), 2, "v{v}: with two partitions");
            if v >= 7 {
                assert_eq!(
                    md.topic_id, r.topic_id,
                    "v{v}: CreateTopics and Metadata agree on the topic id"
                );
            }

            // validate_only checks and answers as if created, creates nothing.
            let dry = format!("create-validate-v{v}");
            let r = create_one(&mut c, v, creatable(&dry, 3, 1, &[]), true).await;
            assert_created(&r, v, 3, false);
            assert_eq!(
                metadata_topic(&mut c, &dry).await.error_code,
                UNKNOWN_TOPIC_OR_PARTITION,
                "v{v}: validate_only created nothing"
            );

            // From v4, -1 asks for the broker's defaults.
            if v >= 4 {
                let defaults = format!("create-defaults-v{v}");
                let r = create_one(&mut c, v, creatable(&defaults, -1, -1, &[]), false).await;
                assert_created(&r, v, 1, true);
                assert_eq!(
                    metadata_topic(&mut c, &defaults).await.partitions.len(),
                    1,
                    "v{v}: num.partitions default"
                );
            }
        }
    })
    .await;
    broker.stop().await;
}

async fn delete_topics(
    c: &mut Client,
    version: i16,
    by_name: Option<&str>,
    by_id: Option<Uuid>,
) -> DeletableTopicResult {
    let mut req = DeleteTopicsRequest::default();
    req.timeout_ms = 10_000;
    if version >= 6 {
        let mut t = DeleteTopicState::default();
        t.name = by_name.map(topic_name);
        t.topic_id = by_id.unwrap_or_default();
        req.topics = vec![t];
    } else {
        req.topic_names = vec![topic_name(by_name.expect("by name before v6"))];
    }
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.responses.len(), 1, "v{version}: one result");
    resp.responses[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_topics_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DeleteTopics, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("delete-v{v}");
            let topic = create_topic(&mut c, &name, 2, &[]).await;
            let r = delete_topics(&mut c, v, Some(&name), None).await;
            assert_eq!(r.error_code, NONE, "v{v}: error ({:?})", r.error_message);
            assert!(
                no_message(&r.error_message),
                "v{v}: error message {:?}",
                r.error_message
            );
            assert_eq!(r.name.as_ref().map(|n| n.0.as_str()), Some(name.as_str()), "v{v}: name");
            let id = if v >= 6 { topic.id } else { Uuid::nil() };
            assert_eq!(r.topic_id, id, "v{v}: topic id of the deleted topic (v6+)");
            assert_eq!(
                metadata_topic(&mut c, &name).await.error_code,
                UNKNOWN_TOPIC_OR_PARTITION,
                "v{v}: deleted"
            );

            let missing = format!("delete-missing-v{v}");
            let r = delete_topics(&mut c, v, Some(&missing), None).await;
            assert_eq!(
                r.error_code, UNKNOWN_TOPIC_OR_PARTITION,
                "v{v}: deleting an unknown topic"
            );

            if v >= 6 {
                let by_id = format!("delete-by-id-v{v}");
                let topic = create_topic(&mut c, &by_id, 1, &[]).await;
                let r = delete_topics(&mut c, v, None, Some(topic.id)).await;
                assert_eq!(r.error_code, NONE, "v{v}: delete by id ({:?})", r.error_message);
                assert_eq!(r.topic_id, topic.id, "v{v}: id echo");
                assert_eq!(
                    r.name.as_ref().map(|n| n.0.as_str()),
                    Some(by_id.as_str()),
                    "v{v}: the resolved name"
                );
                assert_eq!(
                    metadata_topic(&mut c, &by_id).await.error_code,
                    UNKNOWN_TOPIC_OR_PARTITION,
                    "v{v}: deleted by id"
                );

                let r = delete_topics(&mut c, v, None, Some(Uuid::new_v4())).await;
                assert_eq!(r.error_code, UNKNOWN_TOPIC_ID, "v{v}: deleting an unknown id");
            }
        }
    })
    .await;
    broker.stop().await;
}

async fn create_partitions(
    c: &mut Client,
    version: i16,
    name: &str,
    count: i32,
    validate_only: bool,
) -> CreatePartitionsTopicResult {
    let mut t = CreatePartitionsTopic::default();
    t.name = topic_name(name);
    t.count = count;
    t.assignments = None;
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    req.validate_only = validate_only;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.results.len(), 1, "v{version}: one result");
    assert_eq!(resp.results[0].name.0.as_str(), name, "v{version}: name echo");
    resp.results[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_partitions_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::CreatePartitions, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("partitions-v{v}");
            create_topic(&mut c, &name, 1, &[]).await;

            let r = create_partitions(&mut c, v, &name, 3, false).await;
            assert_eq!(r.error_code, NONE, "v{v}: grow to 3 ({:?})", r.error_message);
            assert!(
                no_message(&r.error_message),
                "v{v}: error message {:?}",
                r.error_message
            );
            let md = metadata_topic(&mut c, &name).await;
            let indexes: Vec<i32> = md.partitions.iter().map(|p| p.partition_index).collect();
            assert_eq!(indexes, vec![0, 1, 2], "v{v}: three partitions");

            let r = create_partitions(&mut c, v, &name, 5, true).await;
            assert_eq!(
                r.error_code, NONE,
                "v{v}: validate growing to 5 ({:?})",
                r.error_message
            );
            assert_eq!(
                metadata_topic(&mut c, &name).await.partitions.len(),
                3,
                "v{v}: validate_only changed nothing"
            );

            let r = create_partitions(&mut c, v, &name, 2, false).await;
            assert_eq!(r.error_code, INVALID_PARTITIONS, "v{v}: shrinking");
            assert!(r.error_message.is_some(), "v{v}: an error carries a message");

            let r = create_partitions(&mut c, v, &format!("partitions-missing-v{v}"), 2, false).await;
            assert_eq!(r.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
        }
    })
    .await;
    broker.stop().await;
}
