//! A partition log's effective configuration (`LogConfig`): Kafka's topic
//! configs (catalogued in `crate::topic_configs`) resolved against the
//! broker's defaults and a topic's overrides.

use std::collections::BTreeMap;

use crate::config::LogDefaults;
use crate::topic_configs::{default_value, definition, list_items};

/// The settings a partition log acts on, after topic overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    /// Upper bound of the random amount each segment's time roll comes early.
    pub segment_jitter_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub index_interval_bytes: u32,
    pub segment_index_bytes: u32,
    pub max_message_bytes: i32,
    pub log_append_time: bool,
    pub timestamp_after_max_ms: i64,
    pub timestamp_before_max_ms: i64,
    pub flush_messages: i64,
    pub compact: bool,
    pub delete: bool,
    pub min_insync_replicas: i32,
}

impl LogConfig {
    pub fn new(defaults: &LogDefaults, overrides: &BTreeMap<String, String>) -> Self {
        let get = |name: &str| -> String {
            overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| definition(name).map(|d| default_value(d, defaults)).unwrap_or_default())
        };
        let long = |name: &str, fallback: i64| get(name).trim().parse::<i64>().unwrap_or(fallback);
        let policy = get("cleanup.policy");
        let compact = list_items(&policy).any(|p| p == "compact");
        let delete = list_items(&policy).any(|p| p == "delete");
        LogConfig {
            segment_bytes: long("segment.bytes", defaults.segment_bytes as i64).max(14) as u64,
            segment_ms: long("segment.ms", defaults.segment_ms),
            segment_jitter_ms: long("segment.jitter.ms", defaults.segment_jitter_ms),
            max_compaction_lag_ms: long("max.compaction.lag.ms", i64::MAX),
            retention_ms: long("retention.ms", defaults.retention_ms),
            retention_bytes: long("retention.bytes", defaults.retention_bytes),
            index_interval_bytes: long("index.interval.bytes", 4096).clamp(0, u32::MAX as i64) as u32,
            segment_index_bytes: long("segment.index.bytes", 10 << 20).clamp(12, i32::MAX as i64) as u32,
            max_message_bytes: long("max.message.bytes", defaults.max_message_bytes as i64).clamp(0, i32::MAX as i64)
                as i32,
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            timestamp_after_max_ms: long("message.timestamp.after.max.ms", 3_600_000),
            timestamp_before_max_ms: long("message.timestamp.before.max.ms", i64::MAX),
            flush_messages: long("flush.messages", i64::MAX),
            compact,
            delete,
            min_insync_replicas: long("min.insync.replicas", 1) as i32,
        }
    }

    /// Kafka's `LogConfig.maxSegmentMs`: a compacted topic also rolls by
    /// `max.compaction.lag.ms`, so the cleaner can reach records in time.
    pub fn max_segment_ms(&self) -> i64 {
        if self.compact && self.max_compaction_lag_ms > 0 {
            self.max_compaction_lag_ms.min(self.segment_ms)
        } else {
            self.segment_ms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic_configs::validate;

    #[test]
    fn an_empty_cleanup_policy_neither_deletes_nor_compacts() {
        let defaults = crate::config::Config::embedded().log;
        let o = BTreeMap::from([("cleanup.policy".to_string(), String::new())]);
        let c = LogConfig::new(&defaults, &o);
        assert!(!c.delete && !c.compact);
    }

    #[test]
    fn overrides_win_over_defaults() {
        let defaults = crate::config::Config::embedded().log;
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "5000".to_string());
        o.insert("message.timestamp.type".to_string(), "LogAppendTime".to_string());
        let c = LogConfig::new(&defaults, &o);
        assert_eq!(c.retention_ms, 5000);
        assert!(c.log_append_time);
        assert_eq!(c.segment_bytes, 1 << 30);
        assert!(c.delete && !c.compact);
        assert_eq!(c.segment_ms, 7 * 24 * 3_600_000);
        assert_eq!(c.segment_jitter_ms, 0);
        assert_eq!(c.max_segment_ms(), c.segment_ms);
    }

    #[test]
    fn compacted_topics_roll_by_max_compaction_lag() {
        let defaults = crate::config::Config::embedded().log;
        let mut o = BTreeMap::new();
        o.insert("cleanup.policy".to_string(), "compact".to_string());
        o.insert("max.compaction.lag.ms".to_string(), "60000".to_string());
        o.insert("segment.jitter.ms".to_string(), "500".to_string());
        let c = LogConfig::new(&defaults, &o);
        assert_eq!(c.max_segment_ms(), 60_000);
        assert_eq!(c.segment_jitter_ms, 500);
        o.insert("cleanup.policy".to_string(), "delete".to_string());
        assert_eq!(LogConfig::new(&defaults, &o).max_segment_ms(), c.segment_ms);
    }

    #[test]
    fn segment_jitter_defaults_to_the_broker_setting() {
        let mut defaults = crate::config::Config::embedded().log;
        let def = definition("segment.jitter.ms").unwrap();
        assert_eq!(default_value(def, &defaults), "0");
        defaults.segment_jitter_ms = 3_600_000;
        assert_eq!(default_value(def, &defaults), "3600000");
        assert_eq!(LogConfig::new(&defaults, &BTreeMap::new()).segment_jitter_ms, 3_600_000);
        assert!(validate("segment.jitter.ms", "-1").is_err());
    }
}
