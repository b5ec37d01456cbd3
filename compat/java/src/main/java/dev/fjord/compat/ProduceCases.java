package dev.fjord.compat;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/** Producer round trips: what is written comes back byte for byte. */
final class ProduceCases {
    private ProduceCases() {}

    /** Records in the default round trip; the compression round trips use a fifth of it. */
    static final int DEFAULT_RECORDS = 100_000;
    static final int COMPRESSED_RECORDS = 20_000;

    static List<Case> all(int scalePercent) {
        int big = Math.max(1000, DEFAULT_RECORDS * scalePercent / 100);
        int small = Math.max(1000, COMPRESSED_RECORDS * scalePercent / 100);
        List<Case> cases = new ArrayList<>();
        cases.add(Case.of("produce-consume-default", 150, ctx -> roundTrip(ctx, Map.of(), 3, big)));
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            cases.add(Case.of("produce-consume-" + codec, 90,
                    ctx -> roundTrip(ctx, Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec), 3, small)));
        }
        // Without idempotence only one request in flight keeps order across retries.
        for (String acks : List.of("0", "1")) {
            cases.add(Case.of("produce-acks-" + acks, 60, ctx -> roundTrip(ctx, Map.of(
                    ProducerConfig.ACKS_CONFIG, acks,
                    ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
                    ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1), 3, 2000)));
        }
        cases.add(Case.of("null-key-and-value", 60, ProduceCases::nullKeyAndValue));
        cases.add(Case.of("duplicate-header-keys", 60, ProduceCases::duplicateHeaderKeys));
        cases.add(Case.of("custom-partitioner", 60, ProduceCases::customPartitioner));
        cases.add(Case.of("max-message-bytes-near-limit", 60, ProduceCases::nearMaxMessageBytes));
        cases.add(Case.of("max-message-bytes-over-limit", 60, ProduceCases::overMaxMessageBytes));
        return cases;
    }

    static void roundTrip(Ctx ctx, Map<String, Object> producerConfig, int partitions, int count) throws Exception {
        String topic = ctx.createTopic(ctx.caseName, partitions);
        TestRecords.Spec spec = TestRecords.Spec.of(topic, partitions, count);
        TestRecords.Sent sent = TestRecords.produce(ctx.producer(producerConfig), spec);
        TestRecords.consumeAndVerify(ctx, spec, sent, Duration.ofSeconds(60));
    }

    /** Null keys and values must come back as null, not as empty arrays. */
    static void nullKeyAndValue(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("null-key-value", 1);
        KafkaProducer<byte[], byte[]> producer = ctx.producer();
        byte[][][] kv = {
            {null, "v0".getBytes(UTF_8)},
            {"k1".getBytes(UTF_8), null},
            {null, null},
            {new byte[0], new byte[0]},
        };
        for (byte[][] pair : kv) {
            producer.send(new ProducerRecord<>(topic, 0, pair[0], pair[1])).get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        }
        List<ConsumerRecord<byte[], byte[]>> got = readAll(ctx, new TopicPartition(topic, 0), kv.length);
        for (int i = 0; i < kv.length; i++) {
            Check.bytesEqual(kv[i][0], got.get(i).key(), "record " + i + " key");
            Check.bytesEqual(kv[i][1], got.get(i).value(), "record " + i + " value");
        }
    }

    /** Headers are an ordered list, not a map: repeated keys and their order survive. */
    static void duplicateHeaderKeys(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("dup-headers", 1);
        List<Header> headers = List.of(
                new RecordHeader("a", "1".getBytes(UTF_8)),
                new RecordHeader("b", "x".getBytes(UTF_8)),
                new RecordHeader("a", "2".getBytes(UTF_8)),
                new RecordHeader("a", null),
                new RecordHeader("a", "3".getBytes(UTF_8)));
        ctx.producer().send(new ProducerRecord<>(topic, 0, null, "k".getBytes(UTF_8), "v".getBytes(UTF_8),
                headers)).get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        ConsumerRecord<byte[], byte[]> r = readAll(ctx, new TopicPartition(topic, 0), 1).get(0);
        TestRecords.verifyHeaders(headers, r.headers().toArray(), "record 0");
        List<String> values = new ArrayList<>();
        r.headers().headers("a").forEach(h -> values.add(h.value() == null ? null : new String(h.value(), UTF_8)));
        Check.equal(java.util.Arrays.asList("1", "2", null, "3"), values, "values of header a");
    }

    static void customPartitioner(Ctx ctx) throws Exception {
        int partitions = 3;
        int count = 300;
        String topic = ctx.createTopic("custom-partitioner", partitions);
        KafkaProducer<byte[], byte[]> producer = ctx.producer(
                Map.of(ProducerConfig.PARTITIONER_CLASS_CONFIG, ModuloPartitioner.class.getName()));
        TestRecords.Spec spec = TestRecords.Spec.of(topic, partitions, count);
        TestRecords.Sent sent = TestRecords.produce(producer, spec);
        for (int i = 0; i < count; i++) {
            Check.equal(ModuloPartitioner.expectedPartition(i, partitions), sent.partition[i],
                    "partition the producer reported for record " + i);
        }
        TestRecords.consumeAndVerify(ctx, spec, sent, Duration.ofSeconds(30));
    }

    /** Topic max.message.bytes for the size-limit cases. */
    static final int TOPIC_MAX_MESSAGE_BYTES = 100_000;

    static KafkaProducer<byte[], byte[]> bigRecordProducer(Ctx ctx) {
        // The client's own limits are far above the topic's, so only the broker can refuse.
        return ctx.producer(Map.of(
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 * 1024 * 1024,
                ProducerConfig.BUFFER_MEMORY_CONFIG, 32L * 1024 * 1024,
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"));
    }

    static void nearMaxMessageBytes(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("max-msg-near", 1,
                Map.of("max.message.bytes", String.valueOf(TOPIC_MAX_MESSAGE_BYTES)));
        byte[] value = TestRecords.value(7, 90_000);
        RecordMetadata md = bigRecordProducer(ctx)
                .send(new ProducerRecord<>(topic, 0, "big".getBytes(UTF_8), value)).get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        Check.equal(0L, md.offset(), "offset of the 90 KB record");
        ConsumerRecord<byte[], byte[]> r = readAll(ctx, new TopicPartition(topic, 0), 1).get(0);
        Check.bytesEqual(value, r.value(), "value of the 90 KB record");
    }

    static void overMaxMessageBytes(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("max-msg-over", 1,
                Map.of("max.message.bytes", String.valueOf(TOPIC_MAX_MESSAGE_BYTES)));
        // The value alone equals the limit; with batch and record overhead the batch is just over it.
        byte[] value = TestRecords.value(8, TOPIC_MAX_MESSAGE_BYTES);
        KafkaProducer<byte[], byte[]> producer = bigRecordProducer(ctx);
        Check.throwsCause(RecordTooLargeException.class,
                () -> producer.send(new ProducerRecord<>(topic, 0, "big".getBytes(UTF_8), value))
                        .get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS),
                "sending a record over the topic's max.message.bytes");
        // Nothing was appended, and the partition still takes ordinary records.
        producer.send(new ProducerRecord<>(topic, 0, "small".getBytes(UTF_8), "v".getBytes(UTF_8)))
                .get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        ConsumerRecord<byte[], byte[]> r = readAll(ctx, new TopicPartition(topic, 0), 1).get(0);
        Check.bytesEqual("small".getBytes(UTF_8), r.key(), "first record after the rejected one");
    }

    /** Reads exactly count records of one partition from its beginning (bounded to 30 s). */
    static List<ConsumerRecord<byte[], byte[]>> readAll(Ctx ctx, TopicPartition tp, int count) {
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer();
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (got.size() < count && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(500)).forEach(got::add);
        }
        Check.equal(count, got.size(), "records read from " + tp);
        return got;
    }
}
