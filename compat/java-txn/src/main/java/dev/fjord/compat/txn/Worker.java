package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * One consume-transform-produce member (exactly-once, KIP-447 style), on its
 * own thread: a group consumer (read_committed, no auto commit) and a
 * transactional producer of its own. Each poll's records are copied to the
 * output topic in one transaction together with the consumer's next
 * offsets (sendOffsetsToTransaction with consumer.groupMetadata()), then
 * committed. A transaction that fails with an abortable error (e.g. the
 * group moved on to a new generation) is aborted and the consumer rewound
 * to the group's committed offsets; any other error ends the worker.
 */
final class Worker {
    final String name;
    private final Ctx ctx;
    private final String group;
    private final String input;
    private final String output;
    private final int maxPollRecords;
    private final long pauseMs;
    private final Thread thread;
    private volatile boolean stop;

    /** The partitions the listener was last told this member owns. */
    final Set<TopicPartition> assignment = ConcurrentHashMap.newKeySet();
    final AtomicInteger revokedCalls = new AtomicInteger();
    final AtomicInteger assignedCalls = new AtomicInteger();
    final AtomicInteger lostCalls = new AtomicInteger();
    /** Records copied in committed transactions. */
    final AtomicLong copied = new AtomicLong();
    final AtomicInteger commits = new AtomicInteger();
    final AtomicInteger aborts = new AtomicInteger();
    volatile Throwable error;

    Worker(Ctx ctx, String name, String group, String input, String output, int maxPollRecords, long pauseMs) {
        this.ctx = ctx;
        this.name = name;
        this.group = group;
        this.input = input;
        this.output = output;
        this.maxPollRecords = maxPollRecords;
        this.pauseMs = pauseMs;
        this.thread = new Thread(this::run, "worker-" + name);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Ends the loop after the current transaction; the worker closes its clients (leaving the group). */
    void stopAndJoin(Duration within) throws InterruptedException {
        stop = true;
        thread.join(within.toMillis());
        if (thread.isAlive()) {
            ctx.log("worker " + name + " did not end within " + within.toSeconds() + " s");
        }
    }

    /** Throws if this worker's loop failed. */
    void rethrow() {
        Throwable t = error;
        if (t != null) {
            throw new Check.Failure("worker " + name + ": " + Main.describe(t));
        }
    }

    Set<Integer> ownedPartitions() {
        Set<Integer> s = new TreeSet<>();
        for (TopicPartition tp : assignment) {
            s.add(tp.partition());
        }
        return s;
    }

    String state() {
        return name + "{owns " + ownedPartitions() + ", copied " + copied.get() + ", commits " + commits.get()
                + ", aborts " + aborts.get() + ", revoked/assigned/lost calls " + revokedCalls.get() + "/"
                + assignedCalls.get() + "/" + lostCalls.get()
                + (error == null ? "" : ", error " + Main.describe(error)) + "}";
    }

    private void run() {
        KafkaConsumer<String, String> consumer = null;
        KafkaProducer<String, String> producer = null;
        try {
            producer = new KafkaProducer<>(ctx.producerProps(Map.of(
                    ProducerConfig.TRANSACTIONAL_ID_CONFIG, ctx.name("worker-" + name),
                    ProducerConfig.CLIENT_ID_CONFIG, "compat-" + ctx.caseName + "-producer-" + name)),
                    new StringSerializer(), new StringSerializer());
            producer.initTransactions();
            consumer = ctx.newConsumer(Map.of(
                    ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                    ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords,
                    // Members learn of a rebalance from a heartbeat: keep that quick.
                    ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500,
                    ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000), "worker-" + name);
            consumer.subscribe(List.of(input), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    revokedCalls.incrementAndGet();
                    assignment.removeAll(partitions);
                    ctx.log("worker " + name + ": revoked " + parts(partitions));
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    assignedCalls.incrementAndGet();
                    assignment.addAll(partitions);
                    ctx.log("worker " + name + ": assigned " + parts(partitions) + ", owns " + ownedPartitions());
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    lostCalls.incrementAndGet();
                    assignment.removeAll(partitions);
                    ctx.log("worker " + name + ": lost " + parts(partitions));
                }
            });
            while (!stop) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) {
                    continue;
                }
                producer.beginTransaction();
                try {
                    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                    for (ConsumerRecord<String, String> r : records) {
                        producer.send(new ProducerRecord<>(output, r.key(), r.value()));
                        next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                    producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                    producer.commitTransaction();
                    commits.incrementAndGet();
                    copied.addAndGet(records.count());
                } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException
                        | UnsupportedVersionException | FencedInstanceIdException e) {
                    throw e;
                } catch (KafkaException e) {
                    aborts.incrementAndGet();
                    ctx.log("worker " + name + ": transaction of " + records.count() + " records failed ("
                            + Main.chain(e) + "); aborting and rewinding to the committed offsets");
                    producer.abortTransaction();
                    rewind(consumer);
                }
                if (pauseMs > 0) {
                    Thread.sleep(pauseMs);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            error = t;
            ctx.log("worker " + name + " failed: " + Main.chain(t));
        } finally {
            if (consumer != null) {
                try {
                    consumer.close(Ctx.CLOSE_TIMEOUT);
                } catch (Exception e) {
                    ctx.log("worker " + name + ": consumer close failed: " + e);
                }
            }
            if (producer != null) {
                try {
                    producer.close(Ctx.CLOSE_TIMEOUT);
                } catch (Exception e) {
                    ctx.log("worker " + name + ": producer close failed: " + e);
                }
            }
        }
    }

    /** Seeks every assigned partition back to the group's committed offset (or the beginning if none). */
    private void rewind(KafkaConsumer<String, String> consumer) {
        Set<TopicPartition> owned = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(owned);
        for (TopicPartition tp : owned) {
            OffsetAndMetadata o = committed.get(tp);
            if (o == null) {
                consumer.seekToBeginning(List.of(tp));
            } else {
                consumer.seek(tp, o.offset());
            }
        }
    }

    private static Set<Integer> parts(Collection<TopicPartition> tps) {
        Set<Integer> s = new TreeSet<>();
        for (TopicPartition tp : tps) {
            s.add(tp.partition());
        }
        return s;
    }
}
