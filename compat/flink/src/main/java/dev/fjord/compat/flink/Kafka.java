package dev.fjord.compat.flink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The case's own Kafka clients (not Flink's): topics, the input, reading the output. */
final class Kafka implements AutoCloseable {
    static final int REQUEST_TIMEOUT_MS = 10_000;
    static final int API_TIMEOUT_MS = 20_000;

    private final String bootstrap;
    private final Log log;
    private final Admin admin;

    /**
     * The settings of the producers the step-by-step cases drive as the sink
     * does (FlinkKafkaInternalProducer): string records, the job's
     * transaction timeout, and bounded waits.
     */
    static Properties sinkProducerProps(String bootstrap, int deliveryTimeoutMs) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, FlinkJob.TRANSACTION_TIMEOUT_MS);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(REQUEST_TIMEOUT_MS));
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(deliveryTimeoutMs));
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(API_TIMEOUT_MS));
        return props;
    }

    Kafka(String bootstrap, Log log) {
        this.bootstrap = bootstrap;
        this.log = log;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-flink-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        admin = Admin.create(p);
    }

    /** Creates a topic and waits until every partition answers ListOffsets. */
    void createTopic(String name, int partitions) throws Exception {
        log.step("create topic " + name + " (" + partitions + " partitions)");
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all()
                .get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                latest(name, partitions, IsolationLevel.READ_UNCOMMITTED);
                return;
            } catch (Exception e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** Writes values v-0 .. v-(n-1), record i to partition i % partitions, acks=all, idempotent. */
    void fill(String topic, int partitions, int n) throws Exception {
        log.step("produce " + n + " records to " + topic);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-flink-input");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20_000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, i % partitions, "k-" + i, "v-" + i));
            }
            producer.flush();
        }
        long[] end = latest(topic, partitions, IsolationLevel.READ_UNCOMMITTED);
        long total = Arrays.stream(end).sum();
        if (total != n) {
            throw new Check.Failure("input " + topic + " holds " + total + " records after producing " + n);
        }
    }

    /** DescribeTransactions of one transactional id. */
    TransactionDescription describeTransaction(String transactionalId) throws Exception {
        return admin.describeTransactions(List.of(transactionalId)).description(transactionalId)
                .get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    long[] latest(String topic, int partitions, IsolationLevel isolation) throws Exception {
        Map<TopicPartition, OffsetSpec> spec = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            spec.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        var res = admin.listOffsets(spec, new ListOffsetsOptions(isolation)).all()
                .get(API_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        long[] out = new long[partitions];
        for (int p = 0; p < partitions; p++) {
            out[p] = res.get(new TopicPartition(topic, p)).offset();
        }
        return out;
    }

    /**
     * Waits until every partition's last stable offset equals its end offset
     * (no transaction left open on the topic) and returns the end offsets.
     */
    long[] awaitStable(String topic, int partitions, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            long[] end = latest(topic, partitions, IsolationLevel.READ_UNCOMMITTED);
            long[] lso = latest(topic, partitions, IsolationLevel.READ_COMMITTED);
            if (Arrays.equals(end, lso)) {
                log.log(topic + ": end offsets = last stable offsets = " + Arrays.toString(end));
                return end;
            }
            if (System.nanoTime() > deadline) {
                throw new Check.Failure(topic + " still has an open transaction " + within.toSeconds()
                        + " s after the job ended: end offsets " + Arrays.toString(end) + ", last stable offsets "
                        + Arrays.toString(lso));
            }
            Thread.sleep(200);
        }
    }

    /** Reads every partition from the beginning (assign, no group) until the position reaches {@code end}. */
    List<String> readAll(String topic, int partitions, IsolationLevel isolation, long[] end, Duration within)
            throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-flink-reader-" + isolation.toString().toLowerCase());
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, API_TIMEOUT_MS);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.toString().toLowerCase());
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + within.toNanos();
            while (true) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    values.add(r.value());
                }
                long[] pos = new long[partitions];
                boolean done = true;
                for (int i = 0; i < partitions; i++) {
                    pos[i] = c.position(tps.get(i));
                    done &= pos[i] >= end[i];
                }
                if (done) {
                    return values;
                }
                if (System.nanoTime() > deadline) {
                    throw new Check.Failure(isolation + " consumer of " + topic + " did not reach the end offsets "
                            + Arrays.toString(end) + " within " + within.toSeconds() + " s: positions "
                            + Arrays.toString(pos) + ", " + values.size() + " records read");
                }
            }
        }
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(5));
    }
}
