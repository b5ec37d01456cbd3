package dev.fjord.compat.flink;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.flink.core.execution.JobClient;

/**
 * One run of one case: unique names, its working directory (checkpoints),
 * its Kafka clients, and the Flink jobs it started, which are cancelled
 * when the case ends (also when it timed out).
 */
final class Run {
    final String caseName;
    final String bootstrap;
    final Log log;
    final Kafka kafka;
    final Path dir;
    private final String runId = UUID.randomUUID().toString().substring(0, 8);
    private final List<JobClient> jobs = new ArrayList<>();
    private final List<String> probes = new ArrayList<>();

    Run(String caseName, String bootstrap, Path workDir) throws Exception {
        this.caseName = caseName;
        this.bootstrap = bootstrap;
        this.log = new Log(caseName);
        this.kafka = new Kafka(bootstrap, log);
        this.dir = Files.createDirectories(workDir.resolve(caseName + "-" + runId));
    }

    /** A name unique to this run of this case: topics, groups, transactional id prefixes, probes. */
    String name(String base) {
        return "compat-flink-" + caseName + "-" + base + "-" + runId;
    }

    Probe probe(String base) {
        String name = name(base);
        synchronized (this) {
            probes.add(name);
        }
        return Probe.create(name);
    }

    synchronized JobClient track(JobClient job) {
        jobs.add(job);
        return job;
    }

    /** Cancels jobs still running (bounded), closes the clients, drops the probes. */
    void close() {
        List<JobClient> js;
        synchronized (this) {
            js = new ArrayList<>(jobs);
        }
        for (JobClient j : js) {
            try {
                if (!j.getJobStatus().get(5, TimeUnit.SECONDS).isGloballyTerminalState()) {
                    log.log("cancelling job " + j.getJobID());
                    j.cancel().get(20, TimeUnit.SECONDS);
                }
            } catch (Exception e) {
                // A job that already ended (its mini-cluster shut down) cannot answer.
            }
        }
        kafka.close();
        for (String p : probes) {
            Probe.remove(p);
        }
    }
}
