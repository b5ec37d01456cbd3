package dev.fjord.compat.groups;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;

/**
 * A group member in a JVM of its own, so that it can be killed (SIGKILL): it
 * dies without leaving the group, and the broker only notices when its
 * session times out.
 *
 * <p>The child ({@link #main}) runs the same commit-after-process loop as
 * {@link Member} and reports on stdout, flushing before every commit, so the
 * parent learns of every processed record that may have been committed:
 * {@code ASSIGNED p,p,...}, {@code REVOKED p,...}, {@code LOST p,...},
 * {@code R <partition> <first> <last>}.
 */
final class Victim {
    private final Ctx ctx;
    private final Process process;
    private final Thread reader;
    final Set<Integer> assignment = ConcurrentHashMap.newKeySet();
    final AtomicLong processed = new AtomicLong();
    volatile String failure;

    private Victim(Ctx ctx, Process process, Tracker tracker) {
        this.ctx = ctx;
        this.process = process;
        this.reader = new Thread(() -> read(tracker), "victim-reader");
        this.reader.setDaemon(true);
        this.reader.start();
    }

    /** Starts the child JVM: a member of {@code group} consuming {@code topic} with the given consumer configs. */
    static Victim start(Ctx ctx, String group, String topic, Map<String, Object> config, Tracker tracker) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp", System.getProperty("java.class.path"), Victim.class.getName(), ctx.bootstrap(), topic,
                "compat-" + ctx.caseName + "-victim"));
        for (Map.Entry<String, Object> e : config.entrySet()) {
            cmd.add(e.getKey() + "=" + e.getValue());
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        Victim v = new Victim(ctx, pb.start(), tracker);
        ctx.closeAtEnd(v::kill);
        ctx.log("victim member started, pid " + v.process.pid());
        return v;
    }

    private void read(Tracker tracker) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                String[] f = line.split(" ");
                switch (f[0]) {
                    case "R" -> {
                        long first = Long.parseLong(f[2]);
                        long last = Long.parseLong(f[3]);
                        tracker.add(Integer.parseInt(f[1]), first, last);
                        processed.addAndGet(last - first + 1);
                    }
                    case "ASSIGNED" -> {
                        assignment.addAll(parse(f));
                        ctx.log("member victim: assigned " + parse(f) + " (" + line + ")");
                    }
                    case "REVOKED", "LOST" -> {
                        assignment.removeAll(parse(f));
                        ctx.log("member victim: " + line);
                    }
                    case "FAIL" -> failure = line.substring(5);
                    default -> ctx.log("victim: " + line);
                }
            }
        } catch (Exception e) {
            ctx.log("victim reader: " + e);
        }
    }

    private static Set<Integer> parse(String[] f) {
        Set<Integer> s = new TreeSet<>();
        if (f.length > 1 && !f[1].isEmpty()) {
            for (String p : f[1].split(",")) {
                s.add(Integer.parseInt(p));
            }
        }
        return s;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL: the member dies without a LeaveGroup or a clean connection shutdown. */
    void kill() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            ctx.log("victim member killed (SIGKILL)");
        }
        reader.join(5_000);
    }

    // ------------------------------------------------------------------ child

    /** Child: {@code Victim BOOTSTRAP TOPIC CLIENT_ID [config=value ...]}; runs until killed. */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        Map<String, Object> config = new HashMap<>();
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        java.util.Properties p = new java.util.Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("client.id", args[2]);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("request.timeout.ms", String.valueOf(Ctx.REQUEST_TIMEOUT_MS));
        p.put("default.api.timeout.ms", String.valueOf(Ctx.API_TIMEOUT_MS));
        p.putAll(config);
        Map<Integer, Long> last = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p,
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            c.subscribe(List.of(args[1]), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    out.println("REVOKED " + join(partitions));
                    out.flush();
                    if (!partitions.isEmpty()) {
                        commit(c, out);
                    }
                    partitions.forEach(tp -> last.remove(tp.partition()));
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    out.println("ASSIGNED " + join(partitions) + " generation=" + c.groupMetadata().generationId());
                    out.flush();
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    out.println("LOST " + join(partitions));
                    out.flush();
                    partitions.forEach(tp -> last.remove(tp.partition()));
                }
            });
            while (true) {
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(200));
                for (TopicPartition tp : records.partitions()) {
                    for (long[] range : Member.ranges(tp, records.records(tp), last, "victim")) {
                        out.println("R " + tp.partition() + " " + range[0] + " " + range[1]);
                    }
                }
                // Reported before the commit: a record the group may consider done is known to the parent.
                out.flush();
                if (!records.isEmpty()) {
                    commit(c, out);
                }
            }
        } catch (Throwable t) {
            out.println("FAIL " + Main.describe(t));
            out.flush();
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static void commit(KafkaConsumer<byte[], byte[]> c, PrintStream out) {
        try {
            c.commitSync(Duration.ofMillis(Ctx.API_TIMEOUT_MS));
        } catch (CommitFailedException | RebalanceInProgressException e) {
            out.println("commit failed: " + e.getClass().getSimpleName());
        }
    }

    private static String join(Collection<TopicPartition> tps) {
        Set<Integer> s = new TreeSet<>();
        tps.forEach(tp -> s.add(tp.partition()));
        return String.join(",", s.stream().map(String::valueOf).toList());
    }
}
