package dev.fjord.compat.docker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The fjord image in place of apache/kafka under testcontainers'
 * {@link KafkaContainer}: its environment, its command (a shell loop that
 * runs the start script it copies in, which runs /etc/kafka/docker/run), its
 * wait for "Transitioning from RECOVERY to RUNNING" and its mapped port. A
 * producer, an admin client and a consumer group then round-trip records.
 *
 * <p>Usage: {@code TestcontainersKafka [IMAGE]} (default {@code fjord:test}).
 * Exits 0 when every record came back; prints one summary line on stdout.
 */
public final class TestcontainersKafka {
    private static final int PARTITIONS = 3;
    private static final int RECORDS = 600;

    private TestcontainersKafka() {}

    public static void main(String[] args) throws Exception {
        String image = args.length > 0 ? args[0] : "fjord:test";
        DockerImageName name = DockerImageName.parse(image).asCompatibleSubstituteFor("apache/kafka");
        long started = System.nanoTime();
        try (KafkaContainer kafka = new KafkaContainer(name).withStartupTimeout(Duration.ofSeconds(90))) {
            kafka.start();
            long readyMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            String bootstrap = kafka.getBootstrapServers();
            System.err.println("testcontainers: " + image + " ready in " + readyMs + " ms at " + bootstrap);
            roundTrip(bootstrap);
            System.out.println("testcontainers-java: OK: " + image + " as apache/kafka, ready in " + readyMs
                    + " ms, " + RECORDS + " records through " + PARTITIONS + " partitions and a consumer group");
        }
    }

    private static void roundTrip(String bootstrap) throws Exception {
        String topic = "testcontainers-java";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        Set<String> sent = new HashSet<>();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < RECORDS; i++) {
                String value = "record-" + i;
                producer.send(new ProducerRecord<>(topic, "key-" + i, value)).get(30, TimeUnit.SECONDS);
                sent.add(value);
            }
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "testcontainers-java");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<String> received = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (received.size() < RECORDS && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    received.add(r.value());
                }
            }
            consumer.commitSync(Duration.ofSeconds(30));
        }
        if (received.size() != RECORDS || !new HashSet<>(received).equals(sent)) {
            throw new AssertionError("sent " + RECORDS + " records, the group read " + received.size()
                    + " (" + new HashSet<>(received).size() + " distinct)");
        }
    }
}
