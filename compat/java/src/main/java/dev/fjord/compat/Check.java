package dev.fjord.compat;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Callable;

/** Assertions that fail a case with a one-line message. */
final class Check {
    private Check() {}

    static final class Failure extends AssertionError {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    static void that(boolean condition, String message) {
        if (!condition) {
            throw new Failure(message);
        }
    }

    static void equal(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new Failure(what + ": expected " + expected + ", got " + actual);
        }
    }

    static void bytesEqual(byte[] expected, byte[] actual, String what) {
        if (!Arrays.equals(expected, actual)) {
            throw new Failure(what + ": expected " + show(expected) + ", got " + show(actual));
        }
    }

    /** Fails unless {@code body} throws an exception that is (or is caused by) {@code type}. */
    static <T extends Throwable> T throwsCause(Class<T> type, Callable<?> body, String what) {
        try {
            body.call();
        } catch (Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (type.isInstance(c)) {
                    return type.cast(c);
                }
            }
            throw new Failure(what + ": expected " + type.getSimpleName() + ", got " + t);
        }
        throw new Failure(what + ": expected " + type.getSimpleName() + ", but it succeeded");
    }

    /**
     * Retries {@code probe} until it returns without failing or {@code within}
     * passes; for state that a broker may publish asynchronously (metadata
     * after an admin call), which Kafka itself only promises eventually.
     */
    static <T> T eventually(Duration within, Callable<T> probe) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                return probe.call();
            } catch (Failure | Exception e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    private static String show(byte[] b) {
        if (b == null) {
            return "null";
        }
        String s = new String(b, 0, Math.min(b.length, 24), java.nio.charset.StandardCharsets.ISO_8859_1);
        return "[" + b.length + " bytes \"" + s.replaceAll("[^\\x20-\\x7e]", ".") + (b.length > 24 ? "...\"]" : "\"]");
    }
}
