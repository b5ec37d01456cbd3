//! One small HTTP/1.1 listener beside the Kafka listeners, off unless
//! `metrics.listener` is set: `GET /metrics` (Prometheus text format) and
//! `GET /health` (200 while the broker serves clients, 503 before it does
//! and once shutdown has begun, for load balancers and orchestrators).
//! HTTP itself is hyper's; this module only routes.

pub mod exposition;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::broker::Broker;

/// A client gets this long to send its request headers (a bound on idle
/// or slow connections).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an exchange under way may take to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `listener` until `shutdown` flips, then lets each open exchange
/// finish (bounded by `SHUTDOWN_GRACE`) and returns.
pub async fn serve(broker: Arc<Broker>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let connections = TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(broker.clone(), stream, shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    connections.close();
    connections.wait().await;
}

async fn connection(broker: Arc<Broker>, stream: tokio::net::TcpStream, mut shutdown: watch::Receiver<bool>) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = respond(&broker, &request);
        async move { Ok::<_, Infallible>(response) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::time::timeout(SHUTDOWN_GRACE, conn).await.unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "metrics listener: connection ended");
    }
}

fn respond(broker: &Broker, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/health") {
        return text(StatusCode::NOT_FOUND, "not found: try /metrics or /health\n");
    }
    if request.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    if path == "/health" {
        return if broker.is_serving() {
            text(StatusCode::OK, "serving\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "not serving\n")
        };
    }
    let mut r = Response::new(Full::new(Bytes::from(exposition::render(broker))));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(exposition::CONTENT_TYPE));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
