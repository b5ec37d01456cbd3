//! A minimal Kafka client for the cluster tests, in the style of
//! `proto-tests/harness.rs`: typed requests framed with the header version
//! each API and version calls for, typed responses checked for their
//! correlation id and for nothing left over. Every wait is bounded.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

/// Upper bound on one exchange; forwarded requests may wait for an
/// election, so this is longer than an election timeout.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
const MAX_FRAME_BYTES: usize = 64 << 20;

pub struct Client {
    stream: TcpStream,
    next_correlation_id: i32,
}

impl Client {
    pub async fn connect(addr: impl ToSocketAddrs) -> Self {
        let stream = tokio::time::timeout(CALL_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).expect("set nodelay");
        Client {
            stream,
            next_correlation_id: 7000,
        }
    }

    /// One request and its response; the broker must answer.
    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let api = ApiKey::try_from(R::KEY).expect("a known api key");
        self.try_call(version, request)
            .await
            .unwrap_or_else(|| panic!("{api:?} v{version}: connection closed instead of a response"))
    }

    /// One request and its response, or `None` when the broker closed the
    /// connection instead of answering (as a broker that cannot reach the
    /// controller does with a forwarded request).
    pub async fn try_call<R: Request>(&mut self, version: i16, request: &R) -> Option<R::Response> {
        let api = ApiKey::try_from(R::KEY).expect("a known api key");
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_static_str("fjord-cluster-tests"));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("encode request header");
        request.encode(&mut buf, version).expect("encode request");
        let size = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&size.to_be_bytes());
        let exchange = async {
            self.stream.write_all(&buf).await.ok()?;
            let size = self.stream.read_i32().await.ok()?;
            let size = usize::try_from(size).expect("a non-negative frame size");
            assert!(size <= MAX_FRAME_BYTES, "implausible response frame size {size}");
            let mut body = vec![0u8; size];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Bytes::from(body))
        };
        let mut frame = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| panic!("{api:?} v{version}: no answer within {CALL_TIMEOUT:?}"))?;
        let header = ResponseHeader::decode(&mut frame, api.response_header_version(version))
            .unwrap_or_else(|e| panic!("{api:?} v{version}: bad response header: {e}"));
        assert_eq!(
            header.correlation_id, correlation_id,
            "{api:?} v{version}: correlation id"
        );
        let body = <R::Response as Decodable>::decode(&mut frame, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version}: cannot decode the response: {e:#}"));
        assert!(
            !frame.has_remaining(),
            "{api:?} v{version}: {} bytes left over after the response",
            frame.remaining()
        );
        Some(body)
    }
}

/// A read_committed Fetch (v11, by name) of `topic`/`partition` from
/// `offset`.
async fn fetch_committed(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> kafka_protocol::messages::fetch_response::PartitionData {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
    let mut fp = FetchPartition::default();
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = 1 << 20;
    fp.log_start_offset = -1;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.isolation_level = 1;
    req.topics = vec![ft];
    let mut resp = c.call(11, &req).await;
    let p = resp.responses.remove(0).partitions.remove(0);
    assert_eq!(p.error_code, 0, "read_committed fetch of {topic}-{partition}: {p:?}");
    p
}

/// What a read_committed consumer sees of `topic`/`partition`, once no
/// transaction is open there (`None` before): the committed values, with
/// aborted ones and markers left out. As the Java consumer reads: from an
/// aborted transaction's first offset on, its producer's records are
/// dropped until that producer's marker. A read stops at a segment's end,
/// so this fetches on. (Not every test binary that includes this file
/// reads transactions.)
#[allow(dead_code)]
pub async fn read_committed(c: &mut Client, topic: &str, partition: i32) -> Option<Vec<String>> {
    let first = fetch_committed(c, topic, partition, 0).await;
    if first.last_stable_offset != first.high_watermark {
        return None;
    }
    let mut out = Vec::new();
    let mut aborting = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let p = fetch_committed(c, topic, partition, offset).await;
        if offset >= p.high_watermark {
            return Some(out);
        }
        let mut aborted: Vec<(i64, i64)> = p
            .aborted_transactions
            .iter()
            .flatten()
            .map(|a| (a.first_offset, a.producer_id.0))
            .collect();
        aborted.sort();
        let mut aborted = aborted.into_iter().peekable();
        let mut records = p.records.clone().unwrap_or_default();
        assert!(!records.is_empty(), "{topic}-{partition}: nothing read at {offset}");
        while !records.is_empty() {
            let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut records).expect("batch decodes");
            for r in set.records {
                while let Some((_, pid)) = aborted.next_if(|(first, _)| *first <= r.offset) {
                    aborting.insert(pid);
                }
                if r.control {
                    aborting.remove(&r.producer_id);
                } else if !aborting.contains(&r.producer_id) {
                    out.push(String::from_utf8(r.value.expect("a value").to_vec()).expect("utf-8"));
                }
                offset = r.offset + 1;
            }
        }
    }
}
