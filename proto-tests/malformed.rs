//! Malformed frames and requests the broker refuses to answer. The
//! documented reaction: close THAT connection (never hang, never crash,
//! never allocate what a hostile count asks for) and keep serving others,
//! which every test checks with a fresh connection afterwards. The one
//! exception is KIP-511: ApiVersions at an unknown version gets a v0
//! answer with UNSUPPORTED_VERSION.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::Decodable;
use tokio::io::AsyncWriteExt;

use crate::codes::*;
use crate::harness::{assert_still_serving, finish_frame, isolate, peak_resident_bytes, TestBroker};

/// A frame-in-progress: size placeholder and a request header (v1, or v2
/// with an empty tagged-field section when `flexible`).
fn header(api_key: i16, version: i16, correlation_id: i32, flexible: bool) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    buf.put_i16(api_key);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    let client_id = b"fjord-proto-tests";
    buf.put_i16(client_id.len() as i16);
    buf.put_slice(client_id);
    if flexible {
        buf.put_u8(0);
    }
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_closes_connection() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    // The size promises 100 bytes; 20 arrive, then the write half closes.
    let mut frame = vec![0, 0, 0, 100];
    frame.extend_from_slice(&header(ApiKey::Metadata as i16, 1, 7, false)[4..]);
    frame.resize(24, 0);
    c.write_raw(&frame).await;
    c.stream.shutdown().await.expect("close the write half");
    c.expect_closed("truncated frame").await;
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_held_open_does_not_block_others() {
    let broker = TestBroker::start().await;
    let mut stalled = broker.client().await;
    // A client that promises 100 bytes, sends 20 and then waits: the broker
    // keeps waiting on that connection only.
    let mut frame = vec![0, 0, 0, 100];
    frame.resize(24, 0);
    stalled.write_raw(&frame).await;
    assert_still_serving(broker.addr()).await;
    drop(stalled);
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_larger_than_socket_request_max_bytes() {
    let broker = TestBroker::start_with(&[("socket.request.max.bytes", "1000")]).await;
    let mut c = broker.client().await;
    let mut frame = 2000i32.to_be_bytes().to_vec();
    frame.extend_from_slice(&header(ApiKey::Metadata as i16, 1, 7, false)[4..]);
    c.write_raw(&frame).await;
    c.expect_closed("a 2000-byte frame over socket.request.max.bytes=1000")
        .await;
    // A request under the limit is still served.
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_frame_size() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    c.write_raw(&(-1i32).to_be_bytes()).await;
    c.write_raw(&[0u8; 16]).await;
    c.expect_closed("frame size -1").await;
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

/// How much the peak resident memory may grow while the broker refuses a
/// hostile array count: far below what the count asks for.
const RESIDENT_GROWTH_MAX_BYTES: u64 = 256 << 20;

/// Sends a request whose array count claims far more elements than the
/// frame holds. The broker must close the connection, stay up (the test
/// runs in its own process, so an abort fails only this test) and not
/// touch the memory the count asks for.
async fn assert_hostile_count_refused(frame: BytesMut, what: &str) {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let before = peak_resident_bytes();
    c.write_raw(&finish_frame(frame)).await;
    c.expect_closed(what).await;
    let grown = peak_resident_bytes().saturating_sub(before);
    assert!(
        grown < RESIDENT_GROWTH_MAX_BYTES,
        "{what}: peak resident memory grew by {grown} bytes"
    );
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_array_count_in_metadata_request() {
    if isolate("malformed::huge_array_count_in_metadata_request") {
        return;
    }
    // Metadata v1: the topics array claims 2^31-1 entries; none follow.
    let mut frame = header(ApiKey::Metadata as i16, 1, 7, false);
    frame.put_i32(0x7fff_ffff);
    assert_hostile_count_refused(frame, "Metadata v1 with a topics count of 0x7fffffff").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_array_count_in_produce_request() {
    if isolate("malformed::huge_array_count_in_produce_request") {
        return;
    }
    // Produce v3: null transactional id, acks, timeout, then a topic_data
    // count of 2^31-1 with nothing after it.
    let mut frame = header(ApiKey::Produce as i16, 3, 7, false);
    frame.put_i16(-1);
    frame.put_i16(1);
    frame.put_i32(30_000);
    frame.put_i32(0x7fff_ffff);
    assert_hostile_count_refused(frame, "Produce v3 with a topic_data count of 0x7fffffff").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_compact_array_count_in_produce_request() {
    if isolate("malformed::huge_compact_array_count_in_produce_request") {
        return;
    }
    // Produce v9 (flexible): compact null transactional id, acks, timeout,
    // then a compact topic_data count of 2^32-2 (varint) and nothing.
    let mut frame = header(ApiKey::Produce as i16, 9, 7, true);
    frame.put_u8(0);
    frame.put_i16(1);
    frame.put_i32(30_000);
    frame.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_hostile_count_refused(frame, "Produce v9 with a compact topic_data count of 2^32-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_array_count_nested_in_produce_request() {
    if isolate("malformed::huge_array_count_nested_in_produce_request") {
        return;
    }
    // Produce v3 with one topic whose partition_data count is 2^31-1.
    let mut frame = header(ApiKey::Produce as i16, 3, 7, false);
    frame.put_i16(-1);
    frame.put_i16(1);
    frame.put_i32(30_000);
    frame.put_i32(1);
    frame.put_i16(1);
    frame.put_slice(b"t");
    frame.put_i32(0x7fff_ffff);
    assert_hostile_count_refused(frame, "Produce v3 with a partition_data count of 0x7fffffff").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_api_key() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let mut frame = header(9999, 0, 7, false);
    frame.put_slice(&[0u8; 8]);
    c.write_raw(&finish_frame(frame)).await;
    c.expect_closed("api key 9999").await;
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_fjord_does_not_implement() {
    let broker = TestBroker::start().await;
    assert!(
        !fjord::handlers::APIS.contains(&ApiKey::DescribeAcls),
        "pick an API fjord lacks"
    );
    let mut c = broker.client().await;
    let mut frame = header(ApiKey::DescribeAcls as i16, 1, 7, false);
    frame.put_slice(&[0u8; 16]);
    c.write_raw(&finish_frame(frame)).await;
    c.expect_closed("DescribeAcls, which fjord does not advertise").await;
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_version_of_supported_api() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let mut frame = header(ApiKey::Produce as i16, 99, 7, true);
    frame.put_slice(&[0u8; 16]);
    c.write_raw(&finish_frame(frame)).await;
    c.expect_closed("Produce v99").await;
    assert_still_serving(broker.addr()).await;
    broker.stop().await;
}

/// KIP-511: an ApiVersions request newer than the broker knows gets a v0
/// response (v0 header) with UNSUPPORTED_VERSION and ApiVersions' own
/// range, so the client can retry on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_at_unsupported_version() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let correlation_id = c.take_correlation_id();
    let mut frame = header(ApiKey::ApiVersions as i16, 99, correlation_id, true);
    // A v3-shaped body: compact client software name and version, no tags.
    frame.put_u8(6);
    frame.put_slice(b"fjord");
    frame.put_u8(4);
    frame.put_slice(b"0.1");
    frame.put_u8(0);
    c.write_raw(&finish_frame(frame)).await;

    let mut reply = c.read_frame().await.expect("a KIP-511 reply, not a closed connection");
    assert!(reply.len() >= 4, "a response header");
    let echoed = i32::from_be_bytes(reply[..4].try_into().expect("4 bytes"));
    assert_eq!(echoed, correlation_id, "v0 response header: just the correlation id");
    let _ = reply.split_to(4);
    let resp = ApiVersionsResponse::decode(&mut reply, 0).expect("a v0 ApiVersions body");
    assert!(reply.is_empty(), "{} bytes after the v0 body", reply.len());
    assert_eq!(resp.error_code, UNSUPPORTED_VERSION, "error code");
    let range = fjord::handlers::supported_versions(ApiKey::ApiVersions).expect("ApiVersions is supported");
    let listed: Vec<(i16, i16, i16)> = resp
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert_eq!(
        listed,
        vec![(ApiKey::ApiVersions as i16, range.min, range.max)],
        "only ApiVersions' own range"
    );

    // The connection stays open for the retry.
    let retry = c.call(range.max, &ApiVersionsRequest::default()).await;
    assert_eq!(retry.error_code, NONE, "the retry at a supported version");
    broker.stop().await;
}
