package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;

/**
 * Three consumers in one group (commit after process) share a 6-partition
 * topic while a producer writes 300,000 records. One member, in a JVM of its
 * own, is killed (SIGKILL: no LeaveGroup); the two survivors must take over
 * its partitions once its session times out. Then a fourth consumer joins
 * and gets its share. In the end every record has been processed at least
 * once (per partition, the processed offsets cover 0..end without a gap),
 * no member ever skipped an offset of a partition it owned, and the group's
 * committed offsets are the end offsets.
 */
final class FailoverCase {
    private FailoverCase() {}

    static final int PARTITIONS = 6;
    static final long RECORDS = 300_000;
    static final int PER_SECOND = 9_000;
    static final int SESSION_TIMEOUT_MS = 10_000;
    /** How much longer than the session timeout the takeover may take (the rebalance itself). */
    static final int TAKEOVER_SLACK_MS = 10_000;

    static void range(Ctx ctx) throws Exception {
        run(ctx, RangeAssignor.class.getName(), false);
    }

    static void cooperativeSticky(Ctx ctx) throws Exception {
        run(ctx, CooperativeStickyAssignor.class.getName(), true);
    }

    static void run(Ctx ctx, String assignor, boolean cooperative) throws Exception {
        String topic = ctx.createTopic("failover", PARTITIONS);
        String group = ctx.groupId("failover");
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, SESSION_TIMEOUT_MS);
        config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);
        config.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor);
        Tracker tracker = new Tracker(PARTITIONS);

        // The victim first (its JVM takes a moment to start), then two in-process members.
        Victim victim = Victim.start(ctx, group, topic, config, tracker);
        Member a = ctx.member("a", config, topic, tracker);
        Member b = ctx.member("b", config, topic, tracker);
        List<Member> members = new ArrayList<>(List.of(a, b));
        Runnable guard = () -> {
            members.forEach(Member::rethrow);
            Check.that(victim.failure == null, "victim member failed: " + victim.failure);
        };
        Check.await(Duration.ofSeconds(60), "initial group of three, two partitions each", guard,
                () -> victim.assignment.size() == 2 && a.owned() == 2 && b.owned() == 2
                        && union(a, b).size() == 4 && !union(a, b).removeAll(victim.assignment),
                () -> "victim owns " + victim.assignment + ", " + a.state() + ", " + b.state());
        ctx.log("group formed: victim " + victim.assignment + ", " + a.state() + ", " + b.state());

        PacedProducer producer = new PacedProducer(ctx, topic, PARTITIONS, RECORDS, PER_SECOND);
        Check.await(Duration.ofSeconds(60), "40,000 records acknowledged and the victim processing", () -> {
            guard.run();
            Check.that(producer.error.get() == null, String.valueOf(producer.error.get()));
        }, () -> producer.acked.get() >= 40_000 && victim.processed.get() > 0,
                () -> producer.acked.get() + " acked, victim processed " + victim.processed.get());

        Set<Integer> victimOwned = new HashSet<>(victim.assignment);
        Set<Integer> aBefore = a.ownedPartitions();
        Set<Integer> bBefore = b.ownedPartitions();
        int aTaken = a.partitionsTakenAway.get();
        int bTaken = b.partitionsTakenAway.get();
        victim.kill();
        long killedAt = System.nanoTime();
        ctx.log("killed the victim (it owned " + victimOwned + ", processed " + victim.processed.get() + ")");

        Check.await(Duration.ofMillis(SESSION_TIMEOUT_MS + TAKEOVER_SLACK_MS + 5_000),
                "the survivors owning all " + PARTITIONS + " partitions after the kill", guard,
                () -> union(a, b).size() == PARTITIONS,
                () -> a.state() + ", " + b.state());
        double takeover = (System.nanoTime() - killedAt) / 1e9;
        ctx.log(String.format("survivors took over the victim's partitions %.1f s after the kill: %s, %s",
                takeover, a.state(), b.state()));
        Check.that(takeover * 1000 <= SESSION_TIMEOUT_MS + TAKEOVER_SLACK_MS, String.format(
                "survivors took over %.1f s after the kill (session.timeout.ms %d)", takeover, SESSION_TIMEOUT_MS));
        if (cooperative) {
            // Cooperative rebalancing moves only the orphaned partitions: the survivors keep theirs.
            Check.that(a.ownedPartitions().containsAll(aBefore) && b.ownedPartitions().containsAll(bBefore)
                            && a.partitionsTakenAway.get() == aTaken && b.partitionsTakenAway.get() == bTaken,
                    "cooperative takeover revoked survivors' partitions: a had " + aBefore + ", b had " + bBefore
                            + "; now " + a.state() + ", " + b.state());
        }

        boolean joinedWhileProducing = !producer.done;
        Member c = ctx.member("c", config, topic, tracker);
        members.add(c);
        Check.await(Duration.ofSeconds(60), "the group of a, b and the new member c, two partitions each", guard,
                () -> a.owned() == 2 && b.owned() == 2 && c.owned() == 2 && union(a, b, c).size() == PARTITIONS,
                () -> a.state() + ", " + b.state() + ", " + c.state());
        ctx.log("c joined" + (joinedWhileProducing ? " while the producer was running" : "") + ": " + a.state() + ", "
                + b.state() + ", " + c.state());

        producer.awaitDone(Duration.ofSeconds(120));
        long[] end = ctx.endOffsets(topic, PARTITIONS);
        Check.equal(RECORDS, Arrays.stream(end).sum(), "records in the topic (sum of end offsets " + Arrays.toString(end) + ")");
        long[] zero = new long[PARTITIONS];
        long[][] committed = {new long[PARTITIONS]};
        Check.await(Duration.ofSeconds(90), "every offset processed and the end offsets committed", guard, () -> {
            if (!tracker.covers(zero, end)) {
                return false;
            }
            try {
                committed[0] = ctx.committed(group, topic, PARTITIONS);
            } catch (Exception e) {
                throw new Check.Failure("listConsumerGroupOffsets: " + Main.describe(e));
            }
            return Arrays.equals(committed[0], end);
        }, () -> tracker.describe(zero, end) + "; committed " + Arrays.toString(committed[0]) + ", end "
                + Arrays.toString(end));
        if (joinedWhileProducing) {
            Check.that(c.processed.get() > 0, "the member that joined during production processed nothing");
        }
        ctx.log("all " + RECORDS + " records processed, " + tracker.duplicates() + " of them more than once; commit failures "
                + IntStream.range(0, members.size()).mapToLong(i -> members.get(i).commitFailures.get()).sum());
    }

    static Set<Integer> union(Member... ms) {
        Set<Integer> s = new HashSet<>();
        for (Member m : ms) {
            s.addAll(m.ownedPartitions());
        }
        return s;
    }
}
