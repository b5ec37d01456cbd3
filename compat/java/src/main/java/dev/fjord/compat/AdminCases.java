package dev.fjord.compat;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/** AdminClient: topics, configs, offsets, records, log dirs, cluster. */
final class AdminCases {
    private AdminCases() {}

    static final long T = Ctx.WAIT_MS;
    static final TimeUnit MS = TimeUnit.MILLISECONDS;
    static final Duration SETTLE = Duration.ofSeconds(15);

    static List<Case> all() {
        return List.of(
                Case.of("admin-create-topics", 60, AdminCases::createTopics),
                Case.of("admin-create-topics-validate-only", 60, AdminCases::createTopicsValidateOnly),
                Case.of("admin-describe-topics", 60, AdminCases::describeTopics),
                Case.of("admin-list-topics", 60, AdminCases::listTopics),
                Case.of("admin-create-partitions", 60, AdminCases::createPartitions),
                Case.of("admin-describe-configs-topic", 60, AdminCases::describeConfigsTopic),
                Case.of("admin-describe-configs-broker", 60, AdminCases::describeConfigsBroker),
                Case.of("admin-incremental-alter-configs", 60, AdminCases::incrementalAlterConfigs),
                Case.of("admin-delete-topics", 60, AdminCases::deleteTopics),
                Case.of("admin-describe-cluster", 60, AdminCases::describeCluster),
                Case.of("admin-list-offsets", 60, AdminCases::listOffsets),
                Case.of("admin-delete-records", 60, AdminCases::deleteRecords),
                Case.of("admin-describe-log-dirs", 60, AdminCases::describeLogDirs));
    }

    static void createTopics(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String plain = ctx.topicName("create-plain");
        String configured = ctx.topicName("create-configured");
        admin.createTopics(List.of(
                new NewTopic(plain, 2, (short) 1),
                new NewTopic(configured, 1, (short) 1).configs(Map.of(
                        "cleanup.policy", "compact", "retention.ms", "123456789"))))
                .all().get(T, MS);
        ctx.awaitLeaders(plain, 2);
        ctx.awaitLeaders(configured, 1);
        Map<String, ConfigEntry> entries = topicConfig(admin, configured);
        expectConfig(entries, "cleanup.policy", "compact", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        expectConfig(entries, "retention.ms", "123456789", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        // Creating it again is refused with TOPIC_ALREADY_EXISTS.
        Check.throwsCause(TopicExistsException.class,
                () -> admin.createTopics(List.of(new NewTopic(plain, 2, (short) 1))).all().get(T, MS),
                "creating an existing topic");
        // Default partition count and replication factor (KIP-464).
        String defaults = ctx.topicName("create-defaults");
        admin.createTopics(List.of(new NewTopic(defaults, java.util.Optional.empty(), java.util.Optional.empty())))
                .all().get(T, MS);
        TopicDescription d = describe(admin, defaults);
        Check.that(d.partitions().size() >= 1, "a topic created with default partitions has none");
    }

    static void createTopicsValidateOnly(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String name = ctx.topicName("validate-only");
        var result = admin.createTopics(
                List.of(new NewTopic(name, 4, (short) 1).configs(Map.of("retention.ms", "60000"))),
                new CreateTopicsOptions().validateOnly(true));
        result.all().get(T, MS);
        Check.equal(4, result.numPartitions(name).get(T, MS), "numPartitions reported by validateOnly");
        Check.that(!admin.listTopics().names().get(T, MS).contains(name),
                "validateOnly created the topic " + name);
        // A request that would fail still fails under validateOnly.
        Check.throwsCause(org.apache.kafka.common.errors.InvalidConfigurationException.class,
                () -> admin.createTopics(
                        List.of(new NewTopic(ctx.topicName("validate-bad"), 1, (short) 1)
                                .configs(Map.of("cleanup.policy", "no-such-policy"))),
                        new CreateTopicsOptions().validateOnly(true)).all().get(T, MS),
                "validateOnly with an invalid config");
    }

    static void describeTopics(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("describe", 3);
        TopicDescription d = describe(admin, topic);
        Check.equal(topic, d.name(), "name");
        Check.that(!d.isInternal(), "topic described as internal");
        Check.that(d.topicId() != null && !Uuid.ZERO_UUID.equals(d.topicId()), "topic id is zero");
        Check.equal(3, d.partitions().size(), "partition count");
        for (int p = 0; p < 3; p++) {
            var info = d.partitions().get(p);
            Check.equal(p, info.partition(), "partition index at position " + p);
            Check.equal(1, info.replicas().size(), "replicas of partition " + p);
            Check.equal(1, info.isr().size(), "isr of partition " + p);
            Check.equal(info.replicas().get(0).id(), info.leader().id(), "leader of partition " + p);
        }
        Check.throwsCause(UnknownTopicOrPartitionException.class,
                () -> admin.describeTopics(List.of(ctx.topicName("no-such"))).allTopicNames().get(T, MS),
                "describing a missing topic");
    }

    static void listTopics(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String a = ctx.createTopic("list-a", 1);
        String b = ctx.createTopic("list-b", 2);
        Set<String> names = admin.listTopics().names().get(T, MS);
        Check.that(names.contains(a) && names.contains(b), "listTopics misses " + a + " or " + b);
        Check.that(names.stream().noneMatch(n -> n.startsWith("__")), "listTopics lists internal topics: " + names);
        var listings = admin.listTopics().namesToListings().get(T, MS);
        Check.that(listings.get(a).topicId() != null && !Uuid.ZERO_UUID.equals(listings.get(a).topicId()),
                "listing of " + a + " has no topic id");
    }

    static void createPartitions(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("create-partitions", 1);
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get(T, MS);
        ctx.awaitLeaders(topic, 3);
        // The new partitions take records.
        KafkaProducer<byte[], byte[]> producer = ctx.producer();
        Check.equal(0L, producer.send(new ProducerRecord<>(topic, 2, null, "v".getBytes())).get(T, MS)
                .offset(), "offset of first record in new partition 2");
        Check.throwsCause(org.apache.kafka.common.errors.InvalidPartitionsException.class,
                () -> admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get(T, MS),
                "decreasing the partition count");
    }

    static void describeConfigsTopic(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("describe-configs", 1, Map.of("retention.bytes", "1048576"));
        Map<String, ConfigEntry> entries = topicConfig(admin, topic);
        expectConfig(entries, "retention.bytes", "1048576", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        expectConfig(entries, "cleanup.policy", "delete", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        expectConfig(entries, "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        expectConfig(entries, "max.message.bytes", "1048588", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        for (String key : List.of("segment.bytes", "min.insync.replicas", "compression.type",
                "message.timestamp.type", "min.cleanable.dirty.ratio")) {
            Check.that(entries.containsKey(key), "topic config misses " + key);
        }
    }

    static void describeConfigsBroker(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        Node node = admin.describeCluster().nodes().get(T, MS).iterator().next();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node.idString());
        Config config = admin.describeConfigs(List.of(broker)).all().get(T, MS).get(broker);
        Map<String, ConfigEntry> entries = byName(config.entries());
        for (String key : List.of("message.max.bytes", "num.partitions", "log.retention.hours",
                "log.segment.bytes", "auto.create.topics.enable", "log.dirs")) {
            Check.that(entries.containsKey(key), "broker config misses " + key);
            Check.that(entries.get(key).value() != null, "broker config " + key + " has no value");
        }
        Check.equal(ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, entries.get("log.dirs").source(),
                "source of log.dirs");
        Check.equal(ConfigEntry.ConfigSource.DEFAULT_CONFIG, entries.get("log.retention.hours").source(),
                "source of log.retention.hours");
    }

    static void incrementalAlterConfigs(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("alter-configs", 1);
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.SET))))
                .all().get(T, MS);
        Check.eventually(SETTLE, () -> {
            Map<String, ConfigEntry> e = topicConfig(admin, topic);
            expectConfig(e, "retention.ms", "3600000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
            expectConfig(e, "cleanup.policy", "compact", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
            return null;
        });
        // APPEND to a list config, DELETE back to the default.
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.APPEND),
                new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE))))
                .all().get(T, MS);
        Check.eventually(SETTLE, () -> {
            Map<String, ConfigEntry> e = topicConfig(admin, topic);
            expectConfig(e, "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
            expectConfig(e, "cleanup.policy", "compact,delete", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
            return null;
        });
        // validateOnly changes nothing.
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET))),
                new org.apache.kafka.clients.admin.AlterConfigsOptions().validateOnly(true)).all().get(T, MS);
        expectConfig(topicConfig(admin, topic), "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
    }

    static void deleteTopics(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("delete", 2);
        ctx.producer().send(new ProducerRecord<>(topic, 0, null, "v".getBytes())).get(T, MS);
        admin.deleteTopics(List.of(topic)).all().get(T, MS);
        Check.eventually(SETTLE, () -> {
            Check.that(!admin.listTopics().names().get(T, MS).contains(topic), "deleted topic still listed");
            return null;
        });
        Check.throwsCause(UnknownTopicOrPartitionException.class,
                () -> admin.describeTopics(List.of(topic)).allTopicNames().get(T, MS), "describing a deleted topic");
        Check.throwsCause(UnknownTopicOrPartitionException.class,
                () -> admin.deleteTopics(List.of(topic)).all().get(T, MS), "deleting a deleted topic");
    }

    static void describeCluster(Ctx ctx) throws Exception {
        DescribeClusterResult cluster = ctx.admin().describeCluster();
        String clusterId = cluster.clusterId().get(T, MS);
        Check.that(clusterId != null && !clusterId.isEmpty(), "cluster id is empty");
        Collection<Node> nodes = cluster.nodes().get(T, MS);
        Check.equal(1, nodes.size(), "node count");
        Node node = nodes.iterator().next();
        String[] hostPort = ctx.bootstrap.split(",")[0].split(":");
        Check.equal(hostPort[0], node.host(), "advertised host");
        Check.equal(Integer.parseInt(hostPort[1]), node.port(), "advertised port");
        Node controller = cluster.controller().get(T, MS);
        Check.that(controller != null && controller.id() >= 0, "no controller: " + controller);
    }

    static void listOffsets(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.createTopic("list-offsets", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 60_000;
        // Timestamps rise by 10 ms per record, except record 7, which is the newest.
        KafkaProducer<byte[], byte[]> producer = ctx.producer();
        for (int i = 0; i < 10; i++) {
            long ts = i == 7 ? base + 5_000 : base + i * 10L;
            producer.send(new ProducerRecord<>(topic, 0, ts, TestRecords.key(i), TestRecords.value(i, 10)));
        }
        producer.flush();
        Check.equal(0L, offset(admin, tp, OffsetSpec.earliest()).offset(), "earliest");
        Check.equal(10L, offset(admin, tp, OffsetSpec.latest()).offset(), "latest");
        ListOffsetsResult.ListOffsetsResultInfo byTime = offset(admin, tp, OffsetSpec.forTimestamp(base + 25));
        Check.equal(3L, byTime.offset(), "offset for timestamp base+25");
        Check.equal(base + 30, byTime.timestamp(), "timestamp for timestamp base+25");
        ListOffsetsResult.ListOffsetsResultInfo max = offset(admin, tp, OffsetSpec.maxTimestamp());
        Check.equal(7L, max.offset(), "offset of max timestamp");
        Check.equal(base + 5_000, max.timestamp(), "max timestamp");
        Check.equal(-1L, offset(admin, tp, OffsetSpec.forTimestamp(base + 10_000)).offset(),
                "offset for a timestamp after every record");
    }

    static void deleteRecords(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        TestRecords.Spec spec = ConsumerCases.filledTopic(ctx, "delete-records", 1, 100);
        TopicPartition tp = new TopicPartition(spec.topic(), 0);
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(40))).lowWatermarks().get(tp)
                .get(T, MS).lowWatermark();
        Check.equal(40L, low, "low watermark after deleteRecords(40)");
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        Check.equal(40L, consumer.beginningOffsets(List.of(tp)).get(tp), "beginningOffsets after deleteRecords");
        Check.equal(100L, consumer.endOffsets(List.of(tp)).get(tp), "endOffsets after deleteRecords");
        Check.equal(40L, offset(admin, tp, OffsetSpec.earliest()).offset(), "listOffsets earliest after deleteRecords");
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        var first = ConsumerCases.firstRecord(consumer);
        Check.equal(40L, first.offset(), "first offset read after deleteRecords");
        Check.equal(40, TestRecords.index(first.key()), "first record read after deleteRecords");
        // Deleting up to the end is allowed (-1 = high watermark).
        long all = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp)
                .get(T, MS).lowWatermark();
        Check.equal(100L, all, "low watermark after deleting everything");
    }

    static void describeLogDirs(Ctx ctx) throws Exception {
        Admin admin = ctx.admin();
        TestRecords.Spec spec = ConsumerCases.filledTopic(ctx, "log-dirs", 2, 200);
        int brokerId = admin.describeCluster().nodes().get(T, MS).iterator().next().id();
        Check.eventually(SETTLE, () -> {
            Map<Integer, Map<String, LogDirDescription>> all =
                    admin.describeLogDirs(List.of(brokerId)).allDescriptions().get(T, MS);
            Map<String, LogDirDescription> dirs = all.get(brokerId);
            Check.that(dirs != null && !dirs.isEmpty(), "no log dirs for broker " + brokerId);
            long total = 0;
            int found = 0;
            for (var e : dirs.entrySet()) {
                Check.that(e.getValue().error() == null, "log dir " + e.getKey() + " error " + e.getValue().error());
                for (int p = 0; p < 2; p++) {
                    ReplicaInfo info = e.getValue().replicaInfos().get(new TopicPartition(spec.topic(), p));
                    if (info != null) {
                        found++;
                        total += info.size();
                        Check.that(!info.isFuture(), "replica of partition " + p + " is a future replica");
                    }
                }
            }
            Check.equal(2, found, "partitions of " + spec.topic() + " found in log dirs");
            Check.that(total > 200 * 100, "log size " + total + " is smaller than the 200 records written");
            return null;
        });
    }

    static TopicDescription describe(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(T, MS).get(topic);
    }

    static ListOffsetsResult.ListOffsetsResultInfo offset(Admin admin, TopicPartition tp, OffsetSpec spec)
            throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(T, MS);
    }

    static Map<String, ConfigEntry> topicConfig(Admin admin, String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return byName(admin.describeConfigs(List.of(r)).all().get(T, MS).get(r).entries());
    }

    static Map<String, ConfigEntry> byName(Collection<ConfigEntry> entries) {
        Map<String, ConfigEntry> m = new java.util.HashMap<>();
        for (ConfigEntry e : entries) {
            m.put(e.name(), e);
        }
        return m;
    }

    static void expectConfig(Map<String, ConfigEntry> entries, String key, String value,
                             ConfigEntry.ConfigSource source) {
        ConfigEntry e = entries.get(key);
        Check.that(e != null, "config " + key + " missing");
        Check.equal(value, e.value(), "value of " + key);
        Check.equal(source, e.source(), "source of " + key);
    }
}
