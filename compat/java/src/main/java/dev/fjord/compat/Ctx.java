package dev.fjord.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What a case runs against: the bootstrap address and clients with bounded
 * timeouts. Every client made here is closed (with a bounded wait) when the
 * case ends, so cases need not close them.
 */
final class Ctx {
    /** Client-side bounds, so a misbehaving broker fails a case instead of hanging it. */
    static final int REQUEST_TIMEOUT_MS = 15_000;
    static final int API_TIMEOUT_MS = 30_000;
    /** How long a case waits on a client future: a little past the client's own bounds, so its error wins. */
    static final long WAIT_MS = API_TIMEOUT_MS + 5_000;
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    final String bootstrap;
    final String caseName;
    private final List<AutoCloseable> clients = new ArrayList<>();
    private Admin admin;

    Ctx(String bootstrap, String caseName) {
        this.bootstrap = bootstrap;
        this.caseName = caseName;
    }

    /** A topic name no other case or run uses. */
    String topicName(String base) {
        return "compat-" + base + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    String groupId(String base) {
        return "compat-group-" + base + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    KafkaProducer<byte[], byte[]> producer(Map<String, Object> overrides) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-producer");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, API_TIMEOUT_MS);
        p.putAll(overrides);
        KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        clients.add(() -> producer.close(CLOSE_TIMEOUT));
        return producer;
    }

    KafkaProducer<byte[], byte[]> producer() {
        return producer(Map.of());
    }

    KafkaConsumer<byte[], byte[]> consumer(Map<String, Object> overrides) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-consumer-" + clients.size());
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putAll(overrides);
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        clients.add(() -> consumer.close(CLOSE_TIMEOUT));
        return consumer;
    }

    KafkaConsumer<byte[], byte[]> consumer() {
        return consumer(Map.of());
    }

    /** One admin client per case. */
    Admin admin() {
        if (admin == null) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-admin");
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
            Admin a = Admin.create(p);
            clients.add(() -> a.close(CLOSE_TIMEOUT));
            admin = a;
        }
        return admin;
    }

    /** Creates a topic with the admin client and waits until every partition has a leader. */
    String createTopic(String base, int partitions, Map<String, String> configs) throws Exception {
        String name = topicName(base);
        NewTopic topic = new NewTopic(name, partitions, (short) 1).configs(configs);
        admin().createTopics(List.of(topic)).all().get(WAIT_MS, TimeUnit.MILLISECONDS);
        awaitLeaders(name, partitions);
        return name;
    }

    String createTopic(String base, int partitions) throws Exception {
        return createTopic(base, partitions, Map.of());
    }

    void awaitLeaders(String topic, int partitions) throws Exception {
        Check.eventually(Duration.ofSeconds(30), () -> {
            TopicDescription d = admin().describeTopics(List.of(topic)).allTopicNames()
                    .get(WAIT_MS, TimeUnit.MILLISECONDS).get(topic);
            Check.equal(partitions, d.partitions().size(), "partition count of " + topic);
            for (TopicPartitionInfo p : d.partitions()) {
                Check.that(p.leader() != null && !p.leader().isEmpty(),
                        topic + "-" + p.partition() + " has no leader");
            }
            return d;
        });
        // Metadata can name a leader a moment before that broker acts as one
        // (Kafka's KRaft brokers answer NOT_LEADER_OR_FOLLOWER in that window).
        // ListOffsets is served only by a ready leader, so once it answers for
        // every partition, produce and fetch will too.
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (TopicPartition tp : partitions(topic, partitions)) {
            latest.put(tp, OffsetSpec.latest());
        }
        Check.eventually(Duration.ofSeconds(30),
                () -> admin().listOffsets(latest).all().get(WAIT_MS, TimeUnit.MILLISECONDS));
    }

    static List<TopicPartition> partitions(String topic, int count) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < count; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        return tps;
    }

    static Map<TopicPartition, Long> endOffsets(KafkaConsumer<?, ?> consumer, Collection<TopicPartition> tps) {
        return new HashMap<>(consumer.endOffsets(tps));
    }

    static Set<TopicPartition> set(TopicPartition... tps) {
        return Set.of(tps);
    }

    /** Closes every client this case made, each with a bounded wait. */
    void closeAll() {
        for (int i = clients.size() - 1; i >= 0; i--) {
            try {
                clients.get(i).close();
            } catch (Exception | Error e) {
                System.err.println("[" + caseName + "] close failed: " + e);
            }
        }
        clients.clear();
        admin = null;
    }
}
