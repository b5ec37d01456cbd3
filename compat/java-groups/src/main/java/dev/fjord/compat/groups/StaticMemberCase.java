package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * Static membership (KIP-345): three members with group.instance.id share a
 * 6-partition topic while a producer keeps writing. Each member in turn is
 * restarted (its consumer closed — a static member does not leave the group
 * — and a new consumer with the same group.instance.id started) well within
 * its session timeout. That must not rebalance the group: the other members'
 * rebalance listeners are not called, every member stays in the same
 * generation, and the restarted member gets back the partitions it had. At
 * the end every record has been processed and committed.
 */
final class StaticMemberCase {
    private StaticMemberCase() {}

    static final int PARTITIONS = 6;
    static final int SESSION_TIMEOUT_MS = 20_000;
    /** How long the others keep polling after a restart before they are checked. */
    static final Duration QUIET = Duration.ofSeconds(4);

    static void run(Ctx ctx) throws Exception {
        String topic = ctx.createTopic("static", PARTITIONS);
        String group = ctx.groupId("static");
        String run = UUID.randomUUID().toString().substring(0, 8);
        Tracker tracker = new Tracker(PARTITIONS);
        PacedProducer producer = new PacedProducer(ctx, topic, PARTITIONS, Long.MAX_VALUE, 2_000);

        Member[] m = new Member[3];
        for (int i = 0; i < 3; i++) {
            m[i] = ctx.member("s" + i, config(group, "static-" + i + "-" + run), topic, tracker);
        }
        Runnable guard = () -> {
            for (Member x : m) {
                x.rethrow();
            }
            Check.that(producer.error.get() == null, String.valueOf(producer.error.get()));
        };
        Check.await(Duration.ofSeconds(60), "group of three static members, two partitions each, one generation", guard,
                () -> Arrays.stream(m).allMatch(x -> x.owned() == 2 && x.generation > 0 && x.generation == m[0].generation)
                        && FailoverCase.union(m).size() == PARTITIONS,
                () -> String.join(", ", Arrays.stream(m).map(Member::state).toList()));
        // Settled: no listener call for two seconds.
        int calls = -1;
        for (int round = 0; round < 30; round++) {
            int now = Arrays.stream(m).mapToInt(x -> x.revokedCalls.get() + x.assignedCalls.get() + x.lostCalls.get()).sum();
            if (now == calls) {
                break;
            }
            calls = now;
            Thread.sleep(2_000);
            guard.run();
        }
        int generation = m[0].generation;
        ctx.log("group formed in generation " + generation + ": "
                + String.join(", ", Arrays.stream(m).map(Member::state).toList()));

        for (int i = 0; i < 3; i++) {
            Set<Integer> had = m[i].ownedPartitions();
            int[] before = new int[3];
            for (int j = 0; j < 3; j++) {
                before[j] = m[j].revokedCalls.get() + m[j].assignedCalls.get() + m[j].lostCalls.get();
            }
            long t0 = System.nanoTime();
            m[i].stopAndJoin(Duration.ofSeconds(15));
            m[i].rethrow();
            m[i] = ctx.member("s" + i + "-restarted", config(group, "static-" + i + "-" + run), topic, tracker);
            Member restarted = m[i];
            Check.await(Duration.ofSeconds(30), "restarted static member s" + i + " assigned", guard,
                    () -> restarted.owned() > 0 && restarted.generation > 0, restarted::state);
            ctx.log(String.format("static member s%d back after %.1f s: %s", i, (System.nanoTime() - t0) / 1e9,
                    restarted.state()));
            Check.equal(had, restarted.ownedPartitions(), "partitions of static member s" + i + " after its restart");
            Check.equal(generation, restarted.generation, "generation of static member s" + i + " after its restart");
            long quietUntil = System.nanoTime() + QUIET.toNanos();
            while (System.nanoTime() < quietUntil) {
                guard.run();
                Thread.sleep(100);
            }
            for (int j = 0; j < 3; j++) {
                if (j == i) {
                    continue;
                }
                int now = m[j].revokedCalls.get() + m[j].assignedCalls.get() + m[j].lostCalls.get();
                List<String> ev;
                synchronized (m[j].events) {
                    ev = new ArrayList<>(m[j].events);
                }
                Check.that(now == before[j], "restarting static member s" + i + " rebalanced the group: s" + j
                        + "'s rebalance listener was called (" + String.join("; ", ev.subList(Math.max(0, ev.size() - 3), ev.size())) + ")");
                Check.equal(generation, m[j].generation, "generation of s" + j + " after s" + i + " restarted");
            }
        }

        producer.stop();
        producer.awaitDone(Duration.ofSeconds(60));
        long[] end = ctx.endOffsets(topic, PARTITIONS);
        long[] zero = new long[PARTITIONS];
        long[][] committed = {new long[PARTITIONS]};
        Check.await(Duration.ofSeconds(60), "every offset processed and the end offsets committed", guard, () -> {
            if (!tracker.covers(zero, end)) {
                return false;
            }
            try {
                committed[0] = ctx.committed(group, topic, PARTITIONS);
            } catch (Exception e) {
                throw new Check.Failure("listConsumerGroupOffsets: " + Main.describe(e));
            }
            return Arrays.equals(committed[0], end);
        }, () -> tracker.describe(zero, end) + "; committed " + Arrays.toString(committed[0]));
        ctx.log(Arrays.stream(end).sum() + " records processed, " + tracker.duplicates() + " more than once");
    }

    static Map<String, Object> config(String group, String instanceId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, SESSION_TIMEOUT_MS);
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);
        return c;
    }
}
