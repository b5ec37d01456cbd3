//! The network front end: a listener that accepts connections and spawns a
//! task per connection; graceful shutdown through one watch signal.

pub mod connection;
pub mod frame;
mod ordering;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::Broker;

/// Accepts connections until `shutdown` flips to true.
pub async fn serve(broker: Arc<Broker>, listener: TcpListener, name: Arc<str>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    let broker = broker.clone();
                    let shutdown = shutdown.clone();
                    let name = name.clone();
                    tokio::spawn(async move {
                        connection::run(broker, socket, peer, name, shutdown).await;
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

/// Deletes expired segments every `log.retention.check.interval.ms` and
/// expires committed offsets every `offsets.retention.check.interval.ms`.
pub async fn retention_task(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let period = std::time::Duration::from_millis(broker.config.log_retention_check_interval_ms);
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    let offsets_period = std::time::Duration::from_millis(broker.config.groups.offsets_retention_check_interval_ms);
    let mut offsets_ticker = tokio::time::interval(offsets_period);
    offsets_ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.replicas.enforce_retention(crate::broker::now_ms())).await;
            }
            _ = offsets_ticker.tick() => broker.groups.expire_offsets(crate::broker::now_ms()),
            _ = shutdown.changed() => break,
        }
    }
}
