//! fjord: a Kafka-wire-compatible message broker.
//!
//! Requests flow one way: `server` frames and decodes, `handlers` do the
//! work against `log` (through `replication`), `coordinator` and `metadata`,
//! and `server` encodes the response.

pub mod alloc;
pub mod broker;
pub mod broker_configs;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod coordinator;
pub mod error;
pub mod handlers;
pub(crate) mod http;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod replication;
pub mod server;
pub mod testing;
pub mod topic_configs;
pub mod txn_markers;
pub mod txn_verify;

use std::sync::Arc;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use broker::Broker;
pub use config::Config;

/// How long shutdown waits for in-flight requests to be answered before it
/// closes the logs anyway. Long-poll fetches end within their `max.wait.ms`;
/// a request that takes longer (a JoinGroup waiting out a rebalance) is left
/// unanswered, and its connection closes with the process.
pub const SHUTDOWN_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A running broker: its bound addresses and the handle that stops it.
pub struct Running {
    /// The first listener's bound address.
    pub addr: std::net::SocketAddr,
    /// Every listener's bound address, in `listeners` order.
    pub addrs: Vec<std::net::SocketAddr>,
    /// The bound address of `metrics.listener`, when it is set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub broker: Arc<Broker>,
    /// Stops the Kafka listeners and the connections' readers.
    stop_accepting: watch::Sender<bool>,
    /// Every connection and request task.
    requests: TaskTracker,
    /// Stops the background tasks (publish loop, controller, heartbeats,
    /// retention).
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Stops the HTTP listener, last, so `/health` reports the shutdown.
    stop_http: watch::Sender<bool>,
    http: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// A controlled shutdown: tells the controller this broker is leaving
    /// (it is fenced at once), then `halt`s.
    pub async fn shutdown(self) {
        self.broker.stop_serving();
        if self.broker.config.quorum.roles.broker {
            cluster::lifecycle::leave(&self.broker, self.broker.registration_epoch()).await;
        }
        self.halt().await;
    }

    /// Stops without telling the controller: to the rest of the cluster
    /// this node just goes silent, as after a crash (its session expires).
    /// In order: stop accepting and reading requests; let every in-flight
    /// request finish and its response be written (at most
    /// `SHUTDOWN_DRAIN_TIMEOUT`); stop the background tasks, the metadata
    /// quorum and the group timers; close every log; stop the HTTP listener.
    pub async fn halt(self) {
        self.broker.stop_serving();
        let _ = self.stop_accepting.send(true);
        self.requests.close();
        if tokio::time::timeout(SHUTDOWN_DRAIN_TIMEOUT, self.requests.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = self.requests.len(),
                "requests still running after {SHUTDOWN_DRAIN_TIMEOUT:?}; closing the logs anyway"
            );
        }
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.broker.fetchers.stop().await;
        self.broker.raft.shutdown().await;
        self.broker.groups.stop_timers().await;
        self.broker.transactions.stop().await;
        let broker = self.broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.shutdown()).await;
        let _ = self.stop_http.send(true);
        if let Some(http) = self.http {
            let _ = http.await;
        }
    }

    /// Tells every task to stop, without waiting for any of them (for a
    /// `Drop`, which cannot wait): listeners close and background tasks end
    /// as soon as the runtime next polls them; logs are not closed.
    pub fn signal_stop(&self) {
        self.broker.stop_serving();
        let _ = self.stop_accepting.send(true);
        let _ = self.shutdown.send(true);
        let _ = self.stop_http.send(true);
    }
}

/// Opens the data directories, joins the metadata quorum and serves every
/// listener; client requests are answered once this broker is registered
/// with the active controller and unfenced, which is when this returns.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    let mut broker_binds = Vec::new();
    for l in &config.listeners {
        broker_binds.push((l.name.clone(), l.bind_addr()?));
    }
    let mut controller_binds = Vec::new();
    for l in &config.quorum.controller_listeners {
        controller_binds.push((l.name.clone(), l.bind_addr()?));
    }
    // Bind everything first: a port that is taken fails start-up at once.
    let bind = |name: String, addr: std::net::SocketAddr| async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind listener {name} on {addr}: {e}"))?;
        Ok::<_, anyhow::Error>((name, listener))
    };
    let mut broker_listeners = Vec::new();
    for (name, addr) in broker_binds {
        broker_listeners.push(bind(name, addr).await?);
    }
    let mut controller_listeners = Vec::new();
    for (name, addr) in controller_binds {
        controller_listeners.push(bind(name, addr).await?);
    }
    let metrics_listener = match config.metrics_listener {
        Some(addr) => Some(bind(config::METRICS_LISTENER.to_string(), addr).await?.1),
        None => None,
    };
    let mut addrs = Vec::new();
    for (_, l) in broker_listeners.iter().chain(&controller_listeners) {
        addrs.push(l.local_addr()?);
    }
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    // As Kafka does, a listener on port 0 is advertised with the port it
    // bound, so clients (and tests) can use what Metadata tells them.
    for advertised in config.advertised_listeners.iter_mut().filter(|l| l.port == 0) {
        if let Some((_, l)) = broker_listeners.iter().find(|(name, _)| *name == advertised.name) {
            advertised.port = l.local_addr()?.port();
        }
    }

    let (tx, rx) = watch::channel(false);
    let (stop_accepting, accepting) = watch::channel(false);
    let (stop_http, http_running) = watch::channel(false);
    let requests = TaskTracker::new();
    let (broker, mut tasks) = Broker::start(config, rx.clone()).await?;
    // /health answers (503) from here on, before clients are served.
    let http = metrics_listener.map(|l| tokio::spawn(http::serve(broker.clone(), l, http_running)));
    // Every listener is served from here on: the quorum and brokers need the
    // controller listeners, and a broker-only node is reached by the
    // quorum's leader on its broker listener. Client requests wait until
    // this broker is registered and unfenced (`Broker::serving`).
    for (name, listener) in controller_listeners.into_iter().chain(broker_listeners) {
        tasks.push(tokio::spawn(server::serve(
            broker.clone(),
            listener,
            name.into(),
            accepting.clone(),
            requests.clone(),
        )));
    }
    if broker.config.quorum.roles.broker {
        let incarnation = uuid::Uuid::new_v4();
        let epoch = match cluster::lifecycle::join(&broker, incarnation).await {
            Ok(epoch) => epoch,
            Err(e) => {
                let _ = stop_accepting.send(true);
                let _ = tx.send(true);
                let _ = stop_http.send(true);
                broker.raft.shutdown().await;
                anyhow::bail!("could not join the cluster: {}", e.message);
            }
        };
        broker
            .registration_epoch
            .store(epoch, std::sync::atomic::Ordering::Relaxed);
        tasks.push(tokio::spawn(cluster::lifecycle::run(
            broker.clone(),
            incarnation,
            rx.clone(),
        )));
        tasks.push(tokio::spawn(server::retention_task(broker.clone(), rx.clone())));
        tasks.push(tokio::spawn(cluster::isr::shrink_task(broker.clone(), rx.clone())));
    }
    broker.start_serving();
    Ok(Running {
        addr: addrs[0],
        addrs,
        metrics_addr,
        broker,
        stop_accepting,
        requests,
        shutdown: tx,
        tasks,
        stop_http,
        http,
    })
}

/// Whether the node `config` describes serves requests: a Metadata request
/// for no topics on its first client listener (answered only once the
/// broker is registered and unfenced), or ApiVersions on the controller
/// listener of a controller-only node, answered within `timeout`. The
/// container image's HEALTHCHECK runs it as `fjord --health-check`.
pub async fn health_check(config: &Config, timeout: std::time::Duration) -> anyhow::Result<()> {
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    let listener = config
        .listeners
        .first()
        .or(config.quorum.controller_listeners.first())
        .ok_or_else(|| anyhow::anyhow!("no listener configured"))?;
    // A wildcard listener is reached on loopback.
    let host = match listener.host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let addr = if host.contains(':') {
        format!("[{host}]:{}", listener.port)
    } else {
        format!("{host}:{}", listener.port)
    };
    let client = cluster::client::NodeClient::new(addr.clone(), "fjord-health-check");
    if config.listeners.is_empty() {
        let resp = client.call(&ApiVersionsRequest::default(), 0, timeout).await?;
        anyhow::ensure!(
            resp.error_code == 0,
            "{addr} answered ApiVersions with error {}",
            resp.error_code
        );
    } else {
        let req = MetadataRequest::default().with_topics(Some(Vec::new()));
        let resp = client.call(&req, 12, timeout).await?;
        anyhow::ensure!(!resp.brokers.is_empty(), "{addr} answered Metadata with no brokers");
    }
    Ok(())
}
