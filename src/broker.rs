//! The state every handler works against: configuration, the metadata
//! image, the hosted partitions and the coordinators. Built once at start.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{
    AllocateProducerIdsRequest, AllocateProducerIdsResponse, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::channel::ControllerChannel;
use crate::metadata::controller::task::{ControllerSettings, QuorumController};
use crate::metadata::local::LocalImage;
use crate::metadata::raft::{MetadataRaft, RaftError, RaftSettings};
use crate::metadata::{features, METADATA_DIR};

use crate::config::Config;
use crate::coordinator::group::coordinator::CoordinatorConfig;
use crate::coordinator::group::state::GroupConfig;
use crate::coordinator::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::coordinator::producer_ids::{ProducerIdManager, BLOCK_SIZE};
use crate::coordinator::transaction::coordinator::{TransactionCoordinator, TxnCoordinatorConfig};
use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;
use crate::error::ApiError;
use crate::log::{LogError, LogManager};
use crate::metadata::controller;
use crate::metadata::{ClusterImage, MetadataError, MetadataRecord};
use crate::replication::fetch_session::{FetchSessionCache, MIN_EVICTION_MS};
use crate::replication::fetcher::{FetcherManager, FetcherSettings};
use crate::replication::ReplicaManager;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Raft(#[from] RaftError),
    #[error("{0}")]
    MetaProperties(String),
}

pub struct Broker {
    pub config: Config,
    pub cluster_id: String,
    /// The metadata image as this node has applied it: handlers read it,
    /// and the hosted partitions and coordinators follow it.
    pub metadata: LocalImage,
    /// The replicated metadata log (an openraft voter or learner).
    pub raft: Arc<MetadataRaft>,
    /// The controller task, on a node with the controller role.
    controller: Option<QuorumController>,
    /// The channel to the active controller, when the quorum has addresses
    /// (`controller.quorum.voters`); the zero-configuration node has none
    /// and uses its own controller directly.
    channel: Option<ControllerChannel>,
    pub replicas: Arc<ReplicaManager>,
    pub producer_ids: ProducerIdManager,
    pub groups: Arc<GroupCoordinator>,
    pub transactions: Arc<TransactionCoordinator>,
    /// KIP-227 fetch sessions; locked briefly by the Fetch handler, never
    /// across an `.await`.
    pub(crate) fetch_sessions: std::sync::Mutex<FetchSessionCache>,
    /// Whether client requests are served: false until this broker has
    /// registered and been unfenced (raft RPCs are served before), and
    /// again from the moment shutdown begins.
    serving: watch::Sender<bool>,
    /// This broker's current registration epoch (-1 before it registers).
    pub(crate) registration_epoch: Arc<AtomicI64>,
    /// The replica fetchers of the partitions this broker follows.
    pub(crate) fetchers: FetcherManager,
    /// What the request path counts, for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Connections to other brokers for transaction markers and
    /// verifications.
    pub(crate) peers: crate::cluster::client::NodeClients,
}

/// A random start for replica placement, as Kafka's placer draws one.
pub fn placement_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

pub use crate::clock::now_ms;

/// Heartbeat cadence of the metadata quorum's leader.
const RAFT_HEARTBEAT_MS: u64 = 150;
/// Records between metadata snapshots (Kafka bounds its metadata log by
/// bytes, `metadata.log.max.record.bytes.between.snapshots`; fjord counts
/// records).
const SNAPSHOT_EVERY_RECORDS: u64 = 20_000;
/// How long a node waits to see a change it asked the controller for in its
/// own image before answering anyway.
const APPLY_WAIT: Duration = Duration::from_secs(10);

impl Broker {
    /// Opens (or formats) the data directories, starts the metadata quorum
    /// and replays it, recovers every hosted partition log, and starts the
    /// tasks that keep them in step with the metadata (returned, to be
    /// awaited at shutdown). Serving clients waits for `register`.
    pub async fn start(
        config: Config,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Self>, Vec<JoinHandle<()>>), StartError> {
        let c = config.clone();
        let (logs, cluster_id) = tokio::task::spawn_blocking(move || {
            let logs = LogManager::open(&c.log_dirs)?;
            let cluster_id = read_or_format(&c.log_dirs[0], &c)?;
            Ok::<_, StartError>((logs, cluster_id))
        })
        .await
        .map_err(|e| StartError::MetaProperties(e.to_string()))??;
        let q = &config.quorum;
        let voters = if q.voters.is_empty() {
            // A quorum of one needs no address: nobody else calls it.
            [(config.node_id, "127.0.0.1:0".to_string())].into()
        } else {
            q.voters.clone()
        };
        let raft = MetadataRaft::start(RaftSettings {
            node_id: config.node_id,
            dir: config.log_dirs[0].join(METADATA_DIR),
            voters,
            is_voter: q.roles.controller,
            election_timeout_ms: q.election_timeout_ms,
            heartbeat_interval_ms: RAFT_HEARTBEAT_MS.min(q.election_timeout_ms / 3).max(10),
            snapshot_every_records: SNAPSHOT_EVERY_RECORDS,
        })
        .await?;
        let published = raft.subscribe().borrow().clone();
        let replicas = Arc::new(ReplicaManager::new(logs, config.log.clone(), config.node_id));
        let g = &config.groups;
        let groups = Arc::new(GroupCoordinator::new(
            CoordinatorConfig {
                group: GroupConfig {
                    min_session_timeout_ms: g.min_session_timeout_ms,
                    max_session_timeout_ms: g.max_session_timeout_ms,
                    initial_rebalance_delay_ms: g.initial_rebalance_delay_ms,
                    max_size: g.max_size.max(0) as usize,
                },
                num_partitions: g.offsets_topic_num_partitions,
                offsets_retention_ms: g.offsets_retention_ms,
                metadata_max_bytes: g.offset_metadata_max_bytes.max(0) as usize,
            },
            replicas.clone(),
        ));
        let t = &config.transactions;
        let transactions = Arc::new(TransactionCoordinator::new(
            TxnCoordinatorConfig {
                num_partitions: t.state_log_num_partitions,
                max_timeout_ms: t.max_timeout_ms,
                id_expiration_ms: t.id_expiration_ms,
                abort_timed_out_interval: Duration::from_millis(t.abort_timed_out_interval_ms),
                remove_expired_interval: Duration::from_millis(t.remove_expired_interval_ms),
                write_timeout: TXN_STATE_WRITE_TIMEOUT,
            },
            replicas.clone(),
        ));
        let mut tasks = Vec::new();
        let controller = q.roles.controller.then(|| {
            let (controller, task) = QuorumController::start(
                raft.clone(),
                ControllerSettings {
                    node_id: config.node_id,
                    session_timeout_ms: q.broker_session_timeout_ms as i64,
                    static_min_insync_replicas: config.log.min_insync_replicas,
                    features: features::finalized_levels(),
                    leader_balance_interval_ms: q
                        .auto_leader_rebalance
                        .then_some(q.leader_imbalance_check_interval_ms as i64),
                },
                shutdown.clone(),
            );
            tasks.push(task);
            controller
        });
        let channel = (!q.voters.is_empty()).then(|| {
            let raft = raft.clone();
            ControllerChannel::new(&q.voters, config.node_id, Arc::new(move || raft.leader()))
        });
        let r = &config.replication;
        let fetchers = FetcherManager::new(
            FetcherSettings {
                node_id: config.node_id,
                max_wait_ms: r.fetch_wait_max_ms,
                min_bytes: r.fetch_min_bytes,
                max_bytes: r.fetch_max_bytes,
                response_max_bytes: r.fetch_response_max_bytes,
                backoff_ms: r.fetch_backoff_ms,
                socket_timeout_ms: r.socket_timeout_ms,
            },
            shutdown.clone(),
        );
        let fetch_sessions = std::sync::Mutex::new(FetchSessionCache::new(
            config.max_incremental_fetch_session_cache_slots,
            MIN_EVICTION_MS,
        ));
        let peers = crate::cluster::client::NodeClients::new(format!("fjord-{}-txn", config.node_id));
        let broker = Arc::new(Broker {
            config,
            cluster_id,
            metadata: LocalImage::new(published.image.clone(), published.applied_index),
            raft,
            controller,
            channel,
            replicas,
            producer_ids: ProducerIdManager::default(),
            groups,
            transactions,
            fetch_sessions,
            serving: watch::Sender::new(false),
            registration_epoch: Arc::new(AtomicI64::new(-1)),
            fetchers,
            metrics: Arc::default(),
            peers,
        });
        broker
            .transactions
            .start(Arc::new(crate::txn_markers::BrokerTxnServices::new(Arc::downgrade(
                &broker,
            ))));
        // Recover the hosted partitions and the coordinators before serving.
        {
            let b = broker.clone();
            let image = published.image.clone();
            let i = image.clone();
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                b.replicas.remove_strays(&i);
                let applied = b.apply_image(&i);
                b.replicas.logs().log_load_summary(started.elapsed());
                applied
            })
            .await
            .map_err(|e| StartError::MetaProperties(e.to_string()))??;
            broker.update_fetchers(&image);
        }
        tasks.push(tokio::spawn(publish_loop(broker.clone(), shutdown)));
        Ok((broker, tasks))
    }

    /// Brings the hosted partitions and the group coordinator in line with
    /// `image`. Opens and deletes files: runs off the runtime workers.
    fn apply_image(&self, image: &ClusterImage) -> Result<(), LogError> {
        self.replicas.reconcile(image, now_ms())?;
        self.groups
            .set_leadership(&led_offsets_partitions(image, self.config.node_id));
        self.transactions
            .set_transaction_version(image.features.get(features::TRANSACTION_VERSION).copied().unwrap_or(0));
        self.transactions.set_leadership(&led_partitions_with_epochs(
            image,
            TRANSACTION_STATE_TOPIC,
            self.config.node_id,
        ));
        Ok(())
    }

    /// Points the replica fetchers at the leaders of the partitions this
    /// broker follows in `image`, on their inter-broker listener.
    fn update_fetchers(&self, image: &ClusterImage) {
        let listener = &self.config.quorum.inter_broker_listener_name;
        let mut following = BTreeMap::new();
        for (leader, partitions) in self.replicas.followed() {
            if let Some(addr) = image.inter_broker_address(leader, listener) {
                following.insert(leader, (addr, partitions));
            }
        }
        self.fetchers.assign(following);
    }

    /// This broker's registration epoch (-1 before it has registered).
    pub fn registration_epoch(&self) -> i64 {
        self.registration_epoch.load(Ordering::Relaxed)
    }

    /// Whether client requests are served yet.
    pub fn is_serving(&self) -> bool {
        *self.serving.borrow()
    }

    /// Resolves once client requests are served.
    pub async fn serving(&self) {
        let mut rx = self.serving.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Opens the door to clients (start-up is complete).
    pub fn start_serving(&self) {
        self.serving.send_replace(true);
    }

    /// Marks the broker as no longer serving: shutdown has begun, and
    /// `/health` says so while in-flight requests finish.
    pub fn stop_serving(&self) {
        self.serving.send_replace(false);
    }

    /// Whether this node is the active controller (the metadata quorum's
    /// leader), which decides metadata changes itself.
    pub fn is_active_controller(&self) -> bool {
        self.controller.is_some() && self.raft.leader() == Some(self.config.node_id)
    }

    /// The active controller's node id, when known.
    pub fn active_controller(&self) -> Option<i32> {
        self.raft.leader()
    }

    /// The controller task of this node, if it has the controller role.
    pub fn controller(&self) -> Option<&QuorumController> {
        self.controller.as_ref()
    }

    /// The channel to the active controller, on a node that may need to
    /// reach one.
    pub fn controller_channel(&self) -> Option<&ControllerChannel> {
        self.channel.as_ref()
    }

    /// The partition `topic`/`index` if this node leads it and hosts its
    /// log: what produce and consumer fetches need. A partition led
    /// elsewhere (or by no one, or not yet opened here) is
    /// NOT_LEADER_OR_FOLLOWER, which sends the client back to Metadata.
    pub fn leader_partition(
        &self,
        image: &ClusterImage,
        topic: &str,
        index: i32,
    ) -> Result<Arc<crate::replication::Partition>, ResponseError> {
        let p = image
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(&index))
            .ok_or(ResponseError::UnknownTopicOrPartition)?;
        if p.leader != self.config.node_id {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        self.replicas
            .get(topic, index)
            .ok_or(ResponseError::NotLeaderOrFollower)
    }

    /// Commits a metadata change decided by this node's active controller
    /// against the committed image, and returns once this node has applied
    /// it (so the caller's next request sees it). On a node that is not the
    /// active controller: NOT_CONTROLLER (requests that change metadata are
    /// forwarded before they get here).
    pub async fn write_metadata(
        &self,
        decide: impl FnOnce(&ClusterImage) -> Result<Vec<MetadataRecord>, ApiError> + Send + 'static,
    ) -> Result<Arc<ClusterImage>, ApiError> {
        let controller = self.controller.as_ref().ok_or_else(not_controller)?;
        let (image, index) = controller.write(Box::new(decide)).await?;
        self.metadata.wait_for_index(index, APPLY_WAIT).await;
        Ok(image)
    }

    /// `write_metadata` for a decision that also has an answer of its own
    /// (the first producer id of a block, per-partition outcomes): `decide`
    /// returns the records and the answer, and the answer comes back once
    /// the records are committed and applied.
    pub async fn decide_metadata<T: Send + 'static>(
        &self,
        decide: impl FnOnce(&ClusterImage) -> Result<(Vec<MetadataRecord>, T), ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.write_metadata(move |image| {
            let (records, answer) = decide(image)?;
            let _ = tx.send(answer);
            Ok(records)
        })
        .await?;
        rx.await.map_err(|_| not_controller())
    }

    /// Creates a topic through the active controller, wherever it is (Kafka's
    /// AutoTopicCreationManager): decided here when this node is the active
    /// controller of a quorum without addresses, otherwise sent as a
    /// CreateTopics request over the controller channel. Returns once this
    /// node's image has the topic (or a short wait has passed).
    pub async fn create_topic_via_controller(&self, topic: OwnedNewTopic) -> Result<(), ApiError> {
        let name = topic.name.clone();
        match &self.channel {
            None => {
                self.write_metadata(move |image| {
                    if image.topics.contains_key(&topic.name) {
                        return Ok(Vec::new());
                    }
                    controller::create_topic(image, &topic.borrowed(), placement_seed())
                })
                .await?;
            }
            Some(channel) => {
                let mut req = CreateTopicsRequest::default();
                let mut t = CreatableTopic::default();
                t.name = TopicName(StrBytes::from_string(topic.name.clone()));
                t.num_partitions = topic.num_partitions;
                t.replication_factor = topic.replication_factor;
                for (k, v) in &topic.configs {
                    let mut c = CreatableTopicConfig::default();
                    c.name = StrBytes::from_string(k.clone());
                    c.value = Some(StrBytes::from_string(v.clone()));
                    t.configs.push(c);
                }
                req.topics.push(t);
                req.timeout_ms = 30_000;
                let deadline = tokio::time::Instant::now() + CONTROLLER_CALL_TIMEOUT;
                let not_controller = |r: &CreateTopicsResponse| {
                    r.topics
                        .iter()
                        .any(|t| t.error_code == ResponseError::NotController.code())
                };
                let resp = channel
                    .call(&req, CREATE_TOPICS_VERSION, not_controller, deadline)
                    .await
                    .map_err(|e| ApiError::new(ResponseError::RequestTimedOut, e.to_string()))?;
                if let Some(t) = resp.topics.first() {
                    if t.error_code != 0 && t.error_code != ResponseError::TopicAlreadyExists.code() {
                        let code =
                            ResponseError::try_from_code(t.error_code).unwrap_or(ResponseError::UnknownServerError);
                        return Err(ApiError::new(
                            code,
                            t.error_message.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                        ));
                    }
                }
                self.metadata
                    .wait_until(|image| image.topics.contains_key(&name), APPLY_WAIT)
                    .await;
            }
        }
        Ok(())
    }

    /// Next producer id, from blocks the active controller allocates
    /// (AllocateProducerIds, KIP-730).
    pub async fn next_producer_id(&self) -> Result<i64, ApiError> {
        self.producer_ids.next_id(|| self.allocate_producer_ids()).await
    }

    async fn allocate_producer_ids(&self) -> Result<i64, ApiError> {
        match &self.channel {
            None => controller_allocate_producer_ids(self, self.config.node_id).await,
            Some(channel) => {
                let mut req = AllocateProducerIdsRequest::default();
                req.broker_id = BrokerId(self.config.node_id);
                req.broker_epoch = -1;
                let deadline = tokio::time::Instant::now() + CONTROLLER_CALL_TIMEOUT;
                let resp = channel
                    .call(
                        &req,
                        0,
                        |r: &AllocateProducerIdsResponse| r.error_code == ResponseError::NotController.code(),
                        deadline,
                    )
                    .await
                    .map_err(|e| ApiError::new(ResponseError::RequestTimedOut, e.to_string()))?;
                if resp.error_code != 0 {
                    let code =
                        ResponseError::try_from_code(resp.error_code).unwrap_or(ResponseError::UnknownServerError);
                    return Err(ApiError::new(code, "the controller refused to allocate producer ids"));
                }
                Ok(resp.producer_id_start.0)
            }
        }
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does when a
    /// client first looks for a group coordinator: compacted, with
    /// `offsets.topic.num.partitions` partitions.
    pub async fn ensure_offsets_topic(&self) -> Result<(), ApiError> {
        if self.metadata.image().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let mut configs = std::collections::BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("compression.type".to_string(), "producer".to_string());
        configs.insert(
            "segment.bytes".to_string(),
            self.config.groups.offsets_topic_segment_bytes.to_string(),
        );
        // Kafka's KRaft brokers create it with `offsets.topic.replication.factor`
        // replicas; fjord caps that at the live brokers so that a small
        // cluster (and the single node) has a coordinator at all.
        let live = self.metadata.image().live_brokers().len().max(1) as i16;
        let topic = OwnedNewTopic {
            name: OFFSETS_TOPIC.to_string(),
            num_partitions: self.config.groups.offsets_topic_num_partitions,
            replication_factor: self.config.replication.offsets_topic_replication_factor.min(live),
            assignments: None,
            configs,
        };
        self.create_topic_via_controller(topic).await?;
        tracing::info!("created {OFFSETS_TOPIC}");
        Ok(())
    }

    /// Creates `__transaction_state` on first use, as Kafka does when a
    /// client first looks for a transaction coordinator: compacted, with
    /// `transaction.state.log.num.partitions` partitions and its
    /// replication factor and min ISR (both capped at the live brokers).
    pub async fn ensure_transaction_topic(&self) -> Result<(), ApiError> {
        if self.metadata.image().topics.contains_key(TRANSACTION_STATE_TOPIC) {
            return Ok(());
        }
        let t = &self.config.transactions;
        let live = self.metadata.image().live_brokers().len().max(1) as i16;
        let replication_factor = t.state_log_replication_factor.min(live);
        let mut configs = std::collections::BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("compression.type".to_string(), "uncompressed".to_string());
        configs.insert("segment.bytes".to_string(), t.state_log_segment_bytes.to_string());
        configs.insert(
            "min.insync.replicas".to_string(),
            t.state_log_min_isr.min(i32::from(replication_factor)).to_string(),
        );
        let topic = OwnedNewTopic {
            name: TRANSACTION_STATE_TOPIC.to_string(),
            num_partitions: t.state_log_num_partitions,
            replication_factor,
            assignments: None,
            configs,
        };
        self.create_topic_via_controller(topic).await?;
        tracing::info!("created {TRANSACTION_STATE_TOPIC}");
        Ok(())
    }

    pub fn shutdown(&self) {
        self.replicas.shutdown();
    }
}

/// How long a write to `__transaction_state` waits for its replicas
/// (Kafka's `request.timeout.ms` default).
const TXN_STATE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an internal call waits for an active controller.
const CONTROLLER_CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CREATE_TOPICS_VERSION: i16 = 7;

/// A topic this node asks the controller to create (auto-creation,
/// `__consumer_offsets`).
#[derive(Debug, Clone)]
pub struct OwnedNewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// Explicit replica assignment (CreateTopics on the controller only).
    pub assignments: Option<Vec<(i32, Vec<i32>)>>,
    pub configs: std::collections::BTreeMap<String, String>,
}

impl OwnedNewTopic {
    pub fn borrowed(&self) -> controller::NewTopic<'_> {
        controller::NewTopic {
            name: &self.name,
            num_partitions: self.num_partitions,
            replication_factor: self.replication_factor,
            assignments: self.assignments.clone(),
            configs: self.configs.clone(),
        }
    }
}

/// The active controller's side of AllocateProducerIds: commits the next
/// block and returns its first id.
pub async fn controller_allocate_producer_ids(broker: &Broker, broker_id: i32) -> Result<i64, ApiError> {
    broker
        .decide_metadata(move |image| {
            let first = image.next_producer_id;
            let record = MetadataRecord::ProducerIds {
                broker_id,
                next_producer_id: first + BLOCK_SIZE,
            };
            Ok((vec![record], first))
        })
        .await
}

fn not_controller() -> ApiError {
    crate::metadata::controller::task::not_controller()
}

/// Follows the metadata quorum: every newly applied image is applied to the
/// hosted partitions and the group coordinator, then published to handlers.
async fn publish_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut rx = broker.raft.subscribe();
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => break,
        }
        let published = rx.borrow_and_update().clone();
        let b = broker.clone();
        let image = published.image.clone();
        match tokio::task::spawn_blocking(move || b.apply_image(&image)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "applying metadata to partition logs failed"),
            Err(e) => tracing::error!(error = %e, "applying metadata panicked"),
        }
        broker.update_fetchers(&published.image);
        broker.metadata.publish(published.image, published.applied_index);
    }
}

/// The partitions of `topic` that `node_id` leads, with their leader epochs.
pub(crate) fn led_partitions_with_epochs(
    image: &ClusterImage,
    topic: &str,
    node_id: i32,
) -> std::collections::HashMap<i32, i32> {
    image.topics.get(topic).map_or_else(Default::default, |t| {
        t.partitions
            .iter()
            .filter(|(_, p)| p.leader == node_id)
            .map(|(i, p)| (*i, p.leader_epoch))
            .collect()
    })
}

/// The `__consumer_offsets` partitions `node_id` leads: the groups it coordinates.
pub(crate) fn led_offsets_partitions(image: &ClusterImage, node_id: i32) -> std::collections::BTreeSet<i32> {
    image.topics.get(OFFSETS_TOPIC).map_or_else(Default::default, |t| {
        t.partitions
            .iter()
            .filter(|(_, p)| p.leader == node_id)
            .map(|(i, _)| *i)
            .collect()
    })
}

/// Kafka's `meta.properties`: ties a log dir to a cluster and node. Written
/// on first start (fjord formats itself; `kafka-storage format` is not needed).
fn read_or_format(dir: &Path, config: &Config) -> Result<String, StartError> {
    let path = dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let props = crate::config::parse_properties(&text);
        let id = props
            .get("cluster.id")
            .cloned()
            .ok_or_else(|| StartError::MetaProperties(format!("{} has no cluster.id", path.display())))?;
        if let Some(node) = props.get("node.id") {
            if node != &config.node_id.to_string() {
                return Err(StartError::MetaProperties(format!(
                    "{} belongs to node.id {node}, but this broker is node.id {}",
                    path.display(),
                    config.node_id
                )));
            }
        }
        return Ok(id);
    }
    let id = config
        .cluster_id
        .clone()
        .or_else(|| cluster_id_from_voters(config))
        .unwrap_or_else(|| encode_cluster_id(uuid::Uuid::new_v4().as_u128()));
    let text = format!("#\n#fjord\nnode.id={}\nversion=1\ncluster.id={id}\n", config.node_id);
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(&tmp, text).map_err(LogError::from)?;
    std::fs::rename(&tmp, &path).map_err(LogError::from)?;
    Ok(id)
}

/// The cluster id nodes of one quorum agree on without a format step:
/// derived from `controller.quorum.voters`, which every node of a cluster is
/// given alike (Kafka formats each node with `kafka-storage format -t`;
/// `cluster.id` / `CLUSTER_ID` still wins). `None` for a quorum of one,
/// which draws a random id as before.
fn cluster_id_from_voters(config: &Config) -> Option<String> {
    let voters = &config.quorum.voters;
    if voters.len() <= 1 && config.quorum.roles.controller {
        return None;
    }
    let text: String = voters.iter().map(|(id, addr)| format!("{id}@{addr},")).collect();
    let bits = (0..4u32).fold(0u128, |acc, i| {
        (acc << 32) | u128::from(crc32c::crc32c_append(i.wrapping_mul(0x9e37_79b9), text.as_bytes()))
    });
    Some(encode_cluster_id(bits))
}

/// 22 characters of URL-safe base64 over 128 bits, like Kafka's `Uuid.toString()`.
fn encode_cluster_id(mut bits: u128) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22)
        .map(|_| {
            let c = ALPHABET[(bits & 0x3f) as usize] as char;
            bits >>= 6;
            c
        })
        .collect()
}
