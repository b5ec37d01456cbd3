//! Kafka's topic configs: names, types, broker-level synonyms, defaults
//! and validation. The catalog both the metadata controller (validating
//! CreateTopics and AlterConfigs) and the log (building `LogConfig`) use,
//! so neither layer imports the other.

use std::collections::BTreeMap;

use crate::broker_configs;
use crate::config::LogDefaults;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Long,
    Int,
    Double,
    Bool,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// A comma-separated list of the listed values; may be empty.
    ChoiceList(&'static [&'static str]),
    /// `*` or a comma-separated list of partition:broker pairs (the
    /// replication throttles).
    ReplicaList,
    Str,
}

/// A topic config Kafka defines: its name, type, the broker key it falls
/// back to (if any), its lower bound and a line of documentation.
pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: Kind,
    pub broker_synonym: Option<&'static str>,
    pub min: Option<i64>,
    pub sensitive: bool,
    pub doc: &'static str,
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

macro_rules! topic_configs {
    ($($name:literal, $kind:expr, $syn:expr, $min:expr, $doc:literal;)*) => {
        /// Kafka 4.x topic configs (TopicConfig / LogConfig), sorted by name.
        pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[$(TopicConfigDef {
            name: $name,
            kind: $kind,
            broker_synonym: $syn,
            min: $min,
            sensitive: false,
            doc: $doc,
        }),*];
    };
}

topic_configs! {
    "cleanup.policy", Kind::ChoiceList(&["compact", "delete"]), Some("log.cleanup.policy"), None,
        "delete: old segments are removed by retention; compact: only the latest record of each key is kept; both, or none (empty): kept whole.";
    "compression.gzip.level", Kind::Int, Some("compression.gzip.level"), None,
        "gzip level when compression.type is gzip.";
    "compression.lz4.level", Kind::Int, Some("compression.lz4.level"), None,
        "lz4 level when compression.type is lz4.";
    "compression.type", Kind::Choice(COMPRESSION), Some("compression.type"), None,
        "How batches are stored: producer keeps the producer's compression, or a codec to recompress with.";
    "compression.zstd.level", Kind::Int, Some("compression.zstd.level"), None,
        "zstd level when compression.type is zstd.";
    "delete.retention.ms", Kind::Long, Some("log.cleaner.delete.retention.ms"), Some(0),
        "How long a compacted topic keeps delete markers (tombstones).";
    "file.delete.delay.ms", Kind::Long, Some("log.segment.delete.delay.ms"), Some(0),
        "How long a deleted segment's files stay on disk.";
    "flush.messages", Kind::Long, Some("log.flush.interval.messages"), Some(1),
        "Records a partition accepts before its log is flushed to disk.";
    "flush.ms", Kind::Long, Some("log.flush.interval.ms"), Some(0),
        "Longest time a record stays in memory before its log is flushed.";
    "follower.replication.throttled.replicas", Kind::ReplicaList, None, None,
        "Replicas (partition:broker, or *) whose follower fetches are throttled.";
    "index.interval.bytes", Kind::Int, Some("log.index.interval.bytes"), Some(0),
        "Bytes of log between two entries of the offset index.";
    "leader.replication.throttled.replicas", Kind::ReplicaList, None, None,
        "Replicas (partition:broker, or *) whose leader side of replication is throttled.";
    "local.retention.bytes", Kind::Long, Some("log.local.retention.bytes"), Some(-2),
        "Bytes kept on local disk with tiered storage; -2 follows retention.bytes.";
    "local.retention.ms", Kind::Long, Some("log.local.retention.ms"), Some(-2),
        "Time kept on local disk with tiered storage; -2 follows retention.ms.";
    "max.compaction.lag.ms", Kind::Long, Some("log.cleaner.max.compaction.lag.ms"), Some(1),
        "Longest time a record may stay uncompacted.";
    "max.message.bytes", Kind::Int, Some("message.max.bytes"), Some(0),
        "Largest record batch the topic accepts.";
    "message.timestamp.after.max.ms", Kind::Long, Some("log.message.timestamp.after.max.ms"), Some(0),
        "How far in the future a CreateTime timestamp may be.";
    "message.timestamp.before.max.ms", Kind::Long, Some("log.message.timestamp.before.max.ms"), Some(0),
        "How far in the past a CreateTime timestamp may be.";
    "message.timestamp.type", Kind::Choice(&["CreateTime", "LogAppendTime"]), Some("log.message.timestamp.type"), None,
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time.";
    "min.cleanable.dirty.ratio", Kind::Double, Some("log.cleaner.min.cleanable.ratio"), Some(0),
        "Share of the log not yet compacted at which compaction starts.";
    "min.compaction.lag.ms", Kind::Long, Some("log.cleaner.min.compaction.lag.ms"), Some(0),
        "Shortest time a record stays uncompacted.";
    "min.insync.replicas", Kind::Int, Some("min.insync.replicas"), Some(1),
        "Replicas that must have a record before an acks=all produce succeeds.";
    "preallocate", Kind::Bool, Some("log.preallocate"), None,
        "Preallocate segment files.";
    "remote.log.copy.disable", Kind::Bool, None, None,
        "Stop copying segments to tiered storage.";
    "remote.log.delete.on.disable", Kind::Bool, None, None,
        "Delete tiered data when tiered storage is turned off for the topic.";
    "remote.storage.enable", Kind::Bool, None, None,
        "Use tiered storage for this topic.";
    "retention.bytes", Kind::Long, Some("log.retention.bytes"), None,
        "Size a partition keeps before deleting old segments; -1 for no limit.";
    "retention.ms", Kind::Long, Some("log.retention.ms"), Some(-1),
        "How long records are kept; -1 keeps them forever.";
    "segment.bytes", Kind::Int, Some("log.segment.bytes"), Some(1024 * 1024),
        "Size of one segment file.";
    "segment.index.bytes", Kind::Int, Some("log.index.size.max.bytes"), Some(4),
        "Size of a segment's offset index.";
    "segment.jitter.ms", Kind::Long, Some("log.roll.jitter.ms"), Some(0),
        "Largest random amount taken off segment.ms, so that segments do not all roll at once.";
    "segment.ms", Kind::Long, Some("log.roll.ms"), Some(1),
        "Time after which a segment rolls even if it is not full.";
    "unclean.leader.election.enable", Kind::Bool, Some("unclean.leader.election.enable"), None,
        "Allow a replica outside the ISR to become leader, at the cost of lost records.";
}

pub fn definition(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The broker-level default of a topic config, as Kafka reports it: the
/// broker's own setting of its synonym (converted from other units where
/// Kafka allows them), else the synonym's default.
pub fn default_value(def: &TopicConfigDef, d: &LogDefaults) -> String {
    match def.name {
        "cleanup.policy" => d.cleanup_policy.clone(),
        "flush.messages" => d.flush_messages.to_string(),
        // log.flush.interval.ms falls back to log.flush.scheduler.interval.ms.
        "flush.ms" => i64::MAX.to_string(),
        "index.interval.bytes" => d.index_interval_bytes.to_string(),
        "max.message.bytes" => d.max_message_bytes.to_string(),
        "message.timestamp.type" => d.message_timestamp_type.clone(),
        "min.insync.replicas" => d.min_insync_replicas.to_string(),
        "retention.bytes" => d.retention_bytes.to_string(),
        "retention.ms" => d.retention_ms.to_string(),
        "segment.bytes" => d.segment_bytes.to_string(),
        "segment.index.bytes" => d.segment_index_bytes.to_string(),
        "segment.jitter.ms" => d.segment_jitter_ms.to_string(),
        "segment.ms" => d.segment_ms.to_string(),
        _ => match def.broker_synonym {
            Some(synonym) => d
                .static_configs
                .get(synonym)
                .cloned()
                .or_else(|| {
                    broker_configs::definition(synonym)
                        .and_then(|b| b.default)
                        .map(str::to_string)
                })
                .unwrap_or_default(),
            None if def.kind == Kind::Bool => "false".into(),
            None => String::new(),
        },
    }
}

/// The topic configs that dynamic broker configs set for every topic
/// without its own value (Kafka's DynamicLogConfig): each topic config
/// takes its broker synonym from the first layer that holds it, most
/// specific first (this broker's dynamic configs, then the cluster-wide
/// dynamic defaults). A topic's own overrides go on top of these.
pub fn dynamic_defaults(layers: &[Option<&BTreeMap<String, String>>]) -> BTreeMap<String, String> {
    TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let synonym = def.broker_synonym?;
            let value = layers.iter().flatten().find_map(|l| l.get(synonym))?;
            Some((def.name.to_string(), value.clone()))
        })
        .collect()
}

/// Checks one topic config; the error text is what Kafka's INVALID_CONFIG
/// message carries.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let def = definition(name).ok_or_else(|| format!("Unknown topic config name: {name}"))?;
    let bad = |what: &str| format!("Invalid value {value} for configuration {name}: {what}");
    let number =
        |v: &str| -> Result<i64, String> { v.trim().parse::<i64>().map_err(|_| bad("Not a number of type LONG")) };
    match def.kind {
        Kind::Long => {
            let n = number(value)?;
            check_min(def, n).map_err(|m| bad(&m))
        }
        Kind::Int => {
            let n: i32 = value.trim().parse().map_err(|_| bad("Not a number of type INT"))?;
            check_min(def, n as i64).map_err(|m| bad(&m))
        }
        Kind::Double => value
            .trim()
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| bad("Not a number of type DOUBLE")),
        Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(bad("Expected value to be either true or false")),
        },
        Kind::Choice(options) => {
            if options.contains(&value.trim()) {
                Ok(())
            } else {
                Err(bad(&format!("String must be one of: {}", options.join(", "))))
            }
        }
        Kind::ChoiceList(options) => {
            for part in list_items(value) {
                if !options.contains(&part) {
                    return Err(bad(&format!("String must be one of: {}", options.join(", "))));
                }
            }
            Ok(())
        }
        Kind::ReplicaList => {
            let items: Vec<&str> = value.split(',').map(str::trim).collect();
            let pair = |s: &str| {
                s.is_empty()
                    || s.split_once(':').is_some_and(|(p, b)| {
                        !p.is_empty()
                            && !b.is_empty()
                            && p.bytes().all(|c| c.is_ascii_digit())
                            && b.bytes().all(|c| c.is_ascii_digit())
                    })
            };
            if items.iter().all(|s| pair(s)) || items.concat() == "*" {
                Ok(())
            } else {
                Err(bad(&format!(
                    "{name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                )))
            }
        }
        Kind::Str => Ok(()),
    }
}

/// The items of a list config's value; an empty value is an empty list.
pub fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn check_min(def: &TopicConfigDef, n: i64) -> Result<(), String> {
    match def.min {
        Some(min) if n < min => Err(format!("Value must be at least {min}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        assert!(validate("retention.ms", "1000").is_ok());
        assert!(validate("retention.ms", "abc").unwrap_err().contains("retention.ms"));
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "sometimes").is_err());
        assert!(
            validate("cleanup.policy", "").is_ok(),
            "an empty policy keeps the log whole"
        );
        assert!(validate("leader.replication.throttled.replicas", "0:1,1:1").is_ok());
        assert!(validate("leader.replication.throttled.replicas", "*").is_ok());
        assert!(validate("leader.replication.throttled.replicas", "").is_ok());
        assert!(validate("leader.replication.throttled.replicas", "0-1").is_err());
        assert!(validate("no.such.key", "1")
            .unwrap_err()
            .contains("Unknown topic config"));
        assert!(validate("segment.bytes", "10").is_err());
    }
}
