package dev.fjord.compat.flink;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.flink.connector.kafka.sink.TransactionNamingStrategy;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The Flink compat cases, against one bootstrap address. Prints one line per
 * case on stdout, as compat/run expects:
 *
 * <pre>RESULT &lt;case&gt; &lt;pass|fail&gt; &lt;first line of the failure, or nothing&gt;</pre>
 *
 * Everything else (Flink's and the clients' logs, each case's timeline) goes
 * to stderr.
 *
 * <p>Usage: {@code Main BOOTSTRAP --work DIR [--only REGEX]}.
 */
public final class Main {
    private Main() {}

    record Case(String name, Duration timeout, Body body) {
        @FunctionalInterface
        interface Body {
            void run(Run r) throws Exception;
        }
    }

    static final Duration CASE_TIMEOUT = Duration.ofSeconds(150);

    static final List<Case> CASES = List.of(
            new Case("flink-eos-failover", CASE_TIMEOUT,
                    r -> Cases.failover(r, TransactionNamingStrategy.INCREMENTING)),
            new Case("flink-eos-cancel-resume", CASE_TIMEOUT, Cases::cancelResume),
            new Case("flink-eos-pooling-failover", CASE_TIMEOUT,
                    r -> Cases.failover(r, TransactionNamingStrategy.POOLING)),
            new Case("flink-committer-recovery", Duration.ofSeconds(90), CommitterRecovery::run),
            new Case("flink-writer-abort", Duration.ofSeconds(90), WriterAbort::run));

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Main BOOTSTRAP --work DIR [--only REGEX]");
            System.exit(2);
        }
        String bootstrap = args[0];
        Pattern only = null;
        Path work = Path.of("target", "work");
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--only" -> only = Pattern.compile(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        System.err.println("compat-flink: Flink " + EnvironmentInformation.getVersion() + ", kafka-clients "
                + AppInfoParser.getVersion() + " against " + bootstrap + " ("
                + System.getenv().getOrDefault("COMPAT_TARGET", "fjord") + ")");
        PrintStream out = System.out;
        for (Case c : CASES) {
            if (only != null && !only.matcher(c.name()).find()) {
                continue;
            }
            String failure = runOne(bootstrap, work.toAbsolutePath(), c);
            out.println(("RESULT " + c.name() + (failure == null ? " pass" : " fail " + failure)).trim());
            out.flush();
        }
        // Threads of a case that timed out may still be alive.
        System.exit(0);
    }

    static String runOne(String bootstrap, Path work, Case c) {
        long start = System.nanoTime();
        ExecutorService executor = Executors.newSingleThreadExecutor(t -> {
            Thread th = new Thread(t, "case-" + c.name());
            th.setDaemon(true);
            return th;
        });
        Run[] run = new Run[1];
        Future<?> future = executor.submit(() -> {
            run[0] = new Run(c.name(), bootstrap, work);
            run[0].log.log("start");
            try {
                c.body().run(run[0]);
            } finally {
                run[0].close();
            }
            return null;
        });
        String failure;
        try {
            future.get(c.timeout().toMillis(), TimeUnit.MILLISECONDS);
            failure = null;
        } catch (TimeoutException e) {
            future.cancel(true);
            failure = "timed out after " + c.timeout().toSeconds() + " s"
                    + (run[0] == null ? "" : run[0].log.lastStep());
            if (run[0] != null) {
                run[0].close();
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Check.Failure) {
                failure = describe(cause);
            } else {
                cause.printStackTrace();
                failure = describe(cause) + (run[0] == null ? "" : run[0].log.lastStep());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = "interrupted";
        } finally {
            executor.shutdownNow();
        }
        System.err.printf("[%s] %s in %.1f s%n", c.name(), failure == null ? "pass" : "FAIL: " + failure,
                (System.nanoTime() - start) / 1e9);
        return failure;
    }

    /** One line: the assertion message, or the exception chain's innermost message. */
    static String describe(Throwable t) {
        String text;
        if (t instanceof Check.Failure) {
            text = t.getMessage();
        } else {
            Throwable best = t;
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (c.getMessage() != null) {
                    best = c;
                }
                if (c.getCause() == c) {
                    break;
                }
            }
            text = best.getClass().getSimpleName() + (best.getMessage() == null ? "" : ": " + best.getMessage());
        }
        if (text == null || text.isBlank()) {
            text = t.getClass().getName();
        }
        text = text.replaceAll("[\\r\\n\\t]+", " ").trim();
        return text.length() > 400 ? text.substring(0, 400) + "..." : text;
    }
}
