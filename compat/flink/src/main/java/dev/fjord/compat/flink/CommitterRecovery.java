package dev.fjord.compat.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.flink.connector.kafka.sink.internal.FlinkKafkaInternalProducer;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.errors.ProducerFencedException;

/**
 * flink-committer-recovery: what KafkaSink's committer does on recovery,
 * step by step and deterministically (the job cases reach these paths only
 * when a checkpoint completes just before the failure). The committer
 * commits a checkpoint's pre-committed transaction with a new
 * FlinkKafkaInternalProducer that resumes the writer's producer id and
 * epoch by reflection (no InitProducerId, so it ends the transaction with
 * an EndTxn of transaction version 1, v4, whatever the broker finalized):
 *
 * <ol>
 *   <li>writer A writes 30 records in a transaction, flushes and vanishes
 *       (closed without ending it): a resumed producer's commit must
 *       succeed and make exactly those records visible;
 *   <li>the same commit again (a recovery from the same checkpoint): Kafka
 *       answers a transaction version 1 commit of a completed commit at the
 *       same epoch with NONE, but kafka-clients 4.2 may have bumped the
 *       epoch right after the first commit (see below), and then the answer
 *       is PRODUCER_FENCED; DescribeTransactions tells which to expect;
 *   <li>writer B commits its own transaction (transaction version 2: EndTxn
 *       v5 bumps the epoch); a resumed producer's commit with B's old epoch
 *       is refused with PRODUCER_FENCED, as Kafka 4.1 refuses it (its
 *       version 1 rules compare the epoch strictly); KafkaSink treats that
 *       as a transaction already dealt with.
 * </ol>
 * The output then holds A's and B's records exactly once.
 */
final class CommitterRecovery {
    static final int RECORDS = 30;

    private CommitterRecovery() {}

    static void run(Run r) throws Exception {
        String out = r.name("out");
        r.kafka.createTopic(out, Cases.OUT_PARTITIONS);
        Properties props = Kafka.sinkProducerProps(r.bootstrap, 30_000);

        String idA = r.name("txn-a");
        r.log.step("writer A (" + idA + "): " + RECORDS + " records in a transaction, then gone");
        long pidA;
        short epochA;
        FlinkKafkaInternalProducer<String, String> a = new FlinkKafkaInternalProducer<>(props, idA);
        try {
            a.initTransactions();
            a.beginTransaction();
            write(a, out, "a");
            pidA = a.getProducerId();
            epochA = a.getEpoch();
        } finally {
            a.close(); // immediately: no EndTxn, the transaction stays open
        }
        r.log.log("writer A: producer id " + pidA + ", epoch " + epochA);

        r.log.step("resume A's transaction (" + pidA + ", " + epochA + ") and commit it");
        commitResumed(props, idA, pidA, epochA);
        // The resumed producer learns from the broker's ApiVersions that
        // transaction version 2 is finalized, and kafka-clients 4.2 then
        // follows the EndTxn with an InitProducerId that bumps the epoch
        // (clientSideEpochBumpRequired) when that answer arrived before the
        // commit began: a race, on either broker. Whether it happened shows
        // in the transaction's epoch once the producer is gone.
        Thread.sleep(500);
        TransactionDescription afterA = r.kafka.describeTransaction(idA);
        r.log.log("after the commit: " + afterA.state() + ", producer id " + afterA.producerId() + ", epoch "
                + afterA.producerEpoch());
        Check.that(afterA.producerId() == pidA && (afterA.producerEpoch() == epochA
                || afterA.producerEpoch() == epochA + 1), "after the commit, A's transaction has producer id "
                + afterA.producerId() + " and epoch " + afterA.producerEpoch() + ", expected " + pidA + " and "
                + epochA + " (or " + (epochA + 1) + " after the client's epoch bump)");
        if (afterA.producerEpoch() == epochA) {
            r.log.step("resume A's transaction again and commit it (a second recovery from the same checkpoint)");
            commitResumed(props, idA, pidA, epochA);
        } else {
            r.log.step("resume A's transaction again and commit it after the client's epoch bump");
            try {
                commitResumed(props, idA, pidA, epochA);
                throw new Check.Failure("committing A's transaction again with epoch " + epochA
                        + " after the epoch was bumped to " + afterA.producerEpoch()
                        + " succeeded; Kafka refuses that EndTxn (v4) with PRODUCER_FENCED");
            } catch (ProducerFencedException e) {
                r.log.log("refused as on Kafka: " + e);
            }
        }

        String idB = r.name("txn-b");
        r.log.step("writer B (" + idB + "): " + RECORDS + " records, committed by B itself");
        long pidB;
        short epochB;
        FlinkKafkaInternalProducer<String, String> b = new FlinkKafkaInternalProducer<>(props, idB);
        try {
            b.initTransactions();
            b.beginTransaction();
            write(b, out, "b");
            pidB = b.getProducerId();
            epochB = b.getEpoch();
            b.commitTransaction();
            r.log.log("writer B: producer id " + pidB + ", epoch " + epochB + " before its commit, "
                    + b.getEpoch() + " after");
        } finally {
            b.close();
        }
        r.log.step("resume B's committed transaction (" + pidB + ", " + epochB + ") and commit it again");
        try {
            commitResumed(props, idB, pidB, epochB);
            throw new Check.Failure("committing B's transaction again with its old epoch " + epochB
                    + " succeeded; Kafka refuses that EndTxn (v4) with PRODUCER_FENCED");
        } catch (ProducerFencedException e) {
            r.log.log("refused as on Kafka: " + e);
        }

        long[] end = r.kafka.awaitStable(out, Cases.OUT_PARTITIONS, Cases.STABLE_WITHIN);
        List<String> committed = r.kafka.readAll(out, Cases.OUT_PARTITIONS, IsolationLevel.READ_COMMITTED, end,
                Cases.READ_WITHIN);
        List<String> expected = new ArrayList<>();
        for (String w : List.of("a", "b")) {
            for (int i = 0; i < RECORDS; i++) {
                expected.add(w + "-" + i);
            }
        }
        List<String> sortedGot = new ArrayList<>(committed);
        sortedGot.sort(null);
        expected.sort(null);
        Check.that(sortedGot.equals(expected), "read_committed holds " + committed.size() + " records, expected "
                + "A's and B's " + expected.size() + " once each: " + sortedGot);
    }

    private static void write(FlinkKafkaInternalProducer<String, String> p, String topic, String who) {
        for (int i = 0; i < RECORDS; i++) {
            p.send(new ProducerRecord<>(topic, who + "-" + i, who + "-" + i));
        }
        p.flush();
    }

    /** What KafkaCommitter does with a restored committable. */
    private static void commitResumed(Properties props, String id, long pid, short epoch) {
        FlinkKafkaInternalProducer<String, String> c = new FlinkKafkaInternalProducer<>(props, id);
        try {
            c.resumeTransaction(pid, epoch);
            c.commitTransaction();
        } finally {
            c.close();
        }
    }
}
