package dev.fjord.compat.txn;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The transactions compat cases, against one bootstrap address. Prints one
 * line per case on stdout, as compat/run expects:
 *
 * <pre>RESULT &lt;case&gt; &lt;pass|fail&gt; &lt;first line of the failure, or nothing&gt;</pre>
 *
 * Everything else (client logs, a timeline of each case) goes to stderr.
 *
 * <p>Usage: {@code Main BOOTSTRAP [--only REGEX]}.
 */
public final class Main {
    private Main() {}

    /** One case: its RESULT name, its bound, its body. */
    record Case(String name, Duration timeout, Body body) {
        @FunctionalInterface
        interface Body {
            void run(Ctx ctx) throws Exception;
        }

        static Case of(String name, int timeoutSeconds, Body body) {
            return new Case(name, Duration.ofSeconds(timeoutSeconds), body);
        }
    }

    static final List<Case> CASES = List.of(
            Case.of("txn-commit-abort", 60, CommitAbortCase::run),
            Case.of("txn-zombie-fenced", 60, ZombieCase::run),
            Case.of("txn-timeout-abort", 60, TimeoutCase::run),
            Case.of("txn-send-offsets", 60, SendOffsetsCase::run));

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Main BOOTSTRAP [--only REGEX]");
            System.exit(2);
        }
        String bootstrap = args[0];
        Pattern only = null;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--only" -> only = Pattern.compile(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        String target = System.getenv().getOrDefault("COMPAT_TARGET", "fjord");
        System.err.println("compat-java-txn: kafka-clients " + AppInfoParser.getVersion() + " against " + bootstrap
                + " (" + target + ")");

        PrintStream out = System.out;
        for (Case c : CASES) {
            if (only != null && !only.matcher(c.name()).find()) {
                continue;
            }
            String failure = runOne(bootstrap, c);
            String line = "RESULT " + c.name() + (failure == null ? " pass" : " fail " + failure);
            out.println(line.trim());
            out.flush();
        }
        // Client threads of a case that timed out may still be alive.
        System.exit(0);
    }

    /** Runs one case on its own thread, bounded by its timeout; returns null or a one-line failure. */
    static String runOne(String bootstrap, Case c) {
        long start = System.nanoTime();
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "case-" + c.name());
            t.setDaemon(true);
            return t;
        });
        Ctx ctx = new Ctx(bootstrap, c.name());
        ctx.log("start");
        Future<?> future = executor.submit(() -> {
            try {
                c.body().run(ctx);
            } finally {
                ctx.closeAll();
            }
            return null;
        });
        String failure;
        try {
            future.get(c.timeout().toMillis(), TimeUnit.MILLISECONDS);
            failure = null;
        } catch (TimeoutException e) {
            future.cancel(true);
            failure = "timed out after " + c.timeout().toSeconds() + " s" + ctx.lastStep();
            ctx.closeAll();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Check.Failure) {
                failure = describe(cause);
            } else {
                // A client exception says what failed, the step says where.
                cause.printStackTrace();
                failure = describe(cause) + ctx.lastStep();
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

    /** One line: the assertion message, or the exception chain's innermost type and message. */
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
            }
            text = best.getClass().getSimpleName() + (best.getMessage() == null ? "" : ": " + best.getMessage());
        }
        if (text == null || text.isBlank()) {
            text = t.getClass().getName();
        }
        text = text.replaceAll("[\\r\\n\\t]+", " ").trim();
        return text.length() > 400 ? text.substring(0, 400) + "..." : text;
    }

    /** The exception chain as {@code Type: message <- Type: message}, for diagnostics. */
    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(c.getClass().getSimpleName());
            if (c.getMessage() != null) {
                sb.append(": ").append(c.getMessage().replaceAll("[\\r\\n\\t]+", " "));
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString();
    }
}
