//! The network front end: a listener that accepts connections and spawns a
//! task per connection; graceful shutdown through one watch signal. Every
//! connection and request task is spawned on one `TaskTracker`, so shutdown
//! can wait until each in-flight request is answered.

pub mod connection;
pub mod frame;
pub(crate) mod ordering;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::broker::Broker;

/// Accepts connections until `shutdown` flips to true; each connection (and
/// each of its requests) runs on `tasks`.
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    name: Arc<str>,
    mut shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let broker = broker.clone();
                    let shutdown = shutdown.clone();
                    let name = name.clone();
                    let requests = tasks.clone();
                    let open = broker.metrics.connection_opened();
                    tasks.spawn(async move {
                        connection::run(broker, socket, peer, name, shutdown, requests).await;
                        drop(open);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

/// Kafka's `log.flush.offset.checkpoint.interval.ms` and
/// `log.flush.start.offset.checkpoint.interval.ms` defaults: how often
/// rolled segments are flushed and the recovery points and log start
/// offsets checkpointed.
const LOG_CHECKPOINT_INTERVAL_MS: u64 = 60_000;

/// Deletes expired segments every `log.retention.check.interval.ms` and
/// expires committed offsets every `offsets.retention.check.interval.ms`;
/// flushes rolled segments and checkpoints the logs every minute.
pub async fn retention_task(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let period = std::time::Duration::from_millis(broker.config.log_retention_check_interval_ms);
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    let offsets_period = std::time::Duration::from_millis(broker.config.groups.offsets_retention_check_interval_ms);
    let mut offsets_ticker = tokio::time::interval(offsets_period);
    offsets_ticker.tick().await;
    let mut checkpoint_ticker = tokio::time::interval(std::time::Duration::from_millis(LOG_CHECKPOINT_INTERVAL_MS));
    checkpoint_ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.enforce_retention(crate::clock::now_ms())).await;
            }
            _ = offsets_ticker.tick() => broker.groups.expire_offsets(crate::clock::now_ms()),
            _ = checkpoint_ticker.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.flush_and_checkpoint()).await;
            }
            _ = shutdown.changed() => break,
        }
    }
}
