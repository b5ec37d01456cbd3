package dev.fjord.compat;

import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client side of the fault harness (fault/README.md). One command a
 * call; the producer and the consumer run until SIGTERM (a shutdown hook
 * stops them cleanly and closes their files).
 *
 * <pre>
 * FaultClient create-topic BOOTSTRAP TOPIC PARTITIONS RF MIN_ISR DEADLINE_S
 *     CreateTopics with min.insync.replicas=MIN_ISR, retried until the deadline; prints
 *     "created" or "FAIL: ..." (exit 1) with the broker's error
 * FaultClient wait-isr BOOTSTRAP DEADLINE_S TOPIC...
 *     polls DescribeTopics until every partition of every TOPIC has a leader and
 *     ISR = replicas; prints "isr-full" or "FAIL: ..." with the partitions that are not (exit 1)
 * FaultClient produce BOOTSTRAP TOPIC NAME RATE ACKED_FILE
 *     idempotent acks=all producer, compression none, values "NAME:SEQ" (key "SEQ") at
 *     RATE records/s; every acknowledged record is a line "A PARTITION OFFSET VALUE",
 *     a failed one "F VALUE ERROR"
 * FaultClient consume BOOTSTRAP TOPIC GROUP SEEN_FILE
 *     subscribed group consumer from the earliest offset, auto commit; every record
 *     received is a line "S PARTITION OFFSET VALUE"
 * </pre>
 */
public final class FaultClient {
    private FaultClient() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            usage();
        }
        switch (args[0]) {
            case "create-topic" -> {
                if (args.length != 7) usage();
                System.exit(createTopic(args[1], args[2], Integer.parseInt(args[3]), Short.parseShort(args[4]),
                        args[5], Integer.parseInt(args[6])));
            }
            case "wait-isr" -> {
                if (args.length < 4) usage();
                System.exit(waitIsr(args[1], Integer.parseInt(args[2]), List.of(args).subList(3, args.length)));
            }
            case "produce" -> {
                if (args.length != 6) usage();
                produce(args[1], args[2], args[3], Integer.parseInt(args[4]), args[5]);
            }
            case "consume" -> {
                if (args.length != 5) usage();
                consume(args[1], args[2], args[3], args[4]);
            }
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: FaultClient create-topic|wait-isr|produce|consume ... (see the class comment)");
        System.exit(2);
    }

    private static void log(String msg) {
        System.err.printf("%tT %s%n", System.currentTimeMillis(), msg);
    }

    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        return Admin.create(p);
    }

    private static int createTopic(String bootstrap, String topic, int partitions, short rf, String minIsr,
            int deadlineS) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineS);
        String last = "no attempt";
        try (Admin admin = admin(bootstrap)) {
            while (System.nanoTime() < end) {
                NewTopic t = new NewTopic(topic, partitions, rf).configs(Map.of("min.insync.replicas", minIsr));
                try {
                    admin.createTopics(List.of(t)).all().get(20, TimeUnit.SECONDS);
                    System.out.println("created");
                    return 0;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    last = c.getClass().getSimpleName() + ": " + c.getMessage();
                    if (c instanceof org.apache.kafka.common.errors.TopicExistsException) {
                        System.out.println("created (it existed already)");
                        return 0;
                    }
                    // A refusal of the request itself will not change by retrying.
                    if (c instanceof org.apache.kafka.common.errors.InvalidReplicationFactorException
                            || c instanceof org.apache.kafka.common.errors.InvalidConfigurationException
                            || c instanceof org.apache.kafka.common.errors.PolicyViolationException
                            || c instanceof org.apache.kafka.common.errors.InvalidRequestException) {
                        break;
                    }
                } catch (java.util.concurrent.TimeoutException e) {
                    last = "timed out";
                }
                Thread.sleep(1000);
            }
        }
        System.out.println("FAIL: CreateTopics " + topic + " (" + partitions + " partitions, replication factor " + rf
                + ", min.insync.replicas " + minIsr + "): " + last);
        return 1;
    }

    private static int waitIsr(String bootstrap, int deadlineS, List<String> topics) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineS);
        String last = "no answer";
        try (Admin admin = admin(bootstrap)) {
            while (System.nanoTime() < end) {
                try {
                    Map<String, TopicDescription> d = admin.describeTopics(topics).allTopicNames().get(15, TimeUnit.SECONDS);
                    List<String> short_ = new ArrayList<>();
                    for (TopicDescription td : d.values()) {
                        for (TopicPartitionInfo p : td.partitions()) {
                            Set<Integer> replicas = new TreeSet<>();
                            p.replicas().forEach(n -> replicas.add(n.id()));
                            Set<Integer> isr = new TreeSet<>();
                            p.isr().forEach(n -> isr.add(n.id()));
                            if (p.leader() == null || p.leader().id() < 0 || !isr.equals(replicas)) {
                                short_.add(td.name() + "-" + p.partition() + " leader="
                                        + (p.leader() == null ? "none" : p.leader().id()) + " isr=" + isr
                                        + " replicas=" + replicas);
                            }
                        }
                    }
                    if (short_.isEmpty()) {
                        System.out.println("isr-full");
                        return 0;
                    }
                    last = String.join("; ", short_);
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    last = e.toString();
                }
                Thread.sleep(1000);
            }
        }
        System.out.println("FAIL: ISR not full after " + deadlineS + " s: " + last);
        return 1;
    }

    /** A file of result lines, flushed twice a second so a watcher sees progress. */
    private static final class Lines implements AutoCloseable {
        private final BufferedWriter w;
        private final Thread flusher;

        Lines(String name) throws IOException {
            w = new BufferedWriter(new FileWriter(name));
            flusher = new Thread(() -> {
                try {
                    while (true) {
                        Thread.sleep(500);
                        flush();
                    }
                } catch (InterruptedException e) {
                    // closing
                }
            });
            flusher.setDaemon(true);
            flusher.start();
        }

        synchronized void line(String s) {
            try {
                w.write(s);
                w.write('\n');
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }

        synchronized void flush() {
            try {
                w.flush();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }

        @Override
        public synchronized void close() throws IOException {
            flusher.interrupt();
            w.close();
        }
    }

    private static void produce(String bootstrap, String topic, String name, int rate, String file) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "fault-" + name);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        AtomicBoolean stop = new AtomicBoolean();
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.set(true);
            try {
                main.join(60_000);
            } catch (InterruptedException e) {
                // exiting anyway
            }
        }));
        AtomicLong acked = new AtomicLong(), failed = new AtomicLong();
        long seq = 0;
        try (Lines out = new Lines(file); KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            long periodNs = TimeUnit.SECONDS.toNanos(1) / rate;
            long next = System.nanoTime();
            long lastLog = System.nanoTime();
            while (!stop.get()) {
                long now = System.nanoTime();
                if (now < next) {
                    Thread.sleep(Math.max(1, (next - now) / 1_000_000));
                    continue;
                }
                next += periodNs;
                if (now - next > TimeUnit.SECONDS.toNanos(1)) {
                    next = now; // blocked for a while (buffer full): do not burst afterwards
                }
                String value = name + ":" + seq;
                // send() blocks at most max.block.ms when the buffer is full or
                // metadata is missing; that record then fails.
                try {
                    producer.send(new ProducerRecord<>(topic, Long.toString(seq), value), (md, e) -> {
                        if (e != null) {
                            failed.incrementAndGet();
                            out.line("F " + value + " " + e.toString().replace('\n', ' '));
                        } else {
                            acked.incrementAndGet();
                            out.line("A " + md.partition() + " " + md.offset() + " " + value);
                        }
                    });
                } catch (org.apache.kafka.common.KafkaException e) {
                    failed.incrementAndGet();
                    out.line("F " + value + " " + e.toString().replace('\n', ' '));
                }
                seq++;
                if (now - lastLog > TimeUnit.SECONDS.toNanos(10)) {
                    log(name + ": sent " + seq + " acked " + acked.get() + " failed " + failed.get());
                    lastLog = now;
                }
            }
            log(name + ": stopping, flushing (at most 30 s)");
            producer.close(Duration.ofSeconds(30));
            log(name + ": done: sent " + seq + " acked " + acked.get() + " failed " + failed.get());
        }
    }

    private static void consume(String bootstrap, String topic, String group, String file) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "fault-" + group);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p);
        AtomicBoolean stop = new AtomicBoolean();
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.set(true);
            consumer.wakeup();
            try {
                main.join(30_000);
            } catch (InterruptedException e) {
                // exiting anyway
            }
        }));
        long n = 0;
        long lastLog = System.nanoTime();
        try (Lines out = new Lines(file)) {
            consumer.subscribe(List.of(topic));
            while (!stop.get()) {
                try {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        out.line("S " + r.partition() + " " + r.offset() + " " + r.value());
                        n++;
                    }
                } catch (WakeupException e) {
                    break;
                } catch (org.apache.kafka.common.KafkaException e) {
                    log(group + ": poll: " + e);
                }
                if (System.nanoTime() - lastLog > TimeUnit.SECONDS.toNanos(10)) {
                    log(group + ": seen " + n);
                    lastLog = System.nanoTime();
                }
            }
            try {
                consumer.commitSync(Duration.ofSeconds(10));
            } catch (RuntimeException e) {
                log(group + ": final commit: " + e);
            }
            consumer.close(Duration.ofSeconds(10));
            log(group + ": done: seen " + n);
        }
    }
}
