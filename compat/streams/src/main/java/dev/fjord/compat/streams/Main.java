package dev.fjord.compat.streams;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The Kafka Streams compat suite: a word-count application run against one
 * broker, once per processing guarantee. Prints one line per case on stdout,
 * as compat/run expects:
 *
 * <pre>RESULT &lt;case&gt; &lt;pass|fail&gt; &lt;first line of the failure, or nothing&gt;</pre>
 *
 * Everything else (client logs, progress) goes to stderr.
 *
 * <p>Usage: {@code Main BOOTSTRAP [--only REGEX] [--timeout SECONDS] [--state-dir DIR]}.
 */
public final class Main {
    private Main() {}

    /** A case: its RESULT name and the processing guarantee it runs the application with. */
    record Case(String name, String guarantee) {}

    static final List<Case> CASES = List.of(
            // The classic group protocol (FindCoordinator, JoinGroup, SyncGroup, OffsetCommit).
            new Case("streams-wordcount-alos", StreamsConfig.AT_LEAST_ONCE),
            // Also transactions: InitProducerId with a transactional.id, FindCoordinator for the
            // transaction coordinator, AddPartitionsToTxn, TxnOffsetCommit, EndTxn, and
            // read_committed fetches.
            new Case("streams-wordcount-eos", StreamsConfig.EXACTLY_ONCE_V2));

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Main BOOTSTRAP [--only REGEX] [--timeout SECONDS] [--state-dir DIR]");
            System.exit(2);
        }
        String bootstrap = args[0];
        boolean onFjord = "fjord".equals(System.getenv("COMPAT_TARGET"));
        Pattern only = null;
        int timeoutS = 120;
        Path stateRoot = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 1; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--only" -> only = Pattern.compile(args[i + 1]);
                case "--timeout" -> timeoutS = Integer.parseInt(args[i + 1]);
                case "--state-dir" -> stateRoot = Path.of(args[i + 1]);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        // Client warnings and errors are remembered per case, so a failure
        // can name what the client complained about.
        LogTail tail = new LogTail(System.err);
        System.setErr(new PrintStream(tail, true, StandardCharsets.UTF_8));
        System.err.println("compat-streams: kafka-streams " + AppInfoParser.getVersion() + " against " + bootstrap
                + (onFjord ? " (fjord)" : "") + ", " + timeoutS + " s per case");

        PrintStream out = System.out;
        for (Case c : CASES) {
            if (only != null && !only.matcher(c.name()).find()) {
                continue;
            }
            tail.reset();
            String failure = runOne(bootstrap, c, timeoutS, stateRoot, tail);
            String line;
            if (failure == null) {
                line = "RESULT " + c.name() + " pass";
            } else {
                line = "RESULT " + c.name() + " fail " + failure;
            }
            out.println(line);
            out.flush();
        }
        // Client threads of a case that overran its bound may still be alive.
        System.exit(0);
    }

    /**
     * Runs one case on its own thread. The case keeps its own deadline
     * ({@code timeoutS}); the wait here is only a backstop for a client call
     * that does not return, and leaves room for the case to close its clients.
     */
    static String runOne(String bootstrap, Case c, int timeoutS, Path stateRoot, LogTail tail) {
        long start = System.nanoTime();
        WordCount wc = new WordCount(bootstrap, c.name(), c.guarantee(), timeoutS, stateRoot, tail);
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "case-" + c.name());
            t.setDaemon(true);
            return t;
        });
        Future<?> future = executor.submit(() -> {
            wc.run();
            return null;
        });
        String failure;
        try {
            future.get(timeoutS + 60L, TimeUnit.SECONDS);
            failure = null;
        } catch (TimeoutException e) {
            future.cancel(true);
            failure = "case did not end within " + (timeoutS + 60) + " s (" + wc.progress() + ")";
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (!(cause instanceof WordCount.Failure)) {
                cause.printStackTrace();
            }
            failure = oneLine(cause);
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

    /** The failure message, or the exception chain's innermost type and message, on one line. */
    static String oneLine(Throwable t) {
        String text;
        if (t instanceof WordCount.Failure) {
            text = t.getMessage();
        } else {
            text = describe(t);
        }
        text = text.replaceAll("[\\r\\n\\t]+", " ").trim();
        return text.length() > 400 ? text.substring(0, 400) + "..." : text;
    }

    /** "Type: message" of the innermost cause that has a message. */
    static String describe(Throwable t) {
        Throwable best = t;
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null) {
                best = c;
            }
        }
        return best.getClass().getSimpleName() + (best.getMessage() == null ? "" : ": " + best.getMessage());
    }
}
