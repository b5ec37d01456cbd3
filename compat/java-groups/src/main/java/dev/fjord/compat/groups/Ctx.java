package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What a case runs against: a bootstrap address, clients with bounded
 * timeouts, and everything the case started (clients, members, child
 * processes, producer threads), which is ended when the case ends.
 */
final class Ctx {
    static final int REQUEST_TIMEOUT_MS = 15_000;
    static final int API_TIMEOUT_MS = 30_000;
    static final long WAIT_MS = API_TIMEOUT_MS + 5_000;
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    final String caseName;
    final Main.Env env;
    private String bootstrap;
    private final long start = System.nanoTime();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private Admin admin;

    Ctx(Main.Env env, String caseName) {
        this.env = env;
        this.bootstrap = env.bootstrap();
        this.caseName = caseName;
    }

    String bootstrap() {
        return bootstrap;
    }

    /** Clients made from now on connect to {@code b}. */
    void useBootstrap(String b) {
        bootstrap = b;
        admin = null;
    }

    double elapsed() {
        return (System.nanoTime() - start) / 1e9;
    }

    void log(String msg) {
        System.err.printf("[%s %6.1fs] %s%n", caseName, elapsed(), msg);
    }

    String topicName(String base) {
        return "compat-groups-" + base + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    String groupId(String base) {
        return "compat-groups-" + base + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Registers something to close (in reverse order) when the case ends. */
    synchronized <T extends AutoCloseable> T closeAtEnd(T resource) {
        resources.add(resource);
        return resource;
    }

    KafkaProducer<byte[], byte[]> producer(Map<String, Object> overrides) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-producer");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.putAll(overrides);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        closeAtEnd(() -> producer.close(CLOSE_TIMEOUT));
        return producer;
    }

    /** A consumer that its caller closes (members close their own, on their thread). */
    KafkaConsumer<byte[], byte[]> newConsumer(Map<String, Object> overrides, String clientSuffix) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-" + clientSuffix);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putAll(overrides);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** Starts a group member on its own thread; it is stopped (leaving the group) when the case ends. */
    Member member(String name, Map<String, Object> config, String topic, Tracker tracker) {
        Member m = new Member(this, name, config, topic, tracker);
        closeAtEnd(() -> m.stopAndJoin(Duration.ofSeconds(15)));
        m.start();
        return m;
    }

    Admin admin() {
        if (admin == null) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-admin");
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
            Admin a = Admin.create(p);
            closeAtEnd(() -> a.close(CLOSE_TIMEOUT));
            admin = a;
        }
        return admin;
    }

    /** Creates a topic and waits until every partition has a leader that answers ListOffsets. */
    String createTopic(String base, int partitions) throws Exception {
        String name = topicName(base);
        admin().createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get(WAIT_MS, TimeUnit.MILLISECONDS);
        awaitLeaders(name, partitions);
        return name;
    }

    void awaitLeaders(String topic, int partitions) throws Exception {
        Check.eventually(Duration.ofSeconds(60), () -> {
            TopicDescription d = admin().describeTopics(List.of(topic)).allTopicNames()
                    .get(WAIT_MS, TimeUnit.MILLISECONDS).get(topic);
            Check.equal(partitions, d.partitions().size(), "partition count of " + topic);
            for (TopicPartitionInfo p : d.partitions()) {
                Check.that(p.leader() != null && !p.leader().isEmpty(), topic + "-" + p.partition() + " has no leader");
            }
            return d;
        });
        // A KRaft broker can name a leader a moment before it serves the
        // partition; ListOffsets answers only from a ready leader.
        endOffsets(topic, partitions);
    }

    /** The log end offsets of every partition of a topic, by partition number. */
    long[] endOffsets(String topic, int partitions) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        var res = Check.eventually(Duration.ofSeconds(60),
                () -> admin().listOffsets(latest).all().get(WAIT_MS, TimeUnit.MILLISECONDS));
        long[] out = new long[partitions];
        for (int p = 0; p < partitions; p++) {
            out[p] = res.get(new TopicPartition(topic, p)).offset();
        }
        return out;
    }

    /** The group's committed offsets for a topic, by partition number (-1: none). */
    long[] committed(String group, String topic, int partitions) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> m = admin().listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(WAIT_MS, TimeUnit.MILLISECONDS);
        long[] out = new long[partitions];
        for (int p = 0; p < partitions; p++) {
            OffsetAndMetadata o = m.get(new TopicPartition(topic, p));
            out[p] = o == null ? -1 : o.offset();
        }
        return out;
    }

    /** Ends everything the case started, newest first, each with a bounded wait. */
    synchronized void closeAll() {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception | Error e) {
                log("close failed: " + e);
            }
        }
        resources.clear();
        admin = null;
    }
}
