//! Clean shutdown under load: the real `fjord` binary takes acks=all
//! produces from several connections when it gets SIGTERM. It must exit by
//! itself, and the next start on the same data dir must load every log
//! without recovering a segment (the log says so in one summary line) and
//! still hold every acknowledged record.

#[path = "cluster/client.rs"]
mod client;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    create_topics_request, fetch_request, produce_request, ApiVersionsRequest, CreateTopicsRequest, FetchRequest,
    ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use client::Client;

/// In this test suite's port range.
const PORT: u16 = 39301;
const TOPIC: &str = "clean-shutdown";
const PARTITIONS: i32 = 4;
const PRODUCERS: usize = 4;
const RECORDS_PER_BATCH: usize = 10;
/// How long the load runs before SIGTERM.
const LOAD_BEFORE_TERM: Duration = Duration::from_millis(1500);
const TEST_DEADLINE: Duration = Duration::from_secs(120);

struct Broker {
    child: Child,
}

impl Broker {
    fn start(dir: &Path, log_file: &Path) -> Broker {
        let stderr = std::fs::File::create(log_file).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_fjord"))
            .arg("--override")
            .arg(format!("listeners=PLAINTEXT://127.0.0.1:{PORT}"))
            .arg("--override")
            .arg(format!("log.dirs={}", dir.display()))
            .arg("--override")
            // Small segments: several rolls (and producer snapshots) per partition.
            .arg("log.segment.bytes=65536")
            .env("FJORD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("fjord binary starts");
        Broker { child }
    }

    /// SIGTERM, then wait (bounded) for the process to exit by itself.
    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: signals the child this test spawned, by its pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM delivered");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "fjord did not exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects once the broker answers ApiVersions.
async fn ready_client(deadline: Instant) -> Client {
    loop {
        assert!(Instant::now() < deadline, "fjord did not start in time");
        if tokio::net::TcpStream::connect(("127.0.0.1", PORT)).await.is_ok() {
            let mut c = Client::connect(("127.0.0.1", PORT)).await;
            if c.try_call(3, &ApiVersionsRequest::default()).await.is_some() {
                return c;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn batch(values: &[String]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps offset - sequence constant within a batch.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(v.clone())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode batch");
    buf.freeze()
}

fn produce(partition: i32, records: Bytes) -> ProduceRequest {
    let mut pd = produce_request::PartitionProduceData::default();
    pd.index = partition;
    pd.records = Some(records);
    let mut td = produce_request::TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str(TOPIC));
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    req
}

/// Produces until the broker goes away; returns the acknowledged values.
async fn producer(id: usize, acked: Arc<Mutex<Vec<String>>>) {
    let mut c = Client::connect(("127.0.0.1", PORT)).await;
    for n in 0.. {
        let partition = ((id + n) % PARTITIONS as usize) as i32;
        let values: Vec<String> = (0..RECORDS_PER_BATCH).map(|i| format!("p{id}-b{n}-r{i}")).collect();
        let Some(resp) = c.try_call(9, &produce(partition, batch(&values))).await else {
            return;
        };
        let p = &resp.responses[0].partition_responses[0];
        if p.error_code != 0 {
            // Not acknowledged (a partition not led yet, or shutting down).
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        acked.lock().unwrap().extend(values);
    }
}

async fn read_partition(c: &mut Client, partition: i32, seen: &mut HashSet<String>) {
    let mut offset = 0i64;
    loop {
        let mut fp = fetch_request::FetchPartition::default();
        fp.partition = partition;
        fp.fetch_offset = offset;
        fp.partition_max_bytes = 1 << 20;
        let mut ft = fetch_request::FetchTopic::default();
        ft.topic = TopicName(StrBytes::from_static_str(TOPIC));
        ft.partitions = vec![fp];
        let mut req = FetchRequest::default();
        req.max_wait_ms = 0;
        req.max_bytes = 1 << 24;
        req.topics = vec![ft];
        let resp = c.call(12, &req).await;
        let pd = &resp.responses[0].partitions[0];
        assert_eq!(pd.error_code, 0, "fetch error");
        let mut data = pd.records.clone().unwrap_or_default();
        if data.is_empty() {
            assert_eq!(offset, pd.high_watermark, "read to the high watermark");
            return;
        }
        while data.remaining() >= 61 {
            let len = i32::from_be_bytes(data[8..12].try_into().unwrap()) as usize + 12;
            if data.remaining() < len {
                break;
            }
            let mut one = data.split_to(len);
            let set = RecordBatchDecoder::decode(&mut one).expect("a stored batch decodes");
            for r in set.records {
                assert!(r.offset >= offset, "offsets go backwards");
                offset = r.offset + 1;
                seen.insert(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_leaves_logs_that_need_no_recovery() {
    let deadline = Instant::now() + TEST_DEADLINE;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first_log = dir.path().join("first.log");
    let second_log = dir.path().join("second.log");

    let mut broker = Broker::start(&data, &first_log);
    let mut c = ready_client(deadline).await;
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = PARTITIONS;
    t.replication_factor = 1;
    let mut create = CreateTopicsRequest::default();
    create.topics = vec![t];
    create.timeout_ms = 5000;
    let resp = c.call(7, &create).await;
    assert_eq!(resp.topics[0].error_code, 0, "topic created");

    let acked = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..PRODUCERS)
        .map(|id| tokio::spawn(producer(id, acked.clone())))
        .collect();
    tokio::time::sleep(LOAD_BEFORE_TERM).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = broker.terminate();
        (broker, status)
    })
    .await
    .unwrap();
    let (broker, status) = status;
    drop(broker);
    assert!(status.success(), "fjord exits cleanly on SIGTERM: {status:?}");
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("producers stop once the broker is gone")
            .unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "the load ran: {} records acknowledged", acked.len());
    let first = std::fs::read_to_string(&first_log).unwrap();
    assert!(first.contains("shutting down"), "first run log:\n{first}");

    let _broker = Broker::start(&data, &second_log);
    let mut c = ready_client(deadline).await;
    let mut seen = HashSet::new();
    for partition in 0..PARTITIONS {
        read_partition(&mut c, partition, &mut seen).await;
    }
    let missing: Vec<&String> = acked.iter().filter(|v| !seen.contains(*v)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    let second = std::fs::read_to_string(&second_log).unwrap();
    eprintln!("{} records acknowledged; second start:\n{second}", acked.len());
    assert!(
        !second.contains("recovering segment"),
        "a clean restart recovers nothing:\n{second}"
    );
    let summary = second
        .lines()
        .find(|l| l.contains("loaded logs"))
        .unwrap_or_else(|| panic!("one summary line for the logs loaded:\n{second}"));
    assert!(
        summary.contains(&format!("logs={PARTITIONS}"))
            && summary.contains("recovered=0")
            && summary.contains("clean_shutdown=true"),
        "{summary}"
    );
}
