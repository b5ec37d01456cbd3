import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Load harness for benches/compare: what Kafka's perf tools cannot do against
 * a broker without consumer groups. Every subcommand prints one line
 * "RESULT key=value ..." on stdout; diagnostics go to stderr.
 *
 * <pre>
 *   Bench create-topics BOOTSTRAP [--replication-factor N] [--config KEY=VALUE]... TOPIC:PARTITIONS...
 *   Bench delete-topics BOOTSTRAP TOPIC...
 *   Bench isr BOOTSTRAP TOPIC
 *   Bench consume BOOTSTRAP TOPIC TIMEOUT_S
 *   Bench e2e BOOTSTRAP TOPIC RATE_PER_S RECORD_BYTES WARMUP_S MEASURE_S
 *   Bench txn BOOTSTRAP TOPIC RECORD_BYTES RECORDS_PER_TXN WARMUP_S MEASURE_S
 * </pre>
 */
public final class Bench {
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "create-topics" -> {
                if (args.length < 3) {
                    usage();
                }
                createTopics(args[1], Arrays.copyOfRange(args, 2, args.length));
            }
            case "isr" -> {
                need(args, 3);
                try (Admin admin = admin(args[1])) {
                    System.out.println("RESULT " + isr(admin, args[2]));
                }
            }
            case "delete-topics" -> {
                if (args.length < 3) {
                    usage();
                }
                deleteTopics(args[1], Arrays.copyOfRange(args, 2, args.length));
            }
            case "consume" -> {
                need(args, 4);
                consume(args[1], args[2], Integer.parseInt(args[3]));
            }
            case "e2e" -> {
                need(args, 7);
                endToEnd(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                        Integer.parseInt(args[5]), Integer.parseInt(args[6]));
            }
            case "txn" -> {
                need(args, 7);
                transactional(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                        Integer.parseInt(args[5]), Integer.parseInt(args[6]));
            }
            default -> usage();
        }
    }

    private static void need(String[] args, int n) {
        if (args.length != n) {
            usage();
        }
    }

    private static void usage() {
        System.err.println("usage: Bench create-topics BOOTSTRAP [--replication-factor N] [--config KEY=VALUE]..."
                + " TOPIC:PARTITIONS... | delete-topics BOOTSTRAP TOPIC... | isr BOOTSTRAP TOPIC"
                + " | consume BOOTSTRAP TOPIC TIMEOUT_S"
                + " | e2e BOOTSTRAP TOPIC RATE_PER_S RECORD_BYTES WARMUP_S MEASURE_S"
                + " | txn BOOTSTRAP TOPIC RECORD_BYTES RECORDS_PER_TXN WARMUP_S MEASURE_S");
        System.exit(2);
    }

    /**
     * Creates topics (replication factor 1 unless --replication-factor, with
     * the --config topic configs) and returns once every partition answers
     * ListOffsets: a KRaft broker can name a leader in metadata a moment
     * before that leader accepts requests. With a replication factor above 1
     * it also waits until every partition's ISR holds all its replicas.
     */
    private static void createTopics(String bootstrap, String[] args) throws Exception {
        long start = System.nanoTime();
        short rf = 1;
        Map<String, String> configs = new HashMap<>();
        List<String> specs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--replication-factor") && i + 1 < args.length) {
                rf = Short.parseShort(args[++i]);
            } else if (args[i].equals("--config") && i + 1 < args.length) {
                String kv = args[++i];
                int eq = kv.indexOf('=');
                configs.put(kv.substring(0, eq), kv.substring(eq + 1));
            } else {
                specs.add(args[i]);
            }
        }
        if (specs.isEmpty()) {
            usage();
        }
        List<NewTopic> topics = new ArrayList<>();
        Map<TopicPartition, OffsetSpec> offsets = new HashMap<>();
        for (String spec : specs) {
            int colon = spec.lastIndexOf(':');
            String topic = spec.substring(0, colon);
            int partitions = Integer.parseInt(spec.substring(colon + 1));
            topics.add(new NewTopic(topic, partitions, rf).configs(configs));
            for (int i = 0; i < partitions; i++) {
                offsets.put(new TopicPartition(topic, i), OffsetSpec.latest());
            }
        }
        String replicas = "";
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(topics).all().get(120, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (true) {
                try {
                    admin.listOffsets(offsets).all().get(30, TimeUnit.SECONDS);
                    break;
                } catch (Exception e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(100);
                }
            }
            if (rf > 1) {
                for (NewTopic t : topics) {
                    while (true) {
                        String s = isr(admin, t.name());
                        if (s.contains(" full=true")) {
                            replicas += " " + s;
                            break;
                        }
                        if (System.nanoTime() > deadline) {
                            throw new IllegalStateException("ISR not full 120 s after creation: " + s);
                        }
                        Thread.sleep(100);
                    }
                }
            }
        }
        System.out.printf("RESULT topics=%d partitions=%d seconds=%.3f%s%n", topics.size(), offsets.size(),
                (System.nanoTime() - start) / 1e9, replicas);
    }

    /**
     * One line about a topic's replicas: "topic=T partitions=P replicas=R
     * isr=I full=B leaders=L" with R and I summed over the partitions and L
     * the leader of each partition in partition order (node ids, '-' for
     * none), e.g. leaders=1,2,3.
     */
    private static String isr(Admin admin, String topic) throws Exception {
        var d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
        int replicas = 0, isr = 0;
        List<String> leaders = new ArrayList<>();
        var parts = new ArrayList<>(d.partitions());
        parts.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
        for (var p : parts) {
            replicas += p.replicas().size();
            isr += p.isr().size();
            leaders.add(p.leader() == null ? "-" : Integer.toString(p.leader().id()));
        }
        return String.format("topic=%s partitions=%d replicas=%d isr=%d full=%b leaders=%s", topic, parts.size(),
                replicas, isr, isr == replicas && !leaders.contains("-"), String.join(",", leaders));
    }

    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(p);
    }

    /** Deletes topics and returns once the broker no longer lists them. */
    private static void deleteTopics(String bootstrap, String[] topics) throws Exception {
        long start = System.nanoTime();
        try (Admin admin = admin(bootstrap)) {
            admin.deleteTopics(Arrays.asList(topics)).all().get(120, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!java.util.Collections.disjoint(admin.listTopics().names().get(30, TimeUnit.SECONDS),
                    Arrays.asList(topics))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("topics still listed 120 s after their deletion");
                }
                Thread.sleep(100);
            }
        }
        System.out.printf("RESULT topics=%d seconds=%.3f%n", topics.length, (System.nanoTime() - start) / 1e9);
    }

    private static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        // No group: assign() and explicit positions, which need no group
        // coordinator (fjord has none yet).
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return p;
    }

    private static List<TopicPartition> partitionsOf(KafkaConsumer<?, ?> consumer, String topic) {
        List<TopicPartition> tps = new ArrayList<>();
        for (PartitionInfo pi : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
            tps.add(new TopicPartition(topic, pi.partition()));
        }
        return tps;
    }

    /**
     * Reads a whole topic from its log start offset to the end offsets seen
     * at start: records/s and MiB/s of keys plus values, as
     * kafka-consumer-perf-test counts them.
     */
    private static void consume(String bootstrap, String topic, int timeoutS) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
            List<TopicPartition> tps = partitionsOf(consumer, topic);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofSeconds(30));
            Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(30));
            long expected = 0;
            for (TopicPartition tp : tps) {
                expected += end.get(tp) - begin.get(tp);
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long records = 0;
            long bytes = 0;
            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(timeoutS);
            while (records < expected && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    records++;
                    bytes += r.serializedValueSize() > 0 ? r.serializedValueSize() : 0;
                    bytes += r.serializedKeySize() > 0 ? r.serializedKeySize() : 0;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (records < expected) {
                System.err.printf("consume: timed out after %ds with %d of %d records%n", timeoutS, records, expected);
            }
            System.out.printf("RESULT records=%d expected=%d bytes=%d seconds=%.3f records_per_s=%.1f mib_per_s=%.2f complete=%b%n",
                    records, expected, bytes, seconds, records / seconds, bytes / seconds / (1 << 20),
                    records >= expected);
        }
    }

    /**
     * Produces RATE records/s for WARMUP_S + MEASURE_S seconds, each carrying
     * its System.nanoTime() send time in its first 8 bytes, and consumes them
     * in the same JVM (assign(), from the end), so receive minus send time is
     * the end-to-end latency on one clock. Samples of the warm-up are dropped.
     */
    private static void endToEnd(String bootstrap, String topic, int rate, int recordBytes, int warmupS,
            int measureS) throws Exception {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.ACKS_CONFIG, "1");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        long total = (long) rate * (warmupS + measureS);
        long warmup = (long) rate * warmupS;
        long[] latencies = new long[(int) (total - warmup)];
        AtomicLong received = new AtomicLong();
        AtomicLong measured = new AtomicLong();
        AtomicBoolean ready = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        Thread reader = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
                List<TopicPartition> tps = partitionsOf(consumer, topic);
                consumer.assign(tps);
                consumer.seekToEnd(tps);
                for (TopicPartition tp : tps) {
                    consumer.position(tp);
                }
                ready.set(true);
                while (!stop.get()) {
                    ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(100));
                    long now = System.nanoTime();
                    for (ConsumerRecord<byte[], byte[]> r : batch) {
                        long sent = bytesToLong(r.value());
                        long n = received.incrementAndGet();
                        if (n > warmup && n <= total) {
                            latencies[(int) measured.getAndIncrement()] = now - sent;
                        }
                    }
                }
            }
        }, "e2e-consumer");
        reader.start();
        while (!ready.get()) {
            Thread.sleep(10);
        }
        AtomicLong errors = new AtomicLong();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            // Connect and fetch metadata before the clock starts.
            producer.partitionsFor(topic);
            long periodNs = 1_000_000_000L / rate;
            long start = System.nanoTime();
            for (long i = 0; i < total; i++) {
                long due = start + i * periodNs;
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(Math.min(wait, 200_000));
                }
                byte[] value = new byte[recordBytes];
                longToBytes(System.nanoTime(), value);
                producer.send(new ProducerRecord<>(topic, 0, null, value), (m, e) -> {
                    if (e != null) {
                        errors.incrementAndGet();
                    }
                });
            }
            producer.flush();
        }
        long sendErrors = errors.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received.get() < total && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        stop.set(true);
        reader.join();
        int n = (int) Math.min(measured.get(), latencies.length);
        // Latency over time, in tenths of the measured period, to tell a
        // steady state from a backlog that builds up.
        StringBuilder timeline = new StringBuilder("e2e: median latency (µs) per tenth of the run:");
        for (int t = 0; t < 10 && n >= 10; t++) {
            long[] part = Arrays.copyOfRange(latencies, t * n / 10, (t + 1) * n / 10);
            Arrays.sort(part);
            timeline.append(String.format(" %.0f", pct(part, 0.5)));
        }
        System.err.println(timeline);
        long[] lat = Arrays.copyOf(latencies, n);
        Arrays.sort(lat);
        System.out.printf("RESULT sent=%d received=%d measured=%d send_errors=%d rate=%d record_bytes=%d"
                + " p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f%n",
                total, received.get(), n, sendErrors, rate, recordBytes,
                pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999), n == 0 ? Double.NaN : lat[n - 1] / 1e3);
    }

    /**
     * A transactional producer as fast as it goes, one transaction at a time:
     * beginTransaction, RECORDS_PER_TXN sends to partition 0 of TOPIC,
     * commitTransaction, for WARMUP_S + MEASURE_S seconds (the transaction
     * under way at the end is finished). Each record carries its
     * System.nanoTime() send time (bytes 0-7) and its sequence number (bytes
     * 8-15). A read_committed consumer in the same JVM (assign(), from the
     * last stable offset) records, per record, the time from send() to the
     * poll that returned it: the end-to-end latency of a committed record,
     * its transaction's commit and marker included. Throughput and latency
     * are over the transactions begun after the warm-up; the consumer must
     * see every record once and in order.
     */
    private static void transactional(String bootstrap, String topic, int recordBytes, int perTxn, int warmupS,
            int measureS) throws Exception {
        if (recordBytes < 16 || perTxn < 1) {
            usage();
        }
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        // A fresh id per run: no earlier producer epoch to fence.
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "bench-txn-" + java.util.UUID.randomUUID());
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        pp.put(ProducerConfig.BATCH_SIZE_CONFIG, "131072");
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        Properties cp = consumerProps(bootstrap);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");

        // Latency by sequence number, written by the consumer thread only
        // (read after join()).
        long[][] latencies = {new long[1 << 16]};
        AtomicLong received = new AtomicLong();
        AtomicLong disorder = new AtomicLong();
        AtomicBoolean ready = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        Thread reader = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
                List<TopicPartition> tps = partitionsOf(consumer, topic);
                consumer.assign(tps);
                consumer.seekToEnd(tps);
                for (TopicPartition tp : tps) {
                    consumer.position(tp);
                }
                ready.set(true);
                long next = 0;
                while (!stop.get()) {
                    ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(100));
                    long now = System.nanoTime();
                    for (ConsumerRecord<byte[], byte[]> r : batch) {
                        byte[] v = r.value();
                        long sent = bytesToLong(v, 0);
                        long seq = bytesToLong(v, 8);
                        if (seq != next) {
                            disorder.incrementAndGet();
                        }
                        next = seq + 1;
                        received.incrementAndGet();
                        if (seq >= 0 && seq < Integer.MAX_VALUE - 8) {
                            if (seq >= latencies[0].length) {
                                latencies[0] = Arrays.copyOf(latencies[0],
                                        (int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * latencies[0].length, seq + 1)));
                            }
                            latencies[0][(int) seq] = now - sent;
                        }
                    }
                }
            }
        }, "txn-consumer");
        reader.start();
        while (!ready.get()) {
            Thread.sleep(10);
        }
        AtomicLong errors = new AtomicLong();
        long seq = 0;
        long firstMeasured = -1;
        long measureStart = 0;
        long measureEnd;
        long transactions = 0;
        long measuredTransactions = 0;
        long[] commits = new long[1 << 12];
        int initialized;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            // Coordinator lookup, producer id and metadata before the clock starts.
            long t = System.nanoTime();
            producer.initTransactions();
            initialized = (int) ((System.nanoTime() - t) / 1_000_000);
            producer.partitionsFor(topic);
            long start = System.nanoTime();
            long warmupEnd = start + TimeUnit.SECONDS.toNanos(warmupS);
            long end = warmupEnd + TimeUnit.SECONDS.toNanos(measureS);
            while (true) {
                long now = System.nanoTime();
                if (firstMeasured < 0 && now >= warmupEnd) {
                    firstMeasured = seq;
                    measureStart = now;
                }
                if (now >= end) {
                    break;
                }
                producer.beginTransaction();
                for (int i = 0; i < perTxn; i++) {
                    byte[] value = new byte[recordBytes];
                    longToBytes(System.nanoTime(), value, 0);
                    longToBytes(seq++, value, 8);
                    producer.send(new ProducerRecord<>(topic, 0, null, value), (m, e) -> {
                        if (e != null) {
                            errors.incrementAndGet();
                        }
                    });
                }
                long c = System.nanoTime();
                producer.commitTransaction();
                transactions++;
                if (firstMeasured >= 0) {
                    if (measuredTransactions == commits.length) {
                        commits = Arrays.copyOf(commits, commits.length * 2);
                    }
                    commits[(int) measuredTransactions++] = System.nanoTime() - c;
                }
            }
            measureEnd = System.nanoTime();
        }
        long total = seq;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received.get() < total && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        stop.set(true);
        reader.join();
        int transactionVersion = -1;
        try (Admin admin = admin(bootstrap)) {
            var tv = admin.describeFeatures().featureMetadata().get(30, TimeUnit.SECONDS).finalizedFeatures()
                    .get("transaction.version");
            transactionVersion = tv == null ? 0 : tv.maxVersionLevel();
        } catch (Exception e) {
            System.err.println("txn: describeFeatures failed: " + e);
        }
        long measuredRecords = total - firstMeasured;
        double seconds = (measureEnd - measureStart) / 1e9;
        long[] lat = Arrays.copyOfRange(latencies[0], (int) firstMeasured, (int) Math.min(total, latencies[0].length));
        int n = lat.length;
        // Latency over time, in tenths of the measured period: a warm-up too
        // short shows as a falling median, a stall as one tenth's maximum.
        StringBuilder timeline = new StringBuilder("txn: median end-to-end latency (µs) per tenth of the run:");
        StringBuilder maxima = new StringBuilder("txn: maximum end-to-end latency (µs) per tenth of the run:");
        for (int t = 0; t < 10 && n >= 10; t++) {
            long[] part = Arrays.copyOfRange(lat, t * n / 10, (t + 1) * n / 10);
            Arrays.sort(part);
            timeline.append(String.format(" %.0f", pct(part, 0.5)));
            maxima.append(String.format(" %.0f", pct(part, 1.0)));
        }
        System.err.println(timeline);
        System.err.println(maxima);
        Arrays.sort(lat);
        long[] commit = Arrays.copyOf(commits, (int) measuredTransactions);
        Arrays.sort(commit);
        System.out.printf("RESULT sent=%d received=%d measured=%d send_errors=%d disorder=%d transactions=%d"
                + " measured_transactions=%d records_per_txn=%d record_bytes=%d seconds=%.3f records_per_s=%.1f"
                + " mib_per_s=%.3f commit_p50_us=%.1f commit_p99_us=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f"
                + " max_us=%.1f init_transactions_ms=%d transaction_version=%d%n",
                total, received.get(), measuredRecords, errors.get(), disorder.get(), transactions,
                measuredTransactions, perTxn, recordBytes, seconds, measuredRecords / seconds,
                measuredRecords * (double) recordBytes / seconds / (1 << 20), pct(commit, 0.5), pct(commit, 0.99),
                pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999), n == 0 ? Double.NaN : lat[n - 1] / 1e3,
                initialized, transactionVersion);
    }

    private static double pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e3;
    }

    private static void longToBytes(long v, byte[] b) {
        longToBytes(v, b, 0);
    }

    private static void longToBytes(long v, byte[] b, int at) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }

    private static long bytesToLong(byte[] b) {
        return bytesToLong(b, 0);
    }

    private static long bytesToLong(byte[] b, int at) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    private Bench() {
    }
}
