package dev.fjord.compat.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.flink.connector.kafka.sink.internal.FlinkKafkaInternalProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;

/**
 * flink-writer-abort: what KafkaSink's exactly-once writer does when its
 * task fails, deterministically: it aborts its current transaction, whose
 * records may not have reached the broker yet (here they never do: they
 * wait out a 60 s linger). The client then sends EndTxn v5 (transaction
 * version 2) abort at its current epoch for a transaction the coordinator
 * has no partitions for: just initialized (Empty, a new transactional id of
 * the INCREMENTING strategy), or after a commit or an abort (a transactional
 * id reused by the POOLING strategy). Kafka 4.1 bumps the epoch and answers
 * NONE; an error there is fatal to the producer, and in Flink an exception
 * in the failed task's cleanup kills the task manager. Each abort must
 * succeed, the producer must go on committing, and read_committed must show
 * exactly the committed records.
 */
final class WriterAbort {
    static final int RECORDS = 10;

    private WriterAbort() {}

    static void run(Run r) throws Exception {
        String out = r.name("out");
        r.kafka.createTopic(out, Cases.OUT_PARTITIONS);
        Properties props = Kafka.sinkProducerProps(r.bootstrap, 90_000);
        // Records stay in the client until flush(): an abort before it
        // ends a transaction the broker never saw a record of.
        props.put(ProducerConfig.LINGER_MS_CONFIG, "60000");

        List<String> expected = new ArrayList<>();
        String id = r.name("txn");
        FlinkKafkaInternalProducer<String, String> p = new FlinkKafkaInternalProducer<>(props, id);
        try {
            p.initTransactions();
            abortUnsent(r, p, out, "just initialized (Empty)");
            commit(p, out, "after-empty", expected);
            abortUnsent(r, p, out, "after a commit (CompleteCommit)");
            abortUnsent(r, p, out, "after an abort (CompleteAbort)");
            commit(p, out, "after-aborts", expected);
            r.log.log("producer id " + p.getProducerId() + ", epoch " + p.getEpoch() + " at the end");
        } finally {
            p.close();
        }
        long[] end = r.kafka.awaitStable(out, Cases.OUT_PARTITIONS, Cases.STABLE_WITHIN);
        List<String> committed = r.kafka.readAll(out, Cases.OUT_PARTITIONS, IsolationLevel.READ_COMMITTED, end,
                Cases.READ_WITHIN);
        List<String> got = new ArrayList<>(committed);
        got.sort(null);
        expected.sort(null);
        Check.that(got.equals(expected), "read_committed holds " + got + ", expected " + expected);
    }

    private static void abortUnsent(Run r, FlinkKafkaInternalProducer<String, String> p, String topic, String when) {
        r.log.step("abort a transaction whose record never left the client, " + when);
        short before = p.getEpoch();
        p.beginTransaction();
        p.send(new ProducerRecord<>(topic, "lost", "lost"));
        p.abortTransaction();
        r.log.log("aborted; epoch " + before + " -> " + p.getEpoch());
    }

    private static void commit(FlinkKafkaInternalProducer<String, String> p, String topic, String tag,
            List<String> expected) {
        p.beginTransaction();
        for (int i = 0; i < RECORDS; i++) {
            String v = tag + "-" + i;
            p.send(new ProducerRecord<>(topic, v, v));
            expected.add(v);
        }
        p.flush();
        p.commitTransaction();
    }
}
