//! A Kafka connection from this node to another one: the broker-to-controller
//! channel (registration, heartbeats, forwarded requests) speaks the same
//! protocol clients speak. One request at a time; the connection is
//! re-opened after any error.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Bound on a response this channel accepts (a forwarded Metadata or
/// DescribeConfigs answer is small; nothing large travels here).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("connection to {addr} failed: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("no answer from {addr} within {timeout_ms} ms")]
    Timeout { addr: String, timeout_ms: u64 },
    #[error("malformed response from {addr}: {reason}")]
    Malformed { addr: String, reason: String },
}

pub struct NodeClient {
    addr: String,
    client_id: StrBytes,
    conn: Mutex<Option<(TcpStream, i32)>>,
}

impl NodeClient {
    pub fn new(addr: String, client_id: &str) -> Self {
        NodeClient {
            addr,
            client_id: StrBytes::from_string(client_id.to_string()),
            conn: Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `request` at `version` and decodes the typed response.
    pub async fn call<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        let mut body = BytesMut::new();
        request
            .encode(&mut body, version)
            .map_err(|e| self.malformed(e.to_string()))?;
        let api = ApiKey::try_from(R::KEY).map_err(|_| self.malformed("unknown api key".into()))?;
        let mut response = self.call_raw(api, version, body.freeze(), timeout).await?;
        R::Response::decode(&mut response, version).map_err(|e| self.malformed(e.to_string()))
    }

    /// Sends an already encoded request body; returns the response body
    /// (after the response header). Forwarding passes bodies through as
    /// they are.
    pub async fn call_raw(
        &self,
        api: ApiKey,
        version: i16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        match tokio::time::timeout(timeout, self.exchange(api, version, body)).await {
            Ok(r) => r,
            Err(_) => {
                // The connection may hold a half-read answer: start afresh.
                *self.conn.lock().await = None;
                Err(ClientError::Timeout {
                    addr: self.addr.clone(),
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
        }
    }

    async fn exchange(&self, api: ApiKey, version: i16, body: Bytes) -> Result<Bytes, ClientError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .await
                .map_err(|source| ClientError::Connect {
                    addr: self.addr.clone(),
                    source,
                })?;
            let _ = stream.set_nodelay(true);
            *guard = Some((stream, 0));
        }
        let (stream, next_id) = guard.as_mut().expect("connected above");
        *next_id = next_id.wrapping_add(1);
        let correlation_id = *next_id;
        let result = self.round_trip(stream, api, version, correlation_id, &body).await;
        if result.is_err() {
            *guard = None;
        }
        result
    }

    async fn round_trip(
        &self,
        stream: &mut TcpStream,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &[u8],
    ) -> Result<Bytes, ClientError> {
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(self.client_id.clone());
        let mut frame = BytesMut::with_capacity(64 + body.len());
        frame.put_i32(0);
        header
            .encode(&mut frame, api.request_header_version(version))
            .map_err(|e| self.malformed(e.to_string()))?;
        frame.put_slice(body);
        let size = (frame.len() - 4) as i32;
        frame[0..4].copy_from_slice(&size.to_be_bytes());
        let io = |source| ClientError::Io {
            addr: self.addr.clone(),
            source,
        };
        stream.write_all(&frame).await.map_err(io)?;
        let size = stream.read_i32().await.map_err(io)?;
        if size < 4 || size as usize > MAX_RESPONSE_BYTES {
            return Err(self.malformed(format!("response size {size}")));
        }
        let mut buf = vec![0u8; size as usize];
        stream.read_exact(&mut buf).await.map_err(io)?;
        let mut buf = Bytes::from(buf);
        let response_header = ResponseHeader::decode(&mut buf, api.response_header_version(version))
            .map_err(|e| self.malformed(e.to_string()))?;
        if response_header.correlation_id != correlation_id {
            return Err(self.malformed(format!(
                "correlation id {} for request {correlation_id}",
                response_header.correlation_id
            )));
        }
        Ok(buf)
    }

    fn malformed(&self, reason: String) -> ClientError {
        ClientError::Malformed {
            addr: self.addr.clone(),
            reason,
        }
    }
}

/// One client per peer node, kept while its address stays the same (the
/// transaction coordinator's markers and verifications share them).
pub struct NodeClients {
    client_id: String,
    clients: std::sync::Mutex<std::collections::HashMap<i32, std::sync::Arc<NodeClient>>>,
}

impl NodeClients {
    pub fn new(client_id: String) -> Self {
        NodeClients {
            client_id,
            clients: Default::default(),
        }
    }

    /// The client of `node` at `addr` (a new one when the address changed).
    pub fn get(&self, node: i32, addr: String) -> std::sync::Arc<NodeClient> {
        let mut clients = self.clients.lock().expect("client map lock is never poisoned");
        match clients.get(&node) {
            Some(c) if c.addr() == addr => c.clone(),
            _ => {
                let c = std::sync::Arc::new(NodeClient::new(addr, &self.client_id));
                clients.insert(node, c.clone());
                c
            }
        }
    }
}
