package dev.fjord.compat;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;

/**
 * Records whose every byte follows from their index i, so a consumer can
 * check what it reads by content: key "k<i>", a value that starts "v<i>:" and
 * continues with bytes seeded by i, timestamp base+i, and four headers
 * (one with an empty and one with a null value).
 */
final class TestRecords {
    private TestRecords() {}

    static byte[] key(int i) {
        return ("k" + i).getBytes(UTF_8);
    }

    /** Parses i back out of a key made by {@link #key}; -1 if it is not one. */
    static int index(byte[] key) {
        if (key == null || key.length < 2 || key[0] != 'k') {
            return -1;
        }
        try {
            return Integer.parseInt(new String(key, 1, key.length - 1, UTF_8));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** size bytes: "v<i>:", then half repetitive text, half pseudo-random bytes (so compression has work). */
    static byte[] value(int i, int size) {
        byte[] v = new byte[size];
        byte[] prefix = ("v" + i + ":").getBytes(UTF_8);
        System.arraycopy(prefix, 0, v, 0, Math.min(prefix.length, size));
        SplittableRandom random = new SplittableRandom(i);
        for (int j = prefix.length; j < size; j++) {
            v[j] = j < size / 2 ? (byte) ('a' + (j % 26)) : (byte) random.nextInt(256);
        }
        return v;
    }

    static List<Header> headers(int i) {
        return List.of(
                new RecordHeader("trace", ("t" + i).getBytes(UTF_8)),
                new RecordHeader("seq", ByteBuffer.allocate(4).putInt(i).array()),
                new RecordHeader("empty", new byte[0]),
                new RecordHeader("nil", null));
    }

    /** Where each record i landed, as the producer's callback reported it (offset -1 when acks=0). */
    static final class Sent {
        final int[] partition;
        final long[] offset;

        Sent(int n) {
            partition = new int[n];
            offset = new long[n];
            Arrays.fill(partition, -1);
            Arrays.fill(offset, -1);
        }
    }

    /** The shape of a batch of test records. */
    record Spec(String topic, int partitions, int count, int valueSize, long baseTimestamp) {
        static Spec of(String topic, int partitions, int count) {
            return new Spec(topic, partitions, count, 100, System.currentTimeMillis() - 60_000);
        }
    }

    /** Sends spec.count records asynchronously, flushes, and fails if any send failed. */
    static Sent produce(KafkaProducer<byte[], byte[]> producer, Spec spec) throws Exception {
        Sent sent = new Sent(spec.count);
        AtomicReference<Exception> firstError = new AtomicReference<>();
        AtomicInteger errors = new AtomicInteger();
        for (int i = 0; i < spec.count; i++) {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedException("interrupted while producing");
            }
            final int idx = i;
            ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                    spec.topic, null, spec.baseTimestamp + i, key(i), value(i, spec.valueSize), headers(i));
            producer.send(record, (md, e) -> {
                if (e != null) {
                    errors.incrementAndGet();
                    firstError.compareAndSet(null, e);
                } else {
                    sent.partition[idx] = md.partition();
                    sent.offset[idx] = md.hasOffset() ? md.offset() : -1;
                }
            });
        }
        producer.flush();
        if (firstError.get() != null) {
            throw new Check.Failure(errors.get() + " of " + spec.count + " sends failed, first: "
                    + firstError.get());
        }
        return sent;
    }

    /**
     * Reads every partition of spec.topic from the beginning with assign() and
     * checks that exactly records 0..count-1 come back, each once, byte for
     * byte, in increasing i within each partition, at the partition (and
     * offset, when known) the producer reported.
     */
    static void consumeAndVerify(Ctx ctx, Spec spec, Sent sent, Duration within) {
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(Map.of("max.poll.records", 2000));
        List<TopicPartition> tps = Ctx.partitions(spec.topic, spec.partitions);
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
        BitSet seen = new BitSet(spec.count);
        Map<Integer, Integer> lastIndex = new HashMap<>();
        long deadline = System.nanoTime() + within.toNanos();
        int read = 0;
        while (read < spec.count) {
            if (System.nanoTime() > deadline) {
                throw new Check.Failure("read " + read + " of " + spec.count + " records within " + within);
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                verifyOne(spec, sent, r, seen, lastIndex);
                read++;
            }
        }
        long total = Ctx.endOffsets(consumer, tps).values().stream().mapToLong(Long::longValue).sum();
        Check.equal((long) spec.count, total, "sum of end offsets");
    }

    private static void verifyOne(Spec spec, Sent sent, ConsumerRecord<byte[], byte[]> r, BitSet seen,
                                  Map<Integer, Integer> lastIndex) {
        String where = spec.topic + "-" + r.partition() + "@" + r.offset();
        int i = index(r.key());
        Check.that(i >= 0 && i < spec.count, where + ": unexpected key " + Arrays.toString(r.key()));
        Check.that(!seen.get(i), where + ": record " + i + " read twice");
        seen.set(i);
        if (sent != null && sent.partition[i] >= 0) {
            Check.equal(sent.partition[i], r.partition(), "partition of record " + i);
        }
        if (sent != null && sent.offset[i] >= 0) {
            Check.equal(sent.offset[i], r.offset(), "offset of record " + i);
        }
        Integer last = lastIndex.put(r.partition(), i);
        Check.that(last == null || last < i, where + ": record " + i + " after record " + last);
        Check.bytesEqual(key(i), r.key(), where + " key");
        Check.bytesEqual(value(i, spec.valueSize), r.value(), where + " value");
        Check.equal(spec.baseTimestamp + i, r.timestamp(), where + " timestamp");
        Check.equal(TimestampType.CREATE_TIME, r.timestampType(), where + " timestamp type");
        verifyHeaders(headers(i), r.headers().toArray(), where);
    }

    static void verifyHeaders(List<Header> expected, Header[] actual, String where) {
        Check.equal(expected.size(), actual.length, where + " header count");
        for (int h = 0; h < actual.length; h++) {
            Check.equal(expected.get(h).key(), actual[h].key(), where + " header " + h + " key");
            Check.bytesEqual(expected.get(h).value(), actual[h].value(), where + " header " + h + " value");
        }
    }

    static RecordHeaders recordHeaders(List<Header> headers) {
        return new RecordHeaders(headers.toArray(new Header[0]));
    }
}
