package dev.fjord.compat.groups;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Which offsets of each partition of one topic the members of a group have
 * processed (by any member, at least once), and how many were processed more
 * than once.
 */
final class Tracker {
    private final BitSet[] processed;
    private final long[] duplicates;

    Tracker(int partitions) {
        processed = new BitSet[partitions];
        duplicates = new long[partitions];
        for (int p = 0; p < partitions; p++) {
            processed[p] = new BitSet();
        }
    }

    /** Records that offsets first..last (inclusive) of partition p were processed. */
    synchronized void add(int p, long first, long last) {
        BitSet b = processed[p];
        for (long o = first; o <= last; o++) {
            if (b.get((int) o)) {
                duplicates[p]++;
            } else {
                b.set((int) o);
            }
        }
    }

    /** True if every offset in [from[p], to[p]) of every partition was processed. */
    synchronized boolean covers(long[] from, long[] to) {
        for (int p = 0; p < processed.length; p++) {
            if (processed[p].nextClearBit((int) from[p]) < to[p]) {
                return false;
            }
        }
        return true;
    }

    /** The lowest processed offset of partition p, or -1. */
    synchronized long lowest(int p) {
        return processed[p].nextSetBit(0);
    }

    synchronized long duplicates() {
        long d = 0;
        for (long x : duplicates) {
            d += x;
        }
        return d;
    }

    /** Per partition: processed count and the first unprocessed offset in [from, to), for messages. */
    synchronized String describe(long[] from, long[] to) {
        List<String> parts = new ArrayList<>();
        for (int p = 0; p < processed.length; p++) {
            long firstMissing = processed[p].nextClearBit((int) from[p]);
            parts.add("p" + p + ": " + processed[p].cardinality() + " processed, "
                    + (firstMissing >= to[p] ? "complete" : "first missing " + firstMissing + " of [" + from[p] + "," + to[p] + ")"));
        }
        return String.join("; ", parts) + "; " + duplicates() + " duplicates";
    }
}
