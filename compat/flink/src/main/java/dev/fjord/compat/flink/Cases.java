package dev.fjord.compat.flink;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.connector.kafka.sink.TransactionNamingStrategy;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.kafka.common.IsolationLevel;

/**
 * The cases. Each pre-fills a fresh input topic (4 partitions) with N known
 * values, runs the job into a fresh output topic (3 partitions) across a
 * restart from a checkpoint, then checks with its own read_committed
 * consumer that the output holds each of the N values exactly once.
 */
final class Cases {
    static final int N = 4000;
    static final int IN_PARTITIONS = 4;
    static final int OUT_PARTITIONS = 3;
    /** Per record and subtask: N / 2 records take about 4 s, several checkpoints. */
    static final long PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    /** Subtask 0 fails once after this many records (and two completed checkpoints). */
    static final long FAIL_AFTER = 400;
    static final Duration JOB_TIMEOUT = Duration.ofSeconds(75);
    static final Duration STABLE_WITHIN = Duration.ofSeconds(15);
    static final Duration READ_WITHIN = Duration.ofSeconds(30);

    private Cases() {}

    /** Topics and input for a case; returns {in, out}. */
    private static String[] setUp(Run r) throws Exception {
        String in = r.name("in");
        String out = r.name("out");
        r.kafka.createTopic(in, IN_PARTITIONS);
        r.kafka.createTopic(out, OUT_PARTITIONS);
        r.kafka.fill(in, IN_PARTITIONS, N);
        return new String[] {in, out};
    }

    private static FlinkJob.Spec spec(Run r, String[] topics, TransactionNamingStrategy naming, Probe probe,
            long failAfter, String checkpointSub, Path restoreFrom) {
        return new FlinkJob.Spec(r.bootstrap, topics[0], IN_PARTITIONS, topics[1], r.name("group"),
                r.name("txn"), naming, probe.name, PAUSE_NANOS, failAfter, r.dir.resolve(checkpointSub),
                restoreFrom);
    }

    /** Waits for a job to finish; fails with the job's error or the probe's state. */
    private static void awaitFinished(Run r, JobClient job, Probe probe) throws Exception {
        try {
            JobExecutionResult res = job.getJobExecutionResult()
                    .get(JOB_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            r.log.log("job " + res.getJobID() + " finished in " + res.getNetRuntime() + " ms; " + probe);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new Check.Failure("job did not finish within " + JOB_TIMEOUT.toSeconds() + " s: " + probe);
        } catch (java.util.concurrent.ExecutionException e) {
            e.printStackTrace();
            throw new Check.Failure("job failed: " + Main.describe(e.getCause()) + "; " + probe);
        }
    }

    /** The output checks shared by every case. */
    private static void checkOutput(Run r, String out) throws Exception {
        r.log.step("wait until no transaction is open on " + out);
        long[] end = r.kafka.awaitStable(out, OUT_PARTITIONS, STABLE_WITHIN);
        r.log.step("read " + out + " with read_committed");
        List<String> committed = r.kafka.readAll(out, OUT_PARTITIONS, IsolationLevel.READ_COMMITTED, end, READ_WITHIN);
        r.log.step("read " + out + " with read_uncommitted");
        List<String> all = r.kafka.readAll(out, OUT_PARTITIONS, IsolationLevel.READ_UNCOMMITTED, end, READ_WITHIN);
        r.log.log("read_committed: " + committed.size() + " records; read_uncommitted: " + all.size()
                + " (" + (all.size() - committed.size()) + " in aborted transactions); end offsets "
                + java.util.Arrays.toString(end));
        Check.exactlyOnce("the output (read_committed)", committed, N);
        Check.that(all.size() >= N, "read_uncommitted sees " + all.size() + " records, fewer than the " + N
                + " read_committed sees");
    }

    /** Whether some input partition's first record in {@code attempt} lies past its start (a checkpoint's offset). */
    private static boolean resumedMidway(Probe probe, int attempt) {
        for (Map.Entry<String, Long> e : probe.firstSeen.entrySet()) {
            String[] k = e.getKey().split("/p");
            if (Integer.parseInt(k[0]) == attempt && e.getValue() >= IN_PARTITIONS) {
                return true;
            }
        }
        return false;
    }

    /**
     * flink-eos-failover (INCREMENTING) and flink-eos-pooling-failover
     * (POOLING): subtask 0 throws once after two checkpoints; the
     * fixed-delay restart strategy restarts it from the latest checkpoint,
     * whose source offsets rewind the input and whose pre-committed
     * transactions are committed, while the failed attempt's open
     * transactions are aborted (fenced by InitProducerId on their
     * transactional ids). The job then runs to the input's end.
     */
    static void failover(Run r, TransactionNamingStrategy naming) throws Exception {
        String[] topics = setUp(r);
        Probe probe = r.probe("probe");
        r.log.step("run the job (" + naming + " transactional ids, subtask 0 fails once)");
        JobClient job = r.track(FlinkJob.start(spec(r, topics, naming, probe, FAIL_AFTER, "checkpoints", null),
                r.name("job")));
        awaitFinished(r, job, probe);
        Check.that(probe.failureInjected.get(), "the job ended before the failure was injected: " + probe);
        Check.that(probe.processedAfterRestart() > 0, "no subtask ran again after the failure: " + probe);
        Check.that(resumedMidway(probe, 1), "the restarted subtask did not resume from a checkpoint's offsets: "
                + probe);
        checkOutput(r, topics[1]);
    }

    /**
     * flink-eos-cancel-resume: job A is cancelled after two completed
     * checkpoints, with transactions open (records after the last checkpoint)
     * and perhaps a pre-committed one not yet committed; its checkpoints are
     * retained. Job B, a new job in a new mini-cluster with the same
     * transactional id prefix, starts from A's latest retained checkpoint:
     * it commits what the checkpoint pre-committed, aborts A's lingering
     * transactions and copies the rest of the input; it is then stopped
     * with a savepoint.
     */
    static void cancelResume(Run r) throws Exception {
        String[] topics = setUp(r);
        Probe probeA = r.probe("probe-a");
        r.log.step("run job A");
        JobClient a = r.track(FlinkJob.start(
                spec(r, topics, TransactionNamingStrategy.INCREMENTING, probeA, 0, "checkpoints-a", null),
                r.name("job-a")));
        r.log.step("wait until job A has completed two checkpoints and processed " + N / 4 + " records");
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (probeA.checkpoints() < 2 || probeA.processed.get() < N / 4) {
            JobStatus st = a.getJobStatus().get(10, TimeUnit.SECONDS);
            Check.that(!st.isGloballyTerminalState(), "job A ended (" + st + ") before it could be cancelled: "
                    + probeA);
            Check.that(System.nanoTime() < deadline, "job A made no progress: " + probeA);
            Thread.sleep(50);
        }
        r.log.step("cancel job A (" + probeA + ")");
        a.cancel().get(30, TimeUnit.SECONDS);
        Check.that(probeA.processed.get() < N, "job A had processed every record before it was cancelled: "
                + probeA);
        Path chk = latestCheckpoint(r.dir.resolve("checkpoints-a").resolve(a.getJobID().toHexString()))
                .orElseThrow(() -> new Check.Failure("job A retained no checkpoint: " + probeA));
        long[] end = r.kafka.latest(topics[1], OUT_PARTITIONS, IsolationLevel.READ_UNCOMMITTED);
        long[] lso = r.kafka.latest(topics[1], OUT_PARTITIONS, IsolationLevel.READ_COMMITTED);
        r.log.log("after the cancel: output end offsets " + java.util.Arrays.toString(end) + ", last stable offsets "
                + java.util.Arrays.toString(lso) + "; resuming from " + chk);

        Probe probeB = r.probe("probe-b");
        r.log.step("run job B from " + chk.getFileName());
        JobClient b = r.track(FlinkJob.start(
                spec(r, topics, TransactionNamingStrategy.INCREMENTING, probeB, 0, "checkpoints-b", chk),
                r.name("job-b")));
        // A KafkaSource restored with every split already assigned is never
        // told that no more splits come, so job B does not end by itself at
        // the input's end offsets: once it has seen the last record of every
        // input partition, it is stopped with a savepoint, which commits the
        // transactions of that last (synchronous) checkpoint.
        r.log.step("wait until job B has processed the last record of every input partition");
        deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (!probeB.sawEnd(N, IN_PARTITIONS)) {
            JobStatus st = b.getJobStatus().get(10, TimeUnit.SECONDS);
            Check.that(st == JobStatus.RUNNING || st == JobStatus.CREATED || st == JobStatus.INITIALIZING
                    || st == JobStatus.RESTARTING, "job B is " + st + ": " + probeB);
            Check.that(System.nanoTime() < deadline, "job B did not reach the input's end within "
                    + JOB_TIMEOUT.toSeconds() + " s: " + probeB);
            Thread.sleep(50);
        }
        r.log.step("stop job B with a savepoint (" + probeB + ")");
        String savepoint = b.stopWithSavepoint(false, r.dir.resolve("savepoints").toUri().toString(),
                SavepointFormatType.CANONICAL).get(JOB_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        awaitFinished(r, b, probeB);
        r.log.log("job B stopped with savepoint " + savepoint);
        Check.that(probeB.processed.get() < N, "job B processed " + probeB.processed.get()
                + " records: it did not resume from job A's checkpoint: " + probeB);
        Check.that(resumedMidway(probeB, 0), "job B did not start from job A's checkpointed offsets: " + probeB);
        checkOutput(r, topics[1]);
    }

    /** The newest chk-N directory with a _metadata file under a job's checkpoint directory. */
    private static Optional<Path> latestCheckpoint(Path jobDir) throws IOException {
        if (!Files.isDirectory(jobDir)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(jobDir)) {
            return s.filter(p -> p.getFileName().toString().matches("chk-\\d+"))
                    .filter(p -> Files.exists(p.resolve("_metadata")))
                    .max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(4))));
        }
    }
}
