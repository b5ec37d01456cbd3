//! Crash safety: an idempotent producer writes with acks=all while the
//! broker process is killed with SIGKILL and restarted several times. After
//! the last restart every acknowledged record must be in the log exactly
//! once, and the log must have recovered by itself.

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;
const RECORDS_PER_BATCH: i32 = 20;
const BATCHES: usize = 600;
const KILLS: usize = 5;
const TEST_DEADLINE: Duration = Duration::from_secs(240);

struct Broker {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Broker {
    fn start(port: u16, dir: &std::path::Path) -> Child {
        Command::new(env!("CARGO_BIN_EXE_fjord"))
            .arg("--override")
            .arg(format!("listeners=PLAINTEXT://127.0.0.1:{port}"))
            .arg("--override")
            .arg(format!("log.dirs={}", dir.display()))
            .arg("--override")
            .arg("log.segment.bytes=65536")
            .env("FJORD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("fjord binary starts")
    }

    fn kill_and_restart(&mut self) {
        // SIGKILL: no chance to flush, trim indexes or write the clean marker.
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
        self.child = Self::start(self.port, &self.dir);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One request/response exchange on a fresh or kept connection.
async fn call<Req: Encodable, Resp: Decodable>(
    conn: &mut TcpStream,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    req: &Req,
) -> std::io::Result<Resp> {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_static_str("crash-test"));
    header.encode(&mut buf, key.request_header_version(version)).unwrap();
    req.encode(&mut buf, version).unwrap();
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    conn.write_all(&buf).await?;
    let size = conn.read_i32().await? as usize;
    let mut body = vec![0u8; size];
    conn.read_exact(&mut body).await?;
    let mut body = Bytes::from(body);
    let rh = ResponseHeader::decode(&mut body, key.response_header_version(version)).unwrap();
    assert_eq!(rh.correlation_id, correlation_id);
    Ok(Resp::decode(&mut body, version).unwrap())
}

async fn connect(port: u16, deadline: Instant) -> TcpStream {
    loop {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)).await {
            return c;
        }
        assert!(Instant::now() < deadline, "broker did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn batch(pid: i64, seq: i32, values: &[String]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(v.clone())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn produce_request(partition: i32, records: Bytes) -> ProduceRequest {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = Broker {
        child: Broker::start(port, dir.path()),
        port,
        dir: dir.path().to_path_buf(),
    };
    let deadline = Instant::now() + TEST_DEADLINE;
    let mut conn = connect(port, deadline).await;
    let mut corr = 0;

    let mut create = CreateTopicsRequest::default();
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(StrBytes::from_static_str(TOPIC));
    t.num_partitions = PARTITIONS;
    t.replication_factor = 1;
    create.topics = vec![t];
    create.timeout_ms = 5000;
    let resp: CreateTopicsResponse = call(&mut conn, ApiKey::CreateTopics, 7, corr, &create).await.unwrap();
    assert_eq!(resp.topics[0].error_code, 0);
    corr += 1;
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = None;
    let init: InitProducerIdResponse = call(&mut conn, ApiKey::InitProducerId, 4, corr, &init).await.unwrap();
    let pid = init.producer_id.0;
    assert!(pid >= 0);

    let mut next_seq = [0i32; PARTITIONS as usize];
    let mut acked: HashMap<String, (i32, i64)> = HashMap::new();
    let kill_every = BATCHES / (KILLS + 1);
    let mut kills = 0;
    for b in 0..BATCHES {
        let partition = (b % PARTITIONS as usize) as i32;
        let seq = next_seq[partition as usize];
        let values: Vec<String> = (0..RECORDS_PER_BATCH).map(|i| format!("b{b}-r{i}")).collect();
        let records = batch(pid, seq, &values);
        if b > 0 && b % kill_every == 0 && kills < KILLS {
            // Send without waiting for the answer, then kill: this batch
            // may or may not be in the log, and is retried after restart.
            let req = produce_request(partition, records.clone());
            corr += 1;
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                call::<_, ProduceResponse>(&mut conn, ApiKey::Produce, 9, corr, &req),
            )
            .await;
            broker.kill_and_restart();
            kills += 1;
            conn = connect(port, deadline).await;
        }
        // Retry the same batch (same sequence) until it is acknowledged.
        loop {
            assert!(Instant::now() < deadline, "test ran past its deadline");
            corr += 1;
            let req = produce_request(partition, records.clone());
            match call::<_, ProduceResponse>(&mut conn, ApiKey::Produce, 9, corr, &req).await {
                Ok(resp) => {
                    let p = &resp.responses[0].partition_responses[0];
                    assert_eq!(p.error_code, 0, "produce failed with error {}", p.error_code);
                    for (i, v) in values.iter().enumerate() {
                        acked.insert(v.clone(), (partition, p.base_offset + i as i64));
                    }
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    conn = connect(port, deadline).await;
                }
            }
        }
        next_seq[partition as usize] = seq + RECORDS_PER_BATCH;
    }
    assert_eq!(kills, KILLS);
    broker.kill_and_restart();
    conn = connect(port, deadline).await;

    // Read everything back.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for partition in 0..PARTITIONS {
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
            corr += 1;
            let resp: FetchResponse = call(&mut conn, ApiKey::Fetch, 12, corr, &req).await.unwrap();
            let pd = &resp.responses[0].partitions[0];
            assert_eq!(pd.error_code, 0);
            let mut data = pd.records.clone().unwrap_or_default();
            if data.is_empty() {
                assert_eq!(offset, pd.high_watermark);
                break;
            }
            while data.remaining() >= 61 {
                let len = i32::from_be_bytes(data[8..12].try_into().unwrap()) as usize + 12;
                if data.remaining() < len {
                    break;
                }
                let mut one = data.split_to(len);
                let set = RecordBatchDecoder::decode(&mut one).unwrap();
                for r in set.records {
                    assert!(r.offset >= offset, "offsets go backwards");
                    offset = r.offset + 1;
                    let v = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                    *seen.entry(v).or_default() += 1;
                }
            }
        }
    }
    for (v, (p, off)) in &acked {
        assert_eq!(
            seen.get(v),
            Some(&1),
            "acknowledged record {v} (partition {p}, offset {off}) must be present exactly once"
        );
    }
    for (v, n) in &seen {
        assert_eq!(*n, 1, "record {v} is duplicated");
    }
    assert_eq!(acked.len(), BATCHES * RECORDS_PER_BATCH as usize);
}
