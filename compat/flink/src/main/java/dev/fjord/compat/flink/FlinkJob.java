package dev.fjord.compat.flink;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.sink.TransactionNamingStrategy;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The job under test, in a local mini-cluster of this JVM (one per job):
 * KafkaSource (input topic, from the earliest offsets to the end offsets the
 * job saw when it started) → {@link ThrottledMap} → KafkaSink with
 * DeliveryGuarantee.EXACTLY_ONCE (transactions committed on checkpoint
 * completion) into the output topic. Checkpoints every second, kept on
 * cancellation; a failed task restarts from the latest checkpoint (fixed
 * delay, 3 attempts, 1 s apart).
 */
final class FlinkJob {
    static final int PARALLELISM = 2;
    static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
    /** Below the broker's transaction.max.timeout.ms (15 min by default), above any case's bound. */
    static final String TRANSACTION_TIMEOUT_MS = "300000";

    /** What one run of the job reads and writes, and how. */
    record Spec(String bootstrap, String inTopic, int inPartitions, String outTopic, String groupId,
            String transactionalIdPrefix, TransactionNamingStrategy naming, String probeName, long pauseNanos,
            long failAfter, Path checkpointDir, Path restoreFrom) {}

    private FlinkJob() {}

    static JobClient start(Spec s, String jobName) throws Exception {
        Configuration conf = new Configuration();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, CHECKPOINT_INTERVAL);
        conf.set(CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE, CheckpointingMode.EXACTLY_ONCE);
        conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, s.checkpointDir().toUri().toString());
        conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        conf.set(CheckpointingOptions.CHECKPOINTING_TIMEOUT, Duration.ofSeconds(30));
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofSeconds(1));
        conf.set(CoreOptions.TMP_DIRS, s.checkpointDir().resolve("tmp").toString());
        if (s.restoreFrom() != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, s.restoreFrom().toUri().toString());
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(PARALLELISM, conf);

        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(s.bootstrap())
                .setTopics(s.inTopic())
                .setGroupId(s.groupId())
                .setClientIdPrefix(s.groupId())
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .setProperty("request.timeout.ms", "10000")
                .setProperty("default.api.timeout.ms", "20000")
                .build();

        KafkaSink<String> sink = KafkaSink.<String>builder()
                .setBootstrapServers(s.bootstrap())
                .setRecordSerializer(KafkaRecordSerializationSchema.<String>builder()
                        .setTopic(s.outTopic())
                        .setKeySerializationSchema(new SimpleStringSchema())
                        .setValueSerializationSchema(new SimpleStringSchema())
                        .build())
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(s.transactionalIdPrefix())
                .setTransactionNamingStrategy(s.naming())
                .setProperty("transaction.timeout.ms", TRANSACTION_TIMEOUT_MS)
                .setProperty("request.timeout.ms", "10000")
                .setProperty("delivery.timeout.ms", "30000")
                .setProperty("max.block.ms", "20000")
                .build();

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka-in").uid("kafka-in")
                .map(new ThrottledMap(s.probeName(), s.pauseNanos(), s.failAfter(), s.inPartitions())).uid("map")
                .name("throttled-map")
                .sinkTo(sink).uid("kafka-out").name("kafka-out");
        return env.executeAsync(jobName);
    }
}
