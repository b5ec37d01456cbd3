//! The in-memory cluster image: plain data built by applying metadata
//! records in order. Handlers read it; only `MetadataStore` changes it.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::records::{BrokerEndpoint, MetadataRecord, RESOURCE_BROKER, RESOURCE_TOPIC};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// A reassignment in progress (KIP-455): the target replicas are
    /// `replicas` without `removing_replicas`; both empty when none is.
    pub adding_replicas: Vec<i32>,
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// The record that sets partition `partition` of `topic_id` to this.
    pub fn record(&self, topic_id: Uuid, partition: i32) -> MetadataRecord {
        MetadataRecord::Partition {
            topic_id,
            partition,
            replicas: self.replicas.clone(),
            isr: self.isr.clone(),
            leader: self.leader,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            adding_replicas: self.adding_replicas.clone(),
            removing_replicas: self.removing_replicas.clone(),
        }
    }

    /// Whether a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The replicas a reassignment in progress moves to; the replicas
    /// when none is.
    pub fn target_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.removing_replicas.contains(r))
            .collect()
    }
}

/// A registered broker (KRaft's BrokerRegistration): one incarnation of a
/// node id, identified in heartbeats by its epoch. A fenced broker leads
/// nothing and is not offered to clients or to placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub id: i32,
    pub incarnation_id: Uuid,
    pub epoch: i64,
    pub listeners: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
}

/// A live broker as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    pub id: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterImage {
    pub topics: BTreeMap<String, TopicImage>,
    pub topic_names: HashMap<Uuid, String>,
    /// (resource type, resource name) -> config overrides.
    pub configs: BTreeMap<(i8, String), BTreeMap<String, String>>,
    pub next_producer_id: i64,
    pub brokers: BTreeMap<i32, BrokerRegistration>,
    /// Finalized feature levels (KIP-584), e.g. `metadata.version`.
    pub features: BTreeMap<String, i16>,
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
                partition_epoch,
                adding_replicas,
                removing_replicas,
            } => {
                if let Some(topic) = self.topic_names.get(topic_id).and_then(|n| self.topics.get_mut(n)) {
                    topic.partitions.insert(
                        *partition,
                        PartitionImage {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                            adding_replicas: adding_replicas.clone(),
                            removing_replicas: removing_replicas.clone(),
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
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                broker_epoch,
                listeners,
                rack,
                fenced,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        id: *broker_id,
                        incarnation_id: *incarnation_id,
                        epoch: *broker_epoch,
                        listeners: listeners.clone(),
                        rack: rack.clone(),
                        fenced: *fenced,
                    },
                );
            }
            // Kafka refuses to replay a change for another epoch; a record
            // for a registration that is gone changes nothing.
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
            } => {
                if let Some(b) = self.brokers.get_mut(broker_id).filter(|b| b.epoch == *broker_epoch) {
                    b.fenced = *fenced;
                }
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                if self.brokers.get(broker_id).is_some_and(|b| b.epoch == *broker_epoch) {
                    self.brokers.remove(broker_id);
                }
            }
            MetadataRecord::FeatureLevel { name, level } => {
                if *level == 0 {
                    self.features.remove(name);
                } else {
                    self.features.insert(name.clone(), *level);
                }
            }
        }
    }

    /// Registered, unfenced brokers, by id: the ones placement may use.
    pub fn live_brokers(&self) -> Vec<LiveBroker> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| LiveBroker {
                id: b.id,
                rack: b.rack.clone(),
            })
            .collect()
    }

    /// Where broker `id` listens on `listener_name` (clients are answered
    /// with the endpoint of the listener they connected through).
    pub fn broker_endpoint(&self, id: i32, listener_name: &str) -> Option<&BrokerEndpoint> {
        self.brokers
            .get(&id)?
            .listeners
            .iter()
            .find(|l| l.name == listener_name)
    }

    /// Where other brokers reach broker `id`: its listener named
    /// `listener` (`inter.broker.listener.name`), else its first one.
    pub fn inter_broker_address(&self, id: i32, listener: &str) -> Option<String> {
        let listeners = &self.brokers.get(&id)?.listeners;
        listeners
            .iter()
            .find(|l| l.name == listener)
            .or(listeners.first())
            .map(|l| format!("{}:{}", l.host, l.port))
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

    /// A topic as a request names it: by name, or (newer versions, with an
    /// empty name) by id.
    pub fn resolve(&self, name: &str, id: &Uuid) -> Option<&TopicImage> {
        if !name.is_empty() {
            self.topics.get(name)
        } else {
            self.topic_by_id(id)
        }
    }

    /// The records that rebuild this image from empty: a metadata snapshot.
    /// Every field of the image must be covered (the round-trip test below
    /// applies them to an empty image and compares).
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        for (name, &level) in &self.features {
            out.push(MetadataRecord::FeatureLevel {
                name: name.clone(),
                level,
            });
        }
        for b in self.brokers.values() {
            out.push(MetadataRecord::RegisterBroker {
                broker_id: b.id,
                incarnation_id: b.incarnation_id,
                broker_epoch: b.epoch,
                listeners: b.listeners.clone(),
                rack: b.rack.clone(),
                fenced: b.fenced,
            });
        }
        for topic in self.topics.values() {
            out.push(MetadataRecord::Topic {
                name: topic.name.clone(),
                topic_id: topic.id,
            });
            for (&partition, p) in &topic.partitions {
                out.push(p.record(topic.id, partition));
            }
        }
        for ((resource_type, resource_name), configs) in &self.configs {
            for (name, value) in configs {
                out.push(MetadataRecord::Config {
                    resource_type: *resource_type,
                    resource_name: resource_name.clone(),
                    name: name.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        if self.next_producer_id != 0 {
            out.push(MetadataRecord::ProducerIds {
                broker_id: -1,
                next_producer_id: self.next_producer_id,
            });
        }
        out
    }

    /// Builds an image by applying `records` to an empty one.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a MetadataRecord>) -> Self {
        let mut image = ClusterImage::default();
        for r in records {
            image.apply(r);
        }
        image
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(name: &str, port: i32) -> BrokerEndpoint {
        BrokerEndpoint {
            name: name.into(),
            host: "localhost".into(),
            port,
            security_protocol: 0,
        }
    }

    fn register(id: i32, epoch: i64, rack: Option<&str>, fenced: bool) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            broker_id: id,
            incarnation_id: Uuid::from_u128(id as u128),
            broker_epoch: epoch,
            listeners: vec![endpoint("PLAINTEXT", 9090 + id), endpoint("INTERNAL", 19090 + id)],
            rack: rack.map(str::to_string),
            fenced,
        }
    }

    /// Every kind of record, so that every image field is populated.
    fn sample() -> ClusterImage {
        let id = Uuid::from_u128(100);
        let gone = Uuid::from_u128(101);
        let records = [
            MetadataRecord::FeatureLevel {
                name: "metadata.version".into(),
                level: 27,
            },
            MetadataRecord::FeatureLevel {
                name: "kraft.version".into(),
                level: 1,
            },
            register(1, 10, Some("r1"), false),
            register(2, 11, None, true),
            register(3, 12, Some("r2"), true),
            MetadataRecord::BrokerRegistrationChange {
                broker_id: 3,
                broker_epoch: 12,
                fenced: false,
            },
            register(4, 13, None, false),
            MetadataRecord::UnregisterBroker {
                broker_id: 4,
                broker_epoch: 13,
            },
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
            },
            MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1, 2],
                isr: vec![2],
                leader: 2,
                leader_epoch: 3,
                partition_epoch: 5,
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            },
            MetadataRecord::Topic {
                name: "gone".into(),
                topic_id: gone,
            },
            MetadataRecord::RemoveTopic { topic_id: gone },
            MetadataRecord::Config {
                resource_type: RESOURCE_TOPIC,
                resource_name: "t".into(),
                name: "retention.ms".into(),
                value: Some("1000".into()),
            },
            MetadataRecord::Config {
                resource_type: RESOURCE_BROKER,
                resource_name: String::new(),
                name: "min.insync.replicas".into(),
                value: Some("1".into()),
            },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                next_producer_id: 5000,
            },
        ];
        ClusterImage::from_records(&records)
    }

    #[test]
    fn snapshot_records_rebuild_the_same_image() {
        let image = sample();
        assert_eq!(ClusterImage::from_records(&image.to_records()), image);
        assert_eq!(
            ClusterImage::from_records(&ClusterImage::default().to_records()),
            ClusterImage::default()
        );
        // The snapshot covers every field: none of them is left empty.
        assert!(!image.features.is_empty() && !image.brokers.is_empty());
        assert!(!image.topics.is_empty() && !image.configs.is_empty() && image.next_producer_id != 0);
    }

    #[test]
    fn broker_records_apply() {
        let image = sample();
        assert_eq!(image.features["metadata.version"], 27);
        assert_eq!(image.brokers.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(!image.brokers[&3].fenced, "registration change unfenced broker 3");
        assert_eq!(
            image.live_brokers(),
            vec![
                LiveBroker {
                    id: 1,
                    rack: Some("r1".into())
                },
                LiveBroker {
                    id: 3,
                    rack: Some("r2".into())
                },
            ]
        );
        assert_eq!(image.broker_endpoint(2, "INTERNAL").map(|e| e.port), Some(19092));
        assert_eq!(image.broker_endpoint(2, "SSL"), None);
        assert_eq!(image.broker_endpoint(4, "PLAINTEXT"), None);
        assert_eq!(image.topics["t"].partitions[&0].partition_epoch, 5);
        assert!(!image.topics.contains_key("gone"));
    }

    #[test]
    fn broker_changes_for_another_epoch_change_nothing() {
        let mut image = sample();
        let before = image.clone();
        image.apply(&MetadataRecord::BrokerRegistrationChange {
            broker_id: 1,
            broker_epoch: 9,
            fenced: true,
        });
        image.apply(&MetadataRecord::UnregisterBroker {
            broker_id: 1,
            broker_epoch: 9,
        });
        image.apply(&MetadataRecord::BrokerRegistrationChange {
            broker_id: 7,
            broker_epoch: 10,
            fenced: true,
        });
        assert_eq!(image, before);
        image.apply(&MetadataRecord::FeatureLevel {
            name: "kraft.version".into(),
            level: 0,
        });
        assert!(!image.features.contains_key("kraft.version"));
    }

    #[test]
    fn resolve_by_name_or_id() {
        let image = sample();
        let id = image.topics["t"].id;
        assert_eq!(image.resolve("t", &Uuid::nil()).map(|t| t.id), Some(id));
        assert_eq!(image.resolve("", &id).map(|t| t.name.as_str()), Some("t"));
        assert!(image.resolve("nope", &id).is_none());
    }
}
