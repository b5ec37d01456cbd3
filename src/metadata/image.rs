//! The in-memory cluster image: plain data built by applying metadata
//! records in order. Handlers read it; only `MetadataStore` changes it.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::records::{MetadataRecord, RESOURCE_BROKER, RESOURCE_TOPIC};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

#[derive(Debug, Clone, Default)]
pub struct ClusterImage {
    pub topics: BTreeMap<String, TopicImage>,
    pub topic_names: HashMap<Uuid, String>,
    /// (resource type, resource name) -> config overrides.
    pub configs: BTreeMap<(i8, String), BTreeMap<String, String>>,
    pub next_producer_id: i64,
}

impl ClusterImage {
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::Topic { name, topic_id } => {
                self.topic_names.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
            } => {
                if let Some(topic) = self.topic_names.get(topic_id).and_then(|n| self.topics.get_mut(n)) {
                    topic.partitions.insert(
                        *partition,
                        PartitionImage {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            leader_epoch: *leader_epoch,
                        },
                    );
                }
            }
            MetadataRecord::Config {
                resource_type,
                resource_name,
                name,
                value,
            } => {
                let key = (*resource_type, resource_name.clone());
                match value {
                    Some(v) => {
                        self.configs.entry(key).or_default().insert(name.clone(), v.clone());
                    }
                    None => {
                        if let Some(m) = self.configs.get_mut(&key) {
                            m.remove(name);
                            if m.is_empty() {
                                self.configs.remove(&key);
                            }
                        }
                    }
                }
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = self.topic_names.remove(topic_id) {
                    self.topics.remove(&name);
                    self.configs.remove(&(RESOURCE_TOPIC, name));
                }
            }
            MetadataRecord::ProducerIds { next_producer_id, .. } => {
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
        }
    }

    pub fn topic_config(&self, topic: &str) -> BTreeMap<String, String> {
        self.configs
            .get(&(RESOURCE_TOPIC, topic.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// The configs stored for one resource: a topic's overrides, or a
    /// broker's dynamic configs (the cluster-wide defaults: empty name).
    pub fn resource_config(&self, resource_type: i8, name: &str) -> Option<&BTreeMap<String, String>> {
        self.configs.get(&(resource_type, name.to_string()))
    }

    /// Dynamic configs of one broker (by node id), or the cluster-wide
    /// defaults (empty name).
    pub fn broker_config(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.resource_config(RESOURCE_BROKER, name)
    }

    /// The dynamic broker configs broker `node_id` follows, most specific
    /// first: its own, then the cluster-wide defaults.
    pub fn dynamic_broker_layers(&self, node_id: i32) -> [Option<&BTreeMap<String, String>>; 2] {
        [self.broker_config(&node_id.to_string()), self.broker_config("")]
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topic_names.get(id).and_then(|n| self.topics.get(n))
    }
}
