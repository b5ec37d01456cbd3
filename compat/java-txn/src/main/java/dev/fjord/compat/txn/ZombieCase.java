package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * txn-zombie-fenced: producer A with transactional id X begins a
 * transaction and writes 20 records (acknowledged) over 2 partitions; then
 * producer B with the same id calls initTransactions, which fences A and
 * aborts A's open transaction. A's next send and its commitTransaction must
 * fail with InvalidProducerEpochException (what the 4.1 client reports for
 * Kafka's INVALID_PRODUCER_EPOCH answer to a produce with the old epoch) or
 * ProducerFencedException; the abortTransaction an application then calls
 * must fail with ProducerFencedException (the coordinator's PRODUCER_FENCED,
 * fatal). B then commits
 * 20 records of its own. A read_committed consumer must read exactly B's
 * records; a read_uncommitted one exactly A's 20 and B's 20 (A's send after
 * the fencing was not written).
 */
final class ZombieCase {
    private ZombieCase() {}

    static final int PARTITIONS = 2;
    static final int RECORDS = 20;

    static void run(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("data", PARTITIONS);
        String txnId = ctx.name("shared");

        KafkaProducer<String, String> a = ctx.txnProducer(txnId, Map.of(
                ProducerConfig.CLIENT_ID_CONFIG, "compat-" + ctx.caseName + "-A"));
        ctx.step("A: initTransactions (" + txnId + ")");
        a.initTransactions();
        ctx.step("A: beginTransaction, send " + RECORDS + " records");
        a.beginTransaction();
        List<Ctx.Rec> aRecs = sendAll(ctx, a, topic, "A");

        KafkaProducer<String, String> b = ctx.txnProducer(txnId, Map.of(
                ProducerConfig.CLIENT_ID_CONFIG, "compat-" + ctx.caseName + "-B"));
        ctx.step("B: initTransactions with the same transactional id (fences A, aborts A's transaction)");
        b.initTransactions();

        ctx.step("A: send after being fenced");
        Throwable sendError;
        try {
            Future<RecordMetadata> f = a.send(new ProducerRecord<>(topic, 0, "late", "A-late"));
            a.flush();
            RecordMetadata md = f.get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
            throw new Check.Failure("A's send after B's initTransactions succeeded at " + md.partition() + "@"
                    + md.offset() + "; it must fail with InvalidProducerEpochException or ProducerFencedException");
        } catch (ExecutionException e) {
            sendError = e.getCause();
        } catch (Check.Failure e) {
            throw e;
        } catch (Exception e) {
            sendError = e;
        }
        ctx.log("A's send failed: " + Main.chain(sendError));
        Check.that(staleEpoch(sendError) != null, "A's send after B's initTransactions failed with "
                + Main.chain(sendError) + "; expected InvalidProducerEpochException or ProducerFencedException");

        ctx.step("A: commitTransaction after being fenced");
        Throwable commitError = null;
        try {
            a.commitTransaction();
        } catch (Exception e) {
            commitError = e;
        }
        Check.that(commitError != null, "A's commitTransaction after being fenced succeeded");
        ctx.log("A's commitTransaction failed: " + Main.chain(commitError));
        Check.that(staleEpoch(commitError) != null, "A's commitTransaction after being fenced failed with "
                + Main.chain(commitError) + "; expected InvalidProducerEpochException or ProducerFencedException");

        // InvalidProducerEpochException is abortable: an application aborts,
        // and the abort (EndTxn with A's old epoch) is where the coordinator
        // says that A has been fenced.
        ctx.step("A: abortTransaction after being fenced");
        Throwable abortError = null;
        try {
            a.abortTransaction();
        } catch (Exception e) {
            abortError = e;
        }
        Check.that(abortError != null, "A's abortTransaction after being fenced succeeded; expected "
                + "ProducerFencedException");
        ctx.log("A's abortTransaction failed: " + Main.chain(abortError));
        Check.that(abortError instanceof ProducerFencedException, "A's abortTransaction after being fenced failed "
                + "with " + Main.chain(abortError) + "; expected ProducerFencedException");

        ctx.step("B: beginTransaction, send " + RECORDS + " records, commitTransaction");
        b.beginTransaction();
        List<Ctx.Rec> bRecs = sendAll(ctx, b, topic, "B");
        b.commitTransaction();

        // A's records and abort marker, then B's records and commit marker.
        long[] expectedEnd = new long[PARTITIONS];
        for (Ctx.Rec r : aRecs) {
            expectedEnd[r.partition()]++;
        }
        for (Ctx.Rec r : bRecs) {
            expectedEnd[r.partition()]++;
        }
        for (int p = 0; p < PARTITIONS; p++) {
            expectedEnd[p] += 2;
        }
        long[] end = ctx.awaitStable(topic, PARTITIONS, expectedEnd, Duration.ofSeconds(10));

        ctx.step("reading with read_committed");
        List<List<Ctx.Rec>> rc = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_COMMITTED, end,
                Duration.ofSeconds(20));
        ctx.step("reading with read_uncommitted");
        List<List<Ctx.Rec>> ru = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_UNCOMMITTED, end,
                Duration.ofSeconds(20));
        for (int p = 0; p < PARTITIONS; p++) {
            List<Ctx.Rec> committed = new ArrayList<>();
            List<Ctx.Rec> all = new ArrayList<>();
            for (Ctx.Rec r : bRecs) {
                if (r.partition() == p) {
                    committed.add(r);
                }
            }
            for (Ctx.Rec r : aRecs) {
                if (r.partition() == p) {
                    all.add(r);
                }
            }
            all.addAll(committed);
            Check.sameList("read_committed records of partition " + p + " (B's only, none of fenced A's)",
                    committed, rc.get(p));
            Check.sameList("read_uncommitted records of partition " + p + " (A's aborted ones, then B's)", all,
                    ru.get(p));
        }
    }

    /**
     * The exception in the chain by which the 4.x client reports a send or
     * commit with a stale producer epoch, or null: InvalidProducerEpochException
     * (the broker answered a produce with INVALID_PRODUCER_EPOCH, as Kafka
     * does since KIP-588; abortable) or ProducerFencedException (PRODUCER_FENCED;
     * fatal). Nothing else (a timeout, InvalidTxnStateException, ...) counts.
     */
    static Throwable staleEpoch(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ProducerFencedException || c instanceof InvalidProducerEpochException) {
                return c;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    /** Sends RECORDS records (record i to partition i % PARTITIONS), flushes, returns them as written. */
    static List<Ctx.Rec> sendAll(Ctx ctx, KafkaProducer<String, String> producer, String topic, String who)
            throws Exception {
        List<ProducerRecord<String, String>> sent = new ArrayList<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int i = 0; i < RECORDS; i++) {
            ProducerRecord<String, String> r = new ProducerRecord<>(topic, i % PARTITIONS, who + i, who + "-" + i);
            sent.add(r);
            acks.add(producer.send(r));
        }
        producer.flush();
        List<Ctx.Rec> out = new ArrayList<>();
        for (int i = 0; i < RECORDS; i++) {
            RecordMetadata md = acks.get(i).get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
            out.add(new Ctx.Rec(md.partition(), md.offset(), sent.get(i).key(), sent.get(i).value()));
        }
        ctx.log(who + " wrote " + out);
        return out;
    }
}
