//! The broker configs fjord implements, as Kafka defines them: type,
//! default, whether Kafka applies a change without a restart (DescribeConfigs
//! reports the others read-only), and a line of documentation. `config.rs`
//! reads them at start-up; DescribeConfigs describes them with Kafka's
//! synonyms and sources.

/// Kafka's ConfigDef types, with their DescribeConfigs wire ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
}

/// One broker config.
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub ty: ConfigType,
    /// fjord's default: Kafka's, except where the comment in the table says
    /// otherwise. `None`: no value unless one is set.
    pub default: Option<&'static str>,
    /// In Kafka's list of configs a broker applies without a restart.
    pub dynamic: bool,
    pub doc: &'static str,
}

macro_rules! broker_configs {
    ($($name:literal, $ty:ident, $default:expr, $dynamic:literal, $doc:literal;)*) => {
        /// Sorted by name.
        pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[$(BrokerConfigDef {
            name: $name,
            ty: ConfigType::$ty,
            default: $default,
            dynamic: $dynamic,
            doc: $doc,
        }),*];
    };
}

broker_configs! {
    "advertised.listeners", String, None, false,
        "Listeners to tell clients, as name://host:port, when they differ from `listeners`.";
    "auto.create.topics.enable", Boolean, Some("true"), false,
        "Create a topic when a client asks for its metadata and it does not exist.";
    "auto.leader.rebalance.enable", Boolean, Some("true"), false,
        "The active controller moves leadership back to preferred replicas every leader.imbalance.check.interval.seconds.";
    "broker.heartbeat.interval.ms", Int, Some("2000"), false,
        "How often a broker heartbeats to the active controller.";
    "broker.id", Int, Some("-1"), false,
        "The broker's id; in KRaft mode it equals `node.id`.";
    "broker.rack", String, None, false,
        "The broker's rack, for rack-aware replica placement.";
    "broker.session.timeout.ms", Int, Some("9000"), false,
        "How long the controller waits for a heartbeat before fencing a broker.";
    "compression.gzip.level", Int, Some("-1"), true,
        "Default gzip level of topics.";
    "compression.lz4.level", Int, Some("9"), true,
        "Default lz4 level of topics.";
    "compression.type", String, Some("producer"), true,
        "Default compression of topics: `producer` keeps what the producer sent.";
    "compression.zstd.level", Int, Some("3"), true,
        "Default zstd level of topics.";
    // Kafka has no default; fjord names its controller listener CONTROLLER
    // so that one in `listeners` is never served to clients.
    "controller.listener.names", String, Some("CONTROLLER"), false,
        "Names of the listeners the metadata quorum uses.";
    "controller.quorum.bootstrap.servers", List, Some(""), false,
        "host:port of quorum voters to contact first.";
    "controller.quorum.election.timeout.ms", Int, Some("1000"), false,
        "How long a voter waits for the leader before it starts an election.";
    "controller.quorum.voters", List, Some(""), false,
        "The metadata quorum's voters, as id@host:port.";
    "default.replication.factor", Int, Some("1"), false,
        "Replication factor of topics created without one.";
    "delete.topic.enable", Boolean, Some("true"), false,
        "Allow DeleteTopics.";
    // Kafka's default is 3000; its shipped server.properties (and the
    // apache/kafka image) set 0 for a better single-node experience, and so
    // does fjord's default.
    "group.initial.rebalance.delay.ms", Int, Some("0"), false,
        "How long the first rebalance of an empty group waits for more members.";
    "group.max.session.timeout.ms", Int, Some("1800000"), false,
        "Largest session timeout a group member may ask for.";
    "group.max.size", Int, Some("2147483647"), false,
        "Most members one consumer group may have.";
    "group.min.session.timeout.ms", Int, Some("6000"), false,
        "Smallest session timeout a group member may ask for.";
    // Kafka derives it from the security protocol when unset; fjord names
    // its default listener.
    "inter.broker.listener.name", String, Some("PLAINTEXT"), false,
        "The listener brokers use to reach each other.";
    "leader.imbalance.check.interval.seconds", Long, Some("300"), false,
        "How often the active controller looks for partitions not led by their preferred replica.";
    "listener.security.protocol.map", String, Some("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"), true,
        "The security protocol of each listener name.";
    // Kafka has no default listener in KRaft mode; fjord serves one so that
    // `fjord` with no arguments is a working broker.
    "listeners", String, Some("PLAINTEXT://0.0.0.0:9092"), true,
        "Addresses to listen on, as name://host:port.";
    "log.cleaner.delete.retention.ms", Long, Some("86400000"), true,
        "Default time compacted topics keep delete markers.";
    "log.cleaner.max.compaction.lag.ms", Long, Some("9223372036854775807"), true,
        "Default longest time a record may stay uncompacted.";
    "log.cleaner.min.cleanable.ratio", Double, Some("0.5"), true,
        "Default share of a log not yet compacted at which compaction starts.";
    "log.cleaner.min.compaction.lag.ms", Long, Some("0"), true,
        "Default shortest time a record stays uncompacted.";
    "log.cleanup.policy", List, Some("delete"), true,
        "Default cleanup policy of topics: delete, compact, both, or none (empty).";
    "log.dir", String, Some("/tmp/kafka-logs"), false,
        "The data directory, when `log.dirs` is not set.";
    // Kafka falls back to `log.dir`; fjord keeps its data beside it.
    "log.dirs", String, Some("./fjord-data"), false,
        "Data directories; the first also holds the cluster metadata log.";
    "log.flush.interval.messages", Long, Some("9223372036854775807"), true,
        "Records a partition accepts before its log is flushed to disk.";
    "log.flush.interval.ms", Long, None, true,
        "Longest time a record stays in memory before its log is flushed.";
    "log.index.interval.bytes", Int, Some("4096"), true,
        "Bytes of log between two entries of the offset index.";
    "log.index.size.max.bytes", Int, Some("10485760"), true,
        "Largest size of an offset or time index before the segment rolls.";
    "log.local.retention.bytes", Long, Some("-2"), true,
        "Default bytes kept on local disk with tiered storage; -2 follows the retention size.";
    "log.local.retention.ms", Long, Some("-2"), true,
        "Default time kept on local disk with tiered storage; -2 follows the retention time.";
    "log.message.timestamp.after.max.ms", Long, Some("3600000"), true,
        "Default of how far in the future a CreateTime timestamp may be.";
    "log.message.timestamp.before.max.ms", Long, Some("9223372036854775807"), true,
        "Default of how far in the past a CreateTime timestamp may be.";
    "log.message.timestamp.type", String, Some("CreateTime"), true,
        "Default timestamp type of topics: CreateTime or LogAppendTime.";
    "log.preallocate", Boolean, Some("false"), true,
        "Default of whether segment files are preallocated.";
    "log.retention.bytes", Long, Some("-1"), true,
        "Default size a partition keeps before deleting old segments; -1 for no limit.";
    "log.retention.check.interval.ms", Long, Some("300000"), false,
        "How often segments are checked for retention.";
    "log.retention.hours", Int, Some("168"), false,
        "Default retention time in hours, when the ms and minutes forms are not set.";
    "log.retention.minutes", Int, None, false,
        "Default retention time in minutes, when `log.retention.ms` is not set.";
    "log.retention.ms", Long, None, true,
        "Default retention time; -1 keeps records forever.";
    "log.roll.hours", Int, Some("168"), false,
        "Default time after which a segment rolls, in hours, when `log.roll.ms` is not set.";
    "log.roll.jitter.hours", Int, Some("0"), false,
        "Default segment roll jitter in hours, when `log.roll.jitter.ms` is not set.";
    "log.roll.jitter.ms", Long, None, true,
        "Default largest random amount taken off the segment roll time.";
    "log.roll.ms", Long, None, true,
        "Default time after which a segment rolls.";
    "log.segment.bytes", Int, Some("1073741824"), true,
        "Default size of one segment file.";
    "log.segment.delete.delay.ms", Long, Some("60000"), true,
        "Default time a deleted segment's files stay on disk.";
    "max.incremental.fetch.session.cache.slots", Int, Some("1000"), false,
        "Most incremental fetch sessions (KIP-227) the broker keeps.";
    "message.max.bytes", Int, Some("1048588"), true,
        "Largest record batch a topic accepts, by default.";
    "metadata.log.dir", String, None, false,
        "Directory of the cluster metadata log; the first of `log.dirs` when not set.";
    "min.insync.replicas", Int, Some("1"), true,
        "Replicas that must have a record before an acks=all produce succeeds.";
    // Kafka requires node.id in KRaft mode; fjord's single node is 1.
    "node.id", Int, Some("1"), false,
        "This node's id in the cluster.";
    "num.io.threads", Int, Some("8"), true,
        "Request handler threads (fjord sizes its runtime to the machine instead).";
    "num.network.threads", Int, Some("3"), true,
        "Network threads (fjord sizes its runtime to the machine instead).";
    "num.partitions", Int, Some("1"), false,
        "Partitions of topics created without a count.";
    "num.recovery.threads.per.data.dir", Int, Some("2"), true,
        "Threads per data directory for log recovery at start-up.";
    "offset.metadata.max.bytes", Int, Some("4096"), false,
        "Largest metadata string a committed offset may carry.";
    "offsets.retention.check.interval.ms", Long, Some("600000"), false,
        "How often expired committed offsets are removed.";
    "offsets.retention.minutes", Int, Some("10080"), false,
        "How long the offsets of an empty group are kept.";
    "offsets.topic.num.partitions", Int, Some("50"), false,
        "Partitions of the __consumer_offsets topic.";
    "offsets.topic.replication.factor", Short, Some("3"), false,
        "Replication factor of the __consumer_offsets topic, capped by the brokers available.";
    "offsets.topic.segment.bytes", Int, Some("104857600"), false,
        "Segment size of the __consumer_offsets topic.";
    // Kafka requires process.roles in KRaft mode; fjord is a combined node
    // unless told otherwise.
    "process.roles", List, Some("broker,controller"), false,
        "What this node is: broker, controller, or both.";
    "replica.fetch.backoff.ms", Int, Some("1000"), false,
        "How long a follower waits before fetching again after a fetch error.";
    "replica.fetch.max.bytes", Int, Some("1048576"), false,
        "Bytes a follower asks for per partition in one fetch.";
    "replica.fetch.min.bytes", Int, Some("1"), false,
        "Bytes a follower's fetch waits for.";
    "replica.fetch.response.max.bytes", Int, Some("10485760"), false,
        "Bytes a follower asks for in one fetch over all partitions.";
    "replica.fetch.wait.max.ms", Int, Some("500"), false,
        "How long a follower's fetch waits on the leader for new records.";
    "replica.lag.time.max.ms", Long, Some("30000"), false,
        "A follower that has not caught up for this long leaves the ISR.";
    "replica.socket.timeout.ms", Int, Some("30000"), false,
        "How long a follower waits for a fetch response beyond its wait time.";
    "socket.receive.buffer.bytes", Int, Some("102400"), false,
        "SO_RCVBUF of client sockets; -1 for the OS default.";
    "socket.request.max.bytes", Int, Some("104857600"), false,
        "Largest request frame the broker reads.";
    "socket.send.buffer.bytes", Int, Some("102400"), false,
        "SO_SNDBUF of client sockets; -1 for the OS default.";
    "transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), false,
        "How often the transaction coordinator aborts transactions open longer than their timeout.";
    "transaction.max.timeout.ms", Int, Some("900000"), false,
        "Largest transaction.timeout.ms a transactional producer may ask for.";
    "transaction.remove.expired.transaction.cleanup.interval.ms", Int, Some("3600000"), false,
        "How often the transaction coordinator removes transactional ids past transactional.id.expiration.ms.";
    "transaction.state.log.min.isr", Int, Some("2"), false,
        "min.insync.replicas of the __transaction_state topic.";
    "transaction.state.log.num.partitions", Int, Some("50"), false,
        "Partitions of the __transaction_state topic.";
    "transaction.state.log.replication.factor", Short, Some("3"), false,
        "Replication factor of the __transaction_state topic.";
    "transaction.state.log.segment.bytes", Int, Some("104857600"), false,
        "Segment size of the __transaction_state topic.";
    "transactional.id.expiration.ms", Int, Some("604800000"), false,
        "How long a transactional id without transactions is kept.";
    "unclean.leader.election.enable", Boolean, Some("false"), true,
        "Default of whether a replica outside the ISR may become leader.";
}

/// Kafka 4.1's broker configs that fjord does not implement and that Kafka
/// applies only at start-up (read-only in its DescribeConfigs): altering
/// one dynamically is refused, as Kafka refuses it. Other unknown names are
/// custom configs, which Kafka stores and so does fjord.
#[rustfmt::skip]
const KAFKA_STATIC_ONLY: &[&str] = &[
    "add.partitions.to.txn.retry.backoff.max.ms", "add.partitions.to.txn.retry.backoff.ms",
    "alter.config.policy.class.name", "alter.log.dirs.replication.quota.window.num",
    "alter.log.dirs.replication.quota.window.size.seconds", "authorizer.class.name",
    "client.quota.callback.class", "connection.failed.authentication.delay.ms",
    "connections.max.idle.ms", "connections.max.reauth.ms", "controlled.shutdown.enable",
    "controller.quorum.append.linger.ms", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.fetch.timeout.ms",
    "controller.quorum.request.timeout.ms", "controller.quorum.retry.backoff.ms",
    "controller.quota.window.num", "controller.quota.window.size.seconds", "controller.socket.timeout.ms",
    "create.topic.policy.class.name", "delegation.token.expiry.check.interval.ms",
    "delegation.token.expiry.time.ms", "delegation.token.max.lifetime.ms", "delegation.token.secret.key",
    "delete.records.purgatory.purge.interval.requests", "early.start.listeners", "fetch.max.bytes",
    "fetch.purgatory.purge.interval.requests", "group.consumer.assignors",
    "group.consumer.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.max.session.timeout.ms", "group.consumer.max.size", "group.consumer.migration.policy",
    "group.consumer.min.heartbeat.interval.ms", "group.consumer.min.session.timeout.ms",
    "group.consumer.session.timeout.ms", "group.coordinator.append.linger.ms",
    "group.coordinator.rebalance.protocols", "group.coordinator.threads", "group.share.assignors",
    "group.share.delivery.count.limit", "group.share.heartbeat.interval.ms",
    "group.share.max.heartbeat.interval.ms", "group.share.max.record.lock.duration.ms",
    "group.share.max.session.timeout.ms", "group.share.max.share.sessions", "group.share.max.size",
    "group.share.min.heartbeat.interval.ms", "group.share.min.record.lock.duration.ms",
    "group.share.min.session.timeout.ms", "group.share.partition.max.record.locks",
    "group.share.record.lock.duration.ms", "group.share.session.timeout.ms",
    "group.streams.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms",
    "group.streams.max.session.timeout.ms", "group.streams.max.size", "group.streams.max.standby.replicas",
    "group.streams.min.heartbeat.interval.ms", "group.streams.min.session.timeout.ms",
    "group.streams.num.standby.replicas", "group.streams.session.timeout.ms",
    "initial.broker.registration.timeout.ms", "kafka.metrics.polling.interval.secs",
    "kafka.metrics.reporters", "log.cleaner.enable",
    "log.dir.failure.timeout.ms", "log.flush.offset.checkpoint.interval.ms",
    "log.flush.scheduler.interval.ms", "log.flush.start.offset.checkpoint.interval.ms",
    "max.request.partition.size.limit", "metadata.log.max.record.bytes.between.snapshots",
    "metadata.log.max.snapshot.interval.ms", "metadata.log.segment.bytes", "metadata.log.segment.ms",
    "metadata.max.idle.interval.ms", "metadata.max.retention.bytes", "metadata.max.retention.ms",
    "metrics.num.samples", "metrics.recording.level", "metrics.sample.window.ms",
    "num.replica.alter.log.dirs.threads", "offsets.commit.timeout.ms", "offsets.load.buffer.size",
    "offsets.topic.compression.codec", "producer.purgatory.purge.interval.requests",
    "queued.max.request.bytes", "queued.max.requests", "quota.window.num", "quota.window.size.seconds",
    "remote.log.manager.copy.quota.window.num", "remote.log.manager.copy.quota.window.size.seconds",
    "remote.log.manager.fetch.quota.window.num", "remote.log.manager.fetch.quota.window.size.seconds",
    "remote.log.manager.task.interval.ms", "remote.log.manager.thread.pool.size",
    "remote.log.metadata.custom.metadata.max.bytes", "remote.log.metadata.manager.class.name",
    "remote.log.metadata.manager.class.path", "remote.log.metadata.manager.impl.prefix",
    "remote.log.metadata.manager.listener.name", "remote.log.reader.max.pending.tasks",
    "remote.log.storage.manager.class.name", "remote.log.storage.manager.class.path",
    "remote.log.storage.manager.impl.prefix", "remote.log.storage.system.enable",
    "replica.high.watermark.checkpoint.interval.ms",
    "replica.selector.class", "replica.socket.receive.buffer.bytes",
    "replication.quota.window.num", "replication.quota.window.size.seconds", "request.timeout.ms",
    "sasl.client.callback.handler.class", "sasl.login.callback.handler.class", "sasl.login.class",
    "sasl.login.connect.timeout.ms", "sasl.login.read.timeout.ms", "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms", "sasl.mechanism.controller.protocol",
    "sasl.oauthbearer.assertion.algorithm", "sasl.oauthbearer.assertion.claim.aud",
    "sasl.oauthbearer.assertion.claim.exp.seconds", "sasl.oauthbearer.assertion.claim.iss",
    "sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
    "sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.private.key.file", "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.template.file", "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience", "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms", "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwt.retriever.class", "sasl.oauthbearer.jwt.validator.class", "sasl.oauthbearer.scope",
    "sasl.oauthbearer.scope.claim.name", "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url", "sasl.server.callback.handler.class",
    "sasl.server.max.receive.size", "security.inter.broker.protocol", "security.providers",
    "share.coordinator.append.linger.ms", "share.coordinator.load.buffer.size",
    "share.coordinator.snapshot.update.records.per.snapshot",
    "share.coordinator.state.topic.compression.codec", "share.coordinator.state.topic.min.isr",
    "share.coordinator.state.topic.num.partitions", "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.segment.bytes", "share.coordinator.threads",
    "share.coordinator.write.timeout.ms", "share.fetch.purgatory.purge.interval.requests",
    "socket.connection.setup.timeout.max.ms", "socket.connection.setup.timeout.ms",
    "socket.listen.backlog.size", "ssl.allow.dn.changes", "ssl.allow.san.changes",
    "ssl.principal.mapping.rules", "telemetry.max.bytes",
    "transaction.state.log.load.buffer.size", "transaction.two.phase.commit.enable",
];

/// Whether Kafka lets `name` be changed without a restart.
pub fn is_dynamic(name: &str) -> bool {
    match definition(name) {
        Some(def) => def.dynamic,
        None => !KAFKA_STATIC_ONLY.contains(&name),
    }
}

pub fn definition(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS.iter().find(|d| d.name == name)
}

/// Kafka's synonyms of a broker config (DynamicBrokerConfig's
/// brokerConfigSynonyms): the keys that set the same thing, most specific
/// first.
pub fn synonyms(name: &str) -> Vec<&str> {
    const GROUPS: &[&[&str]] = &[
        &["log.roll.ms", "log.roll.hours"],
        &["log.roll.jitter.ms", "log.roll.jitter.hours"],
        &["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
    ];
    if name == "log.flush.interval.ms" {
        return vec!["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    }
    GROUPS
        .iter()
        .find(|g| g.contains(&name))
        .map(|g| g.to_vec())
        .unwrap_or_else(|| vec![name])
}

/// Kafka's per-broker-only dynamic configs (DynamicBrokerConfig's
/// PerBrokerConfigs, less the cluster-level listener configs): they may
/// be set for one broker, never as the cluster-wide default.
pub const PER_BROKER_ONLY: &[&str] = &["listener.security.protocol.map", "listeners"];

/// Kafka's ConfigDef parsing of one value (DynamicConfig.Broker.validate),
/// with its message.
pub fn parse_value(def: &BrokerConfigDef, value: &str) -> Result<(), String> {
    let bad = |what: &str| format!("Invalid value {value} for configuration {}: {what}", def.name);
    let v = value.trim();
    match def.ty {
        ConfigType::Boolean => match v.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(bad("Expected value to be either true or false")),
        },
        ConfigType::Int => v
            .parse::<i32>()
            .map(|_| ())
            .map_err(|_| bad("Not a number of type INT")),
        ConfigType::Short => v
            .parse::<i16>()
            .map(|_| ())
            .map_err(|_| bad("Not a number of type SHORT")),
        ConfigType::Long => v
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| bad("Not a number of type LONG")),
        ConfigType::Double => v
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| bad("Not a number of type DOUBLE")),
        ConfigType::String | ConfigType::List => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        for pair in BROKER_CONFIGS.windows(2) {
            assert!(pair[0].name < pair[1].name, "{} before {}", pair[0].name, pair[1].name);
        }
    }

    #[test]
    fn kafkas_start_up_configs_are_not_dynamic() {
        assert!(!is_dynamic("broker.rack"), "a Kafka config fjord does not implement");
        assert!(!is_dynamic("log.retention.hours"), "one fjord implements");
        assert!(is_dynamic("log.retention.ms"));
        assert!(is_dynamic("custom.thing"), "custom configs are stored, as Kafka does");
    }

    #[test]
    fn time_configs_are_synonyms_of_their_other_units() {
        assert_eq!(
            synonyms("log.retention.hours"),
            ["log.retention.ms", "log.retention.minutes", "log.retention.hours"]
        );
        assert_eq!(synonyms("log.roll.ms"), ["log.roll.ms", "log.roll.hours"]);
        assert_eq!(synonyms("message.max.bytes"), ["message.max.bytes"]);
    }
}
