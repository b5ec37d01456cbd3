package dev.fjord.compat.txn;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
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

    /**
     * Fails unless the two lists are equal, naming the sizes, the first index
     * where they differ and a few elements on each side of it.
     */
    static <T> void sameList(String what, List<T> expected, List<T> actual) {
        if (expected.equals(actual)) {
            return;
        }
        int i = 0;
        while (i < expected.size() && i < actual.size() && Objects.equals(expected.get(i), actual.get(i))) {
            i++;
        }
        throw new Failure(what + ": expected " + expected.size() + " elements, got " + actual.size()
                + "; first difference at index " + i + ": expected " + window(expected, i) + ", got "
                + window(actual, i));
    }

    /** Fails unless the two collections hold the same elements, naming what is missing and what is extra. */
    static <T extends Comparable<T>> void sameSet(String what, Collection<T> expected, Collection<T> actual) {
        Set<T> missing = new TreeSet<>(expected);
        missing.removeAll(actual);
        Set<T> extra = new TreeSet<>(actual);
        extra.removeAll(expected);
        if (!missing.isEmpty() || !extra.isEmpty()) {
            throw new Failure(what + ": expected " + expected.size() + ", got " + actual.size() + "; missing "
                    + missing.size() + " " + sample(missing) + ", unexpected " + extra.size() + " " + sample(extra));
        }
    }

    static <T> String sample(Collection<T> c) {
        List<T> l = new ArrayList<>();
        for (T t : c) {
            if (l.size() == 5) {
                return l + "...";
            }
            l.add(t);
        }
        return l.toString();
    }

    private static <T> String window(List<T> l, int i) {
        int from = Math.max(0, i - 1);
        int to = Math.min(l.size(), i + 3);
        return (from > 0 ? "[..., " : "[") + String.join(", ", l.subList(from, to).stream().map(String::valueOf).toList())
                + (to < l.size() ? ", ...]" : "]");
    }
}
