package dev.fjord.compat.flink;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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

    /** Fails unless {@code values} holds v-0 .. v-(n-1), each exactly once. */
    static void exactlyOnce(String what, List<String> values, int n) {
        Map<String, Integer> count = new HashMap<>();
        for (String v : values) {
            count.merge(v, 1, Integer::sum);
        }
        List<String> missing = new ArrayList<>();
        List<String> twice = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Integer c = count.remove("v-" + i);
            if (c == null) {
                missing.add("v-" + i);
            } else if (c > 1) {
                twice.add("v-" + i + "x" + c);
            }
        }
        if (missing.isEmpty() && twice.isEmpty() && count.isEmpty()) {
            return;
        }
        throw new Failure(what + " holds " + values.size() + " records, expected the " + n + " values once each: "
                + missing.size() + " missing " + head(missing) + ", " + twice.size() + " more than once "
                + head(twice) + ", " + count.size() + " unknown " + head(new ArrayList<>(count.keySet())));
    }

    private static String head(List<String> l) {
        return l.isEmpty() ? "" : l.subList(0, Math.min(5, l.size())).toString();
    }
}
