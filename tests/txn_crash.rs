//! Crash safety of EndTxn: the broker process stops dead (as `kill -9`
//! stops it: `FJORD_TEST_CRASH_AT` makes it abort at the named step) at
//! each step of ending a transaction that spans two partitions: before the
//! PrepareCommit record is written, after it, between the two markers, and
//! after the markers but before the CompleteCommit record. After a restart
//! the coordinator finishes what was decided: a prepared commit becomes
//! visible to read_committed readers in both partitions, an undecided
//! transaction is aborted once its timeout passes, and the producer can go
//! on with a new transaction either way.

#[path = "cluster/client.rs"]
mod client;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use client::Client;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

const TOPIC: &str = "txn-crash";
const TXN_ID: &str = "crash-txn";
const TXN_TIMEOUT_MS: i32 = 3_000;
const RECORDS: usize = 5;
const DEADLINE: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(port: u16, dir: &std::path::Path, crash_at: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fjord"));
    for o in [
        format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        format!("log.dirs={}", dir.display()),
        "transaction.state.log.num.partitions=1".to_string(),
        "offsets.topic.num.partitions=1".to_string(),
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=500".to_string(),
    ] {
        cmd.arg("--override").arg(o);
    }
    cmd.env("FJORD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match crash_at {
        Some(step) => cmd.env("FJORD_TEST_CRASH_AT", step),
        None => cmd.env_remove("FJORD_TEST_CRASH_AT"),
    };
    cmd.spawn().expect("fjord binary starts")
}

struct Node {
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(port: u16) -> Client {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Client::connect(("127.0.0.1", port)).await;
        }
        assert!(Instant::now() < deadline, "broker did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Retries `f` while it answers a retriable coordinator error (the
/// coordinator is loading, or the topic is being created).
async fn until_ok<T>(what: &str, mut f: impl AsyncFnMut() -> Result<T, i16>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match f().await {
            Ok(t) => return t,
            Err(code) => assert!(Instant::now() < deadline, "{what}: still error {code}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_topic(c: &mut Client) {
    let mut t = CreatableTopic::default();
    t.name = TopicName(s(TOPIC));
    t.num_partitions = 2;
    t.replication_factor = 1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    let resp = c.call(7, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "create {TOPIC}");
}

/// InitProducerId for the transactional id: (producer id, epoch).
async fn init_producer(c: &mut Client) -> (i64, i16) {
    until_ok("FindCoordinator", async || {
        let mut req = FindCoordinatorRequest::default();
        req.key = s(TXN_ID);
        req.key_type = 1;
        let r = c.call(3, &req).await;
        if r.error_code == 0 {
            Ok(())
        } else {
            Err(r.error_code)
        }
    })
    .await;
    until_ok("InitProducerId", async || {
        let mut req = InitProducerIdRequest::default();
        req.transactional_id = Some(TransactionalId(s(TXN_ID)));
        req.transaction_timeout_ms = TXN_TIMEOUT_MS;
        req.producer_id = ProducerId(-1);
        req.producer_epoch = -1;
        let r = c.call(4, &req).await;
        if r.error_code == 0 {
            Ok((r.producer_id.0, r.producer_epoch))
        } else {
            Err(r.error_code)
        }
    })
    .await
}

fn batch(pid: i64, epoch: i16, values: &[String]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(v.clone())),
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

/// Adds both partitions to the transaction and writes `RECORDS` values
/// tagged `tag` into each.
async fn write_transaction(c: &mut Client, (pid, epoch): (i64, i16), tag: &str) {
    let mut t = AddPartitionsToTxnTopic::default();
    t.name = TopicName(s(TOPIC));
    t.partitions = vec![0, 1];
    let mut req = AddPartitionsToTxnRequest::default();
    req.v3_and_below_transactional_id = TransactionalId(s(TXN_ID));
    req.v3_and_below_producer_id = ProducerId(pid);
    req.v3_and_below_producer_epoch = epoch;
    req.v3_and_below_topics = vec![t];
    let r = c.call(3, &req).await;
    for p in &r.results_by_topic_v3_and_below[0].results_by_partition {
        assert_eq!(p.partition_error_code, 0, "AddPartitionsToTxn");
    }
    for partition in 0..2 {
        let values: Vec<String> = (0..RECORDS).map(|i| format!("{tag}-{partition}-{i}")).collect();
        let mut pd = PartitionProduceData::default();
        pd.index = partition;
        pd.records = Some(batch(pid, epoch, &values));
        let mut td = TopicProduceData::default();
        td.name = TopicName(s(TOPIC));
        td.partition_data = vec![pd];
        let mut req = ProduceRequest::default();
        req.transactional_id = Some(TransactionalId(s(TXN_ID)));
        req.acks = -1;
        req.timeout_ms = 5_000;
        req.topic_data = vec![td];
        let r = c.call(9, &req).await;
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 0,
            "transactional produce"
        );
    }
}

fn end_txn_request((pid, epoch): (i64, i16)) -> EndTxnRequest {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(s(TXN_ID));
    req.producer_id = ProducerId(pid);
    req.producer_epoch = epoch;
    req.committed = true;
    req
}

/// What a read_committed consumer sees of one partition once nothing is
/// left unstable.
async fn committed_values(c: &mut Client, partition: i32) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(values) = client::read_committed(c, TOPIC, partition).await {
            return values;
        }
        assert!(Instant::now() < deadline, "partition {partition} never became stable");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn describe_state(c: &mut Client) -> String {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = vec![TransactionalId(s(TXN_ID))];
    let r = c.call(0, &req).await;
    r.transaction_states[0].transaction_state.to_string()
}

/// Runs one transaction that the broker crashes in at `step`, restarts the
/// broker and returns what read_committed readers then see of the first
/// transaction, after a second transaction has been committed on top.
async fn crash_at(step: &str) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut node = Node {
        child: start(port, dir.path(), Some(step)),
    };
    let mut c = connect(port).await;
    create_topic(&mut c).await;
    let producer = init_producer(&mut c).await;
    write_transaction(&mut c, producer, "first").await;
    // The answer may or may not come before the process dies.
    let _ = c.try_call(3, &end_txn_request(producer)).await;
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{step}: the broker did not crash");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{step}: the broker aborted ({status})");

    node.child = start(port, dir.path(), None);
    let mut c = connect(port).await;
    // Whatever happened to it, the transaction ends by itself: completed
    // from its prepare record, or aborted by the timeout.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state = describe_state(&mut c).await;
        if state == "CompleteCommit" || state == "CompleteAbort" {
            break;
        }
        assert!(Instant::now() < deadline, "{step}: transaction left in {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = [committed_values(&mut c, 0).await, committed_values(&mut c, 1).await].concat();
    // The producer goes on: a new instance fences the old epoch and commits.
    let producer = init_producer(&mut c).await;
    write_transaction(&mut c, producer, "second").await;
    let r = c.call(3, &end_txn_request(producer)).await;
    assert_eq!(r.error_code, 0, "{step}: EndTxn after the restart");
    let after = [committed_values(&mut c, 0).await, committed_values(&mut c, 1).await].concat();
    (first, after)
}

fn values(tags: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for partition in 0..2 {
        for tag in tags {
            out.extend((0..RECORDS).map(|i| format!("{tag}-{partition}-{i}")));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_prepare_aborts_the_transaction() {
    let (first, after) = crash_at("end-txn-before-prepare").await;
    assert_eq!(first, Vec::<String>::new(), "nothing of the undecided transaction");
    assert_eq!(after, values(&["second"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_prepare_commits_the_transaction() {
    let (first, after) = crash_at("end-txn-after-prepare").await;
    assert_eq!(first, values(&["first"]));
    assert_eq!(after, values(&["first", "second"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_markers_commits_the_transaction() {
    let (first, after) = crash_at("end-txn-between-markers").await;
    assert_eq!(first, values(&["first"]));
    assert_eq!(after, values(&["first", "second"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_complete_commits_the_transaction() {
    let (first, after) = crash_at("end-txn-before-complete").await;
    assert_eq!(first, values(&["first"]));
    assert_eq!(after, values(&["first", "second"]));
}
