//! Dynamic broker configs apply without a restart (KIP-226): lowering the
//! cluster-wide `log.retention.ms` default makes the next retention pass
//! delete an old segment of a topic that has no retention.ms of its own,
//! while a topic with its own retention.ms keeps its records.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use fjord::broker::now_ms;
use fjord::metadata::controller::{alter_broker_configs, create_topic, NewTopic};
use fjord::{Broker, Config};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
};

const HOUR_MS: i64 = 3_600_000;

fn config(dir: &std::path::Path) -> Config {
    let mut set = BTreeMap::new();
    set.insert("log.dirs".to_string(), dir.display().to_string());
    set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
    Config::from_sources(&set).unwrap()
}

/// One uncompressed batch of `count` records stamped `timestamp_ms`.
fn batch(count: usize, timestamp_ms: i64) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch when offset - sequence changes.
            sequence: i as i32 - 1,
            timestamp: timestamp_ms,
            key: None,
            value: Some(Bytes::from_static(b"old")),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.freeze()
}

async fn create(broker: &Broker, name: &str, configs: &[(&str, &str)]) {
    let name = name.to_string();
    let configs: BTreeMap<String, String> = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    broker
        .write_metadata(move |image| {
            let topic = NewTopic {
                name: &name,
                num_partitions: 1,
                replication_factor: 1,
                assignments: None,
                configs,
            };
            create_topic(image, &topic, 0)
        })
        .await
        .unwrap();
}

async fn set_cluster_default(broker: &Broker, key: &str, value: Option<&str>) {
    let changes = BTreeMap::from([(key.to_string(), value.map(str::to_string))]);
    broker
        .write_metadata(move |_| alter_broker_configs("", &changes))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowered_cluster_default_retention_deletes_old_segments_live() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    create(&broker, "follows-default", &[]).await;
    create(&broker, "keeps-forever", &[("retention.ms", "-1")]).await;
    let now = now_ms();
    // Two hours old: inside the static default (7 days).
    for topic in ["follows-default", "keeps-forever"] {
        let p = broker.replicas.get(topic, 0).unwrap();
        p.append_as_leader(&batch(5, now - 2 * HOUR_MS), 1, now, None).unwrap();
    }
    broker.replicas.enforce_retention(now);
    let start = |topic: &str| broker.replicas.get(topic, 0).unwrap().offsets().log_start_offset;
    assert_eq!(
        start("follows-default"),
        0,
        "7 days of retention keep a 2-hour-old segment"
    );

    set_cluster_default(&broker, "log.retention.ms", Some(&HOUR_MS.to_string())).await;
    broker.replicas.enforce_retention(now_ms());
    assert_eq!(
        start("follows-default"),
        5,
        "the lowered default (1 hour) deleted the old segment without a restart"
    );
    assert_eq!(
        start("keeps-forever"),
        0,
        "a topic's own retention.ms wins over the default"
    );

    // Deleting the dynamic default restores the static one for new data.
    set_cluster_default(&broker, "log.retention.ms", None).await;
    let p = broker.replicas.get("follows-default", 0).unwrap();
    p.append_as_leader(&batch(1, now - 2 * HOUR_MS), 1, now, None).unwrap();
    broker.replicas.enforce_retention(now_ms());
    assert_eq!(start("follows-default"), 5, "back to 7 days: the new old batch stays");
    drop(broker);
    running.shutdown().await;
}
