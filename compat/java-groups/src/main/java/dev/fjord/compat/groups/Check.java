package dev.fjord.compat.groups;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

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

    /**
     * Waits until {@code condition} holds, calling {@code guard} on every
     * round (it throws to end the wait early, e.g. when a member failed);
     * fails with {@code what} and the current state after {@code within}.
     */
    static void await(Duration within, String what, Runnable guard, BooleanSupplier condition,
            Supplier<String> state) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            guard.run();
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new Failure(what + " not reached within " + within.toSeconds() + " s: " + state.get());
            }
            Thread.sleep(100);
        }
    }

    /** Retries {@code probe} until it returns without failing or {@code within} passes. */
    static <T> T eventually(Duration within, Callable<T> probe) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                return probe.call();
            } catch (Failure | Exception e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(250);
            }
        }
    }
}
