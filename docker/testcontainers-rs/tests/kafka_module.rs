//! fjord's image in place of apache/kafka under testcontainers-rs: the
//! community Kafka module's apache variant (its environment, its start
//! script in /opt/kafka, its wait for "Kafka Server started" on stdout, its
//! mapped port) starts the image, and records round-trip through it.
//!
//! `FJORD_IMAGE` names the image (default `fjord:test`, which
//! `make docker-test` builds). Needs a Docker engine.

use std::collections::BTreeMap;
use std::time::Duration;

use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use testcontainers_modules::kafka::apache;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::ImageExt;

const PARTITIONS: i32 = 3;
const RECORDS: usize = 200;

#[tokio::test]
async fn the_apache_kafka_module_runs_the_fjord_image() {
    let image = std::env::var("FJORD_IMAGE").unwrap_or_else(|_| "fjord:test".into());
    let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
    let kafka = tokio::time::timeout(
        Duration::from_secs(120),
        apache::Kafka::default().with_name(name).with_tag(tag).start(),
    )
    .await
    .expect("the container is ready within 120 s")
    .expect("the container starts");
    let port = kafka
        .get_host_port_ipv4(apache::KAFKA_PORT)
        .await
        .expect("port 9092 is mapped");
    let bootstrap = format!("127.0.0.1:{port}");

    tokio::time::timeout(Duration::from_secs(60), round_trip(&bootstrap))
        .await
        .expect("the round trip ends within 60 s");
}

async fn round_trip(bootstrap: &str) {
    let client = ClientBuilder::new(vec![bootstrap.to_string()])
        .client_id("fjord-testcontainers-rs")
        .build()
        .await
        .expect("the client connects");
    let topic = "testcontainers-rs";
    client
        .controller_client()
        .expect("a controller client")
        .create_topic(topic, PARTITIONS, 1, 10_000)
        .await
        .expect("CreateTopics succeeds");

    for partition in 0..PARTITIONS {
        let pc = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .expect("a partition client");
        let sent: Vec<Record> = (0..RECORDS)
            .map(|i| Record {
                key: Some(format!("key-{i}").into_bytes()),
                value: Some(format!("partition-{partition}-value-{i}").into_bytes()),
                headers: BTreeMap::from([("n".to_string(), i.to_string().into_bytes())]),
                timestamp: chrono::Utc::now(),
            })
            .collect();
        let offsets = pc
            .produce(sent.clone(), Compression::NoCompression)
            .await
            .expect("Produce succeeds");
        assert_eq!(offsets, (0..RECORDS as i64).collect::<Vec<_>>());

        let mut received = Vec::new();
        while received.len() < RECORDS {
            let (batch, high_watermark) = pc
                .fetch_records(received.len() as i64, 1..1_000_000, 1_000)
                .await
                .expect("Fetch succeeds");
            assert_eq!(high_watermark, RECORDS as i64);
            received.extend(batch);
        }
        assert_eq!(received.len(), RECORDS);
        for (i, (got, want)) in received.iter().zip(&sent).enumerate() {
            assert_eq!(got.offset, i as i64);
            assert_eq!(got.record.key, want.key);
            assert_eq!(got.record.value, want.value);
            assert_eq!(got.record.headers, want.headers);
        }
    }
}
