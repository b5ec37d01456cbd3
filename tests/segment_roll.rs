//! Time-based segment rolling as Kafka decides it (issue 17): batches are
//! judged by their record timestamps against the first batch of the active
//! segment, so a month-old backlog produced in one go lands in one segment,
//! while record time that advances past `segment.ms` still rolls.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use fjord::broker::now_ms;
use fjord::{Broker, Config};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const DAY_MS: i64 = 86_400_000;

fn config(dir: &std::path::Path) -> Config {
    let mut set = BTreeMap::new();
    set.insert("log.dirs".to_string(), dir.display().to_string());
    set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
    Config::from_sources(&set).unwrap()
}

async fn create_topic(broker: &Broker, name: &str, configs: &[(&str, &str)]) {
    let name = name.to_string();
    let configs: BTreeMap<String, String> = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    broker
        .write_metadata(move |image| {
            let topic = fjord::metadata::controller::NewTopic {
                name: &name,
                num_partitions: 1,
                replication_factor: 1,
                assignments: None,
                configs,
            };
            fjord::metadata::controller::create_topic(image, &topic, 0)
        })
        .await
        .unwrap();
}

/// One uncompressed v2 batch of one record with a CreateTime timestamp.
fn batch(timestamp: i64, value: String) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp,
        key: None,
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn segment_files(broker: &Broker, topic: &str) -> usize {
    let dir = broker.replicas.get(topic, 0).unwrap().dir();
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "log"))
        .count()
}

/// Records in one fetch from `offset` with a large max_bytes.
fn records_in_one_fetch(broker: &Broker, topic: &str, offset: i64) -> usize {
    let snap = broker
        .replicas
        .get(topic, 0)
        .unwrap()
        .fetch(
            offset,
            50 << 20,
            true,
            fjord::replication::partition::Isolation::HighWatermark,
            None,
        )
        .unwrap();
    let Some(plan) = snap.plan else {
        return 0;
    };
    let mut bytes = plan.read().unwrap();
    let mut n = 0;
    while !bytes.is_empty() {
        n += RecordBatchDecoder::decode(&mut bytes).unwrap().records.len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_back_dated_batches_share_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    create_topic(&broker, "backfill", &[]).await;
    let partition = broker.replicas.get("backfill", 0).unwrap();
    let month_ago = now_ms() - 30 * DAY_MS;
    for i in 0..500 {
        partition
            .append_as_leader(&batch(month_ago + i * 10, format!("v{i}")), 1, now_ms(), None)
            .unwrap();
    }
    assert_eq!(
        segment_files(&broker, "backfill"),
        1,
        "Apache Kafka keeps one segment too"
    );
    assert_eq!(records_in_one_fetch(&broker, "backfill", 0), 500);

    // After a restart the segment's first timestamp is read back from the
    // file, and more of the backlog still joins the same segment.
    drop((partition, broker));
    running.shutdown().await;
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    let partition = broker.replicas.get("backfill", 0).unwrap();
    for i in 500..600 {
        partition
            .append_as_leader(&batch(month_ago + i * 10, format!("v{i}")), 1, now_ms(), None)
            .unwrap();
    }
    assert_eq!(segment_files(&broker, "backfill"), 1);
    assert_eq!(records_in_one_fetch(&broker, "backfill", 0), 600);
    drop(broker);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_time_advancing_past_segment_ms_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    create_topic(&broker, "advancing", &[("segment.ms", "60000")]).await;
    let partition = broker.replicas.get("advancing", 0).unwrap();
    // Back-dated by a month, 10 s of record time apart, produced within
    // moments of wall-clock time: a new segment whenever a batch is more
    // than 60 s after the first batch of its segment (offsets 0, 7, 14, 21).
    let month_ago = now_ms() - 30 * DAY_MS;
    for i in 0..28 {
        partition
            .append_as_leader(&batch(month_ago + i * 10_000, format!("v{i}")), 1, now_ms(), None)
            .unwrap();
    }
    assert_eq!(segment_files(&broker, "advancing"), 4);
    // A read returns one segment's batches, as Kafka's LocalLog.read does.
    assert_eq!(records_in_one_fetch(&broker, "advancing", 0), 7);
    assert_eq!(records_in_one_fetch(&broker, "advancing", 9), 5);
    drop(broker);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_timestamps_keep_one_segment_and_log_append_time_ignores_client_time() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    create_topic(&broker, "current", &[]).await;
    create_topic(
        &broker,
        "appendtime",
        &[("message.timestamp.type", "LogAppendTime"), ("segment.ms", "60000")],
    )
    .await;
    for i in 0..200 {
        let p = broker.replicas.get("current", 0).unwrap();
        p.append_as_leader(&batch(now_ms(), format!("v{i}")), 1, now_ms(), None)
            .unwrap();
        // Client timestamps a day apart mean nothing on a LogAppendTime topic.
        let p = broker.replicas.get("appendtime", 0).unwrap();
        p.append_as_leader(&batch(now_ms() - i * DAY_MS, format!("v{i}")), 1, now_ms(), None)
            .unwrap();
    }
    assert_eq!(segment_files(&broker, "current"), 1);
    assert_eq!(segment_files(&broker, "appendtime"), 1);
    drop(broker);
    running.shutdown().await;
}
