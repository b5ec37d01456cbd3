//! What a client learns about the cluster, every advertised version:
//! Metadata, DescribeCluster, ApiVersions, InitProducerId.

use std::collections::BTreeSet;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{MetadataResponse, MetadataResponseTopic};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, DescribeClusterRequest, InitProducerIdRequest,
    InitProducerIdResponse, MetadataRequest,
};
use uuid::Uuid;

use crate::codes::*;
use crate::harness::{
    each_version, str_bytes, topic_name, Client, TestBroker, ADVERTISED_HOST, ADVERTISED_PORT, NODE_ID,
};
use crate::ops::{create_topic, metadata_topic};

fn metadata_request(version: i16, topics: Option<Vec<&str>>, allow_auto_topic_creation: bool) -> MetadataRequest {
    let mut req = MetadataRequest::default();
    req.topics = topics.map(|ts| {
        ts.into_iter()
            .map(|name| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(topic_name(name));
                t
            })
            .collect()
    });
    // The flag exists from v4; v0-v3 always auto-create.
    if version >= 4 {
        req.allow_auto_topic_creation = allow_auto_topic_creation;
    }
    req
}

/// Brokers, cluster id and controller, as every Metadata version carries them.
fn assert_cluster(resp: &MetadataResponse, version: i16, cluster_id: &str) {
    assert_eq!(resp.throttle_time_ms, 0, "v{version}: throttle");
    assert_eq!(resp.brokers.len(), 1, "v{version}: one broker");
    let b = &resp.brokers[0];
    assert_eq!(b.node_id, BrokerId(NODE_ID), "v{version}: broker node id");
    assert_eq!(b.host.as_str(), ADVERTISED_HOST, "v{version}: advertised host");
    assert_eq!(b.port, ADVERTISED_PORT, "v{version}: advertised port");
    assert_eq!(b.rack, None, "v{version}: rack");
    let expected_cluster_id = if version >= 2 { Some(cluster_id) } else { None };
    assert_eq!(
        resp.cluster_id.as_ref().map(|c| c.as_str()),
        expected_cluster_id,
        "v{version}: cluster id"
    );
    let controller = if version >= 1 {
        BrokerId(NODE_ID)
    } else {
        MetadataResponse::default().controller_id
    };
    assert_eq!(resp.controller_id, controller, "v{version}: controller id");
    assert_eq!(
        resp.cluster_authorized_operations,
        i32::MIN,
        "v{version}: cluster authorized operations not requested"
    );
    assert_eq!(resp.error_code, NONE, "v{version}: top-level error");
}

/// A healthy single-replica topic with `partitions` partitions.
fn assert_topic(t: &MetadataResponseTopic, version: i16, name: &str, id: Uuid, partitions: i32) {
    assert_eq!(t.error_code, NONE, "v{version} {name}: error");
    assert_eq!(
        t.name.as_ref().map(|n| n.0.as_str()),
        Some(name),
        "v{version}: topic name"
    );
    let expected_id = if version >= 10 { id } else { Uuid::nil() };
    assert_eq!(t.topic_id, expected_id, "v{version} {name}: topic id");
    assert!(!t.is_internal, "v{version} {name}: not internal");
    assert_eq!(
        t.topic_authorized_operations,
        i32::MIN,
        "v{version} {name}: authorized operations not requested"
    );
    assert_eq!(
        t.partitions.len(),
        partitions as usize,
        "v{version} {name}: partition count"
    );
    for (i, p) in t.partitions.iter().enumerate() {
        let what = format!("v{version} {name}-{i}");
        assert_eq!(p.partition_index, i as i32, "{what}: partitions in index order");
        assert_eq!(p.error_code, NONE, "{what}: error");
        assert_eq!(p.leader_id, BrokerId(NODE_ID), "{what}: leader");
        let epoch = if version >= 7 { 0 } else { -1 };
        assert_eq!(p.leader_epoch, epoch, "{what}: leader epoch");
        assert_eq!(p.replica_nodes, vec![BrokerId(NODE_ID)], "{what}: replicas");
        assert_eq!(p.isr_nodes, vec![BrokerId(NODE_ID)], "{what}: isr");
        assert!(p.offline_replicas.is_empty(), "{what}: offline replicas");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::Metadata, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("metadata-v{v}");
            let topic = create_topic(&mut c, &name, 3, &[]).await;

            let resp = c.call(v, &metadata_request(v, Some(vec![&name]), false)).await;
            assert_cluster(&resp, v, &ctx.cluster_id);
            assert_eq!(resp.topics.len(), 1, "v{v}: one topic");
            assert_topic(&resp.topics[0], v, &name, topic.id, 3);

            // All topics: a null list, or in v0 an empty one.
            let all = if v == 0 { Some(Vec::new()) } else { None };
            let resp = c.call(v, &metadata_request(v, all, false)).await;
            assert_cluster(&resp, v, &ctx.cluster_id);
            let listed = resp
                .topics
                .iter()
                .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name.as_str()));
            let listed = listed.unwrap_or_else(|| panic!("v{v}: all-topics metadata lists {name}: {:?}", resp.topics));
            assert_topic(listed, v, &name, topic.id, 3);

            if v >= 4 {
                // Unknown topic without auto-creation: an error, not a topic.
                let unknown = format!("metadata-unknown-v{v}");
                let resp = c.call(v, &metadata_request(v, Some(vec![&unknown]), false)).await;
                let t = &resp.topics[0];
                assert_eq!(t.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
                assert_eq!(
                    t.name.as_ref().map(|n| n.0.as_str()),
                    Some(unknown.as_str()),
                    "v{v}: unknown topic name echo"
                );
                assert!(t.partitions.is_empty(), "v{v}: unknown topic has no partitions");
                let check = metadata_topic(&mut c, &unknown).await;
                assert_eq!(
                    check.error_code, UNKNOWN_TOPIC_OR_PARTITION,
                    "v{v}: the unknown topic was not created"
                );
            }

            // Auto-creation (always on before v4, on request after): Kafka
            // may answer LEADER_NOT_AVAILABLE while it creates the topic.
            let auto = format!("metadata-auto-v{v}");
            let resp = c.call(v, &metadata_request(v, Some(vec![&auto]), true)).await;
            let code = resp.topics[0].error_code;
            assert!(
                code == NONE || code == LEADER_NOT_AVAILABLE,
                "v{v}: auto-created topic error {code}"
            );
            let created = metadata_topic(&mut c, &auto).await;
            assert_eq!(created.error_code, NONE, "v{v}: the topic was auto-created");
            assert_eq!(
                created.partitions.len(),
                1,
                "v{v}: num.partitions for an auto-created topic"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeCluster, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let mut req = DescribeClusterRequest::default();
            if v >= 1 {
                req.endpoint_type = 1;
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.error_code, NONE, "v{v}: error");
            assert_eq!(resp.error_message, None, "v{v}: error message");
            assert_eq!(resp.endpoint_type, 1, "v{v}: broker endpoints");
            assert_eq!(resp.cluster_id.as_str(), ctx.cluster_id, "v{v}: cluster id");
            assert_eq!(resp.controller_id, BrokerId(NODE_ID), "v{v}: controller id");
            assert_eq!(
                resp.cluster_authorized_operations,
                i32::MIN,
                "v{v}: authorized operations not requested"
            );
            assert_eq!(resp.brokers.len(), 1, "v{v}: one broker");
            let b = &resp.brokers[0];
            assert_eq!(b.broker_id, BrokerId(NODE_ID), "v{v}: broker id");
            assert_eq!(b.host.as_str(), ADVERTISED_HOST, "v{v}: host");
            assert_eq!(b.port, ADVERTISED_PORT, "v{v}: port");
            assert_eq!(b.rack, None, "v{v}: rack");
            assert!(!b.is_fenced, "v{v}: not fenced");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    // Controller APIs are served and advertised on controller listeners only.
    let expected: BTreeSet<(i16, i16, i16)> = fjord::handlers::APIS
        .iter()
        .filter(|api| !fjord::handlers::controller_only(**api))
        .map(|api| {
            let r = fjord::handlers::supported_versions(*api).expect("APIS are supported");
            (*api as i16, r.min, r.max)
        })
        .collect();
    assert_eq!(
        expected.len(),
        fjord::handlers::APIS
            .iter()
            .filter(|api| !fjord::handlers::controller_only(**api))
            .count(),
        "APIS has no duplicates"
    );
    each_version(ApiKey::ApiVersions, move |v| {
        let ctx = ctx.clone();
        let expected = expected.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let mut req = ApiVersionsRequest::default();
            if v >= 3 {
                req.client_software_name = str_bytes("fjord-proto-tests");
                req.client_software_version = str_bytes("0.1.0");
            }
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, NONE, "v{v}: error");
            assert_eq!(resp.throttle_time_ms, 0, "v{v}: throttle");
            let listed: Vec<(i16, i16, i16)> = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect();
            let listed_set: BTreeSet<_> = listed.iter().copied().collect();
            assert_eq!(listed.len(), listed_set.len(), "v{v}: no api listed twice");
            assert_eq!(
                listed_set, expected,
                "v{v}: exactly fjord's APIS with their supported versions"
            );
            check_features(v, &resp);
        }
    })
    .await;
    broker.stop().await;
}

/// ApiVersions v3+ features (KIP-584): exactly the catalogue's supported
/// ranges (below v4 without those starting at 0, as Kafka: KAFKA-17492),
/// `metadata.version` finalized at 4.1-IV1 (27) and nothing at level 0,
/// and the metadata log offset as the epoch. Below v3: none of it.
fn check_features(v: i16, resp: &ApiVersionsResponse) {
    if v < 3 {
        assert!(resp.supported_features.is_empty(), "v{v}: no supported features");
        assert!(resp.finalized_features.is_empty(), "v{v}: no finalized features");
        return;
    }
    let supported: Vec<(String, i16, i16)> = resp
        .supported_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version, f.max_version))
        .collect();
    let mut want: Vec<(String, i16, i16)> = [
        ("eligible.leader.replicas.version", 0, 0),
        ("group.version", 0, 0),
        ("kraft.version", 0, 0),
        ("metadata.version", 27, 27),
        ("share.version", 0, 0),
        ("transaction.version", 0, 2),
    ]
    .into_iter()
    .filter(|&(_, min, _)| v >= 4 || min != 0)
    .map(|(n, min, max)| (n.to_string(), min, max))
    .collect();
    want.sort();
    let mut sorted = supported.clone();
    sorted.sort();
    assert_eq!(sorted, want, "v{v}: supported features");
    let finalized: Vec<(String, i16, i16)> = resp
        .finalized_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level))
        .collect();
    let mut finalized = finalized;
    finalized.sort();
    assert_eq!(
        finalized,
        vec![
            ("metadata.version".to_string(), 27, 27),
            ("transaction.version".to_string(), 2, 2)
        ],
        "v{v}: finalized features"
    );
    // Below v4 a supported range starting at 0 is left out (KAFKA-17492),
    // its finalized level is not (as Kafka's ApiVersionsResponse does).
    for (name, _, level) in &finalized {
        let Some((_, min, max)) = supported.iter().find(|(n, _, _)| n == name) else {
            assert!(v < 4, "v{v}: finalized {name} is not supported");
            continue;
        };
        assert!(min <= level && level <= max, "v{v}: {name} finalized outside its range");
    }
    assert!(
        resp.finalized_features_epoch >= 1,
        "v{v}: finalized epoch {} is a metadata log offset past the activation records",
        resp.finalized_features_epoch
    );
}

async fn init_producer_id_at(c: &mut Client, version: i16) -> InitProducerIdResponse {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = None;
    req.transaction_timeout_ms = 60_000;
    c.call(version, &req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_producer_id_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::InitProducerId, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let first = init_producer_id_at(&mut c, v).await;
            let second = init_producer_id_at(&mut c, v).await;
            for r in [&first, &second] {
                assert_eq!(r.throttle_time_ms, 0);
                assert_eq!(r.error_code, NONE, "v{v}: error");
                assert!(r.producer_id.0 >= 0, "v{v}: producer id {}", r.producer_id.0);
                assert_eq!(r.producer_epoch, 0, "v{v}: a fresh producer starts at epoch 0");
                let d = InitProducerIdResponse::default();
                assert_eq!(
                    r.ongoing_txn_producer_id, d.ongoing_txn_producer_id,
                    "v{v}: no ongoing transaction"
                );
                assert_eq!(
                    r.ongoing_txn_producer_epoch, d.ongoing_txn_producer_epoch,
                    "v{v}: no ongoing transaction"
                );
            }
            assert_ne!(
                first.producer_id, second.producer_id,
                "v{v}: every idempotent producer gets its own id"
            );
        }
    })
    .await;
    broker.stop().await;
}
