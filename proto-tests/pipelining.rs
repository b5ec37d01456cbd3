//! Pipelined requests on one connection: the broker may work on them at
//! once but answers strictly in request order (Kafka's per-connection
//! guarantee), and a connection's produce requests reach the log in order.

use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiVersionsRequest, FetchRequest, ProduceRequest};

use crate::codes::*;
use crate::harness::{decode_response, encode_request, now_ms, TestBroker};
use crate::ops::{create_topic, fetch_request, init_producer_id, produce_request};
use crate::records::{idempotent_batch, Producer};

const FETCH_VERSION: i16 = 12;

/// A long-poll fetch on an empty partition followed by four ApiVersions,
/// all written at once: the ApiVersions answers are ready first, but must
/// wait behind the fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_come_back_in_request_order() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "idle", 1, &[]).await;

    let mut fetch = fetch_request(FETCH_VERSION, &topic, 0, 0);
    fetch.max_wait_ms = 500;
    fetch.min_bytes = 1;
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    let fetch_id = c.take_correlation_id();
    ids.push(fetch_id);
    bytes.extend_from_slice(&encode_request(FETCH_VERSION, fetch_id, &fetch));
    for _ in 0..4 {
        let id = c.take_correlation_id();
        ids.push(id);
        bytes.extend_from_slice(&encode_request(3, id, &ApiVersionsRequest::default()));
    }
    let started = Instant::now();
    c.write_raw(&bytes).await;

    let first = c.read_frame().await.expect("the fetch response");
    let waited = started.elapsed();
    let resp = decode_response::<FetchRequest>(FETCH_VERSION, ids[0], first);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.high_watermark),
        (NONE, 0),
        "the long-poll fetch on an empty partition"
    );
    assert_eq!(p.records.as_ref().map(|r| r.len()), Some(0), "no records");
    assert!(
        waited >= Duration::from_millis(400),
        "the fetch waited for max_wait_ms (answered after {waited:?})"
    );
    for id in &ids[1..] {
        let frame = c.read_frame().await.expect("an ApiVersions response");
        let resp = decode_response::<ApiVersionsRequest>(3, *id, frame);
        assert_eq!(resp.error_code, NONE);
    }
    broker.stop().await;
}

/// Five idempotent batches written back to back: appended in order, each
/// answered in order, none refused as out of sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_produces_append_in_order() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "pipelined", 1, &[]).await;
    let (id, epoch) = init_producer_id(&mut c).await;
    let version = 9;
    let mut ids = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..5 {
        let records = idempotent_batch(
            2,
            now_ms(),
            Producer {
                id,
                epoch,
                base_sequence: i * 2,
            },
        );
        let req: ProduceRequest = produce_request(version, &topic, 0, records, -1);
        let cid = c.take_correlation_id();
        ids.push(cid);
        bytes.extend_from_slice(&encode_request(version, cid, &req));
    }
    c.write_raw(&bytes).await;
    for (i, cid) in ids.iter().enumerate() {
        let frame = c.read_frame().await.expect("a produce response");
        let resp = decode_response::<ProduceRequest>(version, *cid, frame);
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(p.error_code, NONE, "batch {i}: {:?}", p.error_message);
        assert_eq!(p.base_offset, i as i64 * 2, "batch {i}: base offset");
    }
    broker.stop().await;
}
