//! One client connection: frames are read and decoded continuously, each
//! request is worked on in its own task once the earlier requests it
//! conflicts with have taken effect (ordering.rs), and responses are written
//! strictly in request order (Kafka's per-connection guarantee). A malformed
//! frame closes only this connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::frame::{peek_key_version, read_frame};
use super::ordering::Sequencer;
use crate::broker::Broker;
use crate::handlers::access::Access;
use crate::handlers::{self, api_versions, RequestContext};
use crate::metadata::raft::RAFT_API_KEY;

/// Requests of one connection being worked on at once; the reader stops
/// reading while this many responses are outstanding.
const MAX_IN_FLIGHT_PER_CONNECTION: usize = 32;

/// What the writer does for one request, in order.
enum Reply {
    Bytes(Bytes),
    /// acks=0 produce: nothing is sent.
    Nothing,
    Close,
}

pub async fn run(
    broker: Arc<Broker>,
    socket: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    let (mut reader, mut writer) = socket.into_split();
    let (queue, mut replies) = mpsc::channel::<oneshot::Receiver<Reply>>(MAX_IN_FLIGHT_PER_CONNECTION);
    // Once shutdown stops the reader, the writer still sends every queued
    // response: in-flight requests are answered before the connection closes.
    let writer_task = tasks.spawn(async move {
        while let Some(next) = replies.recv().await {
            match next.await {
                Ok(Reply::Bytes(b)) => {
                    if writer.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Ok(Reply::Nothing) => {}
                Ok(Reply::Close) | Err(_) => break,
            }
        }
        let _ = writer.shutdown().await;
    });
    let mut sequencer = Sequencer::default();
    let from_controller_listener = broker.config.is_controller_listener(&listener);
    let max = broker.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut reader, max) => f,
            _ = queue.closed() => break,
            _ = shutdown.changed() => break,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::info!(%peer, error = %e, "closing connection: bad frame");
                break;
            }
        };
        let (key, version) = peek_key_version(&frame);
        if key == RAFT_API_KEY {
            // The metadata quorum's own RPCs (metadata/raft/network.rs),
            // one at a time per connection.
            let (tx, rx) = oneshot::channel();
            if queue.send(rx).await.is_err() {
                break;
            }
            let (turn, done) = sequencer.admit(Access::ORDERED);
            let broker = broker.clone();
            tasks.spawn(async move {
                turn.wait().await;
                let reply = raft_reply(&broker, frame, version).await;
                drop(done);
                let _ = tx.send(reply);
            });
            continue;
        }
        // Clients wait until this broker has joined the cluster (a broker
        // listener serves raft traffic to a learner before that; controller
        // listeners serve the quorum and registering brokers at once).
        if !broker.is_serving() && !from_controller_listener {
            tokio::select! {
                _ = broker.serving() => {}
                _ = shutdown.changed() => break,
            }
        }
        let arrived = std::time::Instant::now();
        let request = match decode(frame) {
            Ok(r) => r,
            Err(Rejected::UnsupportedApiVersions(correlation_id)) => {
                let (tx, rx) = oneshot::channel();
                let _ = tx.send(Reply::Bytes(api_versions::unsupported_version_reply(correlation_id)));
                if queue.send(rx).await.is_err() {
                    break;
                }
                continue;
            }
            Err(Rejected::Close(reason)) => {
                tracing::info!(%peer, api_key = key, api_version = version, reason = %reason, "closing connection: bad request");
                break;
            }
        };
        let (tx, rx) = oneshot::channel();
        if queue.send(rx).await.is_err() {
            break;
        }
        let (turn, done) = sequencer.admit(handlers::access(request.2));
        let broker = broker.clone();
        let listener = listener.clone();
        let span = tracing::debug_span!("request", api = ?request.2, version, correlation_id = request.0.correlation_id, %peer);
        tasks.spawn(
            async move {
                turn.wait().await;
                let (header, body, api) = request;
                let ctx = RequestContext {
                    broker,
                    header,
                    peer,
                    listener,
                    from_controller_listener,
                    ordering: std::sync::Mutex::new(Some(done)),
                };
                let mut out = response_prefix(&ctx.header, api);
                let reply = match handlers::dispatch(&ctx, api, body, &mut out).await {
                    Ok(true) => Reply::Bytes(finish_frame(out)),
                    Ok(false) => Reply::Nothing,
                    Err(e) => {
                        tracing::info!(error = %e, "closing connection: request refused");
                        Reply::Close
                    }
                };
                ctx.taken_effect();
                ctx.broker.metrics.record_request(key, arrived.elapsed());
                let _ = tx.send(reply);
            }
            .instrument(span),
        );
    }
    drop(queue);
    let _ = writer_task.await;
}

/// Serves one raft RPC frame: request header v2, then the RPC body; the
/// answer carries response header v1. A refused RPC closes the connection.
async fn raft_reply(broker: &Broker, mut frame: Bytes, version: i16) -> Reply {
    let header = match RequestHeader::decode(&mut frame, 2) {
        Ok(h) => h,
        Err(e) => {
            tracing::info!(error = %e, "closing connection: bad raft request header");
            return Reply::Close;
        }
    };
    match broker.raft.handle_rpc(version, frame).await {
        Ok(body) => {
            let mut out = BytesMut::with_capacity(body.len() + 16);
            out.put_i32(0);
            let mut rh = ResponseHeader::default();
            rh.correlation_id = header.correlation_id;
            rh.encode(&mut out, 1).expect("a response header always encodes");
            out.put_slice(&body);
            Reply::Bytes(finish_frame(out))
        }
        Err(e) => {
            tracing::info!(error = %e, "closing connection: raft request refused");
            Reply::Close
        }
    }
}

enum Rejected {
    /// KIP-511: answer ApiVersions v0 with UNSUPPORTED_VERSION and our range.
    UnsupportedApiVersions(i32),
    Close(String),
}

/// Decodes the header; the body is decoded by its handler's dispatch arm.
fn decode(mut frame: Bytes) -> Result<(RequestHeader, Bytes, ApiKey), Rejected> {
    let (key, version) = peek_key_version(&frame);
    let api = ApiKey::try_from(key).map_err(|_| Rejected::Close(format!("unknown api key {key}")))?;
    let Some(range) = handlers::supported_versions(api) else {
        return Err(Rejected::Close(format!("api {api:?} is not supported")));
    };
    if version < range.min || version > range.max {
        if api == ApiKey::ApiVersions && frame.len() >= 8 {
            let correlation_id = i32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
            return Err(Rejected::UnsupportedApiVersions(correlation_id));
        }
        return Err(Rejected::Close(format!("unsupported version {version} of {api:?}")));
    }
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(|e| Rejected::Close(format!("bad request header: {e}")))?;
    Ok((header, frame, api))
}

/// A response frame with room for its size and the response header.
fn response_prefix(header: &RequestHeader, api: ApiKey) -> BytesMut {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let mut rh = ResponseHeader::default();
    rh.correlation_id = header.correlation_id;
    rh.encode(&mut buf, api.response_header_version(header.request_api_version))
        .expect("a response header always encodes");
    buf
}

fn finish_frame(mut buf: BytesMut) -> Bytes {
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}
