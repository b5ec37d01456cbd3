package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What a case runs against: a bootstrap address, clients with bounded
 * timeouts, and everything the case started (clients, worker threads), which
 * is ended when the case ends. Records are strings: every value a case
 * writes is unique within the case, so sets of values can be compared.
 */
final class Ctx {
    static final int REQUEST_TIMEOUT_MS = 10_000;
    static final int API_TIMEOUT_MS = 20_000;
    /** Bounds initTransactions, commitTransaction, abortTransaction and send's metadata wait. */
    static final int MAX_BLOCK_MS = 20_000;
    static final long WAIT_MS = API_TIMEOUT_MS + 5_000;
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    /** One record as a consumer saw it. */
    record Rec(int partition, long offset, String key, String value) {
        @Override
        public String toString() {
            return partition + "@" + offset + "=" + value;
        }
    }

    final String caseName;
    private final String bootstrap;
    private final String runId = UUID.randomUUID().toString().substring(0, 8);
    private final long start = System.nanoTime();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private volatile String step = "";
    private Admin admin;

    Ctx(String bootstrap, String caseName) {
        this.bootstrap = bootstrap;
        this.caseName = caseName;
    }

    String bootstrap() {
        return bootstrap;
    }

    double elapsed() {
        return (System.nanoTime() - start) / 1e9;
    }

    void log(String msg) {
        System.err.printf("[%s %6.1fs] %s%n", caseName, elapsed(), msg);
    }

    /** Logs a step; a case that times out names the last one. */
    void step(String what) {
        step = what;
        log(what);
    }

    String lastStep() {
        return step.isEmpty() ? "" : " (during: " + step + ")";
    }

    /** A name unique to this run of this case: topics, groups, transactional ids. */
    String name(String base) {
        return "compat-txn-" + caseName + "-" + base + "-" + runId;
    }

    /** Registers something to close (in reverse order) when the case ends. */
    synchronized <T extends AutoCloseable> T closeAtEnd(T resource) {
        resources.add(resource);
        return resource;
    }

    Properties producerProps(Map<String, Object> overrides) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, MAX_BLOCK_MS);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.putAll(overrides);
        return p;
    }

    /** A producer closed when the case ends (a plain, idempotent one unless the overrides say otherwise). */
    KafkaProducer<String, String> producer(Map<String, Object> overrides) {
        KafkaProducer<String, String> producer =
                new KafkaProducer<>(producerProps(overrides), new StringSerializer(), new StringSerializer());
        closeAtEnd(() -> producer.close(CLOSE_TIMEOUT));
        return producer;
    }

    /** A transactional producer with this transactional id, not yet initialized; closed when the case ends. */
    KafkaProducer<String, String> txnProducer(String transactionalId, Map<String, Object> overrides) {
        Map<String, Object> o = new HashMap<>();
        o.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        o.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-" + transactionalId);
        o.putAll(overrides);
        return producer(o);
    }

    /** A consumer that its caller closes (workers close their own, on their thread). */
    KafkaConsumer<String, String> newConsumer(Map<String, Object> overrides, String clientSuffix) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-" + clientSuffix);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putAll(overrides);
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    /** A consumer without a group, closed when the case ends. */
    KafkaConsumer<String, String> reader(IsolationLevel isolation, String clientSuffix) {
        KafkaConsumer<String, String> c = newConsumer(
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.toString()), clientSuffix);
        closeAtEnd(() -> c.close(CLOSE_TIMEOUT));
        return c;
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
        String name = name(base);
        step("create topic " + name + " (" + partitions + " partitions)");
        admin().createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get(WAIT_MS, TimeUnit.MILLISECONDS);
        Check.eventually(Duration.ofSeconds(30), () -> {
            TopicDescription d = admin().describeTopics(List.of(name)).allTopicNames()
                    .get(WAIT_MS, TimeUnit.MILLISECONDS).get(name);
            Check.equal(partitions, d.partitions().size(), "partition count of " + name);
            for (TopicPartitionInfo p : d.partitions()) {
                Check.that(p.leader() != null && !p.leader().isEmpty(), name + "-" + p.partition() + " has no leader");
            }
            return d;
        });
        // A KRaft broker can name a leader a moment before it serves the
        // partition; ListOffsets answers only from a ready leader.
        endOffsets(name, partitions);
        return name;
    }

    /** The log end offsets (high watermarks) of every partition of a topic, by partition number. */
    long[] endOffsets(String topic, int partitions) throws Exception {
        return latest(topic, partitions, IsolationLevel.READ_UNCOMMITTED);
    }

    /** The last stable offsets of every partition of a topic (ListOffsets latest with read_committed). */
    long[] stableOffsets(String topic, int partitions) throws Exception {
        return latest(topic, partitions, IsolationLevel.READ_COMMITTED);
    }

    private long[] latest(String topic, int partitions, IsolationLevel isolation) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        var res = Check.eventually(Duration.ofSeconds(20), () -> admin()
                .listOffsets(latest, new ListOffsetsOptions(isolation)).all().get(WAIT_MS, TimeUnit.MILLISECONDS));
        long[] out = new long[partitions];
        for (int p = 0; p < partitions; p++) {
            out[p] = res.get(new TopicPartition(topic, p)).offset();
        }
        return out;
    }

    /**
     * Waits until every partition's end offset and last stable offset both
     * equal {@code expected} (null: equal each other), and returns them. A
     * producer's commitTransaction or abortTransaction returns once the
     * coordinator has decided; the markers reach the partitions a moment
     * later, so this is eventual. Fails after {@code within} with both.
     */
    long[] awaitStable(String topic, int partitions, long[] expected, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            long[] end = endOffsets(topic, partitions);
            long[] lso = stableOffsets(topic, partitions);
            if (Arrays.equals(end, lso) && (expected == null || Arrays.equals(expected, end))) {
                log(topic + ": end offsets = last stable offsets = " + Arrays.toString(end));
                return end;
            }
            if (System.nanoTime() > deadline) {
                throw new Check.Failure(topic + " has end offsets " + Arrays.toString(end) + " and last stable offsets "
                        + Arrays.toString(lso) + " " + within.toSeconds() + " s after its last transaction ended; expected "
                        + (expected == null ? "them equal" : "both " + Arrays.toString(expected)
                                + " (its records plus one control marker per transaction)"));
            }
            Thread.sleep(100);
        }
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

    /**
     * Reads every partition of a topic from the beginning with a new consumer
     * (assign, no group) until its position reaches {@code end} in every
     * partition; fails if that takes longer than {@code within}. Returns the
     * records of each partition in the order read.
     */
    List<List<Rec>> readToEnd(String topic, int partitions, IsolationLevel isolation, long[] end, Duration within)
            throws Exception {
        KafkaConsumer<String, String> c = reader(isolation, "reader-" + isolation.toString().toLowerCase());
        List<TopicPartition> tps = new ArrayList<>();
        List<List<Rec>> out = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            tps.add(new TopicPartition(topic, p));
            out.add(new ArrayList<>());
        }
        c.assign(tps);
        c.seekToBeginning(tps);
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                out.get(r.partition()).add(new Rec(r.partition(), r.offset(), r.key(), r.value()));
            }
            long[] pos = new long[partitions];
            boolean done = true;
            for (int p = 0; p < partitions; p++) {
                pos[p] = c.position(tps.get(p));
                done &= pos[p] >= end[p];
            }
            if (done) {
                c.close(CLOSE_TIMEOUT);
                return out;
            }
            if (System.nanoTime() > deadline) {
                int n = out.stream().mapToInt(List::size).sum();
                throw new Check.Failure(isolation + " consumer of " + topic + " did not reach the end offsets "
                        + Arrays.toString(end) + " within " + within.toSeconds() + " s: positions "
                        + Arrays.toString(pos) + ", " + n + " records read");
            }
        }
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
