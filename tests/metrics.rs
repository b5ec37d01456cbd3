//! `metrics.listener`: a broker started with the HTTP listener on an
//! ephemeral port is produced to, consumed from and committed against with
//! the test client; `/metrics` is scraped over a real socket and every
//! metric family must be there with the values that traffic implies.
//! `/health` answers 200 while the broker serves and 503 once shutdown has
//! begun, while an in-flight long-poll Fetch is still answered.

#[path = "cluster/client.rs"]
mod client;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::{
    fetch_request, produce_request, BrokerId, CreateTopicsRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    OffsetCommitRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use client::Client;

const TOPIC: &str = "metered";
const GROUP: &str = "metered-group";
/// Upper bound on the whole test.
const TEST_DEADLINE: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn batch(records: usize) -> Bytes {
    let records: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // One batch: the encoder splits where offset - sequence changes.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("value {i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode a record batch");
    buf.freeze()
}

fn fetch_request(offset: i64, max_wait_ms: i32) -> FetchRequest {
    let mut fp = fetch_request::FetchPartition::default();
    fp.partition = 0;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    let mut ft = fetch_request::FetchTopic::default();
    ft.topic = TopicName(str_bytes(TOPIC));
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.session_epoch = -1;
    req.topics.push(ft);
    req
}

/// One HTTP/1.1 GET over a fresh connection: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    exchange(addr, "GET", path).await
}

async fn exchange(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the metrics listener");
        let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.expect("write the request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read the response");
        String::from_utf8(raw).expect("a UTF-8 response")
    };
    let text = tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .expect("the HTTP listener answers in time");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    (status, body.to_string())
}

/// Samples by their full name with labels (`name{a="b"}`), and every family
/// declared with `# TYPE`.
fn parse(body: &str) -> (BTreeMap<String, f64>, Vec<String>) {
    let mut samples = BTreeMap::new();
    let mut families = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.push(rest.split(' ').next().expect("a family name").to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (name, value) = line.rsplit_once(' ').expect("a sample line");
            samples.insert(name.to_string(), value.parse().expect("a numeric value"));
        }
    }
    (samples, families)
}

fn value(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no sample {name} among {:#?}", samples.keys().collect::<Vec<_>>()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_over_http() {
    tokio::time::timeout(TEST_DEADLINE, scenario())
        .await
        .expect("the test finished within its deadline");
}

async fn scenario() {
    let broker = fjord::testing::TestBroker::start_with(&[
        ("metrics.listener", "http://127.0.0.1:0"),
        ("offsets.topic.num.partitions", "1"),
    ])
    .await
    .expect("the broker starts");
    let http = broker.metrics_addr().expect("metrics.listener is bound");
    assert_eq!(get(http, "/health").await, (200, "serving\n".to_string()));
    assert_eq!(get(http, "/nothing").await.0, 404);
    assert_eq!(exchange(http, "DELETE", "/metrics").await.0, 405);

    let mut c = Client::connect(broker.addr()).await;
    let mut topic = CreatableTopic::default();
    topic.name = TopicName(str_bytes(TOPIC));
    topic.num_partitions = 1;
    topic.replication_factor = 1;
    let mut create = CreateTopicsRequest::default();
    create.topics.push(topic);
    create.timeout_ms = 10_000;
    let created = c.call(7, &create).await;
    assert_eq!(created.topics[0].error_code, 0, "{created:?}");

    let records = batch(3);
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(records.clone());
    let mut td = produce_request::TopicProduceData::default();
    td.name = TopicName(str_bytes(TOPIC));
    td.partition_data.push(pd);
    let mut produce = ProduceRequest::default();
    produce.acks = -1;
    produce.timeout_ms = 5_000;
    produce.topic_data.push(td);
    let produced = c.call(9, &produce).await;
    assert_eq!(
        produced.responses[0].partition_responses[0].error_code, 0,
        "{produced:?}"
    );

    let fetched = c.call(12, &fetch_request(0, 0)).await;
    let p = &fetched.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "{p:?}");
    assert_eq!(p.records.as_ref().map(Bytes::len), Some(records.len()));

    // A simple (generation -1) commit at offset 1 of 3: a lag of 2.
    let mut find = FindCoordinatorRequest::default();
    find.key = str_bytes(GROUP);
    let found = c.call(3, &find).await;
    assert_eq!(found.error_code, 0, "{found:?}");
    let mut cp = OffsetCommitRequestPartition::default();
    cp.partition_index = 0;
    cp.committed_offset = 1;
    let mut ct = OffsetCommitRequestTopic::default();
    ct.name = TopicName(str_bytes(TOPIC));
    ct.partitions.push(cp);
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(str_bytes(GROUP));
    commit.generation_id_or_member_epoch = -1;
    commit.topics.push(ct);
    let committed = c.call(8, &commit).await;
    assert_eq!(committed.topics[0].partitions[0].error_code, 0, "{committed:?}");

    let (status, body) = get(http, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let (samples, families) = parse(&body);
    for family in [
        "fjord_requests_total",
        "fjord_request_duration_seconds",
        "fjord_topic_bytes_in_total",
        "fjord_topic_records_in_total",
        "fjord_topic_bytes_out_total",
        "fjord_topic_records_out_total",
        "fjord_partition_log_size_bytes",
        "fjord_partition_log_start_offset",
        "fjord_partition_log_end_offset",
        "fjord_partition_high_watermark",
        "fjord_under_replicated_partitions",
        "fjord_groups",
        "fjord_consumer_group_lag",
        "fjord_connections",
    ] {
        assert!(families.iter().any(|f| f == family), "family {family} missing:\n{body}");
    }
    assert_eq!(value(&samples, r#"fjord_requests_total{request="Produce"}"#), 1.0);
    assert_eq!(value(&samples, r#"fjord_requests_total{request="Fetch"}"#), 1.0);
    assert_eq!(value(&samples, r#"fjord_requests_total{request="OffsetCommit"}"#), 1.0);
    assert_eq!(
        value(&samples, r#"fjord_request_duration_seconds_count{request="Produce"}"#),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            r#"fjord_request_duration_seconds_bucket{request="Produce",le="+Inf"}"#
        ),
        1.0
    );
    assert!(value(&samples, r#"fjord_request_duration_seconds_sum{request="Produce"}"#) > 0.0);
    let topic = |name: &str| format!(r#"{name}{{topic="{TOPIC}"}}"#);
    let bytes = records.len() as f64;
    assert_eq!(value(&samples, &topic("fjord_topic_bytes_in_total")), bytes);
    assert_eq!(value(&samples, &topic("fjord_topic_records_in_total")), 3.0);
    assert_eq!(value(&samples, &topic("fjord_topic_bytes_out_total")), bytes);
    assert_eq!(value(&samples, &topic("fjord_topic_records_out_total")), 3.0);
    let partition = |name: &str| format!(r#"{name}{{topic="{TOPIC}",partition="0"}}"#);
    assert_eq!(value(&samples, &partition("fjord_partition_log_size_bytes")), bytes);
    assert_eq!(value(&samples, &partition("fjord_partition_log_start_offset")), 0.0);
    assert_eq!(value(&samples, &partition("fjord_partition_log_end_offset")), 3.0);
    assert_eq!(value(&samples, &partition("fjord_partition_high_watermark")), 3.0);
    assert_eq!(value(&samples, "fjord_under_replicated_partitions"), 0.0);
    assert_eq!(value(&samples, r#"fjord_groups{state="Empty"}"#), 1.0);
    assert_eq!(value(&samples, r#"fjord_groups{state="Stable"}"#), 0.0);
    assert_eq!(
        value(
            &samples,
            &format!(r#"fjord_consumer_group_lag{{group="{GROUP}",topic="{TOPIC}",partition="0"}}"#)
        ),
        2.0
    );
    assert_eq!(value(&samples, "fjord_connections"), 1.0);

    // Shutdown with a long-poll Fetch in flight: /health turns 503 at
    // once, and the Fetch is still answered before the broker stops.
    let in_flight = tokio::spawn(async move { c.call(12, &fetch_request(3, 1_500)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(broker.stop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = get(http, "/health").await;
        if status == 503 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "/health never reported the shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!in_flight.is_finished(), "the long poll is still waiting");
    let answered = in_flight.await.expect("the in-flight Fetch is answered");
    let p = &answered.responses[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (0, 3), "{p:?}");
    stopping.await.expect("the broker stops");
    let refused = tokio::net::TcpStream::connect(http).await;
    assert!(refused.is_err(), "the metrics listener is closed after shutdown");
}

/// A broker-only node whose controller is not there yet cannot join the
/// cluster: `start` does not return, and meanwhile `/health` says 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_until_the_broker_serves() {
    let dir = tempfile::tempdir().expect("a data dir");
    let silent_controller = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    // From this test's own port range: the address must be known before
    // `start`, which does not return here.
    let http: SocketAddr = "127.0.0.1:39250".parse().expect("an address");
    let mut set = BTreeMap::new();
    for (k, v) in [
        ("process.roles", "broker".to_string()),
        ("node.id", "2".to_string()),
        ("controller.quorum.voters", format!("1@{silent_controller}")),
        ("listeners", "PLAINTEXT://127.0.0.1:0".to_string()),
        ("log.dirs", dir.path().display().to_string()),
        ("metrics.listener", format!("http://{http}")),
    ] {
        set.insert(k.to_string(), v);
    }
    let config = fjord::Config::from_sources(&set).expect("a valid config");
    let starting = tokio::spawn(fjord::start(config));
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if tokio::net::TcpStream::connect(http).await.is_ok() {
            break get(http, "/health").await;
        }
        assert!(Instant::now() < deadline, "the metrics listener never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(health, (503, "not serving\n".to_string()));
    assert!(!starting.is_finished(), "start-up is still waiting for the controller");
    starting.abort();
}
