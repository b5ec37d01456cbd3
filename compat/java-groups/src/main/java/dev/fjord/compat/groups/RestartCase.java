package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;

/**
 * A group of three consumes 30,000 records and commits them; 12,000 more are
 * produced; the broker is restarted (clean stop, start on the same data
 * dir). After the restart the group's committed offsets are still there,
 * and a new generation of the group (three new consumers, same group id,
 * auto.offset.reset=earliest) resumes exactly at them: it processes the
 * 12,000 new records and none of the 30,000 old ones.
 */
final class RestartCase {
    private RestartCase() {}

    static final int PARTITIONS = 6;
    static final int FIRST = 5_000;   // records per partition before the commit
    static final int SECOND = 2_000;  // records per partition produced after it

    static void run(Ctx ctx) throws Exception {
        Main.Env env = ctx.env;
        Check.that(env.restartCmd() != null,
                "no broker to restart (run.sh passes --restart-cmd; see compat/java-groups/run.sh)");
        ctx.useBootstrap(env.restartBootstrap());
        String topic = ctx.createTopic("restart", PARTITIONS);
        String group = ctx.groupId("restart");
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_000);

        produce(ctx, topic, 0, FIRST);
        long[] zero = new long[PARTITIONS];
        long[] firstEnd = new long[PARTITIONS];
        Arrays.fill(firstEnd, FIRST);
        Tracker before = new Tracker(PARTITIONS);
        List<Member> members = new ArrayList<>();
        for (String n : List.of("a", "b", "c")) {
            members.add(ctx.member(n, config, topic, before));
        }
        awaitProcessedAndCommitted(ctx, members, before, group, topic, zero, firstEnd);
        for (Member m : members) {
            m.stopAndJoin(Duration.ofSeconds(15));
            m.rethrow();
        }
        produce(ctx, topic, FIRST, SECOND);
        long[] committedBefore = ctx.committed(group, topic, PARTITIONS);
        Check.that(Arrays.equals(committedBefore, firstEnd), "committed before the restart: "
                + Arrays.toString(committedBefore));
        // No client of this case stays connected across the restart.
        ctx.closeAll();

        long t0 = System.nanoTime();
        ctx.log("restarting the broker: " + env.restartCmd());
        Process p = new ProcessBuilder("bash", "-c", env.restartCmd() + " 1>&2")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        if (!p.waitFor(200, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new Check.Failure("broker restart did not finish within 200 s");
        }
        Check.equal(0, p.exitValue(), "exit status of the broker restart (" + env.restartCmd() + ")");
        ctx.log(String.format("broker restarted in %.1f s", (System.nanoTime() - t0) / 1e9));

        ctx.useBootstrap(env.restartBootstrap());
        ctx.awaitLeaders(topic, PARTITIONS);
        long[] secondEnd = new long[PARTITIONS];
        Arrays.fill(secondEnd, FIRST + SECOND);
        Check.equal(Arrays.toString(secondEnd), Arrays.toString(ctx.endOffsets(topic, PARTITIONS)),
                "end offsets after the restart");
        long[] committedAfter = Check.eventually(Duration.ofSeconds(60), () -> {
            long[] c = ctx.committed(group, topic, PARTITIONS);
            Check.equal(Arrays.toString(committedBefore), Arrays.toString(c), "committed offsets after the restart");
            return c;
        });
        ConsumerGroupDescription d = ctx.admin().describeConsumerGroups(List.of(group)).all()
                .get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS).get(group);
        Check.equal(GroupState.EMPTY, d.groupState(), "state of the group after the restart");
        ctx.log("after the restart: committed " + Arrays.toString(committedAfter) + ", group " + d.groupState());

        Tracker after = new Tracker(PARTITIONS);
        List<Member> again = new ArrayList<>();
        for (String n : List.of("a2", "b2", "c2")) {
            again.add(ctx.member(n, config, topic, after));
        }
        awaitProcessedAndCommitted(ctx, again, after, group, topic, firstEnd, secondEnd);
        for (int part = 0; part < PARTITIONS; part++) {
            Check.equal((long) FIRST, after.lowest(part),
                    "first offset of partition " + part + " processed after the restart (the committed offset)");
        }
        Check.equal(0L, after.duplicates(), "records processed twice after the restart");
    }

    /** Produces {@code perPartition} records to each partition and waits for their acknowledgements. */
    static void produce(Ctx ctx, String topic, int from, int perPartition) throws Exception {
        KafkaProducer<byte[], byte[]> producer = ctx.producer(Map.of(
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true, ProducerConfig.ACKS_CONFIG, "all"));
        List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
        for (int i = 0; i < perPartition; i++) {
            for (int part = 0; part < PARTITIONS; part++) {
                long n = (long) (from + i) * PARTITIONS + part;
                acks.add(producer.send(new ProducerRecord<>(topic, part, Long.toString(n).getBytes(), PacedProducer.value(n))));
            }
        }
        producer.flush();
        for (var f : acks) {
            f.get(Ctx.WAIT_MS, TimeUnit.MILLISECONDS);
        }
    }

    static void awaitProcessedAndCommitted(Ctx ctx, List<Member> members, Tracker tracker, String group, String topic,
            long[] from, long[] to) throws Exception {
        long[][] committed = {new long[PARTITIONS]};
        Check.await(Duration.ofSeconds(90), "offsets " + Arrays.toString(from) + ".." + Arrays.toString(to)
                + " processed and committed", () -> members.forEach(Member::rethrow), () -> {
                    if (!tracker.covers(from, to)) {
                        return false;
                    }
                    try {
                        committed[0] = ctx.committed(group, topic, PARTITIONS);
                    } catch (Exception e) {
                        throw new Check.Failure("listConsumerGroupOffsets: " + Main.describe(e));
                    }
                    return Arrays.equals(committed[0], to);
                }, () -> tracker.describe(from, to) + "; committed " + Arrays.toString(committed[0]) + "; "
                        + String.join(", ", members.stream().map(Member::state).toList()));
        ctx.log("processed and committed up to " + Arrays.toString(to) + ": "
                + String.join(", ", members.stream().map(Member::state).toList()));
    }
}
