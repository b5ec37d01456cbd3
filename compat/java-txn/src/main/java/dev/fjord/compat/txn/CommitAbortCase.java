package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;

/**
 * txn-commit-abort: one transactional producer runs 20 transactions of 50
 * records over a 3-partition topic (record j of a transaction to partition
 * j % 3), committing the even ones and aborting the odd ones. Every record
 * is flushed and acknowledged before its transaction ends, so the aborted
 * ones are in the log too. Then:
 *
 * <ul>
 *   <li>every partition's end offset is its records plus one control marker
 *       per transaction, and the last stable offset equals it;
 *   <li>a read_committed consumer from the beginning reads exactly the
 *       committed records, at the offsets the producer was told, in order;
 *   <li>a read_uncommitted consumer reads exactly all of them, likewise.
 * </ul>
 */
final class CommitAbortCase {
    private CommitAbortCase() {}

    static final int PARTITIONS = 3;
    static final int TRANSACTIONS = 20;
    static final int RECORDS_PER_TXN = 50;

    static void run(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("data", PARTITIONS);
        String txnId = ctx.name("producer");
        KafkaProducer<String, String> producer = ctx.txnProducer(txnId, Map.of());
        ctx.step("initTransactions (" + txnId + ")");
        producer.initTransactions();

        List<List<Ctx.Rec>> committed = perPartition();
        List<List<Ctx.Rec>> all = perPartition();
        for (int t = 0; t < TRANSACTIONS; t++) {
            boolean commit = t % 2 == 0;
            ctx.step("transaction " + t + " (" + (commit ? "commit" : "abort") + "): begin and send "
                    + RECORDS_PER_TXN + " records");
            producer.beginTransaction();
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            List<ProducerRecord<String, String>> sent = new ArrayList<>();
            for (int j = 0; j < RECORDS_PER_TXN; j++) {
                String value = String.format("t%02d-%s-r%02d", t, commit ? "commit" : "abort", j);
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, j % PARTITIONS, "k" + j, value);
                sent.add(r);
                acks.add(producer.send(r));
            }
            producer.flush();
            List<Ctx.Rec> written = new ArrayList<>();
            for (int j = 0; j < RECORDS_PER_TXN; j++) {
                RecordMetadata md = acks.get(j).get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
                ProducerRecord<String, String> r = sent.get(j);
                written.add(new Ctx.Rec(md.partition(), md.offset(), r.key(), r.value()));
            }
            if (commit) {
                ctx.step("transaction " + t + ": commitTransaction");
                producer.commitTransaction();
            } else {
                ctx.step("transaction " + t + ": abortTransaction");
                producer.abortTransaction();
            }
            for (Ctx.Rec r : written) {
                all.get(r.partition()).add(r);
                if (commit) {
                    committed.get(r.partition()).add(r);
                }
            }
        }
        for (int p = 0; p < PARTITIONS; p++) {
            all.get(p).sort((a, b) -> Long.compare(a.offset(), b.offset()));
            committed.get(p).sort((a, b) -> Long.compare(a.offset(), b.offset()));
        }

        ctx.step("waiting for the end offsets and last stable offsets to settle");
        long[] expectedEnd = new long[PARTITIONS];
        for (int p = 0; p < PARTITIONS; p++) {
            expectedEnd[p] = all.get(p).size() + TRANSACTIONS;
        }
        long[] end = ctx.awaitStable(topic, PARTITIONS, expectedEnd, Duration.ofSeconds(10));

        ctx.step("reading with read_committed");
        List<List<Ctx.Rec>> rc = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_COMMITTED, end,
                Duration.ofSeconds(20));
        for (int p = 0; p < PARTITIONS; p++) {
            Check.sameList("read_committed records of partition " + p + " (committed transactions only)",
                    committed.get(p), rc.get(p));
        }
        ctx.step("reading with read_uncommitted");
        List<List<Ctx.Rec>> ru = ctx.readToEnd(topic, PARTITIONS, IsolationLevel.READ_UNCOMMITTED, end,
                Duration.ofSeconds(20));
        for (int p = 0; p < PARTITIONS; p++) {
            Check.sameList("read_uncommitted records of partition " + p + " (committed and aborted)", all.get(p),
                    ru.get(p));
        }
        ctx.log("read_committed saw " + rc.stream().mapToInt(List::size).sum() + " records, read_uncommitted "
                + ru.stream().mapToInt(List::size).sum());
    }

    static List<List<Ctx.Rec>> perPartition() {
        List<List<Ctx.Rec>> l = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            l.add(new ArrayList<>());
        }
        return l;
    }
}
