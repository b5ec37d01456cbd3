package dev.fjord.compat.flink;

/** A case's timeline on stderr; a case that times out names its last step. */
final class Log {
    private final String caseName;
    private final long start = System.nanoTime();
    private volatile String step = "";

    Log(String caseName) {
        this.caseName = caseName;
    }

    void log(String msg) {
        System.err.printf("[%s %6.1fs] %s%n", caseName, (System.nanoTime() - start) / 1e9, msg);
    }

    void step(String what) {
        step = what;
        log(what);
    }

    String lastStep() {
        return step.isEmpty() ? "" : " (during: " + step + ")";
    }
}
