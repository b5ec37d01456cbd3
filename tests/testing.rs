//! `fjord::testing` as a user's test would use it: the README's example,
//! run for real with rskafka (a pure-Rust client), against one broker and
//! against a three-node cluster; and a dropped broker stops serving.

use std::collections::BTreeMap;
use std::time::Duration;

use fjord::testing::{TestBroker, TestCluster};
use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;

/// Upper bound on each test.
const TEST_DEADLINE: Duration = Duration::from_secs(90);

fn record(value: &str) -> Record {
    Record {
        key: Some(b"key".to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: BTreeMap::from([("h".to_string(), b"v".to_vec())]),
        timestamp: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
    }
}

/// Creates `topic`, produces two records and reads them back through
/// `bootstrap` (Kafka's `bootstrap.servers`, comma-separated), as the
/// README's example does.
async fn round_trip(bootstrap: String, topic: &str) -> anyhow::Result<()> {
    let servers = bootstrap.split(',').map(str::to_string).collect();
    let client = ClientBuilder::new(servers).build().await?;
    client.controller_client()?.create_topic(topic, 1, 1, 5_000).await?;
    let partition = client.partition_client(topic, 0, UnknownTopicHandling::Retry).await?;
    let offsets = partition
        .produce(vec![record("hello"), record("fjord")], Compression::NoCompression)
        .await?;
    assert_eq!(offsets, vec![0, 1]);
    let (records, high_watermark) = partition.fetch_records(0, 1..1_000_000, 1_000).await?;
    assert_eq!(high_watermark, 2);
    let values: Vec<_> = records
        .iter()
        .map(|r| (r.offset, r.record.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(values, vec![(0, b"hello".to_vec()), (1, b"fjord".to_vec())]);
    assert_eq!(records[0].record, record("hello"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_runs_against_one_broker() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let broker = TestBroker::start().await.expect("the broker starts");
        round_trip(broker.bootstrap(), "events").await.expect("round trip");
        assert!(broker.data_dir().join("events-0").is_dir());
        broker.stop().await;
    })
    .await
    .expect("the test finished within its deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_serves_a_client_through_any_node() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let cluster = TestCluster::start(3).await.expect("the cluster starts");
        assert_eq!(cluster.live_ids(), vec![1, 2, 3]);
        assert_eq!(cluster.bootstrap().split(',').count(), 3);
        round_trip(cluster.bootstrap(), "clustered").await.expect("round trip");
        cluster.stop().await;
    })
    .await
    .expect("the test finished within its deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_broker_stops_serving() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let broker = TestBroker::start().await.expect("the broker starts");
        let addr = broker.addr();
        let dir = broker.data_dir().to_path_buf();
        drop(broker);
        assert!(!dir.exists(), "the data directory is removed");
        // The listener task sees the stop signal on its next poll.
        let mut closed = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed, "the listener closed after the drop");
    })
    .await
    .expect("the test finished within its deadline");
}
