//! The partitions this broker hosts, kept in step with the metadata image
//! (KRaft's "publisher"): created, reconfigured and deleted as records are
//! committed, and swept by the retention task.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::Partition;
use crate::config::LogDefaults;
use crate::log::config::dynamic_defaults;
use crate::log::{LogConfig, LogError, LogManager};
use crate::metadata::{ClusterImage, METADATA_DIR};

/// Kafka's `partition.metadata` file ties a directory to its topic id, so a
/// topic deleted and re-created under the same name never reuses old data.
const PARTITION_METADATA_FILE: &str = "partition.metadata";

pub type TopicPartition = (String, i32);

/// Hosted partitions by topic name, then index: a lookup on the produce and
/// fetch paths borrows the name instead of allocating a key.
type PartitionMap = HashMap<String, HashMap<i32, Arc<Partition>>>;

pub struct ReplicaManager {
    partitions: RwLock<PartitionMap>,
    logs: LogManager,
    defaults: LogDefaults,
    node_id: i32,
}

impl ReplicaManager {
    pub fn new(logs: LogManager, defaults: LogDefaults, node_id: i32) -> Self {
        ReplicaManager {
            partitions: RwLock::new(HashMap::new()),
            logs,
            defaults,
            node_id,
        }
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partition map lock is never poisoned")
            .get(topic)
            .and_then(|ps| ps.get(&partition))
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partition map lock is never poisoned")
            .values()
            .flat_map(|ps| ps.values().cloned())
            .collect()
    }

    pub fn log_dirs(&self) -> &[std::path::PathBuf] {
        self.logs.dirs()
    }

    /// Brings hosted partitions in line with `image`: opens logs for new
    /// partitions, applies config and leadership changes, deletes logs of
    /// removed topics. Called under the metadata writer lock, in commit order.
    pub fn reconcile(&self, image: &ClusterImage, now_ms: i64) -> Result<(), LogError> {
        let mut map = self.partitions.write().expect("partition map lock is never poisoned");
        // Removed topics (or re-created under a new id).
        let stale: Vec<TopicPartition> = map
            .iter()
            .flat_map(|(topic, ps)| ps.iter().map(move |(p, part)| (topic, p, part)))
            .filter(|(topic, p, part)| {
                image
                    .topics
                    .get(topic.as_str())
                    .is_none_or(|t| t.id != part.topic_id || !t.partitions.contains_key(p))
            })
            .map(|(topic, p, _)| (topic.clone(), *p))
            .collect();
        for key in stale {
            let removed = map.get_mut(&key.0).and_then(|ps| ps.remove(&key.1));
            if map.get(&key.0).is_some_and(|ps| ps.is_empty()) {
                map.remove(&key.0);
            }
            if let Some(part) = removed {
                let dir = part.dir();
                tracing::info!(topic = %key.0, partition = key.1, "deleting partition log");
                self.logs.delete_partition_dir(&dir)?;
            }
        }
        // Dynamic broker configs apply without a restart, as in Kafka: a
        // topic without its own value follows this broker's dynamic value,
        // then the cluster-wide dynamic default, then the static one.
        let broker_level = dynamic_defaults(&image.dynamic_broker_layers(self.node_id));
        for topic in image.topics.values() {
            let mut overrides = broker_level.clone();
            overrides.extend(image.topic_config(&topic.name));
            let config = LogConfig::new(&self.defaults, &overrides);
            for (&index, p) in &topic.partitions {
                if !p.replicas.contains(&self.node_id) {
                    continue;
                }
                let key = (topic.name.clone(), index);
                if let Some(existing) = map.get(&key.0).and_then(|ps| ps.get(&key.1)) {
                    existing.update(config.clone(), p.leader_epoch, p.isr.len());
                    continue;
                }
                let dir = self.logs.partition_dir(&topic.name, index);
                self.claim_dir(&dir, topic.id)?;
                let log = self.logs.open_log(&topic.name, index, config.clone(), now_ms)?;
                let part = Partition::new(topic.name.clone(), index, topic.id, log, p.leader_epoch, p.isr.len());
                map.entry(key.0).or_default().insert(key.1, Arc::new(part));
            }
        }
        Ok(())
    }

    /// Makes `dir` belong to `topic_id`, wiping data of an older topic of
    /// the same name found there.
    fn claim_dir(&self, dir: &std::path::Path, topic_id: Uuid) -> Result<(), LogError> {
        let file = dir.join(PARTITION_METADATA_FILE);
        let wanted = format!("version: 0\ntopic_id: {}\n", topic_id.simple());
        match std::fs::read_to_string(&file) {
            Ok(text) if text == wanted => return Ok(()),
            Ok(_) => {
                tracing::warn!(dir = %dir.display(), "partition directory belongs to an older topic, wiping it");
                self.logs.delete_partition_dir(dir)?;
            }
            Err(_) => {}
        }
        std::fs::create_dir_all(dir)?;
        std::fs::write(&file, wanted)?;
        Ok(())
    }

    /// Deletes partition directories that no topic in the image owns (left
    /// behind by a crash during a topic deletion).
    pub fn remove_strays(&self, image: &ClusterImage) {
        for (topic, partition, path) in self.logs.partition_dirs_on_disk() {
            if path.file_name().is_some_and(|n| n == METADATA_DIR) {
                continue;
            }
            let owned = image
                .topics
                .get(&topic)
                .is_some_and(|t| t.partitions.contains_key(&partition));
            if !owned {
                tracing::info!(dir = %path.display(), "removing partition directory of a deleted topic");
                if let Err(e) = self.logs.delete_partition_dir(&path) {
                    tracing::warn!(dir = %path.display(), error = %e, "could not remove stray partition directory");
                }
            }
        }
    }

    /// One retention pass over every partition.
    pub fn enforce_retention(&self, now_ms: i64) {
        for part in self.all() {
            if let Err(e) = part.enforce_retention(now_ms) {
                tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "retention failed");
            }
        }
    }

    /// Clean shutdown: close every log, then leave the clean marker.
    pub fn shutdown(&self) {
        let mut ok = true;
        for part in self.all() {
            if let Err(e) = part.close() {
                ok = false;
                tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "closing log failed");
            }
        }
        if ok {
            if let Err(e) = self.logs.mark_clean_shutdown() {
                tracing::warn!(error = %e, "could not write the clean shutdown marker");
            }
        }
    }
}
