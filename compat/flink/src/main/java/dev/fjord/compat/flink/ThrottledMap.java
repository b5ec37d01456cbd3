package dev.fjord.compat.flink;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;

/**
 * The job's only transformation: passes each value through, slowly enough
 * (a fixed pause per record) that the job spans several checkpoints, and
 * counts what it saw in its {@link Probe}. With {@code failAfter > 0},
 * subtask 0 throws once, in its first attempt, after it has processed
 * {@code failAfter} records and at least two checkpoints have completed, so
 * the restart has a checkpoint to restore and records to replay.
 *
 * <p>Input values are {@code v-<i>} with record i in input partition
 * {@code i % inputPartitions}.
 */
final class ThrottledMap extends RichMapFunction<String, String> implements CheckpointListener {
    private static final long serialVersionUID = 1L;

    private final String probeName;
    private final long pauseNanos;
    private final long failAfter;
    private final int inputPartitions;

    private transient Probe probe;
    private transient int subtask;
    private transient int attempt;
    private transient AtomicLong mine;

    ThrottledMap(String probeName, long pauseNanos, long failAfter, int inputPartitions) {
        this.probeName = probeName;
        this.pauseNanos = pauseNanos;
        this.failAfter = failAfter;
        this.inputPartitions = inputPartitions;
    }

    @Override
    public void open(OpenContext openContext) {
        probe = Probe.get(probeName);
        subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        attempt = getRuntimeContext().getTaskInfo().getAttemptNumber();
        mine = probe.perAttempt.computeIfAbsent(subtask + "/" + attempt, k -> new AtomicLong());
    }

    @Override
    public String map(String value) {
        long index = Long.parseLong(value.substring(value.indexOf('-') + 1));
        int partition = (int) (index % inputPartitions);
        probe.firstSeen.putIfAbsent(attempt + "/p" + partition, index);
        probe.lastSeen.merge(partition, index, Math::max);
        long n = mine.incrementAndGet();
        probe.processed.incrementAndGet();
        if (failAfter > 0 && subtask == 0 && attempt == 0 && n >= failAfter && probe.checkpoints() >= 2
                && probe.failureInjected.compareAndSet(false, true)) {
            throw new IllegalStateException("compat-flink: injected failure after " + n + " records of subtask 0");
        }
        LockSupport.parkNanos(pauseNanos);
        return value;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        probe.completedCheckpoints.add(checkpointId);
    }
}
