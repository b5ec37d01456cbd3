package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;

/**
 * txn-send-offsets: consume-transform-produce. An input topic (6
 * partitions) and two {@link Worker}s of one group (read_committed, no
 * auto commit, each with its own transactional producer) that copy it to an
 * output topic (3 partitions), each poll (at most 25 records) in one
 * transaction with sendOffsetsToTransaction(offsets,
 * consumer.groupMetadata()). Once the two own 3 partitions each, a plain
 * producer writes 3,000 input records; once 1,000 of them are committed a
 * third worker joins, forcing a rebalance while the others are copying;
 * once the group has settled at 2 partitions each, 3,000 more input records
 * are produced. When the group's committed offsets reach the input's end
 * offsets the workers stop (and leave). Then the committed offsets must
 * equal the end offsets exactly, the output's last stable offsets must
 * equal its end offsets, a read_committed read of the output must hold
 * every input record (key and value) exactly once, and every worker must
 * have copied some of them.
 */
final class SendOffsetsCase {
    private SendOffsetsCase() {}

    static final int IN_PARTITIONS = 6;
    static final int OUT_PARTITIONS = 3;
    static final int HALF = 3000;
    static final int JOIN_AT = 1000;
    static final int MAX_POLL_RECORDS = 25;
    static final long PAUSE_MS = 30;

    static void run(Ctx ctx) throws Exception {
        String input = ctx.createTopic("in", IN_PARTITIONS);
        String output = ctx.createTopic("out", OUT_PARTITIONS);
        String group = ctx.name("group");
        KafkaProducer<String, String> plain = ctx.producer(Map.of());
        Map<String, String> inputs = new HashMap<>();

        List<Worker> workers = new ArrayList<>();
        for (String n : List.of("w1", "w2")) {
            workers.add(worker(ctx, n, group, input, output));
        }
        ctx.step("two workers joining the group");
        awaitSettled(ctx, workers);

        ctx.step("producing input records 0.." + (HALF - 1) + "; waiting for " + JOIN_AT + " committed");
        produce(plain, input, 0, HALF, inputs);
        long[] committed = awaitCommitted(ctx, workers, group, input, c -> Arrays.stream(c).map(x -> Math.max(x, 0))
                .sum() >= JOIN_AT, "the group to commit " + JOIN_AT + " input records", Duration.ofSeconds(20));
        ctx.log("committed " + Arrays.toString(committed) + "; " + states(workers));

        ctx.step("third worker joins (rebalance)");
        Worker w3 = worker(ctx, "w3", group, input, output);
        workers.add(w3);
        awaitSettled(ctx, workers);
        committed = ctx.committed(group, input, IN_PARTITIONS);
        ctx.log("committed " + Arrays.toString(committed) + " after the rebalance");

        ctx.step("producing input records " + HALF + ".." + (2 * HALF - 1));
        produce(plain, input, HALF, 2 * HALF, inputs);
        long[] inEnd = ctx.endOffsets(input, IN_PARTITIONS);
        Check.equal((long) 2 * HALF, Arrays.stream(inEnd).sum(), "sum of the input end offsets");

        ctx.step("waiting for the group's committed offsets to reach the input end offsets " + Arrays.toString(inEnd));
        committed = awaitCommitted(ctx, workers, group, input, c -> Arrays.equals(c, inEnd),
                "committed offsets equal to the input end offsets " + Arrays.toString(inEnd), Duration.ofSeconds(30));
        ctx.step("stopping the workers");
        for (Worker w : workers) {
            w.stopAndJoin(Duration.ofSeconds(15));
        }
        ctx.log("workers: " + states(workers));
        for (Worker w : workers) {
            w.rethrow();
        }
        committed = ctx.committed(group, input, IN_PARTITIONS);
        Check.that(Arrays.equals(committed, inEnd), "after the workers left, the group's committed offsets are "
                + Arrays.toString(committed) + ", expected the input end offsets " + Arrays.toString(inEnd));

        ctx.step("waiting for the output's last stable offsets to reach its end offsets");
        long[] outEnd = ctx.awaitStable(output, OUT_PARTITIONS, null, Duration.ofSeconds(10));

        ctx.step("reading the output with read_committed");
        List<List<Ctx.Rec>> rc = ctx.readToEnd(output, OUT_PARTITIONS, IsolationLevel.READ_COMMITTED, outEnd,
                Duration.ofSeconds(20));
        List<String> values = new ArrayList<>();
        List<String> wrongKeys = new ArrayList<>();
        for (List<Ctx.Rec> part : rc) {
            for (Ctx.Rec r : part) {
                values.add(r.value());
                if (!r.key().equals(inputs.get(r.value()))) {
                    wrongKeys.add(r.toString() + " key " + r.key());
                }
            }
        }
        Set<String> distinct = new TreeSet<>(values);
        if (distinct.size() != values.size()) {
            Map<String, Integer> counts = new HashMap<>();
            for (String v : values) {
                counts.merge(v, 1, Integer::sum);
            }
            List<String> dups = new ArrayList<>();
            counts.forEach((v, n) -> {
                if (n > 1) {
                    dups.add(v + " x" + n);
                }
            });
            throw new Check.Failure("read_committed output holds " + values.size() + " records but only "
                    + distinct.size() + " distinct values; duplicated " + dups.size() + ": " + Check.sample(dups));
        }
        Check.sameSet("read_committed output values (every input value exactly once)", new TreeSet<>(inputs.keySet()),
                distinct);
        Check.that(wrongKeys.isEmpty(), "output records with a key other than their input's: " + Check.sample(wrongKeys));
        for (Worker w : workers) {
            Check.that(w.copied.get() > 0, "worker " + w.name + " copied no records: " + states(workers));
        }
        int aborts = workers.stream().mapToInt(w -> w.aborts.get()).sum();
        ctx.log("output holds each of the " + values.size() + " input records once; " + aborts
                + " transactions were aborted and retried");
    }

    /**
     * Waits until the workers own every input partition between them, each
     * the same number (a settled range assignment); fails after 20 s.
     */
    static void awaitSettled(Ctx ctx, List<Worker> workers) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int each = IN_PARTITIONS / workers.size();
        while (true) {
            for (Worker w : workers) {
                w.rethrow();
            }
            Set<Integer> union = new TreeSet<>();
            int total = 0;
            boolean even = true;
            for (Worker w : workers) {
                Set<Integer> owned = w.ownedPartitions();
                union.addAll(owned);
                total += owned.size();
                even &= owned.size() == each;
            }
            if (even && total == IN_PARTITIONS && union.size() == IN_PARTITIONS) {
                ctx.log("group settled: " + states(workers));
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new Check.Failure("the group did not settle at " + each + " partitions for each of "
                        + workers.size() + " workers within 20 s: " + states(workers));
            }
            Thread.sleep(50);
        }
    }

    static Worker worker(Ctx ctx, String name, String group, String input, String output) {
        Worker w = new Worker(ctx, name, group, input, output, MAX_POLL_RECORDS, PAUSE_MS);
        ctx.closeAtEnd(() -> w.stopAndJoin(Duration.ofSeconds(15)));
        w.start();
        return w;
    }

    /** Produces records from..to-1 (record i to partition i % IN_PARTITIONS), remembering value → key. */
    static void produce(KafkaProducer<String, String> producer, String topic, int from, int to,
            Map<String, String> inputs) throws Exception {
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int i = from; i < to; i++) {
            String key = "k" + i;
            String value = String.format("v-%05d", i);
            inputs.put(value, key);
            acks.add(producer.send(new ProducerRecord<>(topic, i % IN_PARTITIONS, key, value)));
        }
        producer.flush();
        for (Future<RecordMetadata> f : acks) {
            f.get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        }
    }

    interface OffsetsCondition {
        boolean test(long[] committed);
    }

    /** Polls the group's committed offsets until the condition holds; fails if a worker failed or time ran out. */
    static long[] awaitCommitted(Ctx ctx, List<Worker> workers, String group, String input, OffsetsCondition cond,
            String what, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        long[] c = new long[IN_PARTITIONS];
        while (true) {
            for (Worker w : workers) {
                w.rethrow();
            }
            c = ctx.committed(group, input, IN_PARTITIONS);
            if (cond.test(c)) {
                return c;
            }
            if (System.nanoTime() > deadline) {
                throw new Check.Failure(what + " not reached within " + within.toSeconds() + " s: committed "
                        + Arrays.toString(c) + "; " + states(workers));
            }
            Thread.sleep(200);
        }
    }

    static String states(List<Worker> workers) {
        StringBuilder sb = new StringBuilder();
        for (Worker w : workers) {
            sb.append(sb.length() == 0 ? "" : ", ").append(w.state());
        }
        return sb.toString();
    }
}
