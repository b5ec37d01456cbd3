package dev.fjord.compat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.DefaultRecord;
import org.apache.kafka.common.record.DefaultRecordBatch;
import org.apache.kafka.common.record.TimestampType;

/**
 * Issue 17: segments roll by the records' own timestamps, measured from the
 * first batch of the segment (Kafka's LogSegment.shouldRoll), and a fetch
 * reads from one segment. What a client sees of that: how many records each
 * fetch (one poll, with one partition) brings back, and the partition size
 * that DescribeLogDirs reports.
 */
final class SegmentRollCases {
    private SegmentRollCases() {}

    private static final long DAY_MS = 86_400_000L;

    static List<Case> all() {
        return List.of(
                Case.of("segment-roll-back-dated", 90, SegmentRollCases::backDated),
                Case.of("segment-roll-record-time", 60, SegmentRollCases::recordTime));
    }

    private static byte[] key(int i) {
        return String.format("key-%05d", i).getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] value(int i) {
        return String.format("back-dated-value-%05d", i).getBytes(StandardCharsets.US_ASCII);
    }

    /** Produces one record per batch (each send waited for) with timestamp tsBase + i * stepMs. */
    private static void produceOnePerBatch(Ctx ctx, String topic, int count, long tsBase, long stepMs)
            throws Exception {
        KafkaProducer<byte[], byte[]> producer = ctx.producer(Map.of(ProducerConfig.LINGER_MS_CONFIG, 0));
        for (int i = 0; i < count; i++) {
            producer.send(new ProducerRecord<>(topic, 0, tsBase + i * stepMs, key(i), value(i)))
                    .get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Reads the partition from the start; returns the record count of each
     * non-empty poll, checking offsets and CreateTime timestamps on the way.
     */
    private static List<Integer> pollSizes(Ctx ctx, String topic, int count, long tsBase, long stepMs) {
        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        List<Integer> sizes = new ArrayList<>();
        int seen = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (seen < count) {
            Check.that(System.nanoTime() < deadline, "read " + seen + " of " + count + " records in 30 s");
            ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
            if (records.isEmpty()) {
                continue;
            }
            sizes.add(records.count());
            for (ConsumerRecord<byte[], byte[]> r : records) {
                Check.equal((long) seen, r.offset(), "offset of record " + seen);
                Check.equal(TimestampType.CREATE_TIME, r.timestampType(), "timestamp type at " + seen);
                Check.equal(tsBase + seen * stepMs, r.timestamp(), "timestamp at offset " + seen);
                Check.bytesEqual(value(seen), r.value(), "value at offset " + seen);
                seen++;
            }
        }
        return sizes;
    }

    /**
     * 500 single-record batches a month old: one segment on Kafka, so the
     * first fetch returns all of them; DescribeLogDirs reports their bytes.
     */
    static void backDated(Ctx ctx) throws Exception {
        int count = 500;
        String topic = ctx.createTopic("segment-roll-back-dated", 1);
        long tsBase = System.currentTimeMillis() - 30 * DAY_MS;
        produceOnePerBatch(ctx, topic, count, tsBase, 10);
        List<Integer> sizes = pollSizes(ctx, topic, count, tsBase, 10);
        Check.equal(List.of(count), sizes, "records per poll (one fetch reads one whole segment)");

        // Every batch holds one record at offset delta 0 and timestamp delta 0.
        long expected = 0;
        for (int i = 0; i < count; i++) {
            expected += DefaultRecordBatch.RECORD_BATCH_OVERHEAD + DefaultRecord.sizeInBytes(
                    0, 0L, ByteBuffer.wrap(key(i)), ByteBuffer.wrap(value(i)), new Header[0]);
        }
        long want = expected;
        int brokerId = ctx.admin().describeCluster().nodes().get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS)
                .iterator().next().id();
        TopicPartition tp = new TopicPartition(topic, 0);
        Check.eventually(Duration.ofSeconds(20), () -> {
            Map<String, LogDirDescription> dirs = ctx.admin().describeLogDirs(List.of(brokerId))
                    .allDescriptions().get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS).get(brokerId);
            long size = -1;
            for (LogDirDescription d : dirs.values()) {
                ReplicaInfo info = d.replicaInfos().get(tp);
                if (info != null) {
                    size = info.size();
                }
            }
            Check.equal(want, size, "DescribeLogDirs size of " + tp);
            return size;
        });
    }

    /**
     * Record time 10 s apart with segment.ms=60000: a new segment whenever a
     * batch is more than 60 s after its segment's first batch (offsets 0, 7,
     * 14, 21), and each fetch returns one segment.
     */
    static void recordTime(Ctx ctx) throws Exception {
        int count = 28;
        String topic = ctx.createTopic("segment-roll-record-time", 1, Map.of("segment.ms", "60000"));
        long tsBase = System.currentTimeMillis() - 30 * DAY_MS;
        produceOnePerBatch(ctx, topic, count, tsBase, 10_000);
        List<Integer> sizes = pollSizes(ctx, topic, count, tsBase, 10_000);
        Check.equal(List.of(7, 7, 7, 7), sizes, "records per poll (one fetch per segment)");
    }
}
