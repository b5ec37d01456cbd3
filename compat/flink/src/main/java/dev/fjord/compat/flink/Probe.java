package dev.fjord.compat.flink;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the job's map operator saw, shared with the case through a static
 * registry: the job runs in a mini-cluster in this JVM, so the operator
 * instances (deserialized copies of {@link ThrottledMap}) find their probe by
 * name.
 */
final class Probe {
    private static final Map<String, Probe> REGISTRY = new ConcurrentHashMap<>();

    final String name;
    /** Checkpoint ids some subtask was told had completed. */
    final Set<Long> completedCheckpoints = ConcurrentHashMap.newKeySet();
    final AtomicBoolean failureInjected = new AtomicBoolean();
    final AtomicLong processed = new AtomicLong();
    /** Records processed per "subtask/attempt". */
    final Map<String, AtomicLong> perAttempt = new ConcurrentHashMap<>();
    /** The first input index seen per "attempt/input partition", for each attempt > 0 or each job. */
    final Map<String, Long> firstSeen = new ConcurrentHashMap<>();
    /** The highest input index seen per input partition, over all attempts. */
    final Map<Integer, Long> lastSeen = new ConcurrentHashMap<>();

    private Probe(String name) {
        this.name = name;
    }

    static Probe create(String name) {
        Probe p = new Probe(name);
        REGISTRY.put(name, p);
        return p;
    }

    static Probe get(String name) {
        Probe p = REGISTRY.get(name);
        if (p == null) {
            throw new IllegalStateException("no probe " + name);
        }
        return p;
    }

    static void remove(String name) {
        REGISTRY.remove(name);
    }

    int checkpoints() {
        return completedCheckpoints.size();
    }

    long maxCheckpoint() {
        return completedCheckpoints.stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Whether the last record of every one of {@code partitions} input partitions of {@code n} records was seen. */
    boolean sawEnd(int n, int partitions) {
        for (int p = 0; p < partitions; p++) {
            long last = n - 1 - ((n - 1 - p) % partitions);
            if (lastSeen.getOrDefault(p, -1L) != last) {
                return false;
            }
        }
        return true;
    }

    /** Records seen by attempts after the first (restarted subtasks). */
    long processedAfterRestart() {
        return perAttempt.entrySet().stream().filter(e -> !e.getKey().endsWith("/0"))
                .mapToLong(e -> e.getValue().get()).sum();
    }

    @Override
    public String toString() {
        return "processed " + processed.get() + " " + new TreeMap<>(perAttempt) + ", " + checkpoints()
                + " checkpoints completed (last " + maxCheckpoint() + "), first seen " + new TreeMap<>(firstSeen)
                + (failureInjected.get() ? ", failure injected" : "");
    }
}
