package dev.fjord.compat;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConfigEntry.ConfigSource;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.InvalidRequestException;

/**
 * Dynamic broker configs (KIP-226) through the Java Admin: one broker and the
 * cluster-wide default, with a topic following the default; Kafka's refusals;
 * and Kafka's checks of manual replica assignments. Every case deletes what
 * it set: the other cases share the broker.
 */
final class BrokerConfigCases {
    private BrokerConfigCases() {}

    static final long T = Ctx.WAIT_MS;
    static final TimeUnit MS = TimeUnit.MILLISECONDS;
    static final ConfigResource CLUSTER_DEFAULT = new ConfigResource(ConfigResource.Type.BROKER, "");

    static List<Case> all() {
        return List.of(
                Case.of("broker-configs-alter-describe-delete", 60, BrokerConfigCases::alterDescribeDelete),
                Case.of("broker-configs-cluster-default-followed-by-topic", 60, BrokerConfigCases::clusterDefault),
                Case.of("broker-configs-refused", 60, BrokerConfigCases::refused),
                Case.of("replica-assignment-refused", 60, BrokerConfigCases::badAssignments));
    }

    static int brokerId(Admin admin) throws Exception {
        return admin.describeCluster().nodes().get(T, MS).iterator().next().id();
    }

    static void alter(Admin admin, ConfigResource res, String key, String value) throws Exception {
        AlterConfigOp op = value == null
                ? new AlterConfigOp(new ConfigEntry(key, ""), AlterConfigOp.OpType.DELETE)
                : new AlterConfigOp(new ConfigEntry(key, value), AlterConfigOp.OpType.SET);
        admin.incrementalAlterConfigs(Map.of(res, List.<AlterConfigOp>of(op))).all().get(T, MS);
    }

    static ConfigEntry describe(Admin admin, ConfigResource res, String key) throws Exception {
        DescribeConfigsOptions synonyms = new DescribeConfigsOptions().includeSynonyms(true);
        Collection<ConfigEntry> entries = admin.describeConfigs(List.of(res), synonyms).all().get(T, MS)
                .get(res).entries();
        return entries.stream().filter(e -> e.name().equals(key)).findFirst().orElse(null);
    }

    /**
     * The entry once it comes from {@code source}: Kafka commits a change on
     * the controller and its broker applies the metadata a moment later.
     */
    static ConfigEntry settled(Admin admin, ConfigResource res, String key, ConfigSource source) throws Exception {
        return settled(admin, res, key, source, null);
    }

    /**
     * Waits until {@code key} of {@code res} has {@code source} and, unless
     * null, {@code value}: Kafka reloads a topic's log config a moment after
     * its synonyms change, so the two settle separately.
     */
    static ConfigEntry settled(Admin admin, ConfigResource res, String key, ConfigSource source, String value)
            throws Exception {
        return Check.eventually(Duration.ofSeconds(15), () -> {
            ConfigEntry e = describe(admin, res, key);
            Check.that(e != null, res + " does not list " + key);
            Check.equal(source, e.source(), "source of " + key + " in " + res);
            if (value != null) {
                Check.equal(value, e.value(), "value of " + key + " in " + res);
            }
            return e;
        });
    }

    /** "SOURCE:name=value, ..." of an entry's synonyms. */
    static String synonyms(ConfigEntry e) {
        StringBuilder b = new StringBuilder();
        for (ConfigEntry.ConfigSynonym s : e.synonyms()) {
            b.append(b.length() == 0 ? "" : ", ").append(s.source()).append(':').append(s.name()).append('=')
                    .append(s.value());
        }
        return b.toString();
    }

    static void alterDescribeDelete(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(brokerId(admin)));
        String key = "log.flush.interval.messages";
        alter(admin, broker, key, "1234");
        try {
            ConfigEntry e = settled(admin, broker, key, ConfigSource.DYNAMIC_BROKER_CONFIG, "1234");
            Check.that(e != null, key + " is not described");
            Check.equal("1234", e.value(), "value of " + key);
            Check.equal(ConfigSource.DYNAMIC_BROKER_CONFIG, e.source(), "source of " + key);
            Check.equal("DYNAMIC_BROKER_CONFIG:" + key + "=1234, DEFAULT_CONFIG:" + key + "=9223372036854775807",
                    synonyms(e), "synonyms of " + key);
            Check.that(!e.isReadOnly(), key + " is dynamic, so not read-only");
        } finally {
            alter(admin, broker, key, null);
        }
        ConfigEntry e = settled(admin, broker, key, ConfigSource.DEFAULT_CONFIG, "9223372036854775807");
        Check.equal("9223372036854775807", e.value(), "value of " + key + " after the delete");
    }

    static void clusterDefault(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("follows-default", 1);
        ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(brokerId(admin)));
        alter(admin, CLUSTER_DEFAULT, "log.retention.ms", "86400000");
        try {
            ConfigEntry d = settled(admin, CLUSTER_DEFAULT, "log.retention.ms",
                    ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
            Check.equal("DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=86400000", synonyms(d),
                    "synonyms in the cluster default");
            ConfigEntry b = settled(admin, broker, "log.retention.ms", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                    "86400000");
            Check.equal("86400000", b.value(), "the broker's log.retention.ms");
            Check.equal(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, b.source(), "source of the broker's value");
            ConfigEntry t = settled(admin, topicRes, "retention.ms", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                    "86400000");
            Check.equal("86400000", t.value(), "the topic's retention.ms follows the default");
            Check.equal(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, t.source(), "source of the topic's value");
            Check.that(synonyms(t).startsWith("DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=86400000, "),
                    "topic synonyms: " + synonyms(t));
        } finally {
            alter(admin, CLUSTER_DEFAULT, "log.retention.ms", null);
        }
        ConfigEntry t = settled(admin, topicRes, "retention.ms", ConfigSource.DEFAULT_CONFIG, "604800000");
        Check.equal("604800000", t.value(), "the topic's retention.ms after the delete");
    }

    static void refused(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(brokerId(admin)));
        InvalidRequestException e = Check.throwsCause(InvalidRequestException.class,
                () -> {
                    alter(admin, broker, "log.retention.hours", "1");
                    return null;
                }, "log.retention.hours (not dynamic)");
        Check.equal("Cannot update these configs dynamically: Set(log.retention.hours)", e.getMessage(),
                "message");
        e = Check.throwsCause(InvalidRequestException.class,
                () -> {
                    alter(admin, broker, "log.flush.interval.messages", "many");
                    return null;
                }, "a LONG config set to a word");
        Check.equal("Invalid value many for configuration log.flush.interval.messages: Not a number of type LONG",
                e.getMessage(), "message");
        Check.equal(ConfigSource.DEFAULT_CONFIG, describe(admin, broker, "log.retention.hours").source(),
                "log.retention.hours stays static");
    }

    static void badAssignments(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        int id = brokerId(admin);
        String topic = ctx.createTopic("bad-assignment", 1);
        Map<String, String> cases = Map.of(
                "duplicate", "The manual partition assignment includes the broker " + id + " more than once.",
                "unknown", "The manual partition assignment includes broker " + (id + 1000)
                        + ", but no such broker is registered.",
                "count", "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.");
        Map<String, NewPartitions> requests = Map.of(
                "duplicate", NewPartitions.increaseTo(2, List.of(List.of(id, id))),
                "unknown", NewPartitions.increaseTo(2, List.of(List.of(id + 1000))),
                "count", NewPartitions.increaseTo(3, List.of(List.of(id))));
        for (String what : List.of("duplicate", "unknown", "count")) {
            InvalidReplicaAssignmentException e = Check.throwsCause(InvalidReplicaAssignmentException.class,
                    () -> admin.createPartitions(Map.of(topic, requests.get(what))).all().get(T, MS),
                    "CreatePartitions, " + what);
            Check.equal(cases.get(what), e.getMessage(), "CreatePartitions message, " + what);
        }
        String other = topic + "-created";
        InvalidReplicaAssignmentException e = Check.throwsCause(InvalidReplicaAssignmentException.class,
                () -> admin.createTopics(List.of(new NewTopic(other, Map.of(0, List.of(id), 2, List.of(id)))))
                        .all().get(T, MS),
                "CreateTopics with partitions 0 and 2");
        Check.equal("partitions should be a consecutive 0-based integer sequence", e.getMessage(),
                "CreateTopics message");
    }
}
