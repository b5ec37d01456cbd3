//! fjord: a Kafka-wire-compatible message broker.
//!
//! Requests flow one way: `server` frames and decodes, `handlers` do the
//! work against `log` (through `replication`), `coordinator` and `metadata`,
//! and `server` encodes the response.

pub mod alloc;
pub mod broker;
pub mod broker_configs;
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

/// A running broker: its bound addresses and the handle that stops it.
pub struct Running {
    /// The first listener's bound address.
    pub addr: std::net::SocketAddr,
    /// Every listener's bound address, in `listeners` order.
    pub addrs: Vec<std::net::SocketAddr>,
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

/// Opens the data directories and starts serving on every listener.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let binds = config
        .listeners
        .iter()
        .map(|l| Ok((l.name.clone(), l.bind_addr()?)))
        .collect::<Result<Vec<_>, config::ConfigError>>()?;
    let broker = tokio::task::block_in_place(|| Broker::open(config))?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(server::retention_task(broker.clone(), rx.clone()))];
    let mut addrs = Vec::new();
    for (name, bind) in binds {
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind listener {name} on {bind}: {e}"))?;
        addrs.push(listener.local_addr()?);
        tasks.push(tokio::spawn(server::serve(
            broker.clone(),
            listener,
            name.into(),
            rx.clone(),
        )));
    }
    Ok(Running {
        addr: addrs[0],
        addrs,
        broker,
        shutdown: tx,
        tasks,
    })
}
