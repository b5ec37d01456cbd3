//! The metadata quorum's APIs, every advertised version: DescribeQuorum
//! (any listener; brokers forward it to the active controller) and the
//! controller APIs brokers call on a controller listener: BrokerRegistration,
//! BrokerHeartbeat, AllocateProducerIds, AlterPartition. A controller API sent to a broker
//! listener closes the connection, as in Kafka.

use std::net::SocketAddr;

use kafka_protocol::messages::broker_registration_request::Listener;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    alter_partition_request, AllocateProducerIdsRequest, AlterPartitionRequest, ApiKey, ApiVersionsRequest,
    BrokerHeartbeatRequest, BrokerId, BrokerRegistrationRequest, DescribeQuorumRequest, MetadataRequest,
};
use uuid::Uuid;

use crate::codes::*;
use crate::harness::{each_version, str_bytes, topic_name, Client, TestBroker, NODE_ID};

/// A combined node with a controller listener, as a KRaft node is
/// configured; returns it and its controller address.
async fn controller_node() -> (TestBroker, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let broker = TestBroker::start_with(&[
        (
            "listeners",
            &format!("PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:{port}"),
        ),
        ("controller.quorum.voters", &format!("{NODE_ID}@127.0.0.1:{port}")),
        ("controller.listener.names", "CONTROLLER"),
    ])
    .await;
    (broker, SocketAddr::from(([127, 0, 0, 1], port)))
}

fn registration(cluster_id: &str, broker_id: i32) -> BrokerRegistrationRequest {
    let mut req = BrokerRegistrationRequest::default();
    req.broker_id = BrokerId(broker_id);
    req.cluster_id = str_bytes(cluster_id);
    req.incarnation_id = Uuid::new_v4();
    let mut l = Listener::default();
    l.name = str_bytes("PLAINTEXT");
    l.host = str_bytes("127.0.0.1");
    l.port = 1;
    req.listeners.push(l);
    req.previous_broker_epoch = -1;
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_quorum_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeQuorum, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let mut req = DescribeQuorumRequest::default();
            let mut t = TopicData::default();
            t.topic_name = topic_name("__cluster_metadata");
            let mut p = PartitionData::default();
            p.partition_index = 0;
            t.partitions.push(p);
            req.topics.push(t);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.error_code, NONE, "v{v}: error");
            let p = &resp.topics[0].partitions[0];
            assert_eq!(p.error_code, NONE, "v{v}: partition error");
            assert_eq!(p.leader_id, BrokerId(NODE_ID), "v{v}: the single node leads");
            assert!(p.leader_epoch >= 1, "v{v}: an elected epoch");
            assert!(p.high_watermark > 0, "v{v}: something is committed");
            assert_eq!(p.current_voters.len(), 1, "v{v}: one voter");
            assert_eq!(p.current_voters[0].replica_id, BrokerId(NODE_ID));
            assert_eq!(
                p.current_voters[0].log_end_offset, p.high_watermark,
                "v{v}: leader's end"
            );
            assert!(p.observers.is_empty(), "v{v}: no observers");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_registration_every_version() {
    let (broker, controller) = controller_node().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::BrokerRegistration, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(controller).await;
            let resp = c.call(v, &registration("not-this-cluster", 100 + v as i32)).await;
            assert_eq!(resp.error_code, INCONSISTENT_CLUSTER_ID, "v{v}: another cluster");
            let resp = c.call(v, &registration(&ctx.cluster_id, 100 + v as i32)).await;
            assert_eq!(resp.error_code, NONE, "v{v}: registered");
            assert!(resp.broker_epoch > 0, "v{v}: a broker epoch");
        }
    })
    .await;
    // Not on a broker listener: Kafka serves controller APIs on controller
    // listeners only, and does not advertise them elsewhere.
    let mut c = Client::connect(broker.addr()).await;
    let versions = c.call(3, &ApiVersionsRequest::default()).await;
    assert!(!versions
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::BrokerRegistration as i16));
    let mut c = Client::connect(controller).await;
    let versions = c.call(3, &ApiVersionsRequest::default()).await;
    assert!(versions
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::BrokerRegistration as i16));
    let mut c = Client::connect(broker.addr()).await;
    c.send(0, &registration(&broker.ctx.cluster_id, 200)).await;
    c.expect_closed("BrokerRegistration on a broker listener").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_heartbeat_every_version() {
    let (broker, controller) = controller_node().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::BrokerHeartbeat, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(controller).await;
            let id = 300 + v as i32;
            let registered = c.call(0, &registration(&ctx.cluster_id, id)).await;
            assert_eq!(registered.error_code, NONE);
            let mut hb = BrokerHeartbeatRequest::default();
            hb.broker_id = BrokerId(id);
            hb.broker_epoch = registered.broker_epoch;
            hb.current_metadata_offset = i64::MAX;
            let resp = c.call(v, &hb).await;
            assert_eq!(resp.error_code, NONE, "v{v}: heartbeat accepted");
            assert!(!resp.is_fenced, "v{v}: caught up, so unfenced");
            assert!(!resp.should_shut_down, "v{v}: keeps running");
            hb.broker_epoch = registered.broker_epoch - 1;
            let resp = c.call(v, &hb).await;
            assert_eq!(resp.error_code, STALE_BROKER_EPOCH, "v{v}: an old epoch");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocate_producer_ids_every_version() {
    let (broker, controller) = controller_node().await;
    each_version(ApiKey::AllocateProducerIds, move |v| async move {
        let mut c = Client::connect(controller).await;
        let mut req = AllocateProducerIdsRequest::default();
        req.broker_id = BrokerId(NODE_ID);
        req.broker_epoch = -1;
        let first = c.call(v, &req).await;
        let second = c.call(v, &req).await;
        assert_eq!(first.error_code, NONE, "v{v}: allocated");
        assert_eq!(first.producer_id_len, 1000, "v{v}: Kafka's block size");
        assert!(
            second.producer_id_start.0 >= first.producer_id_start.0 + 1000,
            "v{v}: blocks never overlap"
        );
    })
    .await;
    broker.stop().await;
}

/// AlterPartition from the leader of a one-replica partition: proposing
/// the ISR it already has changes nothing and answers with the partition
/// as it is; a stale partition epoch, an unknown topic id and a stale
/// broker epoch get Kafka's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_partition_every_version() {
    let (broker, controller) = controller_node().await;
    let mut meta = MetadataRequest::default();
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name("isr"));
    meta.topics = Some(vec![t]);
    meta.allow_auto_topic_creation = true;
    let mut client = broker.client().await;
    let mut topic_id = Uuid::nil();
    for _ in 0..50 {
        let resp = client.call(12, &meta).await;
        let t = &resp.topics[0];
        if t.error_code == NONE && !t.partitions.is_empty() && t.partitions[0].leader_id.0 == NODE_ID {
            topic_id = t.topic_id;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!topic_id.is_nil(), "the topic is created");
    each_version(ApiKey::AlterPartition, move |v| async move {
        let request = |topic_id: Uuid, partition_epoch: i32, broker_epoch: i64| {
            let mut p = alter_partition_request::PartitionData::default();
            p.partition_index = 0;
            p.leader_epoch = 0;
            p.partition_epoch = partition_epoch;
            if v >= 3 {
                let mut b = alter_partition_request::BrokerState::default();
                b.broker_id = BrokerId(NODE_ID);
                b.broker_epoch = -1;
                p.new_isr_with_epochs.push(b);
            } else {
                p.new_isr.push(BrokerId(NODE_ID));
            }
            let mut t = alter_partition_request::TopicData::default();
            t.topic_id = topic_id;
            t.partitions.push(p);
            let mut req = AlterPartitionRequest::default();
            req.broker_id = BrokerId(NODE_ID);
            req.broker_epoch = broker_epoch;
            req.topics.push(t);
            req
        };
        let mut c = Client::connect(controller).await;
        let resp = c.call(v, &request(topic_id, 0, -1)).await;
        assert_eq!(resp.error_code, NONE, "v{v}: {resp:?}");
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, NONE, "v{v}: the unchanged ISR is accepted: {p:?}");
        assert_eq!(p.leader_id.0, NODE_ID, "v{v}");
        assert_eq!(p.isr.iter().map(|b| b.0).collect::<Vec<_>>(), vec![NODE_ID], "v{v}");
        assert_eq!(p.partition_epoch, 0, "v{v}: nothing changed");
        let resp = c.call(v, &request(topic_id, 7, -1)).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, INVALID_UPDATE_VERSION, "v{v}");
        let resp = c.call(v, &request(Uuid::new_v4(), 0, -1)).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, UNKNOWN_TOPIC_ID, "v{v}");
        let resp = c.call(v, &request(topic_id, 0, 1_000_000)).await;
        assert_eq!(resp.error_code, STALE_BROKER_EPOCH, "v{v}");
    })
    .await;
    broker.stop().await;
}
