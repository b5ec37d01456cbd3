package dev.fjord.compat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.InvalidTimestampException;

/**
 * Configs and produce validation exactly as Kafka answers them: a
 * differential DescribeConfigs against a recorded Kafka snapshot, APPEND and
 * SUBTRACT on list configs, and per-record produce errors (KIP-467).
 */
final class ConfigCases {
    private ConfigCases() {}

    static final long T = Ctx.WAIT_MS;
    static final TimeUnit MS = TimeUnit.MILLISECONDS;

    /** Kafka 4.1's DescribeConfigs for a fresh topic and the broker, one canonical line per entry. */
    static final String SNAPSHOT = "compat/java/expected/describe-configs.tsv";
    /** Every way fjord's answer differs from the snapshot, each with its reason. */
    static final String DIFFERENCES = "compat/config-differences.tsv";

    static List<Case> all() {
        return List.of(
                Case.of("configs-describe-differential", 90, ConfigCases::describeDifferential),
                Case.of("configs-list-append-subtract", 60, ConfigCases::listAppendSubtract),
                Case.of("produce-keyless-to-compacted-record-errors", 60, ConfigCases::keylessToCompacted),
                Case.of("produce-timestamp-out-of-range-record-errors", 60, ConfigCases::timestampOutOfRange));
    }

    // ---- differential DescribeConfigs ----

    static void describeDifferential(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("describe-diff", 1);
        String brokerId = String.valueOf(admin.describeCluster().controller().get(T, MS).id());
        DescribeConfigsOptions all = new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(true);
        ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER, brokerId);
        Map<ConfigResource, Config> got = admin.describeConfigs(List.of(topicRes, brokerRes), all).all().get(T, MS);
        TreeMap<String, String> live = new TreeMap<>();
        canonical("topic", got.get(topicRes).entries(), live);
        canonical("broker", got.get(brokerRes).entries(), live);

        Path root = Path.of(System.getenv().getOrDefault("COMPAT_ROOT", "."));
        String record = System.getenv("COMPAT_RECORD_CONFIGS");
        if (record != null) {
            Files.write(Path.of(record), live.values());
            System.err.println("[configs-describe-differential] recorded " + live.size() + " entries to " + record);
            return;
        }
        TreeMap<String, String> snapshot = new TreeMap<>();
        for (String line : Files.readAllLines(root.resolve(SNAPSHOT))) {
            if (!line.isBlank()) {
                String[] f = line.split("\t", -1);
                snapshot.put(f[0] + "\t" + f[1], line);
            }
        }
        TreeSet<String> found = differences(snapshot, live);
        if (!"fjord".equals(System.getenv("COMPAT_TARGET"))) {
            Check.that(found.isEmpty(), "Apache Kafka no longer answers as " + SNAPSHOT + " records: "
                    + String.join("; ", found.stream().limit(5).toList()));
            return;
        }
        TreeSet<String> listed = new TreeSet<>();
        for (String line : Files.readAllLines(root.resolve(DIFFERENCES))) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            Check.that(f.length == 4 && !f[3].isBlank(), DIFFERENCES + ": needs resource, name, field, reason: " + line);
            listed.add(f[0] + "\t" + f[1] + "\t" + f[2]);
        }
        TreeSet<String> unlisted = new TreeSet<>(found);
        unlisted.removeAll(listed);
        TreeSet<String> stale = new TreeSet<>(listed);
        stale.removeAll(found);
        Check.that(unlisted.isEmpty(), unlisted.size() + " differences from Kafka not listed in " + DIFFERENCES
                + ": " + unlisted.stream().limit(8).map(s -> s.replace('\t', ' ')).collect(Collectors.joining("; ")));
        Check.that(stale.isEmpty(), stale.size() + " entries of " + DIFFERENCES + " no longer differ: "
                + stale.stream().limit(8).map(s -> s.replace('\t', ' ')).collect(Collectors.joining("; ")));
    }

    static final String[] FIELDS = {"resource", "name", "value", "source", "read_only", "sensitive", "type",
        "synonyms", "documentation"};

    /** "resource\tname\tfield" for every entry missing on one side or differing in one field. */
    static TreeSet<String> differences(Map<String, String> kafka, Map<String, String> fjord) {
        TreeSet<String> out = new TreeSet<>();
        TreeSet<String> keys = new TreeSet<>(kafka.keySet());
        keys.addAll(fjord.keySet());
        for (String key : keys) {
            String k = kafka.get(key);
            String f = fjord.get(key);
            if (k == null) {
                out.add(key + "\textra");
            } else if (f == null) {
                out.add(key + "\tmissing");
            } else {
                String[] a = k.split("\t", -1);
                String[] b = f.split("\t", -1);
                for (int i = 2; i < FIELDS.length; i++) {
                    if (!a[i].equals(b[i])) {
                        out.add(key + "\t" + FIELDS[i]);
                    }
                }
            }
        }
        return out;
    }

    static void canonical(String resource, Collection<ConfigEntry> entries, Map<String, String> out) {
        for (ConfigEntry e : entries) {
            String synonyms = e.synonyms().stream()
                    .map(s -> s.name() + "=" + env(s.value()) + "/" + s.source())
                    .collect(Collectors.joining(","));
            String doc = e.documentation() == null || e.documentation().isBlank() ? "-" : "documented";
            out.put(resource + "\t" + e.name(), String.join("\t", resource, e.name(), env(e.value()),
                    e.source().toString(), String.valueOf(e.isReadOnly()), String.valueOf(e.isSensitive()),
                    e.type().toString(), synonyms, doc));
        }
    }

    /** Values that name this machine (addresses, ports, paths) differ between any two runs. */
    static String env(String value) {
        if (value == null) {
            return "(null)";
        }
        if (value.contains("127.0.0.1") || value.contains("localhost") || value.startsWith("/")) {
            return "(this machine)";
        }
        return value.replace('\t', ' ');
    }

    // ---- APPEND / SUBTRACT on list configs ----

    static void listAppendSubtract(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("list-ops", 1);
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        alter(admin, res, AlterConfigOp.OpType.APPEND, "cleanup.policy", "compact");
        expect(admin, res, "cleanup.policy", "delete,compact");
        alter(admin, res, AlterConfigOp.OpType.APPEND, "cleanup.policy", "compact");
        expect(admin, res, "cleanup.policy", "delete,compact");
        alter(admin, res, AlterConfigOp.OpType.SUBTRACT, "cleanup.policy", "delete");
        expect(admin, res, "cleanup.policy", "compact");
        alter(admin, res, AlterConfigOp.OpType.SUBTRACT, "cleanup.policy", "compact");
        expect(admin, res, "cleanup.policy", "");
        alter(admin, res, AlterConfigOp.OpType.SUBTRACT, "cleanup.policy", "compact");
        expect(admin, res, "cleanup.policy", "");
        alter(admin, res, AlterConfigOp.OpType.APPEND, "cleanup.policy", "delete");
        expect(admin, res, "cleanup.policy", "delete");

        alter(admin, res, AlterConfigOp.OpType.APPEND, "leader.replication.throttled.replicas", "0:1");
        expect(admin, res, "leader.replication.throttled.replicas", "0:1");
        alter(admin, res, AlterConfigOp.OpType.APPEND, "leader.replication.throttled.replicas", "1:1");
        alter(admin, res, AlterConfigOp.OpType.APPEND, "leader.replication.throttled.replicas", "0:1");
        expect(admin, res, "leader.replication.throttled.replicas", "0:1,1:1");
        alter(admin, res, AlterConfigOp.OpType.SUBTRACT, "leader.replication.throttled.replicas", "0:1");
        expect(admin, res, "leader.replication.throttled.replicas", "1:1");

        Check.throwsCause(org.apache.kafka.common.errors.InvalidConfigurationException.class,
                () -> alter(admin, res, AlterConfigOp.OpType.APPEND, "retention.ms", "1000"),
                "APPEND to a config that is not a list");
        Check.throwsCause(org.apache.kafka.common.errors.InvalidConfigurationException.class,
                () -> alter(admin, res, AlterConfigOp.OpType.APPEND, "cleanup.policy", "sometimes"),
                "APPEND of a value the list does not allow");
    }

    static Void alter(Admin admin, ConfigResource res, AlterConfigOp.OpType op, String key, String value)
            throws Exception {
        admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry(key, value), op))))
                .all().get(T, MS);
        return null;
    }

    static void expect(Admin admin, ConfigResource res, String key, String value) throws Exception {
        Check.eventually(java.time.Duration.ofSeconds(15), () -> {
            ConfigEntry e = admin.describeConfigs(List.of(res)).all().get(T, MS).get(res).get(key);
            Check.equal(value, e.value(), key + " of " + res.name());
            Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source(), "source of " + key);
            return e;
        });
    }

    // ---- per-record errors (KIP-467) ----

    /**
     * Sends {@code records} as one batch (one partition, a long linger, one
     * flush) and returns each record's outcome: null or its exception.
     */
    static List<Throwable> sendOneBatch(Ctx ctx, String topic, List<ProducerRecord<byte[], byte[]>> records)
            throws Exception {
        KafkaProducer<byte[], byte[]> producer = ctx.producer(Map.of(
                ProducerConfig.LINGER_MS_CONFIG, 1_000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000,
                ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                ProducerConfig.RETRIES_CONFIG, 0));
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : records) {
            sent.add(producer.send(r));
        }
        producer.flush();
        List<Throwable> outcomes = new ArrayList<>();
        for (Future<RecordMetadata> f : sent) {
            try {
                f.get(T, MS);
                outcomes.add(null);
            } catch (ExecutionException e) {
                outcomes.add(e.getCause());
            }
        }
        return outcomes;
    }

    static void keylessToCompacted(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("compacted-keyless", 1, Map.of("cleanup.policy", "compact"));
        byte[] v = "value".getBytes();
        List<Throwable> out = sendOneBatch(ctx, topic, List.of(
                new ProducerRecord<>(topic, 0, "k0".getBytes(), v),
                new ProducerRecord<>(topic, 0, null, v),
                new ProducerRecord<>(topic, 0, "k2".getBytes(), v),
                new ProducerRecord<>(topic, 0, null, v)));
        for (int i : new int[] {1, 3}) {
            Check.that(out.get(i) instanceof InvalidRecordException, "keyless record " + i + ": " + out.get(i));
            Check.that(out.get(i).getMessage().contains("Compacted topic cannot accept message without key"),
                    "record " + i + "'s message: " + out.get(i).getMessage());
        }
        for (int i : new int[] {0, 2}) {
            Check.that(out.get(i) != null && out.get(i).getClass() == KafkaException.class,
                    "keyed record " + i + " fails with its batch: " + out.get(i));
        }
        // Alone, a keyless record gets the partition's error itself.
        List<Throwable> alone = sendOneBatch(ctx, topic, List.of(new ProducerRecord<>(topic, 0, null, v)));
        Check.that(alone.get(0) instanceof InvalidRecordException, "a lone keyless record: " + alone.get(0));
        // Keyed records go through.
        List<Throwable> keyed = sendOneBatch(ctx, topic, List.of(new ProducerRecord<>(topic, 0, "k".getBytes(), v)));
        Check.equal(null, keyed.get(0), "a keyed record");
    }

    static void timestampOutOfRange(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("timestamp-range", 1, Map.of(
                "message.timestamp.before.max.ms", "3600000",
                "message.timestamp.after.max.ms", "3600000"));
        long now = System.currentTimeMillis();
        long day = 24 * 3600 * 1000L;
        byte[] v = "value".getBytes();
        List<Throwable> out = sendOneBatch(ctx, topic, List.of(
                new ProducerRecord<>(topic, 0, now, null, v),
                new ProducerRecord<>(topic, 0, now - day, null, v),
                new ProducerRecord<>(topic, 0, now, null, v),
                new ProducerRecord<>(topic, 0, now + day, null, v)));
        for (int i : new int[] {1, 3}) {
            Check.that(out.get(i) instanceof InvalidRecordException, "out-of-range record " + i + ": " + out.get(i));
            Check.that(out.get(i).getMessage().contains("is out of range"),
                    "record " + i + "'s message: " + out.get(i).getMessage());
        }
        for (int i : new int[] {0, 2}) {
            Check.that(out.get(i) != null && out.get(i).getClass() == KafkaException.class,
                    "in-range record " + i + " fails with its batch: " + out.get(i));
        }
        List<Throwable> alone = sendOneBatch(ctx, topic, List.of(new ProducerRecord<>(topic, 0, now - day, null, v)));
        Check.that(alone.get(0) instanceof InvalidTimestampException, "a lone old record: " + alone.get(0));
        Check.that(alone.get(0).getMessage().contains("is out of range"), "its message: " + alone.get(0).getMessage());
        List<Throwable> fine = sendOneBatch(ctx, topic, List.of(new ProducerRecord<>(topic, 0, now, null, v)));
        Check.equal(null, fine.get(0), "a current record");
    }
}
