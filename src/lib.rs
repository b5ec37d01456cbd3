//! fjord: a Kafka-wire-compatible message broker.
//!
//! Requests flow one way: `server` frames and decodes, `handlers` do the
//! work against `log` (through `replication`), `coordinator` and `metadata`,
//! and `server` encodes the response.

pub mod alloc;
pub mod broker;
pub mod config;
pub mod coordinator;
pub mod handlers;
pub mod log;
pub mod metadata;
pub mod replication;
pub mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use broker::Broker;

/// Every binary and test that links the broker gets its allocator, so a
/// hostile array count cannot abort an in-process broker either.
#[global_allocator]
static ALLOCATOR: alloc::BrokerAllocator = alloc::BrokerAllocator;
pub use config::Config;

/// A running broker: its bound address and the handle that stops it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub broker: Arc<Broker>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, ends background tasks and closes every log cleanly.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let broker = self.broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.shutdown()).await;
    }
}

/// Opens the data directories and starts serving on the first listener.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let bind = config.listeners[0].bind_addr()?;
    let broker = tokio::task::block_in_place(|| Broker::open(config))?;
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(server::serve(broker.clone(), listener, rx.clone())),
        tokio::spawn(server::retention_task(broker.clone(), rx)),
    ];
    Ok(Running {
        addr,
        broker,
        shutdown: tx,
        tasks,
    })
}
