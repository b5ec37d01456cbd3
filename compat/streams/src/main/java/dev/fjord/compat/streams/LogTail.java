package dev.fjord.compat.streams;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passes everything written to it on to stderr and remembers, since the
 * last {@link #reset()}, the first ERROR line and the first WARN line that
 * slf4j-simple wrote (with the exception that follows it, if any), so that a
 * failing case can quote what the client complained about. Warnings that
 * Kafka itself provokes in every healthy run (an internal topic not created
 * yet, the state directory) count only if nothing else was logged.
 */
final class LogTail extends OutputStream {
    /** slf4j-simple: "<millis> [thread] LEVEL logger - message". */
    private static final Pattern LINE = Pattern.compile("^\\S* ?\\[[^\\]]*\\] (ERROR|WARN) (\\S+) - (.*)$");
    private static final Pattern EXCEPTION = Pattern.compile("^(?:[\\w$]+\\.)*([\\w$]*(?:Exception|Error))(?:: (.*))?$");
    /** Client and thread prefixes that only repeat long generated ids. */
    private static final Pattern PREFIXES = Pattern.compile(
            "\\[(?:Producer|Consumer|AdminClient) clientId=[^\\]]*\\] |(?:stream-thread|stream-client|task) \\[[^\\]]*\\] ");
    private static final String[] ROUTINE = {
        "reported a recoverable issue", // metadata of an internal topic that Streams is about to create
        "Using an OS temp directory",
        "Failed to delete state store directory",
    };

    private final PrintStream target;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private StringBuilder firstError;
    private StringBuilder firstWarn;
    private StringBuilder firstRoutine;
    /** The complaint the previous line started, which an exception line may complete. */
    private StringBuilder open;

    LogTail(PrintStream target) {
        this.target = target;
    }

    @Override
    public synchronized void write(int b) {
        target.write(b);
        if (b == '\n') {
            endLine();
        } else {
            line.write(b);
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        target.write(b, off, len);
        for (int i = off; i < off + len; i++) {
            if (b[i] == '\n') {
                endLine();
            } else {
                line.write(b[i]);
            }
        }
    }

    @Override
    public void flush() {
        target.flush();
    }

    private void endLine() {
        String s = line.toString(StandardCharsets.UTF_8).strip();
        line.reset();
        Matcher m = LINE.matcher(s);
        if (!m.matches()) {
            Matcher e = EXCEPTION.matcher(s);
            if (open != null && e.matches()) {
                open.append(" | ").append(e.group(1));
                if (e.group(2) != null) {
                    open.append(": ").append(e.group(2));
                }
            }
            open = null;
            return;
        }
        open = null;
        String logger = m.group(2).substring(m.group(2).lastIndexOf('.') + 1);
        String message = PREFIXES.matcher(m.group(3)).replaceAll("");
        // The first sentence says what happened; the rest is usually advice.
        int stop = message.indexOf(". ", 30);
        if (stop > 0) {
            message = message.substring(0, stop);
        }
        StringBuilder complaint = new StringBuilder(m.group(1) + " " + logger + " - " + message);
        if (m.group(1).equals("ERROR")) {
            if (firstError == null) {
                firstError = open = complaint;
            }
        } else if (routine(s)) {
            if (firstRoutine == null) {
                firstRoutine = open = complaint;
            }
        } else if (firstWarn == null) {
            firstWarn = open = complaint;
        }
    }

    private static boolean routine(String s) {
        for (String r : ROUTINE) {
            if (s.contains(r)) {
                return true;
            }
        }
        return false;
    }

    synchronized void reset() {
        firstError = null;
        firstWarn = null;
        firstRoutine = null;
        open = null;
    }

    /** The first ERROR since the reset, else the first WARN, else the first routine WARN, else null. */
    synchronized String complaint() {
        StringBuilder c = firstError != null ? firstError : firstWarn != null ? firstWarn : firstRoutine;
        return c == null ? null : c.toString();
    }
}
