package dev.fjord.compat;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetCommitCallback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Consumer groups (classic protocol) and committed offsets. Ordinary cases on
 * both targets: fjord implements the classic group protocol.
 */
final class GroupCases {
    private GroupCases() {}

    static List<Case> all() {
        return List.of(
                Case.of("group-subscribe-commit", 90, GroupCases::subscribeCommit),
                Case.of("group-commit-committed", 60, GroupCases::commitCommitted),
                Case.of("group-admin-offsets", 60, GroupCases::adminOffsets),
                Case.of("group-commit-async-in-order", 90, GroupCases::commitAsyncInOrder));
    }

    static Map<String, Object> groupConfig(String groupId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);
        return c;
    }

    /** A subscribed consumer reads the whole topic, commits, and a second member of the group resumes at the end. */
    static void subscribeCommit(Ctx ctx) throws Exception {
        int partitions = 2;
        int count = 300;
        TestRecords.Spec spec = ConsumerCases.filledTopic(ctx, "group-subscribe", partitions, count);
        String group = ctx.groupId("subscribe");
        List<TopicPartition> tps = Ctx.partitions(spec.topic(), partitions);

        KafkaConsumer<byte[], byte[]> first = ctx.consumer(groupConfig(group));
        first.subscribe(List.of(spec.topic()));
        Set<Integer> seen = new HashSet<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
        while (seen.size() < count && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : first.poll(Duration.ofMillis(500))) {
                Check.that(seen.add(TestRecords.index(r.key())), "record read twice: " + r.offset());
            }
        }
        Check.equal(count, seen.size(), "records read by the subscribed consumer");
        Check.equal(new HashSet<>(tps), first.assignment(), "assignment of the only member");
        first.commitSync();
        Map<TopicPartition, Long> end = first.endOffsets(tps);
        Map<TopicPartition, OffsetAndMetadata> committed = first.committed(new HashSet<>(tps));
        for (TopicPartition tp : tps) {
            Check.that(committed.get(tp) != null, "nothing committed for " + tp);
            Check.equal(end.get(tp), committed.get(tp).offset(), "committed offset of " + tp);
        }
        first.close(Ctx.CLOSE_TIMEOUT);

        // A new member of the same group starts from the committed offsets: nothing left to read.
        KafkaConsumer<byte[], byte[]> second = ctx.consumer(groupConfig(group));
        second.subscribe(List.of(spec.topic()));
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (second.assignment().size() < partitions && System.nanoTime() < deadline) {
            Check.that(second.poll(Duration.ofMillis(300)).isEmpty(), "second member re-read committed records");
        }
        Check.equal(new HashSet<>(tps), second.assignment(), "assignment of the second member");
        for (TopicPartition tp : tps) {
            Check.equal(end.get(tp), second.position(tp), "position of the second member on " + tp);
        }
    }

    /** Offsets committed for explicit partitions (assign(), no rebalance) come back with their metadata. */
    static void commitCommitted(Ctx ctx) throws Exception {
        TestRecords.Spec spec = ConsumerCases.filledTopic(ctx, "group-commit", 2, 50);
        String group = ctx.groupId("commit");
        TopicPartition p0 = new TopicPartition(spec.topic(), 0);
        TopicPartition p1 = new TopicPartition(spec.topic(), 1);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(groupConfig(group));
        consumer.assign(List.of(p0, p1));
        Check.that(consumer.committed(Set.of(p0, p1)).values().stream().allMatch(v -> v == null),
                "a new group already has committed offsets");
        consumer.commitSync(Map.of(p0, new OffsetAndMetadata(17, "meta-17"), p1, new OffsetAndMetadata(3)));
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(Set.of(p0, p1));
        Check.equal(17L, committed.get(p0).offset(), "committed offset of p0");
        Check.equal("meta-17", committed.get(p0).metadata(), "committed metadata of p0");
        Check.equal(3L, committed.get(p1).offset(), "committed offset of p1");

        // Another consumer of the group sees them, and position() starts there.
        KafkaConsumer<byte[], byte[]> other = ctx.consumer(groupConfig(group));
        other.assign(List.of(p0));
        Check.equal(17L, other.committed(Set.of(p0)).get(p0).offset(), "committed offset seen by another consumer");
        Check.equal(17L, other.position(p0), "position from committed offset");
        var first = ConsumerCases.firstRecord(other);
        Check.equal(17L, first.offset(), "first offset read after the committed one");
    }

    /** The admin client sees what a group committed. */
    static void adminOffsets(Ctx ctx) throws Exception {
        TestRecords.Spec spec = ConsumerCases.filledTopic(ctx, "group-admin", 1, 20);
        String group = ctx.groupId("admin");
        TopicPartition tp = new TopicPartition(spec.topic(), 0);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(groupConfig(group));
        consumer.assign(List.of(tp));
        consumer.commitSync(Map.of(tp, new OffsetAndMetadata(11, "m")));
        Admin admin = ctx.admin();
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(AdminCases.T, AdminCases.MS);
        Check.equal(11L, offsets.get(tp) == null ? null : offsets.get(tp).offset(), "offset listed by admin");
        Check.equal("m", offsets.get(tp).metadata(), "metadata listed by admin");
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all()
                .get(AdminCases.T, AdminCases.MS).get(group);
        Check.equal(group, d.groupId(), "described group id");
        Check.that(d.members().isEmpty(), "an assign()-only group has members: " + d.members());
    }

    static final int ASYNC_COMMIT_RECORDS = 1000;
    static final int ASYNC_COMMITS_PER_POLL = 10;

    /**
     * commitAsync after every record (issue 15). The consumer sends each
     * commit at once without waiting for the previous answer, so a poll's
     * commits are pipelined on the coordinator connection; the broker must
     * apply them in the order sent, so once their callbacks have run,
     * committed() is the last record's offset + 1. A broker that reorders
     * them is caught only when the last commit of a burst loses the race, so
     * this checks after every poll: 100 bursts of 10.
     */
    static void commitAsyncInOrder(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("group-commit-async", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaProducer<byte[], byte[]> producer = ctx.producer();
        for (int i = 0; i < ASYNC_COMMIT_RECORDS; i++) {
            producer.send(new ProducerRecord<>(topic, 0, TestRecords.key(i), TestRecords.value(i, 20)));
        }
        producer.flush();
        Map<String, Object> config = groupConfig(ctx.groupId("commit-async"));
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, ASYNC_COMMITS_PER_POLL);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(config);
        consumer.assign(List.of(tp));
        // Also finds the coordinator, so the first commitAsync goes out at once.
        Check.that(consumer.committed(Set.of(tp)).get(tp) == null, "a new group already has a committed offset");

        AtomicInteger completed = new AtomicInteger();
        AtomicReference<Exception> firstError = new AtomicReference<>();
        OffsetCommitCallback callback = (offsets, e) -> {
            if (e != null) {
                firstError.compareAndSet(null, e);
            }
            completed.incrementAndGet();
        };
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(75);
        int issued = 0;
        long next = 0;
        while (next < ASYNC_COMMIT_RECORDS) {
            Check.that(System.nanoTime() < deadline, "read up to offset " + next + " of " + ASYNC_COMMIT_RECORDS);
            ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
            for (ConsumerRecord<byte[], byte[]> r : records) {
                Check.equal(next, r.offset(), "offset read");
                consumer.commitAsync(Map.of(tp, new OffsetAndMetadata(r.offset() + 1)), callback);
                issued++;
                next = r.offset() + 1;
            }
            if (records.isEmpty()) {
                continue;
            }
            // Callbacks run in poll(); pausing keeps it from returning more records meanwhile.
            consumer.pause(List.of(tp));
            while (completed.get() < issued) {
                Check.that(System.nanoTime() < deadline, completed.get() + " of " + issued + " commit callbacks ran");
                Check.that(consumer.poll(Duration.ofMillis(10)).isEmpty(), "records of a paused partition");
            }
            consumer.resume(List.of(tp));
            if (firstError.get() != null) {
                throw new Check.Failure("commitAsync failed: " + firstError.get());
            }
            OffsetAndMetadata committed = consumer.committed(Set.of(tp)).get(tp);
            Check.equal(next, committed == null ? null : committed.offset(), "committed offset after " + issued
                    + " commitAsync calls, the last " + records.count() + " pipelined (the last one's offset)");
        }
    }
}
