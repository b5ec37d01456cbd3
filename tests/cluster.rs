//! A three-node cluster in one test process: every node is
//! `process.roles=broker,controller` with its own data dir, PLAINTEXT and
//! CONTROLLER listeners on loopback, and short session, heartbeat and
//! election timeouts. The cases: fencing a silent broker and bringing it
//! back, forwarding and NOT_CONTROLLER, KIP-951 leader hints for a request
//! sent to the wrong node, controller failover without losing state, a
//! partition reassignment moving replicas, leadership and log dirs, and
//! DescribeProducers on followers and on nodes that host no replica.
//! Every wait is bounded; each test has an overall deadline.

#[path = "cluster/client.rs"]
mod client;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    describe_producers_request, describe_quorum_request, fetch_request, produce_request, BrokerId, CreateTopicsRequest,
    CreateTopicsResponse, DescribeProducersRequest, DescribeQuorumRequest, FetchRequest, InitProducerIdRequest,
    MetadataRequest, MetadataResponse, ProduceRequest, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use client::Client;

const NODES: i32 = 3;
const SESSION_TIMEOUT_MS: u64 = 2_000;
const HEARTBEAT_INTERVAL_MS: u64 = 200;
const ELECTION_TIMEOUT_MS: u64 = 1_000;
/// Upper bound on one condition becoming true (an election, a fencing).
const WAIT: Duration = Duration::from_secs(20);
/// Upper bound on a whole test.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

const NONE: i16 = 0;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const LEADER_NOT_AVAILABLE: i16 = 5;
const NOT_CONTROLLER: i16 = 41;
const NOT_ENOUGH_REPLICAS: i16 = 19;
const METADATA_TOPIC: &str = "__cluster_metadata";

/// The cases share two cores with each other (and with other builds): one
/// cluster at a time keeps the short timeouts meaningful.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster under test (`fjord::testing::TestCluster`) and the
/// connections these cases make to it.
struct Cluster {
    nodes: fjord::testing::TestCluster,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl Cluster {
    /// Starts three combined nodes at once: each returns only once it is
    /// registered and unfenced, which takes a quorum.
    async fn start() -> Self {
        init_tracing();
        let overrides = [
            ("broker.session.timeout.ms", SESSION_TIMEOUT_MS.to_string()),
            ("broker.heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS.to_string()),
            ("controller.quorum.election.timeout.ms", ELECTION_TIMEOUT_MS.to_string()),
        ];
        let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let nodes = fjord::testing::TestCluster::start_with(NODES as usize, &overrides)
            .await
            .unwrap_or_else(|e| panic!("the cluster starts: {e:#}"));
        Cluster { nodes }
    }

    fn live_ids(&self) -> Vec<i32> {
        self.nodes.live_ids()
    }

    async fn broker(&self, id: i32) -> Client {
        Client::connect(self.nodes.broker_addr(id)).await
    }

    async fn controller(&self, id: i32) -> Client {
        Client::connect(self.nodes.controller_addr(id)).await
    }

    /// Stops a node without a controlled shutdown: to the rest of the
    /// cluster it just goes silent, as after a crash.
    async fn stop(&mut self, id: i32) {
        self.nodes.halt(id).await;
    }

    /// Stops a node with a controlled shutdown: it asks the controller to
    /// fence it first.
    async fn shut_down(&mut self, id: i32) {
        self.nodes.shut_down(id).await;
    }

    /// Starts a stopped node again from its data dir.
    async fn restart(&mut self, id: i32) {
        self.nodes
            .restart(id)
            .await
            .unwrap_or_else(|e| panic!("node {id} restarts: {e:#}"));
    }

    /// The leader of the metadata quorum, as every live node's broker
    /// listener answers DescribeQuorum (forwarded where needed), once
    /// they all agree and it is not `not`.
    async fn quorum_leader(&self, not: Option<i32>) -> (i32, i32) {
        let ids = self.live_ids();
        eventually("every node to report the same quorum leader", || async {
            let mut seen = BTreeSet::new();
            for &id in &ids {
                seen.insert(describe_quorum(&mut self.broker(id).await).await?);
            }
            let &(leader, epoch) = seen.first()?;
            (seen.len() == 1 && leader >= 0 && Some(leader) != not).then_some((leader, epoch))
        })
        .await
    }

    async fn shutdown(self) {
        self.nodes.stop().await;
    }
}

/// Runs `f` every 100 ms until it returns `Some`, failing after `WAIT`.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {WAIT:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs one test body under the overall deadline, one cluster at a time.
async fn bounded(body: impl Future<Output = ()>) {
    let _serial = ONE_CLUSTER_AT_A_TIME.lock().await;
    tokio::time::timeout(TEST_DEADLINE, body)
        .await
        .expect("the test finished within its deadline");
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// DescribeQuorum v1 for the metadata partition: `(leader, epoch)`, or
/// `None` while the answer carries an error.
async fn describe_quorum(c: &mut Client) -> Option<(i32, i32)> {
    let mut p = describe_quorum_request::PartitionData::default();
    p.partition_index = 0;
    let mut t = describe_quorum_request::TopicData::default();
    t.topic_name = name(METADATA_TOPIC);
    t.partitions.push(p);
    let mut req = DescribeQuorumRequest::default();
    req.topics.push(t);
    let resp = c.try_call(1, &req).await?;
    if resp.error_code != NONE {
        return None;
    }
    let p = &resp.topics.first()?.partitions.first()?;
    (p.error_code == NONE).then_some((p.leader_id.0, p.leader_epoch))
}

/// CreateTopics v7 with one replica per partition: partition `i` on
/// `leaders[i]`.
async fn create_topic(c: &mut Client, topic: &str, leaders: &[i32]) -> CreateTopicsResponse {
    let mut t = CreatableTopic::default();
    t.name = name(topic);
    t.num_partitions = -1;
    t.replication_factor = -1;
    for (i, leader) in leaders.iter().enumerate() {
        let mut a = CreatableReplicaAssignment::default();
        a.partition_index = i as i32;
        a.broker_ids = vec![BrokerId(*leader)];
        t.assignments.push(a);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    c.call(7, &req).await
}

fn topic_error(resp: &CreateTopicsResponse) -> i16 {
    assert_eq!(resp.topics.len(), 1, "one topic result: {resp:?}");
    resp.topics[0].error_code
}

async fn metadata(c: &mut Client, topic: &str) -> MetadataResponse {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(name(topic));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = false;
    c.call(12, &req).await
}

/// `(leader, leader_epoch, error_code)` of each partition of `topic` as
/// node `id` reports it, once the topic is there.
async fn partitions(cluster: &Cluster, id: i32, topic: &str) -> Option<Vec<(i32, i32, i16)>> {
    let resp = metadata(&mut cluster.broker(id).await, topic).await;
    let t = resp.topics.first()?;
    if t.error_code != NONE {
        return None;
    }
    Some(
        t.partitions
            .iter()
            .map(|p| (p.leader_id.0, p.leader_epoch, p.error_code))
            .collect(),
    )
}

fn broker_ids(resp: &MetadataResponse) -> Vec<i32> {
    resp.brokers.iter().map(|b| b.node_id.0).collect()
}

/// Waits until every live node reports `topic` with partition `i` led by
/// `leaders[i]`; returns the leader epochs.
async fn await_leaders(cluster: &Cluster, topic: &str, leaders: &[i32]) -> Vec<i32> {
    let ids = cluster.live_ids();
    eventually(&format!("{topic} led by {leaders:?} everywhere"), || async {
        let mut epochs = None;
        for &id in &ids {
            let ps = partitions(cluster, id, topic).await?;
            let now: Vec<i32> = ps.iter().map(|p| p.0).collect();
            if now != leaders || ps.iter().any(|p| p.2 != NONE) {
                return None;
            }
            epochs = Some(ps.iter().map(|p| p.1).collect());
        }
        epochs
    })
    .await
}

fn one_record_batch() -> Bytes {
    record_batch("wrong node")
}

/// A batch of one record whose value is `value`.
fn record_batch(value: &str) -> Bytes {
    producer_batch(value, -1, -1)
}

/// A batch of one record whose value is `value`, from producer id
/// `producer_id` (epoch 0) at `sequence`; -1, -1 for none.
fn producer_batch(value: &str, producer_id: i64, sequence: i32) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch: if producer_id < 0 { -1 } else { 0 },
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from(value.to_string())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode a record batch");
    buf.freeze()
}

/// Produce (acks=all) of one record to `topic`/`partition`.
fn produce_request(topic: &str, partition: i32) -> ProduceRequest {
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(one_record_batch());
    let mut td = produce_request::TopicProduceData::default();
    td.name = name(topic);
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5_000;
    req.topic_data.push(td);
    req
}

async fn init_producer_id(c: &mut Client) -> i64 {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = None;
    req.transaction_timeout_ms = 60_000;
    req.producer_id = ProducerId(-1);
    req.producer_epoch = -1;
    let resp = c.call(4, &req).await;
    assert_eq!(resp.error_code, NONE, "InitProducerId: {resp:?}");
    resp.producer_id.0
}

/// A node that stops heartbeating is fenced after
/// `broker.session.timeout.ms`: it leaves Metadata, and the partitions
/// only it held have no leader (LEADER_NOT_AVAILABLE). Started again from
/// its data dir, it registers, is unfenced and leads them again in a
/// later leader epoch.
/// A controlled shutdown (`Running::shutdown`, what SIGTERM runs) asks the
/// controller to fence the broker first: its partitions are offline at once
/// rather than after `broker.session.timeout.ms`, and it comes back without
/// waiting for its old session to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_shuts_down_is_fenced_at_once() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        let (controller, _) = cluster.quorum_leader(None).await;
        let victim = (1..=NODES).find(|&id| id != controller).expect("a non-controller node");
        let survivor = controller;
        let stopped = Instant::now();
        cluster.shut_down(victim).await;
        let fenced = eventually("the departed broker to leave Metadata", || async {
            let resp = metadata(&mut cluster.broker(survivor).await, "none").await;
            (!broker_ids(&resp).contains(&victim)).then(Instant::now)
        })
        .await;
        assert!(
            fenced - stopped < Duration::from_millis(SESSION_TIMEOUT_MS),
            "fenced after {:?}, not at shutdown",
            fenced - stopped
        );
        let restarted = Instant::now();
        cluster.restart(victim).await;
        assert!(
            restarted.elapsed() < Duration::from_millis(SESSION_TIMEOUT_MS),
            "a cleanly stopped broker registers again at once, took {:?}",
            restarted.elapsed()
        );
        cluster.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_is_fenced_and_comes_back() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        let (controller, _) = cluster.quorum_leader(None).await;
        let victim = (1..=NODES).find(|&id| id != controller).expect("a non-controller node");
        let survivor = (1..=NODES).find(|&id| id != victim).expect("a node that stays up");
        let leaders = [1, 2, 3];
        let created = create_topic(&mut cluster.broker(survivor).await, "fencing", &leaders).await;
        assert_eq!(topic_error(&created), NONE, "create: {created:?}");
        let epochs = await_leaders(&cluster, "fencing", &leaders).await;
        let victim_partition = (victim - 1) as usize;

        let stopped = Instant::now();
        cluster.stop(victim).await;
        let survivors = cluster.live_ids();
        let fenced = eventually("the silent broker to be fenced", || async {
            for &id in &survivors {
                let resp = metadata(&mut cluster.broker(id).await, "fencing").await;
                if broker_ids(&resp).contains(&victim) {
                    return None;
                }
                let p = &resp.topics.first()?.partitions[victim_partition];
                if p.leader_id.0 != -1 {
                    return None;
                }
                assert_eq!(
                    p.error_code, LEADER_NOT_AVAILABLE,
                    "a partition without a leader is LEADER_NOT_AVAILABLE: {p:?}"
                );
                assert!(
                    p.leader_epoch > epochs[victim_partition],
                    "fencing bumps the leader epoch"
                );
            }
            Some(Instant::now())
        })
        .await;
        // Fenced by the session timeout, not by the connection closing.
        // The last heartbeat went out up to an interval (more on a loaded
        // machine) before the stop, so only half the timeout is certain.
        assert!(
            fenced - stopped >= Duration::from_millis(SESSION_TIMEOUT_MS / 2),
            "fenced after {:?}, well before broker.session.timeout.ms",
            fenced - stopped
        );
        // The partitions the survivors lead are untouched.
        for &id in &survivors {
            let ps = partitions(&cluster, id, "fencing").await.expect("topic listed");
            for (i, p) in ps.iter().enumerate().filter(|(i, _)| *i != victim_partition) {
                assert_eq!(
                    (p.0, p.1, p.2),
                    (leaders[i], epochs[i], NONE),
                    "node {id} partition {i}"
                );
            }
        }

        cluster.restart(victim).await;
        let back = await_leaders(&cluster, "fencing", &leaders).await;
        assert!(
            back[victim_partition] > epochs[victim_partition] + 1,
            "leader epoch bumped on fencing and again on unfencing: {} -> {}",
            epochs[victim_partition],
            back[victim_partition]
        );
        for id in 1..=NODES {
            let resp = metadata(&mut cluster.broker(id).await, "fencing").await;
            assert_eq!(broker_ids(&resp), vec![1, 2, 3], "node {id} lists every broker again");
        }
        // It serves its partition again, from the log it kept.
        let resp = cluster
            .broker(victim)
            .await
            .call(11, &produce_request("fencing", victim - 1))
            .await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (NONE, 0),
            "produce to the restarted leader: {p:?}"
        );
        cluster.shutdown().await;
    })
    .await;
}

/// CreateTopics on a broker listener is forwarded to the active
/// controller; sent straight to another controller's listener it is
/// NOT_CONTROLLER; DescribeQuorum names the same leader everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_reach_the_active_controller() {
    bounded(async {
        let cluster = Cluster::start().await;
        let (controller, epoch) = cluster.quorum_leader(None).await;
        let other = (1..=NODES).find(|&id| id != controller).expect("a non-controller node");

        let forwarded = create_topic(&mut cluster.broker(other).await, "forwarded", &[1, 2, 3]).await;
        assert_eq!(topic_error(&forwarded), NONE, "forwarded create: {forwarded:?}");
        await_leaders(&cluster, "forwarded", &[1, 2, 3]).await;

        let direct = create_topic(&mut cluster.controller(other).await, "direct", &[1]).await;
        assert_eq!(
            topic_error(&direct),
            NOT_CONTROLLER,
            "a controller that is not active: {direct:?}"
        );
        let resp = metadata(&mut cluster.broker(controller).await, "direct").await;
        assert_ne!(resp.topics[0].error_code, NONE, "the refused topic does not exist");

        for id in 1..=NODES {
            let answer = describe_quorum(&mut cluster.broker(id).await).await;
            assert_eq!(answer, Some((controller, epoch)), "DescribeQuorum on node {id}");
        }
        cluster.shutdown().await;
    })
    .await;
}

/// KIP-951: Produce v10+ and Fetch v16+ for a partition led elsewhere are
/// NOT_LEADER_OR_FOLLOWER naming the leader, its epoch and its endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_the_wrong_node_names_the_leader() {
    bounded(async {
        let cluster = Cluster::start().await;
        let created = create_topic(&mut cluster.broker(1).await, "elsewhere", &[2]).await;
        assert_eq!(topic_error(&created), NONE, "create: {created:?}");
        let epoch = await_leaders(&cluster, "elsewhere", &[2]).await[0];
        let leader_port = i32::from(cluster.nodes.broker_addr(2).port());
        let topic_id = metadata(&mut cluster.broker(1).await, "elsewhere").await.topics[0].topic_id;

        for version in [10, 11] {
            let resp = cluster
                .broker(1)
                .await
                .call(version, &produce_request("elsewhere", 0))
                .await;
            let p = &resp.responses[0].partition_responses[0];
            assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER, "Produce v{version}: {p:?}");
            assert_eq!(
                (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
                (2, epoch),
                "Produce v{version}: current leader"
            );
            let endpoints: Vec<_> = resp
                .node_endpoints
                .iter()
                .map(|e| (e.node_id.0, e.host.to_string(), e.port))
                .collect();
            assert_eq!(
                endpoints,
                vec![(2, "127.0.0.1".to_string(), leader_port)],
                "Produce v{version}: node endpoints"
            );
        }

        for version in [16, 17] {
            let mut fp = fetch_request::FetchPartition::default();
            fp.partition = 0;
            fp.fetch_offset = 0;
            fp.partition_max_bytes = 1 << 20;
            let mut ft = fetch_request::FetchTopic::default();
            ft.topic_id = topic_id;
            ft.partitions.push(fp);
            let mut req = FetchRequest::default();
            req.replica_id = BrokerId(-1);
            req.max_wait_ms = 0;
            req.min_bytes = 1;
            req.max_bytes = 1 << 20;
            req.session_epoch = -1;
            req.topics.push(ft);
            let resp = cluster.broker(3).await.call(version, &req).await;
            assert_eq!(resp.error_code, NONE, "Fetch v{version}: top-level error");
            let p = &resp.responses[0].partitions[0];
            assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER, "Fetch v{version}: {p:?}");
            assert_eq!(
                (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
                (2, epoch),
                "Fetch v{version}: current leader"
            );
            let endpoints: Vec<_> = resp
                .node_endpoints
                .iter()
                .map(|e| (e.node_id.0, e.host.to_string(), e.port))
                .collect();
            assert_eq!(
                endpoints,
                vec![(2, "127.0.0.1".to_string(), leader_port)],
                "Fetch v{version}: node endpoints"
            );
        }
        cluster.shutdown().await;
    })
    .await;
}

/// Killing the active controller elects another; it creates topics, and
/// producer ids handed out afterwards never repeat one handed out before
/// (the blocks are in the metadata log, not in the old controller).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_failover_keeps_metadata() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        let (old, old_epoch) = cluster.quorum_leader(None).await;
        let mut ids = BTreeSet::new();
        for id in 1..=NODES {
            let pid = init_producer_id(&mut cluster.broker(id).await).await;
            assert!(
                ids.insert(pid),
                "producer id {pid} from node {id} repeats one of {ids:?}"
            );
        }
        let created = create_topic(&mut cluster.broker(old).await, "before", &[1, 2, 3]).await;
        assert_eq!(topic_error(&created), NONE, "create before failover: {created:?}");

        cluster.stop(old).await;
        let (new, new_epoch) = cluster.quorum_leader(Some(old)).await;
        assert!(new_epoch > old_epoch, "a new quorum epoch: {old_epoch} -> {new_epoch}");
        let survivor = cluster
            .live_ids()
            .into_iter()
            .find(|&id| id != new)
            .expect("a survivor besides the new controller");
        let created = eventually("CreateTopics to succeed after failover", || async {
            let resp = create_topic(&mut cluster.broker(survivor).await, "after", &[new]).await;
            (topic_error(&resp) == NONE).then_some(resp)
        })
        .await;
        assert_eq!(topic_error(&created), NONE);
        for id in cluster.live_ids() {
            let ps = partitions(&cluster, id, "before")
                .await
                .expect("the old topic survives");
            assert_eq!(ps.len(), 3, "node {id}: partitions of the old topic");
        }
        // The new controller gave every registered broker a fresh session
        // on taking over, and fences the old one once that runs out.
        eventually("the new controller to fence the old one's broker", || async {
            let ps = partitions(&cluster, survivor, "before").await?;
            let resp = metadata(&mut cluster.broker(survivor).await, "before").await;
            let old_partition = ps[(old - 1) as usize];
            (old_partition.0 == -1 && old_partition.2 == LEADER_NOT_AVAILABLE && !broker_ids(&resp).contains(&old))
                .then_some(())
        })
        .await;

        // The restarted node has lost its block; the new controller must
        // allocate past every block the old one gave out.
        cluster.restart(old).await;
        await_leaders(&cluster, "before", &[1, 2, 3]).await;
        for id in [old, new, survivor] {
            let pid = init_producer_id(&mut cluster.broker(id).await).await;
            assert!(
                ids.insert(pid),
                "producer id {pid} from node {id} repeats one of {ids:?}"
            );
        }
        cluster.shutdown().await;
    })
    .await;
}

/// A node restarted before its old session runs out is refused
/// (DUPLICATE_BROKER_REGISTRATION) until the controller fences the old
/// incarnation; it keeps trying and joins then, well within its start-up
/// bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_restart_joins_once_the_old_session_expires() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        let (controller, _) = cluster.quorum_leader(None).await;
        let node = (1..=NODES).find(|&id| id != controller).expect("a non-controller node");
        let created = create_topic(&mut cluster.broker(controller).await, "quick", &[node]).await;
        assert_eq!(topic_error(&created), NONE, "create: {created:?}");
        let before = await_leaders(&cluster, "quick", &[node]).await[0];

        cluster.stop(node).await;
        let restarting = Instant::now();
        cluster.restart(node).await;
        let took = restarting.elapsed();
        assert!(took < WAIT, "the restart took {took:?}");
        let after = await_leaders(&cluster, "quick", &[node]).await[0];
        assert!(after > before, "leader epoch {before} -> {after}");
        for id in 1..=NODES {
            let resp = metadata(&mut cluster.broker(id).await, "quick").await;
            assert_eq!(broker_ids(&resp), vec![1, 2, 3], "node {id} lists every broker");
        }
        let resp = cluster.broker(node).await.call(11, &produce_request("quick", 0)).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (NONE, 0),
            "produce after the restart: {p:?}"
        );
        cluster.shutdown().await;
    })
    .await;
}

/// The topics and partitions node `id` reports in DescribeLogDirs.
async fn log_dir_partitions(cluster: &Cluster, id: i32) -> BTreeSet<(String, i32)> {
    let mut req = kafka_protocol::messages::DescribeLogDirsRequest::default();
    req.topics = None;
    let resp = cluster.broker(id).await.call(4, &req).await;
    resp.results
        .iter()
        .flat_map(|d| d.topics.iter())
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index))
        })
        .collect()
}

/// A reassignment sent to a node that is not the controller (forwarded)
/// moves a partition from 1 to 2,3: the new replicas start following at
/// once, the reassignment completes once they are in sync, the leader
/// leaves 1, and DescribeLogDirs on each node reports the copies it holds
/// (the leader's and the follower's; none left on 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassignment_moves_replicas_and_leadership() {
    use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
    use kafka_protocol::messages::{
        AlterPartitionReassignmentsRequest, ElectLeadersRequest, ListPartitionReassignmentsRequest,
    };
    bounded(async {
        let cluster = Cluster::start().await;
        let (controller, _) = cluster.quorum_leader(None).await;
        let other = (1..=NODES).find(|&id| id != controller).expect("a non-controller node");
        let created = create_topic(&mut cluster.broker(other).await, "moved", &[1]).await;
        assert_eq!(topic_error(&created), NONE, "{created:?}");
        await_leaders(&cluster, "moved", &[1]).await;
        let resp = cluster.broker(1).await.call(9, &produce_request("moved", 0)).await;
        assert_eq!(resp.responses[0].partition_responses[0].error_code, NONE, "{resp:?}");

        let mut p = ReassignablePartition::default();
        p.partition_index = 0;
        p.replicas = Some(vec![BrokerId(2), BrokerId(3)]);
        let mut t = ReassignableTopic::default();
        t.name = name("moved");
        t.partitions = vec![p];
        let mut req = AlterPartitionReassignmentsRequest::default();
        req.topics = vec![t];
        let resp = cluster.broker(other).await.call(0, &req).await;
        assert_eq!(resp.responses[0].partitions[0].error_code, NONE, "{resp:?}");

        let ids = cluster.live_ids();
        eventually("the reassignment to complete everywhere", || async {
            for &id in &ids {
                let resp = metadata(&mut cluster.broker(id).await, "moved").await;
                let p = resp.topics.first()?.partitions.first()?;
                let replicas: Vec<i32> = p.replica_nodes.iter().map(|b| b.0).collect();
                let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
                isr.sort_unstable();
                if replicas != [2, 3] || isr != [2, 3] || p.leader_id.0 != 2 {
                    return None;
                }
            }
            Some(())
        })
        .await;
        let listed = cluster
            .broker(1)
            .await
            .call(0, &ListPartitionReassignmentsRequest::default())
            .await;
        assert!(listed.topics.is_empty(), "nothing left in progress: {listed:?}");
        let moved = ("moved".to_string(), 0);
        eventually("DescribeLogDirs to follow the replicas", || async {
            let on = |set: BTreeSet<(String, i32)>| set.contains(&moved);
            (!on(log_dir_partitions(&cluster, 1).await)
                && on(log_dir_partitions(&cluster, 2).await)
                && on(log_dir_partitions(&cluster, 3).await))
            .then_some(())
        })
        .await;
        // 2 is the preferred replica and leads: no election needed.
        let mut req = ElectLeadersRequest::default();
        let mut tp = kafka_protocol::messages::elect_leaders_request::TopicPartitions::default();
        tp.topic = name("moved");
        tp.partitions = vec![0];
        req.topic_partitions = Some(vec![tp]);
        let resp = cluster.broker(3).await.call(2, &req).await;
        assert_eq!(
            resp.replica_election_results[0].partition_result[0].error_code, 84,
            "{resp:?}"
        );
        cluster.shutdown().await;
    })
    .await;
}

/// CreateTopics v7: `topic` with one partition on every node (RF 3) and
/// the given `min.insync.replicas`.
async fn create_replicated_topic(c: &mut Client, topic: &str, min_insync_replicas: i32) {
    let mut t = CreatableTopic::default();
    t.name = name(topic);
    t.num_partitions = 1;
    t.replication_factor = NODES as i16;
    let mut min_isr = kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default();
    min_isr.name = StrBytes::from_static_str("min.insync.replicas");
    min_isr.value = Some(StrBytes::from_string(min_insync_replicas.to_string()));
    t.configs.push(min_isr);
    let mut req = CreateTopicsRequest::default();
    req.topics.push(t);
    req.timeout_ms = 10_000;
    let resp = c.call(7, &req).await;
    assert_eq!(topic_error(&resp), NONE, "{resp:?}");
}

/// `(leader, leader_epoch, isr)` of partition 0 of `topic` as node `id`
/// reports it.
async fn leader_and_isr(cluster: &Cluster, id: i32, topic: &str) -> Option<(i32, i32, Vec<i32>)> {
    let resp = metadata(&mut cluster.broker(id).await, topic).await;
    let t = resp.topics.first()?;
    let p = t.partitions.first()?;
    (t.error_code == NONE).then(|| {
        let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
        isr.sort_unstable();
        (p.leader_id.0, p.leader_epoch, isr)
    })
}

/// Produce acks=all of one record whose value is `value`; the error code
/// and base offset.
async fn produce_value(c: &mut Client, topic: &str, value: &str) -> (i16, i64) {
    let mut req = produce_request(topic, 0);
    req.topic_data[0].partition_data[0].records = Some(record_batch(value));
    let resp = c.call(9, &req).await;
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Every record value of partition 0 of `topic` a consumer reads from node
/// `id` (Fetch v12 by name, up to the high watermark), and the high
/// watermark.
async fn consume_values(cluster: &Cluster, id: i32, topic: &str) -> (Vec<String>, i64) {
    let mut c = cluster.broker(id).await;
    let mut values = Vec::new();
    let mut offset = 0;
    loop {
        let mut fp = fetch_request::FetchPartition::default();
        fp.partition = 0;
        fp.fetch_offset = offset;
        fp.partition_max_bytes = 1 << 20;
        fp.current_leader_epoch = -1;
        fp.last_fetched_epoch = -1;
        let mut ft = fetch_request::FetchTopic::default();
        ft.topic = name(topic);
        ft.partitions.push(fp);
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 0;
        req.min_bytes = 0;
        req.max_bytes = 1 << 20;
        req.session_epoch = -1;
        req.topics.push(ft);
        let resp = c.call(12, &req).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, NONE, "fetch from node {id}: {p:?}");
        let mut data = p.records.clone().unwrap_or_default();
        if data.is_empty() {
            return (values, p.high_watermark);
        }
        let batches = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut data).expect("record batches");
        for batch in batches {
            for r in batch.records {
                values.push(String::from_utf8(r.value.expect("a value").to_vec()).expect("utf-8"));
                offset = r.offset + 1;
            }
        }
    }
}

/// RF 3, min.insync.replicas 2: records acknowledged with acks=all are on
/// every in-sync replica, survive the leader's crash (a follower from the
/// ISR takes over in a new leader epoch and serves all of them), and the
/// old leader, started again, catches up and rejoins the ISR with a log
/// identical to the leader's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_the_leaders_crash() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        create_replicated_topic(&mut cluster.broker(1).await, "replicated", 2).await;
        let all: Vec<i32> = (1..=NODES).collect();
        let (leader, epoch, _) = eventually("the full ISR", || async {
            leader_and_isr(&cluster, 1, "replicated")
                .await
                .filter(|(l, _, isr)| *l >= 0 && *isr == all)
        })
        .await;
        eventually("the leader to see the full ISR", || async {
            leader_and_isr(&cluster, leader, "replicated")
                .await
                .filter(|(l, _, isr)| *l == leader && *isr == all)
        })
        .await;
        let mut acked = Vec::new();
        let mut producer = cluster.broker(leader).await;
        for i in 0..20 {
            let value = format!("before-{i}");
            let (code, offset) = produce_value(&mut producer, "replicated", &value).await;
            assert_eq!(code, NONE, "acks=all with the full ISR");
            assert_eq!(offset, i, "offsets in order");
            acked.push(value);
        }
        cluster.stop(leader).await;
        let survivor = *all.iter().find(|&&id| id != leader).expect("another node");
        let (new_leader, new_epoch, isr) = eventually("a new leader from the ISR", || async {
            leader_and_isr(&cluster, survivor, "replicated")
                .await
                .filter(|(l, _, _)| *l >= 0 && *l != leader)
        })
        .await;
        assert!(new_epoch > epoch, "a new leader epoch: {new_epoch} after {epoch}");
        assert!(!isr.contains(&leader), "the crashed leader left the ISR: {isr:?}");
        let mut producer = cluster.broker(new_leader).await;
        for i in 0..10 {
            let value = format!("after-{i}");
            let (code, _) = produce_value(&mut producer, "replicated", &value).await;
            assert_eq!(code, NONE, "acks=all with two of three in sync");
            acked.push(value);
        }
        let (seen, hw) = consume_values(&cluster, new_leader, "replicated").await;
        assert_eq!(seen, acked, "every acknowledged record, once, in order");
        assert_eq!(hw, 30);
        cluster.restart(leader).await;
        eventually("the restarted replica back in the ISR", || async {
            leader_and_isr(&cluster, survivor, "replicated")
                .await
                .filter(|(_, _, isr)| *isr == all)
        })
        .await;
        let offsets = |id: i32| {
            let broker = cluster.nodes.broker(id).expect("running");
            let p = broker.replicas.get("replicated", 0).expect("hosted");
            let o = p.offsets();
            (o.log_start_offset, o.log_end_offset)
        };
        eventually("every replica at the same log end", || async {
            let ends: BTreeSet<(i64, i64)> = all.iter().map(|&id| offsets(id)).collect();
            (ends.len() == 1).then_some(())
        })
        .await;
        assert_eq!(offsets(leader), (0, 30));
        cluster.shutdown().await;
    })
    .await;
}

/// With fewer in-sync replicas than `min.insync.replicas`, acks=all is
/// refused with NOT_ENOUGH_REPLICAS before anything is appended, while
/// acks=1 is still accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_needs_min_insync_replicas() {
    bounded(async {
        let mut cluster = Cluster::start().await;
        let (controller, _) = cluster.quorum_leader(None).await;
        create_replicated_topic(&mut cluster.broker(controller).await, "guarded", 3).await;
        let all: Vec<i32> = (1..=NODES).collect();
        let (leader, _, _) = eventually("the full ISR", || async {
            leader_and_isr(&cluster, controller, "guarded")
                .await
                .filter(|(l, _, isr)| *l >= 0 && *isr == all)
        })
        .await;
        // The leader itself must know the topic before it takes records.
        eventually("the leader to see the full ISR", || async {
            leader_and_isr(&cluster, leader, "guarded")
                .await
                .filter(|(l, _, isr)| *l == leader && *isr == all)
        })
        .await;
        let mut producer = cluster.broker(leader).await;
        assert_eq!(produce_value(&mut producer, "guarded", "three in sync").await.0, NONE);
        // A follower that is not the controller goes away; the quorum
        // keeps two of three voters.
        let victim = all
            .iter()
            .copied()
            .find(|&id| id != leader && id != controller)
            .expect("a third node");
        cluster.stop(victim).await;
        eventually("the ISR without the stopped follower", || async {
            leader_and_isr(&cluster, leader, "guarded")
                .await
                .filter(|(_, _, isr)| !isr.contains(&victim))
        })
        .await;
        let (code, _) = produce_value(&mut producer, "guarded", "refused").await;
        assert_eq!(code, NOT_ENOUGH_REPLICAS, "acks=all below min.insync.replicas");
        let mut req = produce_request("guarded", 0);
        req.acks = 1;
        let resp = producer.call(9, &req).await;
        assert_eq!(
            resp.responses[0].partition_responses[0].error_code, NONE,
            "acks=1 still works"
        );
        // The acks=1 record is committed once the remaining follower has it.
        let want = vec!["three in sync".to_string(), "wrong node".to_string()];
        eventually("both records below the high watermark", || async {
            (consume_values(&cluster, leader, "guarded").await.0 == want).then_some(())
        })
        .await;
        cluster.shutdown().await;
    })
    .await;
}

/// DescribeProducers for partition 0 of `topic` on node `id`: the error
/// code and each producer's (id, epoch, last sequence).
async fn describe_producers(cluster: &Cluster, id: i32, topic: &str) -> (i16, Vec<(i64, i32, i32)>) {
    let mut t = describe_producers_request::TopicRequest::default();
    t.name = name(topic);
    t.partition_indexes = vec![0];
    let mut req = DescribeProducersRequest::default();
    req.topics.push(t);
    let resp = cluster.broker(id).await.call(0, &req).await;
    let p = &resp.topics[0].partitions[0];
    let producers = p
        .active_producers
        .iter()
        .map(|s| (s.producer_id.0, s.producer_epoch, s.last_sequence))
        .collect();
    (p.error_code, producers)
}

/// DescribeProducers is answered by every replica from its own log, a
/// follower as well as the leader (`kafka-transactions describe-producers
/// --broker-id`), as Kafka does; a node that hosts no replica of the
/// partition answers NOT_LEADER_OR_FOLLOWER.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_producers_on_every_replica() {
    bounded(async {
        let cluster = Cluster::start().await;
        create_replicated_topic(&mut cluster.broker(1).await, "producers", 2).await;
        let all: Vec<i32> = (1..=NODES).collect();
        let (leader, _, _) = eventually("the full ISR", || async {
            leader_and_isr(&cluster, 1, "producers")
                .await
                .filter(|(l, _, isr)| *l >= 0 && *isr == all)
        })
        .await;
        eventually("the leader to see the full ISR", || async {
            leader_and_isr(&cluster, leader, "producers")
                .await
                .filter(|(l, _, isr)| *l == leader && *isr == all)
        })
        .await;
        let mut c = cluster.broker(leader).await;
        let pid = init_producer_id(&mut c).await;
        for seq in 0..3 {
            let mut req = produce_request("producers", 0);
            req.topic_data[0].partition_data[0].records = Some(producer_batch("p", pid, seq));
            let resp = c.call(9, &req).await;
            assert_eq!(
                resp.responses[0].partition_responses[0].error_code, NONE,
                "sequence {seq}"
            );
        }
        for &id in &all {
            let got = eventually(&format!("node {id} to hold sequence 2"), || async {
                let got = describe_producers(&cluster, id, "producers").await;
                (got.0 != NONE || got.1.first().is_some_and(|p| p.2 == 2)).then_some(got)
            })
            .await;
            assert_eq!(got, (NONE, vec![(pid, 0, 2)]), "node {id} (leader {leader})");
        }

        let created = create_topic(&mut cluster.broker(1).await, "single", &[2]).await;
        assert_eq!(topic_error(&created), NONE, "create: {created:?}");
        await_leaders(&cluster, "single", &[2]).await;
        assert_eq!(describe_producers(&cluster, 2, "single").await, (NONE, vec![]));
        for id in [1, 3] {
            assert_eq!(
                describe_producers(&cluster, id, "single").await,
                (NOT_LEADER_OR_FOLLOWER, vec![]),
                "node {id} hosts no replica"
            );
        }
        cluster.shutdown().await;
    })
    .await;
}

/// A transaction over partitions led by each of the three nodes, its
/// coordinator on one of them: the two leaders elsewhere verify the
/// producer's first batch with the coordinator (AddPartitionsToTxn v4) and
/// get their markers through WriteTxnMarkers. A committed transaction
/// becomes visible to read_committed fetches on every leader; an aborted
/// one never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_spans_partitions_led_by_every_node() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::{AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, TransactionalId};
    const TOPIC: &str = "txn-spread";
    const TXN_ID: &str = "spread";
    const CONCURRENT_TRANSACTIONS: i16 = 51;
    bounded(async {
        let cluster = Cluster::start().await;
        let mut c = cluster.broker(1).await;
        assert_eq!(topic_error(&create_topic(&mut c, TOPIC, &[1, 2, 3]).await), NONE);
        await_leaders(&cluster, TOPIC, &[1, 2, 3]).await;
        let txn_id = || TransactionalId(StrBytes::from_static_str(TXN_ID));
        let coordinator = eventually("a transaction coordinator", || async {
            let mut req = FindCoordinatorRequest::default();
            req.key = StrBytes::from_static_str(TXN_ID);
            req.key_type = 1;
            let r = cluster.broker(1).await.call(3, &req).await;
            (r.error_code == NONE).then_some(r.node_id.0)
        })
        .await;
        let mut tc = cluster.broker(coordinator).await;
        let (pid, epoch) = eventually("InitProducerId from the coordinator", || async {
            let mut req = InitProducerIdRequest::default();
            req.transactional_id = Some(txn_id());
            req.transaction_timeout_ms = 60_000;
            req.producer_id = ProducerId(-1);
            req.producer_epoch = -1;
            let r = cluster.broker(coordinator).await.call(4, &req).await;
            (r.error_code == NONE).then_some((r.producer_id.0, r.producer_epoch))
        })
        .await;
        for (sequence, (round, commit)) in [("committed", true), ("aborted", false)].into_iter().enumerate() {
            // The previous transaction's markers are written after EndTxn
            // answers: until then the coordinator answers CONCURRENT_TRANSACTIONS.
            eventually("partitions added to the transaction", || async {
                let mut t = AddPartitionsToTxnTopic::default();
                t.name = name(TOPIC);
                t.partitions = vec![0, 1, 2];
                let mut req = AddPartitionsToTxnRequest::default();
                req.v3_and_below_transactional_id = txn_id();
                req.v3_and_below_producer_id = ProducerId(pid);
                req.v3_and_below_producer_epoch = epoch;
                req.v3_and_below_topics = vec![t];
                let r = cluster.broker(coordinator).await.call(3, &req).await;
                let codes: Vec<i16> = r.results_by_topic_v3_and_below[0]
                    .results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
                    .collect();
                assert!(
                    codes.iter().all(|c| [NONE, CONCURRENT_TRANSACTIONS].contains(c)),
                    "{codes:?}"
                );
                codes.iter().all(|c| *c == NONE).then_some(())
            })
            .await;
            for partition in 0..3 {
                let mut batch = BytesMut::new();
                let record = Record {
                    transactional: true,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: -1,
                    producer_id: pid,
                    producer_epoch: epoch,
                    timestamp_type: TimestampType::Creation,
                    offset: 0,
                    sequence: sequence as i32,
                    timestamp: 1_700_000_000_000,
                    key: None,
                    value: Some(Bytes::from(format!("{round}-{partition}"))),
                    headers: Default::default(),
                };
                let options = RecordEncodeOptions {
                    version: 2,
                    compression: Compression::None,
                };
                RecordBatchEncoder::encode(&mut batch, &[record], &options).expect("encode");
                let mut req = produce_request(TOPIC, partition);
                req.transactional_id = Some(txn_id());
                req.topic_data[0].partition_data[0].records = Some(batch.freeze());
                let r = cluster.broker(partition + 1).await.call(9, &req).await;
                let p = &r.responses[0].partition_responses[0];
                assert_eq!(
                    p.error_code, NONE,
                    "{round}: transactional produce to {partition}: {p:?}"
                );
            }
            let mut req = EndTxnRequest::default();
            req.transactional_id = txn_id();
            req.producer_id = ProducerId(pid);
            req.producer_epoch = epoch;
            req.committed = commit;
            let r = tc.call(3, &req).await;
            assert_eq!(r.error_code, NONE, "{round}: EndTxn");
        }
        for partition in 0..3 {
            let leader = partition + 1;
            let seen = eventually(&format!("partition {partition} stable on node {leader}"), || async {
                client::read_committed(&mut cluster.broker(leader).await, TOPIC, partition).await
            })
            .await;
            assert_eq!(seen, vec![format!("committed-{partition}")], "partition {partition}");
        }
        cluster.shutdown().await;
    })
    .await;
}
