//! Brokers for tests, started inside the test process: a single node
//! ([`TestBroker`]) or a cluster of N combined nodes ([`TestCluster`]), on
//! loopback ports picked by the system, with data in temporary directories
//! that are removed when the broker is dropped.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let broker = fjord::testing::TestBroker::start().await?;
//! let bootstrap = broker.bootstrap(); // "127.0.0.1:PORT", for any Kafka client
//! // ... produce and consume through `bootstrap` ...
//! broker.stop().await; // or just drop it
//! # Ok(())
//! # }
//! ```
//!
//! With [rskafka](https://docs.rs/rskafka), a pure-Rust client (this is
//! what `tests/testing.rs` runs):
//!
//! ```ignore
//! use rskafka::client::partition::{Compression, UnknownTopicHandling};
//! use rskafka::client::ClientBuilder;
//! use rskafka::record::Record;
//!
//! let broker = fjord::testing::TestBroker::start().await?;
//! let client = ClientBuilder::new(vec![broker.bootstrap()]).build().await?;
//! client.controller_client()?.create_topic("events", 1, 1, 5_000).await?;
//! let partition = client
//!     .partition_client("events", 0, UnknownTopicHandling::Retry)
//!     .await?;
//! let record = Record {
//!     key: None,
//!     value: Some(b"hello".to_vec()),
//!     headers: Default::default(),
//!     timestamp: rskafka::chrono::Utc::now(),
//! };
//! partition.produce(vec![record], Compression::NoCompression).await?;
//! let (records, _high_watermark) = partition.fetch_records(0, 1..1_000_000, 1_000).await?;
//! assert_eq!(records[0].record.value.as_deref(), Some(&b"hello"[..]));
//! broker.stop().await;
//! ```
//!
//! A [`TestCluster`] is started the same way (`TestCluster::start(3)`);
//! its `bootstrap()` lists every running node, comma-separated as Kafka's
//! `bootstrap.servers` is (rskafka takes them as a `Vec`).
//!
//! The broker's global allocator (`fjord::alloc`, which keeps a hostile
//! array count from aborting the process) belongs to the `fjord` binary; a
//! test binary that feeds the broker hostile frames installs it itself with
//! `#[global_allocator]`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::{Broker, Config, Running};

/// Upper bound on starting one node (a cluster node waits for a quorum).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound on stopping one node.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A single-node broker (combined broker and controller, a quorum of one)
/// on an ephemeral loopback port. Dropping it signals every task to stop
/// and removes its data; [`TestBroker::stop`] also waits for in-flight
/// requests and closes the logs.
pub struct TestBroker {
    running: Option<Running>,
    addr: SocketAddr,
    // Dropped after `running` (fields drop in order).
    dir: tempfile::TempDir,
}

impl TestBroker {
    /// Starts a broker on the defaults: `listeners=PLAINTEXT://127.0.0.1:0`
    /// (advertised with the port it bound) and a fresh data directory.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// Starts a broker with `overrides` on top of the test defaults, as
    /// `--override key=value` would (`("num.partitions", "3")`).
    pub async fn start_with(overrides: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a data directory")?;
        let mut set = BTreeMap::new();
        set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
        set.insert("log.dirs".to_string(), dir.path().display().to_string());
        for (k, v) in overrides {
            set.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_sources(&set)?;
        let running = start_in_time(config).await?;
        Ok(TestBroker {
            addr: running.addr,
            running: Some(running),
            dir,
        })
    }

    /// `host:port` of the client listener, for a client's bootstrap servers.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The client listener's bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of `metrics.listener`, when it was set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr)
    }

    /// The broker's state, for assertions a client cannot make.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.running.as_ref().expect("a TestBroker runs until stopped").broker
    }

    /// The data directory (`log.dirs`).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Shuts the broker down cleanly: in-flight requests are answered and
    /// every log is closed; then the data directory is removed.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            stop_in_time(running.shutdown()).await;
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.signal_stop();
        }
    }
}

/// A cluster of combined (`broker,controller`) nodes with ids 1..=N, each
/// with its own data directory and PLAINTEXT and CONTROLLER listeners on
/// loopback, all voters of one metadata quorum.
pub struct TestCluster {
    nodes: Vec<TestNode>,
}

struct TestNode {
    config: Config,
    broker_addr: SocketAddr,
    controller_addr: SocketAddr,
    running: Option<Running>,
    // Dropped after `running`.
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// Starts `nodes` nodes at once and returns when every one is
    /// registered and unfenced.
    pub async fn start(nodes: usize) -> anyhow::Result<Self> {
        Self::start_with(nodes, &[]).await
    }

    /// Starts `nodes` nodes with `overrides` on every node (shorter
    /// `broker.session.timeout.ms` or `controller.quorum.election.timeout.ms`
    /// make fencing and failover quick to observe).
    pub async fn start_with(nodes: usize, overrides: &[(&str, &str)]) -> anyhow::Result<Self> {
        anyhow::ensure!(nodes >= 1, "a cluster needs at least one node");
        // The voters need every controller address before any node starts.
        let ports: Vec<(u16, u16)> = (0..nodes)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<anyhow::Result<_>>()?;
        let voters: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, c))| format!("{}@127.0.0.1:{c}", i + 1))
            .collect();
        let mut cluster = TestCluster { nodes: Vec::new() };
        for (i, (b, c)) in ports.iter().enumerate() {
            let dir = tempfile::tempdir().context("creating a data directory")?;
            let mut set = BTreeMap::new();
            let mut put = |k: &str, v: String| set.insert(k.to_string(), v);
            put("process.roles", "broker,controller".into());
            put("node.id", (i + 1).to_string());
            put(
                "listeners",
                format!("PLAINTEXT://127.0.0.1:{b},CONTROLLER://127.0.0.1:{c}"),
            );
            put("controller.quorum.voters", voters.join(","));
            put("controller.listener.names", "CONTROLLER".into());
            put("log.dirs", dir.path().display().to_string());
            for (k, v) in overrides {
                put(k, v.to_string());
            }
            cluster.nodes.push(TestNode {
                config: Config::from_sources(&set)?,
                broker_addr: SocketAddr::from(([127, 0, 0, 1], *b)),
                controller_addr: SocketAddr::from(([127, 0, 0, 1], *c)),
                running: None,
                _dir: dir,
            });
        }
        // Each node's start returns only once it is unfenced, which takes a
        // quorum: start them all together.
        let mut starting = tokio::task::JoinSet::new();
        for (i, node) in cluster.nodes.iter().enumerate() {
            let config = node.config.clone();
            starting.spawn(async move { (i, start_in_time(config).await) });
        }
        while let Some(started) = starting.join_next().await {
            let (i, running) = started.context("a node's start-up panicked")?;
            let running = running.with_context(|| format!("node {} starts", i + 1))?;
            cluster.nodes[i].running = Some(running);
        }
        Ok(cluster)
    }

    /// Node ids, 1..=N.
    pub fn ids(&self) -> Vec<i32> {
        (1..=self.nodes.len() as i32).collect()
    }

    /// The ids of the nodes that are running.
    pub fn live_ids(&self) -> Vec<i32> {
        self.ids()
            .into_iter()
            .filter(|&id| self.node(id).running.is_some())
            .collect()
    }

    /// Every running node's client listener, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.live_ids()
            .iter()
            .map(|&id| self.broker_addr(id).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `id`'s client (PLAINTEXT) listener.
    pub fn broker_addr(&self, id: i32) -> SocketAddr {
        self.node(id).broker_addr
    }

    /// Node `id`'s CONTROLLER listener.
    pub fn controller_addr(&self, id: i32) -> SocketAddr {
        self.node(id).controller_addr
    }

    /// Node `id`'s broker state, while it runs.
    pub fn broker(&self, id: i32) -> Option<&Arc<Broker>> {
        self.node(id).running.as_ref().map(|r| &r.broker)
    }

    /// Stops node `id` without a controlled shutdown (`Running::halt`): to
    /// the rest of the cluster it goes silent, as after a crash.
    pub async fn halt(&mut self, id: i32) {
        let running = self.take_running(id);
        stop_in_time(running.halt()).await;
    }

    /// Stops node `id` with a controlled shutdown (`Running::shutdown`): it
    /// asks the controller to fence it first.
    pub async fn shut_down(&mut self, id: i32) {
        let running = self.take_running(id);
        stop_in_time(running.shutdown()).await;
    }

    /// Starts a stopped node again from its data directory, on its ports.
    pub async fn restart(&mut self, id: i32) -> anyhow::Result<()> {
        let node = self.node_mut(id);
        anyhow::ensure!(node.running.is_none(), "node {id} is running");
        node.running = Some(start_in_time(node.config.clone()).await?);
        Ok(())
    }

    /// Halts every running node; their data directories are removed.
    pub async fn stop(mut self) {
        for id in self.live_ids() {
            self.halt(id).await;
        }
    }

    fn node(&self, id: i32) -> &TestNode {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.nodes.get(i))
            .unwrap_or_else(|| panic!("no node {id} in a cluster of {}", self.nodes.len()))
    }

    fn node_mut(&mut self, id: i32) -> &mut TestNode {
        let n = self.nodes.len();
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.nodes.get_mut(i))
            .unwrap_or_else(|| panic!("no node {id} in a cluster of {n}"))
    }

    fn take_running(&mut self, id: i32) -> Running {
        self.node_mut(id)
            .running
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(running) = node.running.take() {
                running.signal_stop();
            }
        }
    }
}

/// A loopback port that was free a moment ago (the cluster's voters must
/// name their controller ports before any node binds them).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

async fn start_in_time(config: Config) -> anyhow::Result<Running> {
    let id = config.node_id;
    tokio::time::timeout(START_TIMEOUT, crate::start(config))
        .await
        .map_err(|_| anyhow::anyhow!("node {id} did not start within {START_TIMEOUT:?}"))?
}

async fn stop_in_time(stop: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(STOP_TIMEOUT, stop).await.is_err() {
        panic!("a broker did not stop within {STOP_TIMEOUT:?}");
    }
}
