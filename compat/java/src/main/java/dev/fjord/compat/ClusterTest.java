package dev.fjord.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The client side of {@code make cluster-test} (compat/cluster/scenario.sh):
 * one command a call, the shell starting, killing and restarting the nodes
 * in between. Each command prints one summary line on stdout and exits 0, or
 * prints {@code FAIL: <reason>} and exits 1. Every wait has a deadline.
 *
 * <pre>
 * ClusterTest quorum BOOTSTRAP
 *     leader=ID epoch=E hw=HW voters=ID:LEO,... observers=ID:LEO,...   (DescribeQuorum)
 * ClusterTest wait-leader BOOTSTRAP NOT_ID DEADLINE_S
 *     polls DescribeQuorum until a leader other than NOT_ID answers
 * ClusterTest wait-caught-up BOOTSTRAP ID voter|observer DEADLINE_S
 *     polls until ID is listed in that role only and its log end offset has reached the high watermark
 * ClusterTest create-topic BOOTSTRAP TOPIC PARTITIONS DEADLINE_S
 *     CreateTopics (RF 1), retried until it succeeds or the deadline
 * ClusterTest roundtrip BOOTSTRAP TOPIC PARTITIONS RECORDS NODE,NODE,...
 *     creates TOPIC (RF 1), checks its leaders span every NODE, produces RECORDS keyed
 *     records with acks=all, reads them all back under assign() and compares
 * ClusterTest group BOOTSTRAP TOPIC RECORDS GROUP COORDINATOR_ID
 *     consumes all RECORDS of TOPIC as GROUP (subscribe), commits, checks that the group's
 *     coordinator (describeConsumerGroups) is COORDINATOR_ID and reads the committed offsets
 *     back through Admin (kafka-wire.py find-group picks GROUP)
 * </pre>
 */
public final class ClusterTest {
    private ClusterTest() {}

    static final class Fail extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Fail(String message) {
            super(message);
        }
    }

    public static void main(String[] args) {
        int status = 0;
        try {
            System.out.println(run(args));
        } catch (Fail e) {
            System.out.println("FAIL: " + e.getMessage());
            status = 1;
        } catch (Exception e) {
            System.out.println("FAIL: " + e.toString().replace('\n', ' '));
            e.printStackTrace();
            status = 1;
        }
        System.out.flush();
        // Client threads must not keep the JVM (or the scenario) waiting.
        Runtime.getRuntime().halt(status);
    }

    static String run(String[] a) throws Exception {
        if (a.length < 2) {
            throw new Fail("usage: ClusterTest COMMAND BOOTSTRAP ARGS... (see the class comment)");
        }
        String boot = a[1];
        return switch (a[0]) {
            case "quorum" -> withAdmin(boot, ad -> show(quorum(ad)));
            case "wait-leader" -> withAdmin(boot, ad -> waitLeader(ad, Integer.parseInt(a[2]), secs(a[3])));
            case "wait-caught-up" -> withAdmin(boot, ad -> waitCaughtUp(ad, Integer.parseInt(a[2]), a[3], secs(a[4])));
            case "create-topic" -> withAdmin(boot, ad -> createTopic(ad, a[2], Integer.parseInt(a[3]), secs(a[4])));
            case "roundtrip" -> roundtrip(boot, a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]), ids(a[5]));
            case "group" -> group(boot, a[2], Integer.parseInt(a[3]), a[4], Integer.parseInt(a[5]));
            case "failover" -> failover(boot, a[2], Integer.parseInt(a[3]), a[4], a[5], a[6]);
            default -> throw new Fail("unknown command " + a[0]);
        };
    }

    interface AdminBody {
        String apply(Admin admin) throws Exception;
    }

    static String withAdmin(String boot, AdminBody body) throws Exception {
        try (Admin admin = admin(boot)) {
            return body.apply(admin);
        }
    }

    static Admin admin(String boot) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10_000);
        // A killed node is noticed at the next try, not after a long backoff.
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        p.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, 500);
        return Admin.create(p);
    }

    // ---------------------------------------------------------------- quorum

    static QuorumInfo quorum(Admin admin) throws Exception {
        return admin.describeMetadataQuorum().quorumInfo().get(12, TimeUnit.SECONDS);
    }

    static String show(QuorumInfo q) {
        return "leader=" + q.leaderId() + " epoch=" + q.leaderEpoch() + " hw=" + q.highWatermark()
                + " voters=" + replicas(q.voters()) + " observers=" + replicas(q.observers());
    }

    static String replicas(List<QuorumInfo.ReplicaState> rs) {
        return rs.stream().sorted((x, y) -> Integer.compare(x.replicaId(), y.replicaId()))
                .map(r -> r.replicaId() + ":" + r.logEndOffset()).collect(Collectors.joining(","));
    }

    static String waitLeader(Admin admin, int notId, Duration within) throws Exception {
        long t0 = System.nanoTime();
        QuorumInfo q = until(within, "a leader other than " + notId, () -> {
            QuorumInfo info = quorum(admin);
            return info.leaderId() >= 0 && info.leaderId() != notId ? info : null;
        });
        return show(q) + " after_ms=" + (System.nanoTime() - t0) / 1_000_000;
    }

    static String waitCaughtUp(Admin admin, int id, String role, Duration within) throws Exception {
        long t0 = System.nanoTime();
        QuorumInfo q = until(within, "node " + id + " caught up as " + role, () -> {
            QuorumInfo info = quorum(admin);
            List<QuorumInfo.ReplicaState> in = role.equals("voter") ? info.voters() : info.observers();
            List<QuorumInfo.ReplicaState> other = role.equals("voter") ? info.observers() : info.voters();
            if (other.stream().anyMatch(r -> r.replicaId() == id)) {
                throw new Fail("node " + id + " is listed as " + (role.equals("voter") ? "an observer" : "a voter")
                        + ": " + show(info));
            }
            return in.stream().anyMatch(r -> r.replicaId() == id && r.logEndOffset() >= info.highWatermark())
                    ? info : null;
        });
        return show(q) + " after_ms=" + (System.nanoTime() - t0) / 1_000_000;
    }

    // ---------------------------------------------------------------- topics

    static String createTopic(Admin admin, String topic, int partitions, Duration within) throws Exception {
        long t0 = System.nanoTime();
        until(within, "CreateTopics " + topic, () -> {
            try {
                admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(10, TimeUnit.SECONDS);
                return true;
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException) {
                    return true; // an earlier try that timed out on our side went through
                }
                System.err.println("create-topic: " + e.getCause());
                return null;
            }
        });
        return "created " + topic + " after_ms=" + (System.nanoTime() - t0) / 1_000_000;
    }

    /** Waits until every partition of topic has a leader; returns partition -> leader. */
    static Map<Integer, Integer> leaders(Admin admin, String topic, int partitions) throws Exception {
        return until(Duration.ofSeconds(20), "leaders for every partition of " + topic, () -> {
            TopicDescription d;
            try {
                d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
            } catch (java.util.concurrent.ExecutionException e) {
                return null; // not yet known to the node asked
            }
            Map<Integer, Integer> m = new TreeMap<>();
            for (TopicPartitionInfo p : d.partitions()) {
                if (p.leader() == null || p.leader().id() < 0) {
                    return null;
                }
                if (!p.replicas().stream().anyMatch(n -> n.id() == p.leader().id())
                        || !p.isr().stream().anyMatch(n -> n.id() == p.leader().id())) {
                    throw new Fail(topic + "-" + p.partition() + ": leader " + p.leader().id()
                            + " not in replicas " + p.replicas() + " / isr " + p.isr());
                }
                m.put(p.partition(), p.leader().id());
            }
            return m.size() == partitions ? m : null;
        });
    }

    // ---------------------------------------------------------------- data

    static String roundtrip(String boot, String topic, int partitions, int records, Set<Integer> nodes) throws Exception {
        Map<Integer, Integer> leaders;
        try (Admin admin = admin(boot)) {
            createTopic(admin, topic, partitions, Duration.ofSeconds(20));
            leaders = leaders(admin, topic, partitions);
        }
        Set<Integer> leading = new TreeSet<>(leaders.values());
        if (!leading.equals(nodes)) {
            throw new Fail("leaders of " + topic + " are on nodes " + leading + ", want every one of " + nodes
                    + " (partition->leader " + leaders + ")");
        }

        Map<String, String> sent = new HashMap<>();
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        Map<Integer, Integer> perPartition = new TreeMap<>();
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < records; i++) {
                String k = "key-" + i;
                String v = "value-" + i + "-" + topic;
                sent.put(k, v);
                acks.add(producer.send(new ProducerRecord<>(topic, k, v)));
            }
            producer.flush();
            for (var f : acks) {
                perPartition.merge(f.get(30, TimeUnit.SECONDS).partition(), 1, Integer::sum);
            }
        }
        if (perPartition.size() != partitions) {
            throw new Fail("keyed records landed on " + perPartition.size() + " of " + partitions + " partitions");
        }

        Map<String, String> got = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = consumer(boot, null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                tps.add(new TopicPartition(topic, p));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got.size() < records && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (got.put(r.key(), r.value()) != null) {
                        throw new Fail("record " + r.key() + " read twice (" + r.topic() + "-" + r.partition()
                                + "@" + r.offset() + ")");
                    }
                }
            }
        }
        if (!got.equals(sent)) {
            throw new Fail("read back " + got.size() + " of " + records + " records"
                    + (got.size() == records ? " with different contents" : ""));
        }
        return "records=" + records + " partition->leader=" + leaders + " records/partition=" + perPartition;
    }

    static KafkaConsumer<String, String> consumer(String boot, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    // ---------------------------------------------------------------- groups

    static String group(String boot, String topic, int records, String group, int coordinator) throws Exception {
        Map<TopicPartition, Long> consumedTo = new HashMap<>();
        int n = 0;
        try (KafkaConsumer<String, String> consumer = consumer(boot, group)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (n < records && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    n++;
                    consumedTo.merge(new TopicPartition(r.topic(), r.partition()), r.offset() + 1, Math::max);
                }
            }
            if (n != records) {
                throw new Fail("group " + group + " consumed " + n + " of " + records + " records");
            }
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            consumedTo.forEach((tp, off) -> commit.put(tp, new OffsetAndMetadata(off, "cluster-test")));
            consumer.commitSync(commit, Duration.ofSeconds(20));
        }

        try (Admin admin = admin(boot)) {
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all()
                    .get(15, TimeUnit.SECONDS).get(group);
            if (d.coordinator() == null || d.coordinator().id() != coordinator) {
                throw new Fail("group " + group + " coordinator is now " + d.coordinator());
            }
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(15, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            consumedTo.keySet().forEach(tp -> latest.put(tp, OffsetSpec.latest()));
            var ends = admin.listOffsets(latest).all().get(15, TimeUnit.SECONDS);
            for (var e : consumedTo.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                long end = ends.get(e.getKey()).offset();
                if (c == null || c.offset() != e.getValue() || c.offset() != end
                        || !"cluster-test".equals(c.metadata())) {
                    throw new Fail("committed offset of " + e.getKey() + " is " + c + ", want " + e.getValue()
                            + " (end offset " + end + ")");
                }
            }
        }
        return "group=" + group + " coordinator=" + coordinator + " consumed=" + n + " committed="
                + consumedTo.size() + " partitions";
    }

    // ---------------------------------------------------------------- failover

    /** Runs the shell command cmd with {id} replaced by node id; fails unless it exits 0. */
    static void node(String cmd, int id) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", cmd.replace("{id}", Integer.toString(id)))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new Fail("'" + cmd.replace("{id}", Integer.toString(id)) + "' failed");
        }
    }

    /** Waits until every partition of topic has all of its replicas in the ISR. */
    static void fullIsr(Admin admin, String topic, Duration within) throws Exception {
        until(within, "the full ISR of " + topic, () -> {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS)
                    .get(topic);
            return d.partitions().stream().allMatch(p -> p.leader() != null && p.isr().size() == p.replicas().size())
                    ? true : null;
        });
    }

    /**
     * RF 3, min.insync.replicas 2, three partitions. A producer with default
     * settings (acks=all, idempotence) sends records; halfway, the leader of
     * partition 0 is killed (killCmd). Every record must be acknowledged (the
     * client retries through the failover on its own), and read back exactly
     * once. The killed node is restarted (startCmd) and rejoins the ISR. A
     * group consumes half and commits; its coordinator is killed; a new member
     * of the group resumes exactly at the committed offsets and reads the rest.
     */
    static String failover(String boot, String topic, int records, String group, String killCmd, String startCmd)
            throws Exception {
        int partitions = 3;
        Map<Integer, Integer> leaders;
        try (Admin admin = admin(boot)) {
            NewTopic t = new NewTopic(topic, partitions, (short) 3).configs(Map.of("min.insync.replicas", "2"));
            admin.createTopics(List.of(t)).all().get(20, TimeUnit.SECONDS);
            leaders = leaders(admin, topic, partitions);
            fullIsr(admin, topic, Duration.ofSeconds(30));
        }
        int victim = leaders.get(0);
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        Map<String, String> sent = new HashMap<>();
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < records; i++) {
                if (i == records / 2) {
                    for (var f : acks) {
                        f.get(60, TimeUnit.SECONDS);
                    }
                    node(killCmd, victim);
                }
                String k = "key-" + i;
                String v = "value-" + i;
                sent.put(k, v);
                acks.add(producer.send(new ProducerRecord<>(topic, k, v), (md, e) -> {
                    if (e != null) {
                        errors.add(e.toString());
                    }
                }));
                if (i % 100 == 99) {
                    Thread.sleep(20); // spread the sends over the failover
                }
            }
            producer.flush();
            for (var f : acks) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
        if (!errors.isEmpty()) {
            throw new Fail(errors.size() + " records failed: " + errors.get(0));
        }
        node(startCmd, victim);
        int coordinator;
        try (Admin admin = admin(boot)) {
            fullIsr(admin, topic, Duration.ofSeconds(60));
        }

        // A group reads half of the records and commits.
        Map<TopicPartition, Long> committed = new HashMap<>();
        Map<String, String> got = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = consumer(boot, group)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (got.size() < records / 2 && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (got.put(r.key(), r.value()) != null) {
                        throw new Fail("record " + r.key() + " read twice");
                    }
                    committed.merge(new TopicPartition(r.topic(), r.partition()), r.offset() + 1, Math::max);
                }
            }
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            committed.forEach((tp, off) -> commit.put(tp, new OffsetAndMetadata(off)));
            consumer.commitSync(commit, Duration.ofSeconds(20));
        }
        try (Admin admin = admin(boot)) {
            coordinator = admin.describeConsumerGroups(List.of(group)).all().get(15, TimeUnit.SECONDS).get(group)
                    .coordinator().id();
        }
        node(killCmd, coordinator);

        // A new member resumes at the committed offsets, served by a new coordinator.
        Map<TopicPartition, Long> firstRead = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = consumer(boot, group)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (got.size() < records && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    firstRead.putIfAbsent(tp, r.offset());
                    if (got.put(r.key(), r.value()) != null) {
                        throw new Fail("record " + r.key() + " read again after the coordinator moved ("
                                + tp + "@" + r.offset() + ", committed " + committed.get(tp) + ")");
                    }
                }
            }
        }
        for (var e : firstRead.entrySet()) {
            long want = committed.getOrDefault(e.getKey(), 0L);
            if (e.getValue() != want) {
                throw new Fail(e.getKey() + " resumed at " + e.getValue() + ", committed " + want);
            }
        }
        node(startCmd, coordinator);
        if (!got.equals(sent)) {
            throw new Fail("read " + got.size() + " of " + records + " acknowledged records");
        }
        return "records=" + records + " killed leader " + victim + " mid-produce (no failed sends), killed coordinator "
                + coordinator + "; group resumed at its committed offsets " + committed.values();
    }

    // ---------------------------------------------------------------- helpers

    static Duration secs(String s) {
        return Duration.ofSeconds(Long.parseLong(s));
    }

    static Set<Integer> ids(String csv) {
        Set<Integer> s = new TreeSet<>();
        for (String x : csv.split(",")) {
            s.add(Integer.parseInt(x.trim()));
        }
        return s;
    }

    /** Calls probe every 250 ms until it returns non-null; fails with what after within. */
    static <T> T until(Duration within, String what, Callable<T> probe) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        Exception last = null;
        while (true) {
            try {
                T v = probe.call();
                if (v != null) {
                    return v;
                }
            } catch (Fail f) {
                throw f;
            } catch (Exception e) {
                last = e;
                System.err.println("waiting for " + what + ": " + e);
            }
            if (System.nanoTime() > deadline) {
                throw new Fail("no " + what + " within " + within.toSeconds() + "s"
                        + (last == null ? "" : " (last error: " + last + ")"));
            }
            Thread.sleep(250);
        }
    }
}
