//! One typed broker configuration, built once at start-up from (in rising
//! precedence) embedded defaults, a `server.properties` file, `KAFKA_*`
//! environment variables (the apache/kafka image's mapping) and `--override`
//! flags. Property names are Kafka's; every default is Kafka's unless noted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

use crate::broker_configs;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for configuration key {key}: {reason}")]
    Invalid { key: String, value: String, reason: String },
    #[error("cannot read configuration file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// A listener: the name (`PLAINTEXT`), host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        let host = if self.host.is_empty() { "0.0.0.0" } else { &self.host };
        let text = if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        };
        text.parse().map_err(|_| ConfigError::Invalid {
            key: "listeners".into(),
            value: text.clone(),
            reason: "host must be an IP address".into(),
        })
    }
}

/// Group coordinator settings (Kafka's `group.*` and `offsets.*`).
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub initial_rebalance_delay_ms: i64,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub max_size: i32,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_segment_bytes: i64,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: u64,
    pub offset_metadata_max_bytes: i32,
}

/// Broker-wide defaults that topic configs fall back to (Kafka's `log.*`).
#[derive(Debug, Clone)]
pub struct LogDefaults {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_jitter_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub index_interval_bytes: u32,
    pub segment_index_bytes: u32,
    pub max_message_bytes: i32,
    pub cleanup_policy: String,
    pub message_timestamp_type: String,
    pub flush_messages: i64,
    pub min_insync_replicas: i32,
    /// The known broker keys set in the properties file, the environment or
    /// a flag (DescribeConfigs' STATIC_BROKER_CONFIG; everything else is
    /// `broker_configs`' default): topic configs without a typed field above
    /// fall back to these.
    pub static_configs: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: i32,
    pub cluster_id: Option<String>,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    /// `max.incremental.fetch.session.cache.slots`: how many KIP-227 fetch
    /// sessions the broker keeps.
    pub max_incremental_fetch_session_cache_slots: usize,
    pub log_retention_check_interval_ms: u64,
    pub log: LogDefaults,
    pub groups: GroupSettings,
}

/// Keys accepted silently that DescribeConfigs does not list: `cluster.id`
/// (fjord takes the cluster id from its config, as the apache/kafka image
/// takes CLUSTER_ID, instead of a separate format step).
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &["cluster.id"];

impl Config {
    /// Embedded defaults only: a working single-node cluster.
    pub fn embedded() -> Self {
        Self::from_sources(&BTreeMap::new()).expect("embedded defaults are valid")
    }

    /// Reads a Java properties file into key/value pairs.
    pub fn read_properties(path: &std::path::Path) -> Result<BTreeMap<String, String>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(parse_properties(&text))
    }

    /// Maps `KAFKA_LOG_RETENTION_MS` to `log.retention.ms`, as the apache/kafka
    /// image does: `_` becomes `.`, `__` becomes `_`, `___` becomes `-`.
    pub fn env_key(name: &str) -> Option<String> {
        let rest = name.strip_prefix("KAFKA_")?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let lower = rest.to_ascii_lowercase();
        Some(
            lower
                .replace("___", "\u{1}")
                .replace("__", "\u{2}")
                .replace('_', ".")
                .replace('\u{1}', "-")
                .replace('\u{2}', "_"),
        )
    }

    /// Builds the typed config from merged key/value settings.
    pub fn from_sources(set: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for key in set.keys() {
            let known = broker_configs::definition(key).is_some() || ACCEPTED_WITHOUT_EFFECT.contains(&key.as_str());
            if !known {
                tracing::warn!(key = %key, "unknown configuration key, ignored");
            }
        }
        let get = |key: &str| -> Option<String> {
            set.get(key).cloned().or_else(|| {
                broker_configs::definition(key)
                    .and_then(|d| d.default)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
        };
        let mut static_configs: BTreeMap<String, String> = set
            .iter()
            .filter(|(k, _)| broker_configs::definition(k).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // As in Kafka's KRaft mode, node.id is also the broker.id.
        if let Some(id) = set.get("node.id") {
            static_configs.entry("broker.id".into()).or_insert_with(|| id.clone());
        }

        let mut node_id: i32 = parse(&get, "node.id")?;
        if let Some(b) = set.get("broker.id") {
            if !set.contains_key("node.id") {
                node_id = parse_value("broker.id", b)?;
            }
        }
        // Controller listeners belong to the metadata quorum, not to clients.
        let controller_names = get("controller.listener.names").unwrap_or_default();
        let is_controller = |l: &Listener| controller_names.split(',').any(|n| n.trim() == l.name);
        let mut listeners = parse_listeners("listeners", &get("listeners").unwrap_or_default())?;
        listeners.retain(|l| !is_controller(l));
        if listeners.is_empty() {
            return Err(invalid("listeners", "", "at least one listener is required"));
        }
        // Only PLAINTEXT is spoken; a listener mapped to SSL or SASL would
        // silently accept clients that expect encryption or authentication.
        let protocol_map = get("listener.security.protocol.map").unwrap_or_default();
        for l in &listeners {
            let protocol = protocol_map
                .split(',')
                .filter_map(|e| e.split_once(':'))
                .find(|(name, _)| name.trim() == l.name)
                .map(|(_, p)| p.trim().to_string())
                .unwrap_or_else(|| l.name.clone());
            if protocol != "PLAINTEXT" {
                return Err(invalid(
                    "listener.security.protocol.map",
                    &protocol_map,
                    &format!("listener {} uses {protocol}; fjord supports PLAINTEXT only", l.name),
                ));
            }
        }
        let advertised_listeners = match get("advertised.listeners") {
            Some(text) => {
                let mut a = parse_listeners("advertised.listeners", &text)?;
                a.retain(|l| !is_controller(l));
                a
            }
            None => listeners
                .iter()
                .map(|l| Listener {
                    name: l.name.clone(),
                    host: match l.host.as_str() {
                        "" | "0.0.0.0" | "::" => "localhost".into(),
                        h => h.into(),
                    },
                    port: l.port,
                })
                .collect(),
        };
        if advertised_listeners.is_empty() {
            // Kafka refuses to start the same way; serving on would leave
            // Metadata with no address to give clients.
            return Err(invalid(
                "advertised.listeners",
                &get("advertised.listeners").unwrap_or_default(),
                "There must be at least one broker advertised listener. Perhaps all listeners appear in controller.listener.names?",
            ));
        }
        // Kafka: log.dirs wins over log.dir; fjord's embedded default is ./fjord-data.
        let dirs_text = set
            .get("log.dirs")
            .or_else(|| set.get("log.dir"))
            .cloned()
            .unwrap_or_else(|| "./fjord-data".into());
        let log_dirs: Vec<PathBuf> = dirs_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(invalid("log.dirs", &dirs_text, "at least one directory is required"));
        }

        let retention_ms: i64 = if let Some(v) = set.get("log.retention.ms") {
            parse_value("log.retention.ms", v)?
        } else if let Some(v) = set.get("log.retention.minutes") {
            parse_value::<i64>("log.retention.minutes", v)? * 60_000
        } else {
            parse::<i64>(&get, "log.retention.hours")? * 3_600_000
        };
        let segment_ms: i64 = if let Some(v) = set.get("log.roll.ms") {
            parse_value("log.roll.ms", v)?
        } else {
            parse::<i64>(&get, "log.roll.hours")? * 3_600_000
        };
        // Kafka: log.roll.jitter.ms wins over log.roll.jitter.hours, as for log.roll.*.
        let segment_jitter_ms: i64 = if let Some(v) = set.get("log.roll.jitter.ms") {
            parse_value("log.roll.jitter.ms", v)?
        } else {
            parse::<i64>(&get, "log.roll.jitter.hours")? * 3_600_000
        };
        if segment_ms < 1 {
            return Err(invalid("log.roll.ms", &segment_ms.to_string(), "must be at least 1"));
        }
        if segment_jitter_ms < 0 {
            return Err(invalid(
                "log.roll.jitter.ms",
                &segment_jitter_ms.to_string(),
                "must be at least 0",
            ));
        }
        let segment_bytes: i64 = parse(&get, "log.segment.bytes")?;
        if segment_bytes < 14 {
            return Err(invalid(
                "log.segment.bytes",
                &segment_bytes.to_string(),
                "must be at least 14",
            ));
        }
        let timestamp_type = get("log.message.timestamp.type").unwrap_or_default();
        if timestamp_type != "CreateTime" && timestamp_type != "LogAppendTime" {
            return Err(invalid(
                "log.message.timestamp.type",
                &timestamp_type,
                "must be CreateTime or LogAppendTime",
            ));
        }
        let socket_request_max_bytes: i32 = parse(&get, "socket.request.max.bytes")?;
        if socket_request_max_bytes <= 0 {
            return Err(invalid(
                "socket.request.max.bytes",
                &socket_request_max_bytes.to_string(),
                "must be positive",
            ));
        }
        let num_partitions: i32 = parse(&get, "num.partitions")?;
        if num_partitions < 1 {
            return Err(invalid(
                "num.partitions",
                &num_partitions.to_string(),
                "must be at least 1",
            ));
        }
        let fetch_session_slots: i32 = parse(&get, "max.incremental.fetch.session.cache.slots")?;
        if fetch_session_slots < 0 {
            return Err(invalid(
                "max.incremental.fetch.session.cache.slots",
                &fetch_session_slots.to_string(),
                "must be at least 0",
            ));
        }
        let retention_check: i64 = parse(&get, "log.retention.check.interval.ms")?;
        if retention_check < 1 {
            return Err(invalid(
                "log.retention.check.interval.ms",
                &retention_check.to_string(),
                "must be at least 1",
            ));
        }
        let index_interval: i32 = parse(&get, "log.index.interval.bytes")?;
        let index_max: i32 = parse(&get, "log.index.size.max.bytes")?;
        if index_interval < 0 || index_max < 12 {
            return Err(invalid(
                "log.index.size.max.bytes",
                &index_max.to_string(),
                "must be at least 12",
            ));
        }

        Ok(Config {
            node_id,
            cluster_id: get("cluster.id"),
            listeners,
            advertised_listeners,
            log_dirs,
            num_partitions,
            default_replication_factor: parse(&get, "default.replication.factor")?,
            auto_create_topics_enable: parse_bool(&get, "auto.create.topics.enable")?,
            delete_topic_enable: parse_bool(&get, "delete.topic.enable")?,
            socket_request_max_bytes: socket_request_max_bytes as usize,
            max_incremental_fetch_session_cache_slots: fetch_session_slots as usize,
            log_retention_check_interval_ms: retention_check as u64,
            log: LogDefaults {
                segment_bytes: segment_bytes as u64,
                segment_ms,
                segment_jitter_ms,
                retention_ms,
                retention_bytes: parse(&get, "log.retention.bytes")?,
                index_interval_bytes: index_interval as u32,
                segment_index_bytes: index_max as u32,
                max_message_bytes: parse(&get, "message.max.bytes")?,
                cleanup_policy: get("log.cleanup.policy").unwrap_or_default(),
                message_timestamp_type: timestamp_type,
                flush_messages: parse(&get, "log.flush.interval.messages")?,
                min_insync_replicas: parse(&get, "min.insync.replicas")?,
                static_configs,
            },
            groups: GroupSettings {
                initial_rebalance_delay_ms: parse(&get, "group.initial.rebalance.delay.ms")?,
                min_session_timeout_ms: parse(&get, "group.min.session.timeout.ms")?,
                max_session_timeout_ms: parse(&get, "group.max.session.timeout.ms")?,
                max_size: parse(&get, "group.max.size")?,
                offsets_topic_num_partitions: positive(
                    parse(&get, "offsets.topic.num.partitions")?,
                    "offsets.topic.num.partitions",
                )?,
                offsets_topic_segment_bytes: parse(&get, "offsets.topic.segment.bytes")?,
                offsets_retention_ms: parse::<i64>(&get, "offsets.retention.minutes")? * 60_000,
                offsets_retention_check_interval_ms: positive(
                    parse::<i64>(&get, "offsets.retention.check.interval.ms")?,
                    "offsets.retention.check.interval.ms",
                )? as u64,
                offset_metadata_max_bytes: parse(&get, "offset.metadata.max.bytes")?,
            },
        })
    }

    /// The address clients of `listener` are told about (Metadata,
    /// FindCoordinator): the advertised listener of the same name, as Kafka
    /// answers each client on the listener it connected through.
    pub fn advertised_for(&self, listener: &str) -> &Listener {
        self.advertised_listeners
            .iter()
            .find(|l| l.name == listener)
            .unwrap_or(&self.advertised_listeners[0])
    }

    /// The first advertised listener.
    pub fn advertised(&self) -> &Listener {
        &self.advertised_listeners[0]
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(v: T, key: &str) -> Result<T, ConfigError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(invalid(key, &v.to_string(), "must be positive"))
    }
}

fn parse_value<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a valid number"))
}

fn parse<T: std::str::FromStr>(get: &dyn Fn(&str) -> Option<String>, key: &str) -> Result<T, ConfigError> {
    let value = get(key).unwrap_or_default();
    parse_value(key, &value)
}

fn parse_bool(get: &dyn Fn(&str) -> Option<String>, key: &str) -> Result<bool, ConfigError> {
    let value = get(key).unwrap_or_default();
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, &value, "must be true or false")),
    }
}

/// Parses `NAME://host:port[,NAME://host:port]`.
fn parse_listeners(key: &str, text: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = part
            .split_once("://")
            .ok_or_else(|| invalid(key, part, "expected NAME://host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, part, "expected NAME://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(key, part, "port must be a number from 0 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        out.push(Listener {
            name: name.to_string(),
            host: host.to_string(),
            port,
        });
    }
    Ok(out)
}

/// A minimal Java-properties reader: `key=value` or `key: value`, `#`/`!`
/// comments, blank lines; trailing backslash continues a line.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_a_single_node_cluster() {
        let c = Config::embedded();
        assert_eq!(c.node_id, 1);
        assert_eq!(c.listeners[0].port, 9092);
        assert_eq!(c.advertised().host, "localhost");
        assert_eq!(c.log_dirs, vec![PathBuf::from("./fjord-data")]);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.log.retention_ms, 7 * 24 * 3_600_000);
    }

    #[test]
    fn an_empty_advertised_listener_list_is_refused_at_start_up() {
        for value in ["", "CONTROLLER://127.0.0.1:9093"] {
            let set = BTreeMap::from([("advertised.listeners".to_string(), value.to_string())]);
            let err = Config::from_sources(&set).unwrap_err().to_string();
            assert!(err.contains("advertised.listeners"), "{err}");
            assert!(err.contains("at least one broker advertised listener"), "{err}");
        }
    }

    #[test]
    fn roll_time_and_jitter_take_ms_over_hours() {
        let c = Config::embedded();
        assert_eq!(c.log.segment_ms, 168 * 3_600_000);
        assert_eq!(c.log.segment_jitter_ms, 0);
        assert_eq!(
            crate::broker_configs::definition("log.roll.jitter.hours").and_then(|d| d.default),
            Some("0")
        );
        let mut set = BTreeMap::new();
        set.insert("log.roll.jitter.hours".to_string(), "2".to_string());
        set.insert("log.roll.hours".to_string(), "3".to_string());
        let c = Config::from_sources(&set).unwrap();
        assert_eq!(
            (c.log.segment_ms, c.log.segment_jitter_ms),
            (3 * 3_600_000, 2 * 3_600_000)
        );
        set.insert("log.roll.jitter.ms".to_string(), "1500".to_string());
        set.insert("log.roll.ms".to_string(), "60000".to_string());
        let c = Config::from_sources(&set).unwrap();
        assert_eq!((c.log.segment_ms, c.log.segment_jitter_ms), (60_000, 1_500));
        set.insert("log.roll.jitter.ms".to_string(), "-1".to_string());
        let err = Config::from_sources(&set).unwrap_err().to_string();
        assert!(err.contains("log.roll.jitter.ms"), "{err}");
    }

    #[test]
    fn env_names_map_like_the_apache_kafka_image() {
        assert_eq!(
            Config::env_key("KAFKA_LOG_RETENTION_MS").as_deref(),
            Some("log.retention.ms")
        );
        assert_eq!(Config::env_key("KAFKA_FOO__BAR").as_deref(), Some("foo_bar"));
        assert_eq!(Config::env_key("KAFKA_A___B").as_deref(), Some("a-b"));
        assert_eq!(Config::env_key("PATH"), None);
    }

    #[test]
    fn invalid_values_name_the_key() {
        let mut set = BTreeMap::new();
        set.insert("log.retention.ms".to_string(), "soon".to_string());
        let err = Config::from_sources(&set).unwrap_err().to_string();
        assert!(err.contains("log.retention.ms"), "{err}");
    }

    #[test]
    fn clients_get_the_advertised_address_of_their_listener() {
        let mut set = BTreeMap::new();
        set.insert(
            "listeners".to_string(),
            "PLAINTEXT://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093,PLAINTEXT_HOST://0.0.0.0:9092".to_string(),
        );
        set.insert(
            "advertised.listeners".to_string(),
            "PLAINTEXT://fjord:19092,PLAINTEXT_HOST://localhost:9092".to_string(),
        );
        let err = Config::from_sources(&set).unwrap_err().to_string();
        assert!(err.contains("listener.security.protocol.map"), "{err}");
        set.insert(
            "listener.security.protocol.map".to_string(),
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT".to_string(),
        );
        let c = Config::from_sources(&set).unwrap();
        assert_eq!(c.listeners.len(), 2, "the controller listener is not a client listener");
        assert_eq!(c.advertised_for("PLAINTEXT_HOST").host, "localhost");
        assert_eq!(c.advertised_for("PLAINTEXT").host, "fjord");
    }

    #[test]
    fn properties_files_parse() {
        let p = parse_properties("# c\nnode.id=3\nlisteners = PLAINTEXT://127.0.0.1:1234\n\nx: y\n");
        assert_eq!(p["node.id"], "3");
        assert_eq!(p["x"], "y");
        let c = Config::from_sources(&p).unwrap();
        assert_eq!(c.node_id, 3);
        assert_eq!(c.advertised().host, "127.0.0.1");
    }
}
