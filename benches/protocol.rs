//! The wire side of the hot path: reading a frame off a connection, decoding
//! the request header and body as the connection and dispatch do, and
//! encoding a Fetch response that carries 1 MiB of records.
//!
//! `cargo bench --bench protocol` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).

mod common;

use std::hint::black_box;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, ProduceRequest, RequestHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, Message, StrBytes};

use common::{batch_16k, now_ms};
use fjord::server::frame::read_frame;

/// The newest versions, which current Java clients send.
const PRODUCE_VERSION: i16 = ProduceRequest::VERSIONS.max;
const FETCH_VERSION: i16 = FetchRequest::VERSIONS.max;
/// Partitions in the Fetch request: one consumer reading an 8-partition topic.
const FETCH_PARTITIONS: i32 = 8;
/// Records bytes in the encoded Fetch response.
const FETCH_RESPONSE_RECORDS_BYTES: usize = 1 << 20;
/// fjord's `socket.request.max.bytes` default (Kafka's, 100 MiB).
const REQUEST_MAX_BYTES: usize = 100 * 1024 * 1024;

fn topic_id() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0001)
}

/// A full request frame: size, header, body.
fn frame<M: Encodable>(api: ApiKey, version: i16, body: &M) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    header.correlation_id = 42;
    header.client_id = Some(StrBytes::from_static_str("producer-1"));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, api.request_header_version(version))
        .expect("header encodes");
    body.encode(&mut buf, version).expect("body encodes");
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}

fn produce_request() -> ProduceRequest {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch_16k(now_ms()));
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str("bench"));
    td.topic_id = topic_id();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 30_000;
    req.topic_data = vec![td];
    req
}

fn fetch_request() -> FetchRequest {
    let partitions = (0..FETCH_PARTITIONS)
        .map(|p| {
            let mut fp = FetchPartition::default();
            fp.partition = p;
            fp.fetch_offset = 1_000_000;
            fp.partition_max_bytes = 1 << 20;
            fp
        })
        .collect();
    let mut topic = FetchTopic::default();
    topic.topic = TopicName(StrBytes::from_static_str("bench"));
    topic.topic_id = topic_id();
    topic.partitions = partitions;
    let mut req = FetchRequest::default();
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.topics = vec![topic];
    req
}

fn fetch_response() -> FetchResponse {
    let mut pd = PartitionData::default();
    pd.partition_index = 0;
    pd.high_watermark = 2_000_000;
    pd.last_stable_offset = 2_000_000;
    pd.records = Some(Bytes::from(vec![7u8; FETCH_RESPONSE_RECORDS_BYTES]));
    let mut tr = FetchableTopicResponse::default();
    tr.topic = TopicName(StrBytes::from_static_str("bench"));
    tr.topic_id = topic_id();
    tr.partitions = vec![pd];
    let mut resp = FetchResponse::default();
    resp.responses = vec![tr];
    resp
}

/// What the connection does with a frame: the header, then the body.
fn decode_request<M: Decodable>(api: ApiKey, mut frame: Bytes) -> (RequestHeader, M) {
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version)).expect("header decodes");
    let body = M::decode(&mut frame, version).expect("body decodes");
    (header, body)
}

fn bench_frame(c: &mut Criterion) {
    let produce = frame(ApiKey::Produce, PRODUCE_VERSION, &produce_request());
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(produce.len() as u64));
    g.bench_function("read_frame_produce_16KiB", |b| {
        b.iter(|| {
            let mut wire: &[u8] = black_box(&produce);
            runtime
                .block_on(read_frame(&mut wire, REQUEST_MAX_BYTES))
                .expect("frame reads")
                .expect("one frame")
        })
    });
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    // The frame as read_frame hands it over: without the size prefix.
    let produce = frame(ApiKey::Produce, PRODUCE_VERSION, &produce_request()).slice(4..);
    let fetch = frame(ApiKey::Fetch, FETCH_VERSION, &fetch_request()).slice(4..);
    let mut g = c.benchmark_group("decode");
    g.bench_function(format!("produce_request_v{PRODUCE_VERSION}_16KiB"), |b| {
        b.iter(|| decode_request::<ProduceRequest>(ApiKey::Produce, black_box(produce.clone())))
    });
    g.bench_function(
        format!("fetch_request_v{FETCH_VERSION}_{FETCH_PARTITIONS}_partitions"),
        |b| b.iter(|| decode_request::<FetchRequest>(ApiKey::Fetch, black_box(fetch.clone()))),
    );
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let resp = fetch_response();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(FETCH_RESPONSE_RECORDS_BYTES as u64));
    // The connection starts a response buffer at 256 bytes and lets the
    // encoder grow it; compare with a buffer sized up front.
    g.bench_function(format!("fetch_response_v{FETCH_VERSION}_1MiB_grow_from_256B"), |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(256);
            black_box(&resp).encode(&mut out, FETCH_VERSION).expect("encodes");
            out
        })
    });
    g.bench_function(format!("fetch_response_v{FETCH_VERSION}_1MiB_presized"), |b| {
        b.iter(|| {
            let size = black_box(&resp).compute_size(FETCH_VERSION).expect("sizes");
            let mut out = BytesMut::with_capacity(size + 64);
            resp.encode(&mut out, FETCH_VERSION).expect("encodes");
            out
        })
    });
    g.finish();
}

criterion_group!(benches, bench_frame, bench_decode, bench_encode);
criterion_main!(benches);
