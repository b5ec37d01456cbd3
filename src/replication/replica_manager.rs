//! The partitions this broker hosts, kept in step with the metadata image
//! (KRaft's "publisher"): created, reconfigured and deleted as records are
//! committed, and swept by the retention task.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::partition::Assignment;
use super::Partition;
use crate::config::LogDefaults;
use crate::log::{DirCheckpoint, LogConfig, LogError, LogManager};
use crate::metadata::image::{PartitionImage, TopicImage};
use crate::metadata::{ClusterImage, METADATA_DIR};
use crate::topic_configs::dynamic_defaults;

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

    /// Brings hosted partitions in line with `image` (Kafka's
    /// applyDelta): opens logs for new replicas, applies leadership, ISR and
    /// config changes (makeLeader / makeFollower), and deletes the logs of
    /// removed topics and of replicas moved elsewhere. Files are opened and
    /// deleted outside the partition-map lock, which is held only to swap
    /// entries. Runs off the runtime workers, in commit order.
    pub fn reconcile(&self, image: &ClusterImage, now_ms: i64) -> Result<(), LogError> {
        // Dynamic broker configs apply without a restart, as in Kafka: a
        // topic without its own value follows this broker's dynamic value,
        // then the cluster-wide dynamic default, then the static one.
        let broker_level = dynamic_defaults(&image.dynamic_broker_layers(self.node_id));
        let mut wanted: Vec<(&TopicImage, i32, Assignment, LogConfig)> = Vec::new();
        for topic in image.topics.values() {
            let mut overrides = broker_level.clone();
            overrides.extend(image.topic_config(&topic.name));
            let config = LogConfig::new(&self.defaults, &overrides);
            for (&index, p) in &topic.partitions {
                if p.replicas.contains(&self.node_id) {
                    wanted.push((topic, index, assignment(p), config.clone()));
                }
            }
        }
        // Existing replicas: apply in place. New ones: open below.
        let mut to_open = Vec::new();
        for (topic, index, a, config) in wanted {
            match self.get(&topic.name, index).filter(|p| p.topic_id == topic.id) {
                Some(existing) => {
                    existing.apply_assignment(Some(config), &a, now_ms);
                }
                None => to_open.push((topic, index, a, config)),
            }
        }
        // Removed topics (or re-created under a new id), and replicas this
        // broker no longer holds.
        let stale: Vec<Arc<Partition>> = self
            .all()
            .into_iter()
            .filter(|part| {
                image.topics.get(part.topic.as_str()).is_none_or(|t| {
                    t.id != part.topic_id
                        || t.partitions
                            .get(&part.index)
                            .is_none_or(|p| !p.replicas.contains(&self.node_id))
                })
            })
            .collect();
        if !stale.is_empty() {
            let mut map = self.partitions.write().expect("partition map lock is never poisoned");
            for part in &stale {
                let removed = map.get_mut(&part.topic).and_then(|ps| ps.remove(&part.index));
                if map.get(&part.topic).is_some_and(|ps| ps.is_empty()) {
                    map.remove(&part.topic);
                }
                debug_assert!(removed.is_none_or(|r| Arc::ptr_eq(&r, part)));
            }
        }
        for part in stale {
            let dir = part.dir();
            tracing::info!(topic = %part.topic, partition = part.index, "deleting partition log");
            self.logs.delete_partition_dir(&dir)?;
        }
        for (topic, index, a, config) in to_open {
            let dir = self.logs.partition_dir(&topic.name, index);
            self.claim_dir(&dir, topic.id)?;
            let log = self.logs.open_log(&topic.name, index, config, now_ms)?;
            let hw = self.logs.checkpointed(DirCheckpoint::HighWatermark, &dir);
            let part = Partition::new(topic.name.clone(), index, topic.id, self.node_id, log, hw, &a);
            self.partitions
                .write()
                .expect("partition map lock is never poisoned")
                .entry(topic.name.clone())
                .or_default()
                .insert(index, Arc::new(part));
        }
        Ok(())
    }

    /// The partitions this broker follows, by leader.
    pub fn followed(&self) -> BTreeMap<i32, Vec<Arc<Partition>>> {
        let mut out: BTreeMap<i32, Vec<Arc<Partition>>> = BTreeMap::new();
        for part in self.all() {
            if let Some(s) = part.follower_fetch_state() {
                out.entry(s.leader).or_default().push(part);
            }
        }
        for parts in out.values_mut() {
            parts.sort_by(|a, b| (&a.topic, a.index).cmp(&(&b.topic, b.index)));
        }
        out
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

    /// Flushes rolled segments and writes the recovery-point and
    /// log-start-offset checkpoints of every hosted partition (Kafka runs
    /// both every 60 s: `log.flush.offset.checkpoint.interval.ms`,
    /// `log.flush.start.offset.checkpoint.interval.ms`). Blocking I/O.
    pub fn flush_and_checkpoint(&self) {
        let mut offsets = Vec::new();
        for part in self.all() {
            if let Err(e) = part.flush_rolled() {
                tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "flushing rolled segments failed");
            }
            offsets.push(part.checkpoint());
        }
        if let Err(e) = self.logs.checkpoint_logs(&offsets) {
            tracing::warn!(error = %e, "writing the log checkpoints failed");
        }
    }

    pub fn logs(&self) -> &LogManager {
        &self.logs
    }

    /// Clean shutdown: close every log, write the offset checkpoints, then
    /// leave the clean marker.
    pub fn shutdown(&self) {
        let mut ok = true;
        let mut offsets = Vec::new();
        for part in self.all() {
            match part.close() {
                Ok(o) => offsets.push(o),
                Err(e) => {
                    ok = false;
                    tracing::warn!(topic = %part.topic, partition = part.index, error = %e, "closing log failed");
                }
            }
        }
        if ok {
            if let Err(e) = self.logs.shutdown(&offsets) {
                tracing::warn!(error = %e, "could not write the checkpoints and the clean shutdown marker");
            }
        }
    }
}

fn assignment(p: &PartitionImage) -> Assignment {
    Assignment {
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
    }
}
