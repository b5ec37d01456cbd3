package dev.fjord.compat.streams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * One word-count case: creates an input and an output topic, produces a
 * known corpus with a plain producer, runs the word-count topology with the
 * given processing guarantee and reads the output topic (assign, no group,
 * read_committed) until the latest count of every word equals the expected
 * count. Fails by throwing; everything is bounded by the case's deadline.
 */
final class WordCount {
    static final int LINES = 4000;
    static final int INPUT_PARTITIONS = 3;
    static final int OUTPUT_PARTITIONS = 2;
    static final int REQUEST_TIMEOUT_MS = 15_000;
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(15);

    /** A case failure whose message is the RESULT message. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    private final String bootstrap;
    private final String caseName;
    private final String guarantee;
    private final int timeoutS;
    private final Path stateRoot;
    private final LogTail tail;
    private final String runId = UUID.randomUUID().toString().substring(0, 8);
    private final long deadline;

    private volatile String phase = "not started";
    private volatile KafkaStreams.State state;
    private final AtomicReference<Throwable> streamsError = new AtomicReference<>();
    private volatile int outputRecords;
    private volatile int wordsAtExpected;
    private volatile int wordsSeen;
    private int expectedWords;

    WordCount(String bootstrap, String caseName, String guarantee, int timeoutS, Path stateRoot, LogTail tail) {
        this.bootstrap = bootstrap;
        this.caseName = caseName;
        this.guarantee = guarantee;
        this.timeoutS = timeoutS;
        this.stateRoot = stateRoot;
        this.tail = tail;
        this.deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
    }

    private void log(String msg) {
        System.err.println("[" + caseName + "] " + msg);
    }

    private long remainingMs() {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }

    /** Where the case is, for a failure message. */
    String progress() {
        StringBuilder sb = new StringBuilder();
        if (state == null) {
            sb.append("during: ").append(phase);
        } else {
            sb.append("streams state ").append(state).append(", ").append(wordsAtExpected).append('/')
                    .append(expectedWords).append(" words at their expected count, ").append(outputRecords)
                    .append(" output records");
        }
        Throwable e = streamsError.get();
        if (e != null) {
            sb.append("; streams thread died: ").append(Main.describe(e));
        }
        String complaint = tail.complaint();
        if (complaint != null) {
            sb.append("; client log: ").append(complaint);
        }
        return sb.toString();
    }

    private Failure fail(String what) {
        return new Failure(what + " (" + progress() + ")");
    }

    void run() throws Exception {
        String input = "compat-streams-" + caseName + "-" + runId + "-in";
        String output = "compat-streams-" + caseName + "-" + runId + "-out";
        Files.createDirectories(stateRoot);
        Path stateDir = Files.createTempDirectory(stateRoot, "state-");
        Admin admin = null;
        KafkaStreams streams = null;
        try {
            phase = "create topics";
            Properties ap = new Properties();
            ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            ap.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-admin");
            ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
            ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
            admin = Admin.create(ap);
            admin.createTopics(List.of(new NewTopic(input, INPUT_PARTITIONS, (short) 1),
                    new NewTopic(output, OUTPUT_PARTITIONS, (short) 1))).all()
                    .get(remainingMs(), TimeUnit.MILLISECONDS);
            awaitReady(admin, input, INPUT_PARTITIONS);
            awaitReady(admin, output, OUTPUT_PARTITIONS);

            phase = "produce corpus";
            Map<String, Long> expected = produceCorpus(input);
            expectedWords = expected.size();
            long total = expected.values().stream().mapToLong(Long::longValue).sum();
            log("produced " + LINES + " lines, " + total + " words, " + expected.size() + " distinct, to " + input);

            phase = "start streams";
            Properties sp = new Properties();
            sp.put(StreamsConfig.APPLICATION_ID_CONFIG, "compat-streams-" + caseName + "-" + runId);
            sp.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            sp.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
            sp.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            sp.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
            // A producer that cannot initialize its transactions gives up after max.block.ms
            // (60 s by default) and Streams logs why and tries again: make that happen well
            // within the case's time. On Kafka initialization takes a few seconds at most.
            sp.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_BLOCK_MS_CONFIG), 20_000);
            if (StreamsConfig.AT_LEAST_ONCE.equals(guarantee)) {
                // The default (30 s) would hold back the output for most of the case's time.
                sp.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
            }
            streams = new KafkaStreams(topology(input, output), sp);
            streams.setStateListener((now, before) -> {
                state = now;
                log("streams state " + before + " -> " + now);
            });
            streams.setUncaughtExceptionHandler(e -> {
                streamsError.compareAndSet(null, e);
                log("streams thread died: " + e);
                e.printStackTrace();
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            state = streams.state();
            streams.start();

            phase = "wait for the expected counts in " + output;
            awaitCounts(output, expected);
            phase = "done";
        } finally {
            if (streams != null) {
                log("closing streams");
                if (!streams.close(CLOSE_TIMEOUT)) {
                    log("streams did not close within " + CLOSE_TIMEOUT.toSeconds() + " s");
                }
            }
            if (admin != null) {
                admin.close(Duration.ofSeconds(5));
            }
            deleteTree(stateDir);
        }
    }

    static Topology topology(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
                .filter((key, word) -> !word.isEmpty())
                .groupBy((key, word) -> word, Grouped.with("words", Serdes.String(), Serdes.String()))
                .count(Materialized.as("counts"))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return builder.build();
    }

    /** Waits until every partition of the topic has a leader that answers ListOffsets. */
    private void awaitReady(Admin admin, String topic, int partitions) throws Exception {
        Exception last = null;
        while (remainingMs() > 0) {
            try {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(Math.min(remainingMs(), 30_000), TimeUnit.MILLISECONDS).get(topic);
                boolean ready = d.partitions().size() == partitions;
                for (TopicPartitionInfo p : d.partitions()) {
                    ready &= p.leader() != null && !p.leader().isEmpty();
                }
                if (ready) {
                    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                    for (int p = 0; p < partitions; p++) {
                        latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
                    }
                    admin.listOffsets(latest).all().get(Math.min(remainingMs(), 30_000), TimeUnit.MILLISECONDS);
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw fail("topic " + topic + " not ready" + (last == null ? "" : ": " + Main.describe(last)));
    }

    /**
     * Produces {@link #LINES} lines of text drawn from a fixed vocabulary with
     * a Zipf-like distribution (seeded, so every run sends the same corpus),
     * mixing case and punctuation, and returns the expected count per
     * lower-cased word.
     */
    private Map<String, Long> produceCorpus(String topic) throws Exception {
        String[] vocabulary = {
            "fjord", "kafka", "stream", "record", "offset", "broker", "topic", "partition", "leader", "replica",
            "commit", "fetch", "produce", "consumer", "group", "batch", "segment", "index", "epoch", "watermark",
            "coordinator", "transaction", "marker", "snapshot", "compaction", "retention", "cluster", "quorum",
            "voter", "learner", "listener", "socket", "frame", "header", "timestamp", "sequence", "producer",
            "state", "changelog", "repartition", "x", "ab", "w0rd", "under_score"
        };
        double[] cumulative = new double[vocabulary.length];
        double sum = 0;
        for (int i = 0; i < vocabulary.length; i++) {
            sum += 1.0 / (i + 1);
            cumulative[i] = sum;
        }
        String[] separators = {" ", " ", " ", "  ", ", ", ". ", "; ", " - ", "\t", "! "};
        Random random = new Random(0x5EEDF1007L);
        Map<String, Long> expected = new TreeMap<>();

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-producer");
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        AtomicReference<Exception> sendError = new AtomicReference<>();
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int line = 0; line < LINES; line++) {
                int words = 1 + random.nextInt(12);
                StringBuilder text = new StringBuilder();
                if (random.nextInt(10) == 0) {
                    text.append(separators[random.nextInt(separators.length)]);
                }
                for (int w = 0; w < words; w++) {
                    double u = random.nextDouble() * sum;
                    int idx = 0;
                    while (cumulative[idx] < u) {
                        idx++;
                    }
                    String word = vocabulary[idx];
                    expected.merge(word, 1L, Long::sum);
                    if (random.nextInt(5) == 0) {
                        word = word.substring(0, 1).toUpperCase(Locale.ROOT) + word.substring(1);
                    } else if (random.nextInt(20) == 0) {
                        word = word.toUpperCase(Locale.ROOT);
                    }
                    if (w > 0) {
                        text.append(separators[random.nextInt(separators.length)]);
                    }
                    text.append(word);
                }
                if (random.nextInt(4) == 0) {
                    text.append(random.nextBoolean() ? "." : "?");
                }
                producer.send(new ProducerRecord<>(topic, "line-" + line, text.toString()), (md, e) -> {
                    if (e != null) {
                        sendError.compareAndSet(null, e);
                    }
                });
            }
            producer.flush();
        }
        if (sendError.get() != null) {
            throw fail("producing the corpus failed: " + Main.describe(sendError.get()));
        }
        return expected;
    }

    /**
     * Reads the output topic from the beginning (assign, no group,
     * read_committed) until the latest count of every word equals the
     * expected one, the application fails, or the deadline passes. A count
     * above the expected one can never come down again and fails at once.
     */
    private void awaitCounts(String output, Map<String, Long> expected) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-" + caseName + "-verifier");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        cp.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
        cp.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        Map<String, Long> latest = new HashMap<>();
        try (KafkaConsumer<String, Long> consumer =
                new KafkaConsumer<>(cp, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < OUTPUT_PARTITIONS; p++) {
                tps.add(new TopicPartition(output, p));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long lastReport = System.nanoTime();
            while (true) {
                for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(250))) {
                    outputRecords++;
                    latest.put(r.key(), r.value());
                    Long want = expected.get(r.key());
                    if (want == null) {
                        throw fail("unexpected word '" + r.key() + "' with count " + r.value() + " in " + output);
                    }
                    if (r.value() > want) {
                        throw fail("count of '" + r.key() + "' reached " + r.value() + ", expected " + want
                                + " (records counted twice)");
                    }
                }
                int at = 0;
                for (Map.Entry<String, Long> e : expected.entrySet()) {
                    if (e.getValue().equals(latest.get(e.getKey()))) {
                        at++;
                    }
                }
                wordsAtExpected = at;
                wordsSeen = latest.size();
                if (at == expected.size()) {
                    log("all " + at + " words at their expected count after " + outputRecords + " output records");
                    return;
                }
                Throwable e = streamsError.get();
                if (e != null) {
                    // The exception is the whole story; the client's ERROR line only repeats it.
                    throw new Failure("the streams application failed: " + Main.describe(e) + " (streams state "
                            + state + ", " + outputRecords + " output records)");
                }
                KafkaStreams.State s = state;
                if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.NOT_RUNNING
                        || s == KafkaStreams.State.PENDING_ERROR || s == KafkaStreams.State.PENDING_SHUTDOWN) {
                    throw fail("the streams application stopped");
                }
                if (System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(10)) {
                    lastReport = System.nanoTime();
                    log(progress());
                }
                if (remainingMs() == 0) {
                    log("words short of their expected count (latest/expected): " + missing(expected, latest));
                    throw fail("word counts not complete after " + timeoutS + " s");
                }
            }
        }
    }

    /** The first few words whose latest count differs from the expected one. */
    private static String missing(Map<String, Long> expected, Map<String, Long> latest) {
        List<String> diffs = new ArrayList<>();
        expected.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .filter(e -> !e.getValue().equals(latest.get(e.getKey())))
                .limit(3)
                .forEach(e -> diffs.add(e.getKey() + "=" + latest.get(e.getKey()) + "/" + e.getValue()));
        return diffs.isEmpty() ? "none" : String.join(", ", diffs) + (diffs.size() < 3 ? "" : ", ...");
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("could not delete " + root + ": " + e);
        }
    }
}
