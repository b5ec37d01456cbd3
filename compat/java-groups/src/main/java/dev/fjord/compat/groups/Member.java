package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;

/**
 * One member of a consumer group, on its own thread: subscribe, poll,
 * process (record the offsets in a {@link Tracker}), then commitSync — the
 * classic commit-after-process loop with enable.auto.commit=false. It keeps
 * what the rebalance listener saw, so cases can check assignments and
 * whether a rebalance happened.
 */
final class Member {
    final String name;
    private final Ctx ctx;
    private final Map<String, Object> config;
    private final String topic;
    private final Tracker tracker;
    private final Thread thread;
    private volatile boolean stop;

    /** The partitions the listener was last told this member owns. */
    final Set<TopicPartition> assignment = ConcurrentHashMap.newKeySet();
    /** Listener invocations (including ones with an empty partition set). */
    final AtomicInteger revokedCalls = new AtomicInteger();
    final AtomicInteger assignedCalls = new AtomicInteger();
    final AtomicInteger lostCalls = new AtomicInteger();
    /** Partitions revoked or lost so far, summed over invocations. */
    final AtomicInteger partitionsTakenAway = new AtomicInteger();
    final AtomicLong processed = new AtomicLong();
    final AtomicLong commitFailures = new AtomicLong();
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    /** consumer.groupMetadata() after the last poll. */
    volatile int generation = -1;
    volatile String memberId = "";
    volatile Throwable error;
    volatile boolean finished;

    Member(Ctx ctx, String name, Map<String, Object> config, String topic, Tracker tracker) {
        this.ctx = ctx;
        this.name = name;
        this.config = config;
        this.topic = topic;
        this.tracker = tracker;
        this.thread = new Thread(this::run, "member-" + name);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Ends the poll loop; the member closes its consumer (a dynamic member leaves the group). */
    void stopAndJoin(Duration within) throws InterruptedException {
        stop = true;
        thread.join(within.toMillis());
        if (thread.isAlive()) {
            ctx.log("member " + name + " did not end within " + within.toSeconds() + " s");
        }
    }

    /** Throws if this member's loop failed. */
    void rethrow() {
        Throwable t = error;
        if (t != null) {
            throw new Check.Failure("member " + name + ": " + Main.describe(t));
        }
    }

    int owned() {
        return assignment.size();
    }

    Set<Integer> ownedPartitions() {
        Set<Integer> s = new TreeSet<>();
        for (TopicPartition tp : assignment) {
            s.add(tp.partition());
        }
        return s;
    }

    String state() {
        return name + "{gen " + generation + ", owns " + ownedPartitions() + ", processed " + processed.get()
                + ", revoked/assigned/lost calls " + revokedCalls.get() + "/" + assignedCalls.get() + "/"
                + lostCalls.get() + (error == null ? "" : ", error " + Main.describe(error)) + "}";
    }

    private void event(String e) {
        String line = String.format("%.1f %s", ctx.elapsed(), e);
        events.add(line);
        ctx.log("member " + name + ": " + e);
    }

    private void run() {
        // The last offset processed per partition while this member has owned it without a break.
        Map<Integer, Long> last = new HashMap<>();
        KafkaConsumer<byte[], byte[]> consumer = null;
        try {
            consumer = ctx.newConsumer(config, "member-" + name);
            final KafkaConsumer<byte[], byte[]> c = consumer;
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    revokedCalls.incrementAndGet();
                    partitionsTakenAway.addAndGet(partitions.size());
                    event("revoked " + show(partitions));
                    // Everything returned by poll is processed before the next poll: commit it
                    // before the partitions move (what well-behaved applications do).
                    if (!partitions.isEmpty()) {
                        commit(c);
                    }
                    assignment.removeAll(partitions);
                    partitions.forEach(tp -> last.remove(tp.partition()));
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    assignedCalls.incrementAndGet();
                    event("assigned " + show(partitions) + " (generation " + c.groupMetadata().generationId() + ")");
                    assignment.addAll(partitions);
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    lostCalls.incrementAndGet();
                    partitionsTakenAway.addAndGet(partitions.size());
                    event("lost " + show(partitions));
                    assignment.removeAll(partitions);
                    partitions.forEach(tp -> last.remove(tp.partition()));
                }
            });
            while (!stop) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                for (TopicPartition tp : records.partitions()) {
                    for (long[] range : ranges(tp, records.records(tp), last, name)) {
                        tracker.add(tp.partition(), range[0], range[1]);
                        processed.addAndGet(range[1] - range[0] + 1);
                    }
                }
                if (!records.isEmpty()) {
                    commit(consumer);
                }
                generation = consumer.groupMetadata().generationId();
                memberId = consumer.groupMetadata().memberId();
            }
        } catch (Throwable t) {
            error = t;
            ctx.log("member " + name + " failed: " + Main.describe(t));
        } finally {
            if (consumer != null) {
                try {
                    consumer.close(Ctx.CLOSE_TIMEOUT);
                } catch (Exception e) {
                    ctx.log("member " + name + ": close failed: " + e);
                }
            }
            finished = true;
        }
    }

    private void commit(KafkaConsumer<byte[], byte[]> consumer) {
        try {
            consumer.commitSync(Duration.ofMillis(Ctx.API_TIMEOUT_MS));
        } catch (CommitFailedException | RebalanceInProgressException e) {
            // The group is rebalancing: the new owner re-processes from the last commit.
            commitFailures.incrementAndGet();
            event("commit failed: " + e.getClass().getSimpleName());
        }
    }

    /**
     * The records of one partition of one poll as inclusive offset ranges,
     * checking that they continue where this member's previous batch of
     * that partition ended (no skipped records while it owns the partition).
     */
    static List<long[]> ranges(TopicPartition tp, List<ConsumerRecord<byte[], byte[]>> records, Map<Integer, Long> last,
            String who) {
        List<long[]> out = new ArrayList<>();
        long first = -1;
        long prev = last.getOrDefault(tp.partition(), -1L);
        for (ConsumerRecord<byte[], byte[]> r : records) {
            long o = r.offset();
            if (prev >= 0 && o != prev + 1) {
                throw new Check.Failure(who + " read " + tp + " offset " + o + " right after offset " + prev
                        + " (records skipped or repeated without a rebalance)");
            }
            if (first < 0) {
                first = o;
            }
            prev = o;
        }
        if (first >= 0) {
            out.add(new long[] {first, prev});
            last.put(tp.partition(), prev);
        }
        return out;
    }

    static String show(Collection<TopicPartition> tps) {
        Set<Integer> s = new TreeSet<>();
        for (TopicPartition tp : tps) {
            s.add(tp.partition());
        }
        return s.toString();
    }

    static boolean allFinished(List<Member> members, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (Member m : members) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            m.thread.join(Math.max(1, left));
        }
        return members.stream().allMatch(m -> m.finished);
    }
}
