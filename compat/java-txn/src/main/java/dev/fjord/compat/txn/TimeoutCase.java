package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidTxnStateException;

/**
 * txn-timeout-abort: producer T (transaction.timeout.ms=3000) begins a
 * transaction, writes 20 records (acknowledged) over 2 partitions and then
 * stays open and idle. Producer P (another transactional id) then commits
 * 20 records to the same partitions. While T's transaction is open the last
 * stable offset of each partition must stay at T's first offset there, so a
 * read_committed consumer cannot see P's records; the broker must abort T's
 * transaction once it has timed out (Kafka looks every
 * transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s by
 * default), after which a read_committed consumer reads exactly P's records
 * (none of T's), within 30 s of T's begin. A read_uncommitted consumer
 * reads T's 20 and P's 20. Finally T's commitTransaction must fail, saying
 * that its transaction is gone (see {@link #transactionGone}).
 */
final class TimeoutCase {
    private TimeoutCase() {}

    static final int PARTITIONS = 2;
    static final int TXN_TIMEOUT_MS = 3000;
    static final Duration VISIBLE_WITHIN = Duration.ofSeconds(30);

    static void run(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("data", PARTITIONS);

        KafkaProducer<String, String> t = ctx.txnProducer(ctx.name("stuck"),
                Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, TXN_TIMEOUT_MS));
        ctx.step("T: initTransactions (transaction.timeout.ms=" + TXN_TIMEOUT_MS + ")");
        t.initTransactions();
        ctx.step("T: beginTransaction, send " + ZombieCase.RECORDS + " records, then stay idle");
        t.beginTransaction();
        long tBegin = System.nanoTime();
        List<Ctx.Rec> tRecs = ZombieCase.sendAll(ctx, t, topic, "T");
        long[] tFirst = new long[PARTITIONS];
        Arrays.fill(tFirst, Long.MAX_VALUE);
        for (Ctx.Rec r : tRecs) {
            tFirst[r.partition()] = Math.min(tFirst[r.partition()], r.offset());
        }

        KafkaProducer<String, String> p = ctx.txnProducer(ctx.name("other"), Map.of());
        ctx.step("P: initTransactions, beginTransaction, send " + ZombieCase.RECORDS + " records, commitTransaction");
        p.initTransactions();
        p.beginTransaction();
        List<Ctx.Rec> pRecs = ZombieCase.sendAll(ctx, p, topic, "P");
        p.commitTransaction();

        long[] lso = ctx.stableOffsets(topic, PARTITIONS);
        double sinceBegin = (System.nanoTime() - tBegin) / 1e9;
        ctx.log(String.format("%.1f s after T's begin: last stable offsets %s, T's first offsets %s", sinceBegin,
                Arrays.toString(lso), Arrays.toString(tFirst)));
        if (sinceBegin < TXN_TIMEOUT_MS / 1000.0) {
            Check.that(Arrays.equals(lso, tFirst), String.format("%.1f s after T's begin (its timeout is %d ms) the "
                    + "last stable offsets are %s, expected T's first offsets %s: the open transaction must hold "
                    + "them", sinceBegin, TXN_TIMEOUT_MS, Arrays.toString(lso), Arrays.toString(tFirst)));
        } else {
            ctx.log("too late to check that T's open transaction holds the last stable offset");
        }

        ctx.step("waiting for a read_committed consumer to see P's records (T's transaction must time out)");
        Set<String> want = new TreeSet<>();
        for (Ctx.Rec r : pRecs) {
            want.add(r.value());
        }
        KafkaConsumer<String, String> c = ctx.reader(IsolationLevel.READ_COMMITTED, "reader-wait");
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < PARTITIONS; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        c.assign(tps);
        c.seekToBeginning(tps);
        Set<String> seen = new TreeSet<>();
        long deadline = tBegin + VISIBLE_WITHIN.toNanos();
        while (!seen.containsAll(want)) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                seen.add(r.value());
            }
            if (System.nanoTime() > deadline) {
                throw new Check.Failure("a read_committed consumer saw " + seen.size() + " of P's " + want.size()
                        + " committed records within " + VISIBLE_WITHIN.toSeconds() + " s of T's begin (T's "
                        + "transaction.timeout.ms=" + TXN_TIMEOUT_MS + "): last stable offsets "
                        + Arrays.toString(ctx.stableOffsets(topic, PARTITIONS)) + ", end offsets "
                        + Arrays.toString(ctx.endOffsets(topic, PARTITIONS)) + "; the timed-out transaction was not aborted");
            }
        }
        ctx.log(String.format("P's records visible to read_committed %.1f s after T's begin",
                (System.nanoTime() - tBegin) / 1e9));

        // T's records and the abort marker, P's records and its commit marker.
        long[] expectedEnd = new long[PARTITIONS];
        for (Ctx.Rec r : tRecs) {
            expectedEnd[r.partition()]++;
        }
        for (Ctx.Rec r : pRecs) {
            expectedEnd[r.partition()]++;
        }
        for (int i = 0; i < PARTITIONS; i++) {
            expectedEnd[i] += 2;
        }
        long[] end = ctx.awaitStable(topic, PARTITIONS, expectedEnd, Duration.ofSeconds(10));
        ctx.step("reading with read_committed and read_uncommitted");
        List<List<Ctx.Rec>> rc = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_COMMITTED, end,
                Duration.ofSeconds(20));
        List<List<Ctx.Rec>> ru = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_UNCOMMITTED, end,
                Duration.ofSeconds(20));
        for (int i = 0; i < PARTITIONS; i++) {
            List<Ctx.Rec> committed = new ArrayList<>();
            List<Ctx.Rec> all = new ArrayList<>();
            for (Ctx.Rec r : tRecs) {
                if (r.partition() == i) {
                    all.add(r);
                }
            }
            for (Ctx.Rec r : pRecs) {
                if (r.partition() == i) {
                    committed.add(r);
                }
            }
            all.addAll(committed);
            Check.sameList("read_committed records of partition " + i + " (P's only, none of timed-out T's)",
                    committed, rc.get(i));
            Check.sameList("read_uncommitted records of partition " + i + " (T's, then P's)", all, ru.get(i));
        }

        ctx.step("T: commitTransaction after its transaction timed out");
        Throwable commitError = null;
        try {
            t.commitTransaction();
        } catch (Exception e) {
            commitError = e;
        }
        Check.that(commitError != null, "T's commitTransaction succeeded after the broker aborted its transaction");
        ctx.log("T's commitTransaction failed: " + Main.chain(commitError));
        Check.that(transactionGone(commitError), "T's commitTransaction after its transaction timed out failed with "
                + Main.chain(commitError) + "; expected InvalidTxnStateException, ProducerFencedException or "
                + "InvalidProducerEpochException");
    }

    /**
     * How the 4.x client reports a commit of a transaction the coordinator
     * has already aborted: Kafka 4.1 answers EndTxn with INVALID_TXN_STATE
     * (InvalidTxnStateException); PRODUCER_FENCED or INVALID_PRODUCER_EPOCH
     * (the abort bumped the epoch) say the same. A timeout does not.
     */
    static boolean transactionGone(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof InvalidTxnStateException || ZombieCase.staleEpoch(c) != null) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }
}
