//! Produce, every advertised version: offsets assigned in order, the
//! response fields each version carries, idempotent retries and gaps, and
//! acks=0 (no response at all).

use kafka_protocol::messages::produce_response::{LeaderIdAndEpoch, PartitionProduceResponse};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ProduceRequest};

use crate::codes::*;
use crate::harness::{each_version, now_ms, Client, TestBroker};
use crate::ops::{self, create_topic, init_producer_id, list_offset, produce_request, Topic, LATEST};
use crate::records::{batch, batch_with, idempotent_batch, Producer};

/// Checks the fields of a successful partition result at `version`.
fn assert_appended(p: &PartitionProduceResponse, version: i16, base_offset: i64, what: &str) {
    assert_eq!(p.index, 0, "{what}: partition index");
    assert_eq!(p.error_code, NONE, "{what}: error code ({:?})", p.error_message);
    assert_eq!(p.base_offset, base_offset, "{what}: base offset");
    assert!(p.record_errors.is_empty(), "{what}: record errors");
    assert_eq!(p.error_message, None, "{what}: error message");
    // log_start_offset exists from v5; older versions decode the default.
    let log_start = if version >= 5 {
        0
    } else {
        PartitionProduceResponse::default().log_start_offset
    };
    assert_eq!(p.log_start_offset, log_start, "{what}: log start offset");
    assert_eq!(
        p.current_leader,
        LeaderIdAndEpoch::default(),
        "{what}: current leader is only sent with NOT_LEADER errors"
    );
}

/// The topic entry of a produce response must name the topic the way the
/// request did: by name before v13, by id from v13.
fn assert_topic_echo(name: &kafka_protocol::messages::TopicName, id: &uuid::Uuid, topic: &Topic, version: i16) {
    if version >= 13 {
        assert_eq!(*id, topic.id, "v{version}: topic id echo");
        assert_eq!(name.0.as_str(), "", "v{version}: no topic name");
    } else {
        assert_eq!(name.0.as_str(), topic.name, "v{version}: topic name echo");
        assert!(id.is_nil(), "v{version}: no topic id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::Produce, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("produce-v{v}"), 1, &[]).await;
            let mut next = 0i64;
            for (i, (count, acks)) in [(3usize, -1i16), (1, 1), (4, -1)].into_iter().enumerate() {
                let req = produce_request(v, &topic, 0, batch(count, now_ms()), acks);
                let resp = c.call(v, &req).await;
                assert_eq!(resp.throttle_time_ms, 0);
                assert!(
                    resp.node_endpoints.is_empty(),
                    "v{v}: node endpoints only accompany NOT_LEADER errors"
                );
                assert_eq!(resp.responses.len(), 1);
                let t = &resp.responses[0];
                assert_topic_echo(&t.name, &t.topic_id, &topic, v);
                assert_eq!(t.partition_responses.len(), 1);
                let p = &t.partition_responses[0];
                assert_appended(p, v, next, &format!("v{v} batch {i} (acks={acks})"));
                assert_eq!(
                    p.log_append_time_ms, -1,
                    "v{v}: CreateTime topics answer log_append_time -1"
                );
                next += count as i64;
            }
            let latest = list_offset(&mut c, &topic.name, 0, LATEST).await;
            assert_eq!(latest.offset, next, "v{v}: high watermark after three batches");

            // LogAppendTime topics report the broker's append time.
            let lat = create_topic(
                &mut c,
                &format!("produce-lat-v{v}"),
                1,
                &[("message.timestamp.type", "LogAppendTime")],
            )
            .await;
            let before = now_ms();
            let resp = c
                .call(v, &produce_request(v, &lat, 0, batch(2, before - 60_000), 1))
                .await;
            let after = now_ms();
            let p = &resp.responses[0].partition_responses[0];
            assert_appended(p, v, 0, &format!("v{v} LogAppendTime batch"));
            assert!(
                (before..=after).contains(&p.log_append_time_ms),
                "v{v}: log_append_time_ms {} outside [{before}, {after}]",
                p.log_append_time_ms
            );
        }
    })
    .await;
    broker.stop().await;
}

/// Idempotent producer: a retried batch gets its original offset back and
/// is not appended twice; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_idempotent_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::Produce, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("idempotent-v{v}"), 1, &[]).await;
            let (id, epoch) = init_producer_id(&mut c).await;
            let producer = |base_sequence| Producer {
                id,
                epoch,
                base_sequence,
            };
            let first = idempotent_batch(3, now_ms(), producer(0));
            let call = |records| produce_request(v, &topic, 0, records, -1);

            let resp = c.call(v, &call(first.clone())).await;
            assert_appended(
                &resp.responses[0].partition_responses[0],
                v,
                0,
                &format!("v{v} sequence 0"),
            );
            let retry = c.call(v, &call(first)).await;
            assert_appended(
                &retry.responses[0].partition_responses[0],
                v,
                0,
                &format!("v{v} retry of sequence 0"),
            );
            let second = c.call(v, &call(idempotent_batch(2, now_ms(), producer(3)))).await;
            assert_appended(
                &second.responses[0].partition_responses[0],
                v,
                3,
                &format!("v{v} sequence 3"),
            );

            let gap = c.call(v, &call(idempotent_batch(1, now_ms(), producer(10)))).await;
            let p = &gap.responses[0].partition_responses[0];
            assert_eq!(p.error_code, OUT_OF_ORDER_SEQUENCE_NUMBER, "v{v}: sequence 10 after 4");
            assert_eq!(p.base_offset, -1, "v{v}: a refused batch has base offset -1");

            let latest = list_offset(&mut c, &topic.name, 0, LATEST).await;
            assert_eq!(latest.offset, 5, "v{v}: the retry and the gap appended nothing");
        }
    })
    .await;
    broker.stop().await;
}

/// acks=0: the broker appends and sends nothing; the next request on the
/// connection is answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_acks_zero_sends_no_response() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "acks-zero", 1, &[]).await;
    let req: ProduceRequest = produce_request(9, &topic, 0, batch(2, now_ms()), 0);
    c.send(9, &req).await;
    let resp = c.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, NONE);
    let latest = ops::list_offset(&mut c, "acks-zero", 0, LATEST).await;
    assert_eq!(latest.offset, 2, "the acks=0 batch was appended");
    broker.stop().await;
}

/// KIP-467: records that break a topic rule are refused by index, with
/// Kafka's messages, at every version; `record_errors` and `error_message`
/// exist from v8. Nothing of a refused batch is appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_errors_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::Produce, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let now = now_ms();
            let cases = [
                (
                    format!("compacted-v{v}"),
                    ("cleanup.policy", "compact"),
                    vec![(Some("k0"), now), (None, now), (Some("k2"), now), (None, now)],
                    INVALID_RECORD,
                ),
                (
                    format!("stamped-v{v}"),
                    ("message.timestamp.before.max.ms", "3600000"),
                    vec![(None, now), (None, now - 86_400_000), (None, now), (None, now - 86_400_000)],
                    INVALID_TIMESTAMP,
                ),
            ];
            for (name, config, records, code) in cases {
                let topic = create_topic(&mut c, &name, 1, &[config]).await;
                let resp = c.call(v, &produce_request(v, &topic, 0, batch_with(&records), -1)).await;
                let p = &resp.responses[0].partition_responses[0];
                assert_eq!((p.error_code, p.base_offset), (code, -1), "v{v} {name}");
                if v >= 5 {
                    assert_eq!(p.log_start_offset, 0, "v{v} {name}: log start offset");
                }
                if v < 8 {
                    assert!(p.record_errors.is_empty() && p.error_message.is_none(), "v{v} {name}: no v8 fields");
                } else {
                    let indexes: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
                    assert_eq!(indexes, vec![1, 3], "v{v} {name}: the records at fault");
                    let first = p.record_errors[0].batch_index_error_message.as_ref().map(|m| m.to_string());
                    let message = p.error_message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                    if code == INVALID_RECORD {
                        let why = format!("Compacted topic cannot accept message without key in topic partition {name}-0.");
                        assert_eq!(first.as_deref(), Some(why.as_str()), "v{v} {name}");
                        assert_eq!(
                            message,
                            format!(
                                "One or more records have been rejected due to 2 record errors in total, and only showing the first three errors at most: [RecordError(batchIndex=1, message='{why}'), RecordError(batchIndex=3, message='{why}')]"
                            ),
                            "v{v} {name}: error message"
                        );
                    } else {
                        let why = first.unwrap_or_default();
                        assert!(
                            why.starts_with(&format!("Timestamp {} of message with offset 1 is out of range. The timestamp should be within [", now - 86_400_000)),
                            "v{v} {name}: {why}"
                        );
                        assert_eq!(message, "One or more records have been rejected due to invalid timestamp", "v{v} {name}");
                    }
                }
                let latest = list_offset(&mut c, &topic.name, 0, LATEST).await;
                assert_eq!(latest.offset, 0, "v{v} {name}: nothing appended");
            }
        }
    })
    .await;
    broker.stop().await;
}

/// A client may not write control batches (Kafka's LogValidator): a
/// transaction marker in a Produce is INVALID_RECORD and nothing is
/// appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_transaction_marker_is_refused() {
    use fjord::log::control::{marker_batch, EndTxnMarker};
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;
    let topic = create_topic(&mut c, "client-marker", 1, &[]).await;
    let marker = EndTxnMarker {
        commit: true,
        coordinator_epoch: 0,
    };
    let resp = c
        .call(
            9,
            &produce_request(9, &topic, 0, marker_batch(1, 0, marker, now_ms(), -1), -1),
        )
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (INVALID_RECORD, -1));
    let latest = list_offset(&mut c, "client-marker", 0, LATEST).await;
    assert_eq!(latest.offset, 0, "nothing appended");
    broker.stop().await;
}
