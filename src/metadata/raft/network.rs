//! Raft RPCs between controllers, client side, and their wire format.
//!
//! **Wire format.** Raft RPCs travel over the controller listener as
//! ordinary Kafka frames with a fjord-private API key, `RAFT_API_KEY`
//! (32000), that no Kafka client sends. A request is a 4-byte big-endian
//! size, then request header v2 (`api_key: i16 = 32000`, `api_version:
//! i16`, `correlation_id: i32`, `client_id: nullable string` as
//! `fjord-raft-<node id>`, then empty tagged fields, one zero byte), then
//! the body: the openraft request serialized as JSON. The API version
//! selects the RPC: 0 AppendEntries, 1 Vote, 2 InstallSnapshot (one chunk of
//! a snapshot; openraft sends a snapshot as several). The response is a
//! 4-byte size, response header v1 (`correlation_id: i32`, one zero byte of
//! tagged fields), and a JSON body holding openraft's
//! `Result<response, RaftError>` (`{"Ok": ...}` or `{"Err": ...}`), so the
//! receiving node's refusals (a higher vote, a shut-down node) reach the
//! sender's openraft intact. Metadata records inside AppendEntries are
//! carried in their own CRC framing, hex-encoded. Each node keeps one TCP
//! connection per peer and sends one request at a time on it; a transport
//! failure or timeout drops the connection, is reported to openraft as
//! Unreachable (openraft then backs off), and the next RPC reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::types::TypeConfig;
use crate::server::frame::read_frame;

/// The fjord-private API key that carries raft RPCs.
pub const RAFT_API_KEY: i16 = 32_000;
pub(crate) const VERSION_APPEND_ENTRIES: i16 = 0;
pub(crate) const VERSION_VOTE: i16 = 1;
pub(crate) const VERSION_INSTALL_SNAPSHOT: i16 = 2;
/// The largest raft response accepted (a snapshot chunk is the biggest
/// request; responses are small).
const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Snapshot chunk size; JSON carries bytes as numbers, so frames are ~4x.
pub(crate) const SNAPSHOT_CHUNK_BYTES: u64 = 1024 * 1024;

/// Frames one raft request: size, request header v2, body.
pub(crate) fn request_frame(api_version: i16, correlation_id: i32, client_id: &str, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(body.len() + 32 + client_id.len());
    out.put_i32(0);
    out.put_i16(RAFT_API_KEY);
    out.put_i16(api_version);
    out.put_i32(correlation_id);
    out.put_i16(client_id.len() as i16);
    out.put_slice(client_id.as_bytes());
    out.put_u8(0);
    out.put_slice(body);
    let size = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&size.to_be_bytes());
    out
}

/// Frames one raft response: size, response header v1, body.
#[cfg(test)]
pub(crate) fn response_frame(correlation_id: i32, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(body.len() + 9);
    out.put_i32((body.len() + 5) as i32);
    out.put_i32(correlation_id);
    out.put_u8(0);
    out.put_slice(body);
    out
}

/// Reads an unsigned varint (Kafka's tagged-field encoding).
#[cfg(test)]
fn get_uvarint(buf: &mut Bytes) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        if !buf.has_remaining() {
            return None;
        }
        let b = buf.get_u8();
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Splits a request frame (without its size) into api version, correlation
/// id and body; `None` when the header is malformed.
#[cfg(test)]
pub(crate) fn parse_request(mut frame: Bytes) -> Option<(i16, i16, i32, Bytes)> {
    if frame.remaining() < 10 {
        return None;
    }
    let (key, version, correlation_id) = (frame.get_i16(), frame.get_i16(), frame.get_i32());
    let client_id_len = frame.get_i16();
    if client_id_len > 0 {
        if frame.remaining() < client_id_len as usize {
            return None;
        }
        frame.advance(client_id_len as usize);
    }
    let tags = get_uvarint(&mut frame)?;
    for _ in 0..tags {
        get_uvarint(&mut frame)?;
        let size = get_uvarint(&mut frame)? as usize;
        if frame.remaining() < size {
            return None;
        }
        frame.advance(size);
    }
    Some((key, version, correlation_id, frame))
}

/// One TCP connection to a peer, shared by every openraft client of it.
struct Connection {
    addr: String,
    stream: Option<TcpStream>,
}

/// Builds openraft's per-peer clients; owns the connection pool.
#[derive(Clone)]
pub(crate) struct Network {
    client_id: Arc<str>,
    connections: Arc<Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Connection>>>>>,
    correlation_id: Arc<AtomicI32>,
    /// Peer -> when it last answered an AppendEntries (ms since the epoch).
    last_fetches_ms: Arc<Mutex<HashMap<u64, i64>>>,
}

impl Network {
    pub(crate) fn new(node_id: i32) -> Network {
        Network {
            client_id: format!("fjord-raft-{node_id}").into(),
            connections: Arc::default(),
            correlation_id: Arc::default(),
            last_fetches_ms: Arc::default(),
        }
    }

    pub(crate) fn last_fetches_ms(&self) -> HashMap<u64, i64> {
        self.last_fetches_ms.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        let connection = self
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(target)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Connection {
                    addr: node.addr.clone(),
                    stream: None,
                }))
            })
            .clone();
        Peer {
            target,
            node: node.clone(),
            connection,
            network: self.clone(),
        }
    }
}

/// openraft's client of one peer.
pub(crate) struct Peer {
    target: u64,
    node: BasicNode,
    connection: Arc<tokio::sync::Mutex<Connection>>,
    network: Network,
}

/// Why an RPC got no answer.
enum CallError {
    /// Could not send or receive: openraft backs off.
    Unreachable(std::io::Error),
    /// An answer arrived that made no sense.
    Garbled(std::io::Error),
}

impl Peer {
    async fn exchange(&self, frame: &[u8], correlation_id: i32) -> Result<Bytes, CallError> {
        let mut conn = self.connection.lock().await;
        if conn.addr != self.node.addr {
            conn.addr = self.node.addr.clone();
            conn.stream = None;
        }
        if conn.stream.is_none() {
            let stream = TcpStream::connect(&conn.addr).await.map_err(CallError::Unreachable)?;
            let _ = stream.set_nodelay(true);
            conn.stream = Some(stream);
        }
        let stream = conn.stream.as_mut().expect("connected just above");
        let result = async {
            stream.write_all(frame).await.map_err(CallError::Unreachable)?;
            match read_frame(stream, RESPONSE_BYTES_MAX).await {
                Ok(Some(f)) => Ok(f),
                Ok(None) => Err(CallError::Unreachable(std::io::ErrorKind::UnexpectedEof.into())),
                Err(e) => Err(CallError::Unreachable(std::io::Error::other(e))),
            }
        }
        .await;
        let result = result.and_then(|mut f| {
            if f.remaining() < 5 || f.get_i32() != correlation_id {
                return Err(CallError::Garbled(std::io::Error::other(
                    "raft response header mismatch",
                )));
            }
            f.advance(1);
            Ok(f)
        });
        if result.is_err() {
            conn.stream = None;
        }
        result
    }

    /// Sends one RPC and decodes the remote `Result`.
    async fn call<Req, Resp, E>(
        &self,
        api_version: i16,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let correlation_id = self.network.correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame = request_frame(api_version, correlation_id, &self.network.client_id, &body);
        let answer = match tokio::time::timeout(timeout, self.exchange(&frame, correlation_id)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(CallError::Unreachable(e))) => return Err(RPCError::Unreachable(Unreachable::new(&e))),
            Ok(Err(CallError::Garbled(e))) => return Err(RPCError::Network(NetworkError::new(&e))),
            Err(elapsed) => {
                // The connection may still deliver the late answer: drop it.
                if let Ok(mut conn) = self.connection.try_lock() {
                    conn.stream = None;
                }
                return Err(RPCError::Unreachable(Unreachable::new(&elapsed)));
            }
        };
        let result: Result<Resp, RaftError<u64, E>> =
            serde_json::from_slice(&answer).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let response = self.call(VERSION_APPEND_ENTRIES, &rpc, option.hard_ttl()).await?;
        let now_ms = crate::clock::now_ms();
        self.network
            .last_fetches_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.target, now_ms);
        Ok(response)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        self.call(VERSION_INSTALL_SNAPSHOT, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(VERSION_VOTE, &rpc, option.hard_ttl()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_headers_parse_back() {
        let frame = request_frame(VERSION_VOTE, 7, "fjord-raft-1", b"{}");
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - 4);
        let parsed = parse_request(Bytes::copy_from_slice(&frame[4..])).unwrap();
        assert_eq!(parsed, (RAFT_API_KEY, VERSION_VOTE, 7, Bytes::from_static(b"{}")));
        assert!(parse_request(Bytes::from_static(&[0, 1, 0, 0, 0, 0, 0, 1, 0, 9])).is_none());
    }
}
