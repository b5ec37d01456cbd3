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

/// `process.roles`: what this node does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessRoles {
    /// Hosts partitions and serves clients; registers with the controller.
    pub broker: bool,
    /// Votes in the metadata quorum (an openraft voter) and may become the
    /// active controller. A node that is not a controller follows the
    /// metadata log as a learner.
    pub controller: bool,
}

/// The metadata quorum: Kafka's `controller.*` and `broker.*` lifecycle keys.
#[derive(Debug, Clone)]
pub struct QuorumSettings {
    pub roles: ProcessRoles,
    /// `controller.quorum.voters`: node id -> controller listener address
    /// (`host:port`). Empty: a quorum of one, this node, with no network.
    pub voters: BTreeMap<i32, String>,
    /// The listeners named in `controller.listener.names`, bound like any
    /// other listener; raft traffic and broker registrations use the first.
    pub controller_listeners: Vec<Listener>,
    /// `broker.rack`, for rack-aware replica placement.
    pub rack: Option<String>,
    /// `inter.broker.listener.name`: where other nodes reach this broker
    /// (the quorum's leader reaches a broker-only learner there).
    pub inter_broker_listener_name: String,
    pub broker_heartbeat_interval_ms: u64,
    pub broker_session_timeout_ms: u64,
    pub election_timeout_ms: u64,
    /// `auto.leader.rebalance.enable`: the active controller moves
    /// leadership back to preferred replicas every
    /// `leader.imbalance.check.interval.seconds`.
    pub auto_leader_rebalance: bool,
    pub leader_imbalance_check_interval_ms: u64,
}

impl QuorumSettings {
    /// The voters as this node sees them: the configured set, or just this
    /// node when none is configured.
    pub fn voter_ids(&self, node_id: i32) -> Vec<i32> {
        if self.voters.is_empty() {
            vec![node_id]
        } else {
            self.voters.keys().copied().collect()
        }
    }
}

/// How followers replicate (Kafka's `replica.*` keys) and how large
/// internal topics' replica sets are.
#[derive(Debug, Clone)]
pub struct ReplicationSettings {
    pub lag_time_max_ms: i64,
    pub fetch_wait_max_ms: i32,
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub fetch_response_max_bytes: i32,
    pub fetch_backoff_ms: u64,
    pub socket_timeout_ms: u64,
    /// `offsets.topic.replication.factor`, capped at the live brokers when
    /// the topic is created.
    pub offsets_topic_replication_factor: i16,
}

/// Transaction coordinator settings (Kafka's `transaction.*` keys).
#[derive(Debug, Clone)]
pub struct TransactionSettings {
    pub state_log_num_partitions: i32,
    pub state_log_replication_factor: i16,
    pub state_log_min_isr: i32,
    pub state_log_segment_bytes: i64,
    pub max_timeout_ms: i32,
    pub id_expiration_ms: i64,
    pub abort_timed_out_interval_ms: u64,
    pub remove_expired_interval_ms: u64,
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
    pub quorum: QuorumSettings,
    pub replication: ReplicationSettings,
    pub transactions: TransactionSettings,
    /// `metrics.listener` (fjord's own key): where `/metrics` and `/health`
    /// are served over HTTP; `None` (the default) serves neither.
    pub metrics_listener: Option<SocketAddr>,
}

/// Keys accepted silently that DescribeConfigs does not list: `cluster.id`
/// (fjord takes the cluster id from its config, as the apache/kafka image
/// takes CLUSTER_ID, instead of a separate format step).
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &["cluster.id"];

/// Variables the apache/kafka image reads itself and never turns into
/// server properties (`KafkaDockerWrapper`'s list); none means anything to
/// fjord, which has no JVM and logs through `FJORD_LOG`.
const NOT_SETTINGS_ENV: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
];

/// fjord's own keys, for what Kafka does with plugins (a JMX exporter):
/// read at start-up, and not listed by DescribeConfigs, which describes
/// Kafka's configs.
pub const FJORD_KEYS: &[&str] = &[METRICS_LISTENER];

/// `metrics.listener=http://host:port`: the HTTP listener for Prometheus.
pub const METRICS_LISTENER: &str = "metrics.listener";

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

    /// Maps an environment variable to a server property, the way the
    /// container images do (`None`: not a setting):
    ///
    /// - apache/kafka (`KafkaDockerWrapper`): `KAFKA_LOG_RETENTION_MS` is
    ///   `log.retention.ms`. Every `KAFKA_` in the name is dropped, the rest
    ///   lower-cased, `_` becomes `.`, then `...` (was `___`) becomes `-` and
    ///   `..` (was `__`) becomes `_`. The image's own variables
    ///   (`KAFKA_HEAP_OPTS`, `KAFKA_LOG4J_LOGGERS`, ...) are not settings.
    /// - Bitnami: `KAFKA_CFG_LOG_RETENTION_MS` is `log.retention.ms` (`_`
    ///   becomes `.`, lower-cased, `sasl.ssl`/`sasl.plaintext` kept as
    ///   listener names); `KAFKA_KRAFT_CLUSTER_ID` is `cluster.id`.
    /// - `CLUSTER_ID` (both images' cluster id for the storage format) is
    ///   `cluster.id`.
    pub fn env_key(name: &str) -> Option<String> {
        if name == "CLUSTER_ID" || name == "KAFKA_KRAFT_CLUSTER_ID" {
            return Some("cluster.id".into());
        }
        if NOT_SETTINGS_ENV.contains(&name) {
            return None;
        }
        if let Some(rest) = name.strip_prefix("KAFKA_CFG_") {
            if rest.is_empty() {
                return None;
            }
            return Some(
                rest.replace('_', ".")
                    .to_lowercase()
                    .replace("sasl.ssl", "sasl_ssl")
                    .replace("sasl.plaintext", "sasl_plaintext"),
            );
        }
        let rest = name.strip_prefix("KAFKA_")?;
        let key = rest
            .replace("KAFKA_", "")
            .to_lowercase()
            .replace('_', ".")
            .replace("...", "-")
            .replace("..", "_");
        (!key.is_empty()).then_some(key)
    }

    /// The settings the environment gives: [`Config::env_key`] for each
    /// variable. Where two variables name one key, `CLUSTER_ID` yields to
    /// `KAFKA_*`, which yields to Bitnami's `KAFKA_CFG_*`. Bitnami skips an
    /// empty `KAFKA_CFG_*` value, and so does this.
    pub fn env_settings(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
        let rank = |name: &str| match name {
            "CLUSTER_ID" => 0,
            n if n.starts_with("KAFKA_CFG_") => 2,
            _ => 1,
        };
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(n, v)| !(n.starts_with("KAFKA_CFG_") && v.is_empty()))
            .collect();
        vars.sort_by_key(|(n, _)| rank(n));
        vars.into_iter()
            .filter_map(|(n, v)| Config::env_key(&n).map(|k| (k, v)))
            .collect()
    }

    /// Builds the typed config from merged key/value settings.
    pub fn from_sources(set: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for key in set.keys() {
            let known = broker_configs::definition(key).is_some()
                || ACCEPTED_WITHOUT_EFFECT.contains(&key.as_str())
                || FJORD_KEYS.contains(&key.as_str());
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
        let roles = parse_roles(&get("process.roles").unwrap_or_default())?;
        let mut listeners = parse_listeners("listeners", &get("listeners").unwrap_or_default())?;
        let controller_listeners: Vec<Listener> = listeners.iter().filter(|l| is_controller(l)).cloned().collect();
        listeners.retain(|l| !is_controller(l));
        if roles.broker && listeners.is_empty() {
            return Err(invalid("listeners", "", "at least one listener is required"));
        }
        if !roles.broker && !listeners.is_empty() {
            return Err(invalid(
                "listeners",
                &get("listeners").unwrap_or_default(),
                "The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller",
            ));
        }
        let voters_text = get("controller.quorum.voters").unwrap_or_default();
        let voters = parse_voters(&voters_text)?;
        if get("controller.quorum.bootstrap.servers").is_some_and(|v| !v.trim().is_empty()) && voters.is_empty() {
            return Err(invalid(
                "controller.quorum.bootstrap.servers",
                &get("controller.quorum.bootstrap.servers").unwrap_or_default(),
                "fjord supports a static quorum only: set controller.quorum.voters",
            ));
        }
        if !voters.is_empty() {
            if roles.controller && !voters.contains_key(&node_id) {
                return Err(invalid(
                    "controller.quorum.voters",
                    &voters_text,
                    &format!("If process.roles contains the 'controller' role, the node id {node_id} must be included in the set of voters controller.quorum.voters={voters_text}"),
                ));
            }
            if !roles.controller && voters.contains_key(&node_id) {
                return Err(invalid(
                    "controller.quorum.voters",
                    &voters_text,
                    &format!("If process.roles contains just the 'broker' role, the node id {node_id} must not be included in the set of voters controller.quorum.voters={voters_text}"),
                ));
            }
            if roles.controller && controller_listeners.is_empty() {
                return Err(invalid(
                    "controller.listener.names",
                    &controller_names,
                    "The listeners config must contain a listener named in controller.listener.names when process.roles contains 'controller' and controller.quorum.voters is set",
                ));
            }
        } else if !roles.controller {
            return Err(invalid(
                "controller.quorum.voters",
                "",
                "a node that is not a controller needs controller.quorum.voters to find the metadata quorum",
            ));
        }
        // Only PLAINTEXT is spoken; a listener mapped to SSL or SASL would
        // silently accept clients that expect encryption or authentication.
        let protocol_map = get("listener.security.protocol.map").unwrap_or_default();
        for l in listeners.iter().chain(&controller_listeners) {
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

        let metrics_listener = parse_metrics_listener(set.get(METRICS_LISTENER).map_or("", String::as_str))?;

        Ok(Config {
            metrics_listener,
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
            quorum: QuorumSettings {
                roles,
                voters,
                controller_listeners,
                rack: get("broker.rack").filter(|r| !r.trim().is_empty()),
                inter_broker_listener_name: get("inter.broker.listener.name").unwrap_or_default(),
                broker_heartbeat_interval_ms: positive(
                    parse::<i64>(&get, "broker.heartbeat.interval.ms")?,
                    "broker.heartbeat.interval.ms",
                )? as u64,
                broker_session_timeout_ms: positive(
                    parse::<i64>(&get, "broker.session.timeout.ms")?,
                    "broker.session.timeout.ms",
                )? as u64,
                election_timeout_ms: positive(
                    parse::<i64>(&get, "controller.quorum.election.timeout.ms")?,
                    "controller.quorum.election.timeout.ms",
                )? as u64,
                auto_leader_rebalance: parse_bool(&get, "auto.leader.rebalance.enable")?,
                leader_imbalance_check_interval_ms: positive(
                    parse::<i64>(&get, "leader.imbalance.check.interval.seconds")?,
                    "leader.imbalance.check.interval.seconds",
                )? as u64
                    * 1000,
            },
            replication: ReplicationSettings {
                lag_time_max_ms: positive(
                    parse::<i64>(&get, "replica.lag.time.max.ms")?,
                    "replica.lag.time.max.ms",
                )?,
                fetch_wait_max_ms: parse(&get, "replica.fetch.wait.max.ms")?,
                fetch_min_bytes: parse(&get, "replica.fetch.min.bytes")?,
                fetch_max_bytes: positive(
                    parse::<i64>(&get, "replica.fetch.max.bytes")?,
                    "replica.fetch.max.bytes",
                )? as i32,
                fetch_response_max_bytes: positive(
                    parse::<i64>(&get, "replica.fetch.response.max.bytes")?,
                    "replica.fetch.response.max.bytes",
                )? as i32,
                fetch_backoff_ms: parse::<i64>(&get, "replica.fetch.backoff.ms")?.max(0) as u64,
                socket_timeout_ms: positive(
                    parse::<i64>(&get, "replica.socket.timeout.ms")?,
                    "replica.socket.timeout.ms",
                )? as u64,
                offsets_topic_replication_factor: positive(
                    parse::<i64>(&get, "offsets.topic.replication.factor")?,
                    "offsets.topic.replication.factor",
                )? as i16,
            },
            transactions: TransactionSettings {
                state_log_num_partitions: positive(
                    parse(&get, "transaction.state.log.num.partitions")?,
                    "transaction.state.log.num.partitions",
                )?,
                state_log_replication_factor: positive(
                    parse::<i64>(&get, "transaction.state.log.replication.factor")?,
                    "transaction.state.log.replication.factor",
                )? as i16,
                state_log_min_isr: positive(
                    parse(&get, "transaction.state.log.min.isr")?,
                    "transaction.state.log.min.isr",
                )?,
                state_log_segment_bytes: positive(
                    parse(&get, "transaction.state.log.segment.bytes")?,
                    "transaction.state.log.segment.bytes",
                )?,
                max_timeout_ms: positive(parse(&get, "transaction.max.timeout.ms")?, "transaction.max.timeout.ms")?,
                id_expiration_ms: positive(
                    parse(&get, "transactional.id.expiration.ms")?,
                    "transactional.id.expiration.ms",
                )?,
                abort_timed_out_interval_ms: positive(
                    parse::<i64>(&get, "transaction.abort.timed.out.transaction.cleanup.interval.ms")?,
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                )? as u64,
                remove_expired_interval_ms: positive(
                    parse::<i64>(&get, "transaction.remove.expired.transaction.cleanup.interval.ms")?,
                    "transaction.remove.expired.transaction.cleanup.interval.ms",
                )? as u64,
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

    /// Whether `listener` is named in `controller.listener.names`.
    pub fn is_controller_listener(&self, listener: &str) -> bool {
        self.quorum.controller_listeners.iter().any(|l| l.name == listener)
    }

    /// The first advertised listener.
    pub fn advertised(&self) -> &Listener {
        &self.advertised_listeners[0]
    }
}

/// `process.roles`: a comma-separated subset of `broker` and `controller`.
fn parse_roles(text: &str) -> Result<ProcessRoles, ConfigError> {
    let mut roles = ProcessRoles {
        broker: false,
        controller: false,
    };
    for role in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match role {
            "broker" => roles.broker = true,
            "controller" => roles.controller = true,
            other => {
                return Err(invalid(
                    "process.roles",
                    text,
                    &format!("Unknown process role '{other}' (must be 'broker' and/or 'controller')"),
                ))
            }
        }
    }
    if !roles.broker && !roles.controller {
        return Err(invalid(
            "process.roles",
            text,
            "must contain 'broker', 'controller' or both",
        ));
    }
    Ok(roles)
}

/// `controller.quorum.voters`: `id@host:port,...`.
fn parse_voters(text: &str) -> Result<BTreeMap<i32, String>, ConfigError> {
    let mut voters = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || {
            invalid(
                "controller.quorum.voters",
                text,
                &format!("'{entry}' is not of the form id@host:port"),
            )
        };
        let (id, addr) = entry.split_once('@').ok_or_else(bad)?;
        let id: i32 = id.trim().parse().map_err(|_| bad())?;
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        port.parse::<u16>().map_err(|_| bad())?;
        if host.is_empty() || voters.insert(id, addr.to_string()).is_some() {
            return Err(bad());
        }
    }
    Ok(voters)
}

/// `metrics.listener`: `http://host:port` (an IP address; port 0 picks a
/// free port), or empty for none.
fn parse_metrics_listener(text: &str) -> Result<Option<SocketAddr>, ConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || {
        invalid(
            METRICS_LISTENER,
            text,
            "expected http://host:port with an IP address as host",
        )
    };
    let rest = text.strip_prefix("http://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let listener = Listener {
        name: METRICS_LISTENER.into(),
        host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
        port,
    };
    listener.bind_addr().map(Some).map_err(|_| bad())
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
        let key = |n: &str| Config::env_key(n);
        assert_eq!(key("KAFKA_LOG_RETENTION_MS").as_deref(), Some("log.retention.ms"));
        assert_eq!(key("KAFKA_FOO__BAR").as_deref(), Some("foo_bar"));
        assert_eq!(key("KAFKA_A___B").as_deref(), Some("a-b"));
        // Runs of underscores go as KafkaDockerWrapper's replace chain takes them.
        assert_eq!(key("KAFKA_A____B").as_deref(), Some("a-.b"));
        assert_eq!(key("KAFKA_A_____B").as_deref(), Some("a-_b"));
        assert_eq!(key("KAFKA_A______B").as_deref(), Some("a--b"));
        assert_eq!(
            key("KAFKA_LISTENER_NAME_PLAINTEXT__HOST_SOCKET_RECEIVE_BUFFER_BYTES").as_deref(),
            Some("listener.name.plaintext_host.socket.receive.buffer.bytes")
        );
        // The wrapper drops every `KAFKA_`, not just the prefix.
        assert_eq!(key("KAFKA_X_KAFKA_Y").as_deref(), Some("x.y"));
        assert_eq!(key("KAFKA_HEAP_OPTS"), None);
        assert_eq!(key("KAFKA_LOG4J_LOGGERS"), None);
        assert_eq!(key("KAFKA_"), None);
        assert_eq!(key("PATH"), None);
        assert_eq!(key("CLUSTER_ID").as_deref(), Some("cluster.id"));
    }

    #[test]
    fn env_names_map_like_the_bitnami_image() {
        let key = |n: &str| Config::env_key(n);
        assert_eq!(key("KAFKA_CFG_LOG_RETENTION_MS").as_deref(), Some("log.retention.ms"));
        assert_eq!(key("KAFKA_CFG_PROCESS_ROLES").as_deref(), Some("process.roles"));
        assert_eq!(
            key("KAFKA_CFG_LISTENER_NAME_SASL_SSL_PLAIN_SASL_JAAS_CONFIG").as_deref(),
            Some("listener.name.sasl_ssl.plain.sasl.jaas.config")
        );
        assert_eq!(key("KAFKA_KRAFT_CLUSTER_ID").as_deref(), Some("cluster.id"));
        assert_eq!(key("KAFKA_CFG_"), None);
    }

    #[test]
    fn env_settings_rank_the_images_names() {
        let vars = |v: &[(&str, &str)]| Config::env_settings(v.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let set = vars(&[
            ("KAFKA_CFG_NUM_PARTITIONS", "5"),
            ("KAFKA_NUM_PARTITIONS", "3"),
            ("KAFKA_CLUSTER_ID", "from-kafka"),
            ("CLUSTER_ID", "from-cluster-id"),
            ("KAFKA_CFG_LOG_RETENTION_MS", ""),
            ("KAFKA_OPTS", "-Xmx1G"),
            ("HOME", "/root"),
        ]);
        assert_eq!(
            set,
            BTreeMap::from([
                ("cluster.id".to_string(), "from-kafka".to_string()),
                ("num.partitions".to_string(), "5".to_string()),
            ])
        );
        assert_eq!(
            vars(&[("CLUSTER_ID", "4L6g3nShT-eMCtK--X86sw")])
                .get("cluster.id")
                .map(String::as_str),
            Some("4L6g3nShT-eMCtK--X86sw")
        );
    }

    #[test]
    fn the_testcontainers_kafka_environment_is_accepted() {
        // org.testcontainers.kafka.KafkaContainer's variables, as its start
        // script completes them.
        let set = Config::env_settings(
            [
                ("CLUSTER_ID", "4L6g3nShT-eMCtK--X86sw"),
                (
                    "KAFKA_LISTENERS",
                    "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
                ),
                (
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "BROKER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                ),
                ("KAFKA_INTER_BROKER_LISTENER_NAME", "BROKER"),
                ("KAFKA_PROCESS_ROLES", "broker,controller"),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
                ("KAFKA_NODE_ID", "1"),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9094"),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
                ("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
                ("KAFKA_LOG_FLUSH_INTERVAL_MESSAGES", "9223372036854775807"),
                ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
                (
                    "KAFKA_ADVERTISED_LISTENERS",
                    "PLAINTEXT://localhost:32768,BROKER://0123456789ab:9093",
                ),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string())),
        );
        let c = Config::from_sources(&set).unwrap();
        assert_eq!(c.cluster_id.as_deref(), Some("4L6g3nShT-eMCtK--X86sw"));
        assert_eq!(c.advertised_for("PLAINTEXT").port, 32768);
        assert_eq!(c.advertised_for("BROKER").host, "0123456789ab");
        assert_eq!(c.quorum.controller_listeners[0].port, 9094);
        assert_eq!(c.log.flush_messages, i64::MAX);
        assert_eq!(c.groups.initial_rebalance_delay_ms, 0);
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

    fn cluster_node(id: &str, roles: &str) -> BTreeMap<String, String> {
        let mut set = BTreeMap::new();
        set.insert("node.id".to_string(), id.to_string());
        set.insert("process.roles".to_string(), roles.to_string());
        set.insert(
            "controller.quorum.voters".to_string(),
            "1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095".to_string(),
        );
        set.insert(
            "listeners".to_string(),
            "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093".to_string(),
        );
        set
    }

    #[test]
    fn a_kraft_cluster_node_is_configured_as_kafkas() {
        let c = Config::from_sources(&cluster_node("1", "broker,controller")).unwrap();
        assert!(c.quorum.roles.broker && c.quorum.roles.controller);
        assert_eq!(c.quorum.voter_ids(1), vec![1, 2, 3]);
        assert_eq!(c.quorum.voters[&2], "127.0.0.1:9094");
        assert_eq!(c.quorum.controller_listeners[0].port, 9093);
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.quorum.broker_session_timeout_ms, 9000);

        let mut broker_only = cluster_node("4", "broker");
        broker_only.insert("listeners".into(), "PLAINTEXT://127.0.0.1:9096".into());
        let c = Config::from_sources(&broker_only).unwrap();
        assert!(c.quorum.roles.broker && !c.quorum.roles.controller);

        let err = Config::from_sources(&cluster_node("4", "broker,controller"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("controller.quorum.voters") && err.contains("must be included"),
            "{err}"
        );
        let err = Config::from_sources(&cluster_node("2", "broker"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not be included"), "{err}");
        let mut bad = cluster_node("1", "broker,controller");
        bad.insert("controller.quorum.voters".into(), "1@127.0.0.1".into());
        let err = Config::from_sources(&bad).unwrap_err().to_string();
        assert!(
            err.contains("controller.quorum.voters") && err.contains("id@host:port"),
            "{err}"
        );
        let err = Config::from_sources(&cluster_node("1", "observer"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("process.roles"), "{err}");
    }

    #[test]
    fn the_metrics_listener_is_off_unless_set() {
        assert_eq!(Config::embedded().metrics_listener, None);
        let mut set = BTreeMap::new();
        set.insert(METRICS_LISTENER.to_string(), "http://127.0.0.1:9404".to_string());
        let c = Config::from_sources(&set).unwrap();
        assert_eq!(c.metrics_listener, Some("127.0.0.1:9404".parse().unwrap()));
        set.insert(METRICS_LISTENER.to_string(), "http://[::1]:0".to_string());
        let c = Config::from_sources(&set).unwrap();
        assert_eq!(c.metrics_listener, Some("[::1]:0".parse().unwrap()));
        for bad in ["127.0.0.1:9404", "http://localhost:9404", "http://127.0.0.1:x"] {
            set.insert(METRICS_LISTENER.to_string(), bad.to_string());
            let err = Config::from_sources(&set).unwrap_err().to_string();
            assert!(err.contains(METRICS_LISTENER), "{err}");
        }
    }

    #[test]
    fn the_zero_configuration_node_is_a_quorum_of_one() {
        let c = Config::embedded();
        assert!(c.quorum.roles.broker && c.quorum.roles.controller);
        assert!(c.quorum.voters.is_empty());
        assert_eq!(c.quorum.voter_ids(c.node_id), vec![c.node_id]);
    }
}
