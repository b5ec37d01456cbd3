package dev.fjord.compat;

import java.time.Duration;

/**
 * One compat case: a name (the RESULT line's case name, before the client
 * line's suffix), a time bound, and whether an open fjord issue makes it
 * expected to fail on fjord.
 */
record Case(String name, Duration timeout, boolean expectedFailOnFjord, Body body) {

    /** The case's work; it fails by throwing. */
    @FunctionalInterface
    interface Body {
        void run(Ctx ctx) throws Exception;
    }

    static Case of(String name, int timeoutSeconds, Body body) {
        return new Case(name, Duration.ofSeconds(timeoutSeconds), false, body);
    }

    /** A case that is expected to fail on fjord until the named issue is fixed. */
    static Case xfailOnFjord(String name, int timeoutSeconds, Body body) {
        return new Case(name, Duration.ofSeconds(timeoutSeconds), true, body);
    }
}
