package dev.fjord.compat;

import java.util.Map;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.common.Cluster;

/**
 * A custom partitioner for the custom-partitioner case: record i (key "k<i>")
 * goes to partition (count - 1) - (i % count), which no built-in strategy would
 * pick, so the case can tell that the client used it and the broker kept it.
 */
public final class ModuloPartitioner implements Partitioner {
    static int expectedPartition(int i, int partitionCount) {
        return (partitionCount - 1) - (i % partitionCount);
    }

    @Override
    public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes,
                         Cluster cluster) {
        int count = cluster.partitionCountForTopic(topic);
        return expectedPartition(TestRecords.index(keyBytes), count);
    }

    @Override
    public void configure(Map<String, ?> configs) {}

    @Override
    public void close() {}
}
