package dev.fjord.compat;

import java.io.PrintStream;
import java.util.ArrayList;
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
 * Runs the Java client compat cases against one bootstrap address and prints
 * one line per case on stdout, as compat/run expects:
 *
 * <pre>RESULT &lt;case&gt;&lt;suffix&gt; &lt;pass|fail|xfail&gt; &lt;first line of the failure, or nothing&gt;</pre>
 *
 * Everything else (client logs, timings) goes to stderr.
 *
 * <p>Usage: {@code Main BOOTSTRAP [--suffix S] [--only REGEX] [--scale PERCENT]}. COMPAT_TARGET=fjord
 * turns failures of cases marked expected-to-fail-on-fjord into xfail.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Main BOOTSTRAP [--suffix S] [--only REGEX] [--scale PERCENT]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String suffix = "";
        Pattern only = null;
        int scale = 100;
        for (int i = 1; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--suffix" -> suffix = args[i + 1];
                case "--only" -> only = Pattern.compile(args[i + 1]);
                case "--scale" -> scale = Integer.parseInt(args[i + 1]);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        boolean onFjord = "fjord".equals(System.getenv("COMPAT_TARGET"));
        System.err.println("compat-java: kafka-clients " + AppInfoParser.getVersion() + " against " + bootstrap
                + (onFjord ? " (fjord)" : ""));

        List<Case> cases = new ArrayList<>();
        cases.addAll(ProduceCases.all(scale));
        cases.addAll(ConsumerCases.all());
        cases.addAll(AdminCases.all());
        cases.addAll(GroupCases.all());
        cases.addAll(ConfigCases.all());
        cases.addAll(SegmentRollCases.all());
        cases.addAll(BrokerConfigCases.all());

        PrintStream out = System.out;
        for (Case c : cases) {
            if (only != null && !only.matcher(c.name()).find()) {
                continue;
            }
            String failure = runOne(bootstrap, c);
            String name = c.name() + suffix;
            String line;
            if (c.expectedFailOnFjord() && onFjord) {
                line = "RESULT " + name + " xfail " + (failure == null ? "unexpected-pass" : failure);
            } else if (failure == null) {
                line = "RESULT " + name + " pass";
            } else {
                line = "RESULT " + name + " fail " + failure;
            }
            out.println(line);
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
            failure = "timed out after " + c.timeout().toSeconds() + " s";
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            cause.printStackTrace();
            failure = describe(cause);
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

    /** " at Class.method(File:line)" of the innermost compat frame that threw, or "". */
    static String at(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            for (StackTraceElement e : c.getStackTrace()) {
                if (e.getClassName().startsWith(Main.class.getPackageName() + ".")) {
                    String cls = e.getClassName().substring(e.getClassName().lastIndexOf('.') + 1);
                    return " at " + cls + "." + e.getMethodName() + "(" + e.getFileName() + ":" + e.getLineNumber() + ")";
                }
            }
        }
        return "";
    }

    /** One line: the assertion message, or the exception chain's types and first message. */
    static String describe(Throwable t) {
        String text;
        if (t instanceof Check.Failure) {
            text = t.getMessage();
        } else {
            Throwable root = t;
            while ((root instanceof ExecutionException || root.getMessage() == null) && root.getCause() != null) {
                root = root.getCause();
            }
            text = root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
            if (root.getMessage() == null) {
                text += at(t);
            }
        }
        if (text == null || text.isBlank()) {
            text = t.getClass().getName();
        }
        text = text.replaceAll("[\\r\\n\\t]+", " ").trim();
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }
}
