package dev.fjord.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;

/** Consumer positioning and flow control, all with assign() (no group). */
final class ConsumerCases {
    private ConsumerCases() {}

    static List<Case> all() {
        return List.of(
                Case.of("consumer-seek", 60, ConsumerCases::seek),
                Case.of("consumer-offsets-for-times", 60, ConsumerCases::offsetsForTimes),
                Case.of("consumer-beginning-end-offsets", 60, ConsumerCases::beginningEndOffsets),
                Case.of("consumer-pause-resume", 60, ConsumerCases::pauseResume),
                Case.of("consumer-max-poll-records", 60, ConsumerCases::maxPollRecords));
    }

    /** A one-partition topic holding test records 0..count-1 at offsets 0..count-1. */
    static TestRecords.Spec filledTopic(Ctx ctx, String base, int partitions, int count) throws Exception {
        String topic = ctx.createTopic(base, partitions);
        TestRecords.Spec spec = TestRecords.Spec.of(topic, partitions, count);
        TestRecords.produce(ctx.producer(), spec);
        return spec;
    }

    static void seek(Ctx ctx) throws Exception {
        TestRecords.Spec spec = filledTopic(ctx, "seek", 1, 100);
        TopicPartition tp = new TopicPartition(spec.topic(), 0);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        consumer.assign(List.of(tp));
        consumer.seek(tp, 42);
        Check.equal(42L, consumer.position(tp), "position after seek(42)");
        ConsumerRecord<byte[], byte[]> first = firstRecord(consumer);
        Check.equal(42L, first.offset(), "offset of first record after seek(42)");
        Check.equal(42, TestRecords.index(first.key()), "index of first record after seek(42)");
        // Seeking backwards re-reads.
        consumer.seek(tp, 7);
        Check.equal(7L, firstRecord(consumer).offset(), "offset of first record after seek(7)");
    }

    static ConsumerRecord<byte[], byte[]> firstRecord(KafkaConsumer<byte[], byte[]> consumer) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
            if (!records.isEmpty()) {
                return records.iterator().next();
            }
        }
        throw new Check.Failure("no record within 30 s");
    }

    static void offsetsForTimes(Ctx ctx) throws Exception {
        TestRecords.Spec spec = filledTopic(ctx, "offsets-for-times", 1, 100);
        TopicPartition tp = new TopicPartition(spec.topic(), 0);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        long base = spec.baseTimestamp();
        Map<TopicPartition, OffsetAndTimestamp> exact = consumer.offsetsForTimes(Map.of(tp, base + 50));
        Check.equal(50L, exact.get(tp).offset(), "offset for timestamp of record 50");
        Check.equal(base + 50, exact.get(tp).timestamp(), "timestamp found for record 50");
        Map<TopicPartition, OffsetAndTimestamp> before = consumer.offsetsForTimes(Map.of(tp, base - 1000));
        Check.equal(0L, before.get(tp).offset(), "offset for a timestamp before every record");
        Map<TopicPartition, OffsetAndTimestamp> after = consumer.offsetsForTimes(Map.of(tp, base + 1000));
        Check.that(after.get(tp) == null, "offset for a timestamp after every record should be null, got "
                + after.get(tp));
    }

    static void beginningEndOffsets(Ctx ctx) throws Exception {
        TestRecords.Spec spec = filledTopic(ctx, "begin-end", 2, 100);
        List<TopicPartition> tps = Ctx.partitions(spec.topic(), 2);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps);
        Map<TopicPartition, Long> end = consumer.endOffsets(tps);
        long total = 0;
        for (TopicPartition tp : tps) {
            Check.equal(0L, begin.get(tp), "beginning offset of " + tp);
            total += end.get(tp);
        }
        Check.equal(100L, total, "sum of end offsets");
        TopicPartition empty = new TopicPartition(ctx.createTopic("begin-end-empty", 1), 0);
        Check.equal(0L, consumer.beginningOffsets(List.of(empty)).get(empty), "beginning offset of empty topic");
        Check.equal(0L, consumer.endOffsets(List.of(empty)).get(empty), "end offset of empty topic");
    }

    static void pauseResume(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("pause-resume", 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        var producer = ctx.producer();
        for (int i = 0; i < 50; i++) {
            for (TopicPartition tp : List.of(p0, p1)) {
                producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(
                        topic, tp.partition(), TestRecords.key(i), TestRecords.value(i, 20)));
            }
        }
        producer.flush();
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        consumer.assign(List.of(p0, p1));
        consumer.seekToBeginning(List.of(p0, p1));
        consumer.pause(List.of(p0));
        Check.equal(Ctx.set(p0), consumer.paused(), "paused()");
        int fromP1 = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (fromP1 < 50 && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(300))) {
                Check.equal(1, r.partition(), "partition of a record read while partition 0 is paused");
                fromP1++;
            }
        }
        Check.equal(50, fromP1, "records read from partition 1");
        // A few more polls while paused still return nothing from partition 0.
        for (int i = 0; i < 3; i++) {
            Check.that(consumer.poll(Duration.ofMillis(200)).isEmpty(), "poll returned records while paused");
        }
        consumer.resume(List.of(p0));
        Check.that(consumer.paused().isEmpty(), "paused() after resume should be empty");
        int fromP0 = 0;
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (fromP0 < 50 && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(300))) {
                Check.equal(0, r.partition(), "partition of a record read after resume");
                Check.equal((long) fromP0, r.offset(), "offset read after resume");
                fromP0++;
            }
        }
        Check.equal(50, fromP0, "records read from partition 0 after resume");
    }

    static void maxPollRecords(Ctx ctx) throws Exception {
        TestRecords.Spec spec = filledTopic(ctx, "max-poll-records", 1, 100);
        TopicPartition tp = new TopicPartition(spec.topic(), 0);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 7));
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        List<Integer> sizes = new ArrayList<>();
        int total = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (total < 100 && System.nanoTime() < deadline) {
            ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
            if (!records.isEmpty()) {
                sizes.add(records.count());
                Check.that(records.count() <= 7, "poll returned " + records.count() + " records, max.poll.records=7");
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    Check.equal((long) total, r.offset(), "offset in sequence");
                    total++;
                }
            }
        }
        Check.equal(100, total, "records read");
        Check.that(sizes.contains(7), "no poll returned a full 7 records: " + sizes);
    }
}
