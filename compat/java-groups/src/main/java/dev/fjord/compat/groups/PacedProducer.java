package dev.fjord.compat.groups;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * A producer thread writing {@code total} records (or until stopped) at a
 * steady rate, record i to partition i % partitions, with the idempotent
 * acks=all producer. Counts acknowledgements and keeps the first error.
 */
final class PacedProducer {
    private final Ctx ctx;
    private final String topic;
    private final int partitions;
    private final long total;
    private final int perSecond;
    private final Thread thread;
    private volatile boolean stop;
    final AtomicLong sent = new AtomicLong();
    final AtomicLong acked = new AtomicLong();
    final AtomicReference<String> error = new AtomicReference<>();
    volatile boolean done;

    PacedProducer(Ctx ctx, String topic, int partitions, long total, int perSecond) {
        this.ctx = ctx;
        this.topic = topic;
        this.partitions = partitions;
        this.total = total;
        this.perSecond = perSecond;
        this.thread = new Thread(this::run, "producer-" + topic);
        this.thread.setDaemon(true);
        ctx.closeAtEnd(() -> {
            stop = true;
            thread.join(20_000);
        });
        thread.start();
    }

    static byte[] value(long i) {
        ByteBuffer b = ByteBuffer.allocate(64);
        b.putLong(i);
        while (b.hasRemaining()) {
            b.put((byte) (i * 31 + b.position()));
        }
        return b.array();
    }

    private void run() {
        try {
            KafkaProducer<byte[], byte[]> producer = ctx.producer(Map.of(
                    ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true, ProducerConfig.ACKS_CONFIG, "all"));
            long start = System.nanoTime();
            for (long i = 0; i < total && !stop && error.get() == null; i++) {
                if (i % 200 == 0) {
                    long due = start + i * 1_000_000_000L / perSecond;
                    long ahead = due - System.nanoTime();
                    if (ahead > 0) {
                        Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
                    }
                }
                byte[] key = Long.toString(i).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                producer.send(new ProducerRecord<>(topic, (int) (i % partitions), key, value(i)), (md, e) -> {
                    if (e != null) {
                        error.compareAndSet(null, "send failed: " + Main.describe(e));
                    } else {
                        acked.incrementAndGet();
                    }
                });
                sent.incrementAndGet();
            }
            producer.flush();
        } catch (Throwable t) {
            error.compareAndSet(null, "producer: " + Main.describe(t));
        } finally {
            done = true;
        }
    }

    void stop() {
        stop = true;
    }

    /** Waits until the producer is done and checks that every record it sent was acknowledged. */
    void awaitDone(Duration within) throws InterruptedException {
        thread.join(within.toMillis());
        Check.that(done, "producer not done within " + within.toSeconds() + " s (" + acked.get() + " acked)");
        Check.that(error.get() == null, String.valueOf(error.get()));
        Check.equal(sent.get(), acked.get(), "acknowledged records");
        ctx.log("producer done: " + acked.get() + " records acknowledged");
    }
}
