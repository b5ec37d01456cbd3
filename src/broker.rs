//! The state every handler works against: configuration, the metadata
//! image, the hosted partitions and the coordinators. Built once at start.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::coordinator::group::coordinator::CoordinatorConfig;
use crate::coordinator::group::state::GroupConfig;
use crate::coordinator::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::coordinator::producer_ids::{ProducerIdManager, BLOCK_SIZE};
use crate::log::{LogError, LogManager};
use crate::metadata::controller::ApiError;
use crate::metadata::{ClusterImage, MetadataError, MetadataRecord, MetadataStore};
use crate::replication::fetch_session::{FetchSessionCache, MIN_EVICTION_MS};
use crate::replication::ReplicaManager;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("{0}")]
    MetaProperties(String),
}

pub struct Broker {
    pub config: Config,
    pub cluster_id: String,
    pub metadata: MetadataStore,
    pub replicas: Arc<ReplicaManager>,
    pub producer_ids: ProducerIdManager,
    pub groups: Arc<GroupCoordinator>,
    /// KIP-227 fetch sessions; locked briefly by the Fetch handler, never
    /// across an `.await`.
    pub(crate) fetch_sessions: std::sync::Mutex<FetchSessionCache>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Broker {
    /// Opens (or formats) the data directories, replays metadata and
    /// recovers every hosted partition log.
    pub fn open(config: Config) -> Result<Arc<Self>, StartError> {
        let logs = LogManager::open(&config.log_dirs)?;
        let cluster_id = read_or_format(&config.log_dirs[0], &config)?;
        let metadata = MetadataStore::open(&config.log_dirs[0])?;
        let replicas = Arc::new(ReplicaManager::new(logs, config.log.clone(), config.node_id));
        let image = metadata.image();
        replicas.remove_strays(&image);
        replicas.reconcile(&image, now_ms())?;
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
        // The coordinator answers only after its partitions are replayed.
        groups.load();
        let fetch_sessions = std::sync::Mutex::new(FetchSessionCache::new(
            config.max_incremental_fetch_session_cache_slots,
            MIN_EVICTION_MS,
        ));
        let broker = Arc::new(Broker {
            config,
            cluster_id,
            metadata,
            replicas,
            producer_ids: ProducerIdManager::default(),
            groups,
            fetch_sessions,
        });
        let min_isr = broker.config.log.min_insync_replicas;
        broker
            .write_metadata(|image| Ok(crate::metadata::controller::activation_records(image, min_isr)))
            .map_err(|e| StartError::MetaProperties(format!("cannot write the activation records: {}", e.message)))?;
        Ok(broker)
    }

    /// Live broker ids (one node until the cluster issue).
    pub fn brokers(&self) -> Vec<i32> {
        vec![self.config.node_id]
    }

    /// Commits metadata decided against the current image and applies it to
    /// the hosted partitions. Storage failures become KAFKA_STORAGE_ERROR.
    pub fn write_metadata(
        &self,
        decide: impl FnOnce(&ClusterImage) -> Result<Vec<MetadataRecord>, ApiError>,
    ) -> Result<Arc<ClusterImage>, ApiError> {
        let result = self.metadata.write(decide, |image, _| {
            if let Err(e) = self.replicas.reconcile(image, now_ms()) {
                tracing::error!(error = %e, "applying metadata to partition logs failed");
            }
        });
        match result {
            Ok(inner) => inner,
            Err(e) => {
                tracing::error!(error = %e, "metadata log write failed");
                Err(ApiError::new(
                    kafka_protocol::error::ResponseError::KafkaStorageError,
                    e.to_string(),
                ))
            }
        }
    }

    /// Next producer id, allocating a block through the metadata log.
    pub fn next_producer_id(&self) -> Result<i64, ApiError> {
        self.producer_ids.next_id(|| {
            let mut start = 0;
            self.write_metadata(|image| {
                start = image.next_producer_id;
                Ok(vec![MetadataRecord::ProducerIds {
                    broker_id: self.config.node_id,
                    next_producer_id: start + BLOCK_SIZE,
                }])
            })?;
            Ok(start)
        })
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does when a
    /// client first looks for a group coordinator: compacted, with
    /// `offsets.topic.num.partitions` partitions.
    pub fn ensure_offsets_topic(&self) -> Result<(), ApiError> {
        if self.metadata.image().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let brokers = self.brokers();
        let mut configs = std::collections::BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("compression.type".to_string(), "producer".to_string());
        configs.insert(
            "segment.bytes".to_string(),
            self.config.groups.offsets_topic_segment_bytes.to_string(),
        );
        let topic = crate::metadata::controller::NewTopic {
            name: OFFSETS_TOPIC,
            num_partitions: self.config.groups.offsets_topic_num_partitions,
            replication_factor: 1,
            assignments: None,
            configs,
        };
        self.write_metadata(|image| {
            if image.topics.contains_key(OFFSETS_TOPIC) {
                return Ok(Vec::new());
            }
            crate::metadata::controller::create_topic(image, &topic, &brokers)
        })?;
        tracing::info!(partitions = topic.num_partitions, "created {OFFSETS_TOPIC}");
        Ok(())
    }

    pub fn shutdown(&self) {
        self.replicas.shutdown();
    }
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
    let id = config.cluster_id.clone().unwrap_or_else(random_cluster_id);
    let text = format!("#\n#fjord\nnode.id={}\nversion=1\ncluster.id={id}\n", config.node_id);
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(&tmp, text).map_err(LogError::from)?;
    std::fs::rename(&tmp, &path).map_err(LogError::from)?;
    Ok(id)
}

/// 22 characters of URL-safe base64 over a random UUID, like Kafka's `Uuid.randomUuid()`.
fn random_cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = uuid::Uuid::new_v4().as_u128();
    (0..22)
        .map(|_| {
            let c = ALPHABET[(bits & 0x3f) as usize] as char;
            bits >>= 6;
            c
        })
        .collect()
}
