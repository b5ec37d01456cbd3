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
