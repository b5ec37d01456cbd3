//! The replicated metadata log: `MetadataRecord` batches as openraft
//! entries, applied in order to a `ClusterImage` on every node.
//!
//! Controllers (`process.roles` with `controller`) are openraft voters, the
//! static set `controller.quorum.voters`; broker-only nodes are learners
//! that the leader adds when they register (`add_learner`), as KRaft
//! observers follow the log. Raft RPCs arrive over the controller listener
//! (`RAFT_API_KEY`, see `network.rs` for the wire format) and are served by
//! `handle_rpc`. Records are handled opaquely (`encode`/`decode`,
//! `ClusterImage::apply`, `to_records`/`from_records`), so new record kinds
//! need nothing here.
//!
//! Storage (all under `RaftSettings::dir`): `raft.log` and `raft-meta.json`
//! (log_store.rs), `snapshot.bin` (state_machine.rs).
//!
//! Additions to the agreed interface: `watch_leadership()` (the watch of
//! leader and term), `QuorumInfo`/`ReplicaState` (DescribeQuorum's shape),
//! `Leadership`, `RaftError`, `ProposeError::{Fatal, Other}`, and
//! `RAFT_API_KEY`. `Published::applied_index` is the raft log index of the
//! last applied entry (0 before anything is applied). A single-voter node's
//! `start` also waits until it is leader (a few milliseconds), so the
//! single-node broker can propose as soon as `start` returns.

mod durable;
mod log_store;
mod network;
mod state_machine;
mod types;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use openraft::error::{CheckIsLeaderError, ClientWriteError, InitializeError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::image::ClusterImage;
use super::records::MetadataRecord;
use log_store::{LogReader, LogStore};
pub use network::RAFT_API_KEY;
use network::{Network, VERSION_APPEND_ENTRIES, VERSION_INSTALL_SNAPSHOT, VERSION_VOTE};
use state_machine::StateMachine;
use types::{kafka_id, raft_id, MetadataBatch, Raft};

/// Today's single-node metadata file (`MetadataStore`), imported once.
const OLD_METADATA_LOG: &str = "metadata.log";
const OLD_METADATA_LOG_IMPORTED: &str = "metadata.log.imported";
/// A single voter elects itself at once; this bounds the wait in `start`.
const SINGLE_VOTER_ELECTION_WAIT: Duration = Duration::from_secs(10);

pub struct RaftSettings {
    pub node_id: i32,
    /// The metadata log directory, `<first log dir>/__cluster_metadata-0`.
    pub dir: PathBuf,
    /// `controller.quorum.voters`: node id -> "host:port" of its controller listener.
    pub voters: BTreeMap<i32, String>,
    /// `process.roles` contains "controller"; otherwise this node is a learner.
    pub is_voter: bool,
    /// `controller.quorum.election.timeout.ms` (Kafka's default: 1000).
    pub election_timeout_ms: u64,
    /// Leader heartbeat cadence; must be below the election timeout.
    pub heartbeat_interval_ms: u64,
    /// Records applied between snapshots (bounds the log). Entries without
    /// records count as one.
    pub snapshot_every_records: u64,
}

/// An applied image and the raft log index it reflects.
#[derive(Clone)]
pub struct Published {
    pub image: Arc<ClusterImage>,
    pub applied_index: u64,
}

/// Who leads the quorum, in which term (Kafka's leader epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    pub leader: Option<i32>,
    pub term: u64,
}

/// One replica as DescribeQuorum reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub replica_id: i32,
    /// Matched index + 1 as the leader knows it; -1 unknown.
    pub log_end_offset: i64,
    /// Last successful AppendEntries exchange, ms since the epoch; -1 unknown.
    pub last_fetch_timestamp_ms: i64,
    /// Last time it was known to match the leader's log end; -1 unknown.
    pub last_caught_up_timestamp_ms: i64,
}

/// DescribeQuorum's view of the metadata quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// -1 when there is none.
    pub leader_id: i32,
    /// The raft term.
    pub leader_epoch: i32,
    /// Committed index + 1 (Kafka's next-offset convention); 0 if none.
    pub high_watermark: i64,
    pub voters: Vec<ReplicaState>,
    /// Learners.
    pub observers: Vec<ReplicaState>,
}

#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error("metadata raft I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid metadata quorum settings: {0}")]
    Config(String),
    #[error("metadata raft stopped: {0}")]
    Fatal(String),
    #[error("malformed raft RPC: {0}")]
    Malformed(String),
    #[error("unknown raft RPC version {0}")]
    UnsupportedVersion(i16),
}

#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error("not the metadata quorum leader (leader: {leader:?})")]
    NotLeader { leader: Option<i32> },
    #[error("metadata quorum stopped: {0}")]
    Fatal(String),
    #[error("metadata quorum refused: {0}")]
    Other(String),
}

pub struct MetadataRaft {
    node_id: i32,
    raft: Raft,
    log: LogReader,
    state: Arc<state_machine::Shared>,
    network: Network,
    leadership: watch::Receiver<Leadership>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn check(settings: &RaftSettings) -> Result<(), RaftError> {
    if settings.voters.is_empty() {
        return Err(RaftError::Config("controller.quorum.voters is empty".into()));
    }
    if settings.is_voter && !settings.voters.contains_key(&settings.node_id) {
        return Err(RaftError::Config(format!(
            "node {} is a controller but not in controller.quorum.voters",
            settings.node_id
        )));
    }
    if settings.node_id < 0 || settings.voters.keys().any(|id| *id < 0) {
        return Err(RaftError::Config("node ids must be non-negative".into()));
    }
    Ok(())
}

fn raft_config(settings: &RaftSettings) -> Result<Config, RaftError> {
    let config = Config {
        cluster_name: "fjord-metadata".into(),
        heartbeat_interval: settings.heartbeat_interval_ms,
        election_timeout_min: settings.election_timeout_ms,
        election_timeout_max: settings.election_timeout_ms * 2,
        // Snapshots follow records applied (state_machine.rs), not entries.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        snapshot_max_chunk_size: network::SNAPSHOT_CHUNK_BYTES,
        ..Config::default()
    };
    config.validate().map_err(|e| RaftError::Config(e.to_string()))
}

/// Records of the old single-node log, if it is still to be imported.
fn read_old_log(dir: &Path) -> std::io::Result<Option<Vec<MetadataRecord>>> {
    let Some(bytes) = durable::read_optional(dir, OLD_METADATA_LOG)? else {
        return Ok(None);
    };
    let (records, used) = super::decode_log(&bytes);
    if used < bytes.len() {
        tracing::warn!(dir = %dir.display(), position = used, "ignoring torn tail of metadata.log on import");
    }
    Ok(Some(records))
}

impl MetadataRaft {
    /// Opens (recovers) storage under `settings.dir`, starts openraft, and
    /// returns once the state machine has replayed what is durable. Voters
    /// with pristine storage initialize the static voter set (every voter
    /// proposes the same membership, which openraft permits).
    pub async fn start(settings: RaftSettings) -> Result<Arc<Self>, RaftError> {
        check(&settings)?;
        let config = Arc::new(raft_config(&settings)?);
        let dir = settings.dir.clone();
        let every = settings.snapshot_every_records;
        let (log_store, sm, old_log) = durable::blocking(move || {
            std::fs::create_dir_all(&dir)?;
            Ok((
                LogStore::open(&dir)?,
                StateMachine::open(&dir, every)?,
                read_old_log(&dir)?,
            ))
        })
        .await?;
        let pristine = log_store.is_pristine();
        let log = log_store.reader();
        let state = sm.shared();
        let network = Network::new(settings.node_id);
        let raft = Raft::new(raft_id(settings.node_id), config, network.clone(), log_store, sm)
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;
        if settings.is_voter && pristine {
            let members: BTreeMap<u64, BasicNode> = settings
                .voters
                .iter()
                .map(|(id, addr)| (raft_id(*id), BasicNode { addr: addr.clone() }))
                .collect();
            match raft.initialize(members).await {
                Ok(()) | Err(openraft::error::RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(RaftError::Fatal(e.to_string())),
            }
        }
        let (leadership, tasks) = spawn_watchers(&raft, &state);
        let node = Arc::new(MetadataRaft {
            node_id: settings.node_id,
            raft,
            log,
            state,
            network,
            leadership,
            tasks: Mutex::new(tasks),
        });
        let single_voter = settings.is_voter && settings.voters.len() == 1;
        if single_voter {
            node.raft
                .wait(Some(SINGLE_VOTER_ELECTION_WAIT))
                .current_leader(raft_id(settings.node_id), "single voter elects itself")
                .await
                .map_err(|e| RaftError::Fatal(e.to_string()))?;
        }
        if let Some(records) = old_log {
            if single_voter {
                node.import(records, &settings.dir).await?;
            } else {
                let task = tokio::spawn(import_when_leader(node.clone(), records, settings.dir.clone()));
                node.tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task);
            }
        }
        tracing::info!(
            node_id = settings.node_id,
            voter = settings.is_voter,
            "metadata raft started"
        );
        Ok(node)
    }

    /// Imports the old single-node log as one batch (unless an earlier,
    /// interrupted start already did), then renames the file once the batch
    /// is committed.
    async fn import(&self, records: Vec<MetadataRecord>, dir: &Path) -> Result<(), RaftError> {
        let map = |e: ProposeError| RaftError::Fatal(format!("importing metadata.log: {e}"));
        let imported = || self.state.imported.load(Ordering::Acquire);
        if !imported() {
            self.ensure_linearizable().await.map_err(map)?;
        }
        if !imported() {
            let count = records.len();
            self.write(MetadataBatch {
                records,
                imported: true,
            })
            .await
            .map_err(map)?;
            tracing::info!(
                records = count,
                "imported the single-node metadata.log into the metadata quorum"
            );
        }
        let dir = dir.to_path_buf();
        durable::blocking(move || {
            std::fs::rename(dir.join(OLD_METADATA_LOG), dir.join(OLD_METADATA_LOG_IMPORTED))?;
            durable::sync_dir(&dir)
        })
        .await?;
        Ok(())
    }

    /// Appends one batch of records as one raft entry; returns once it is
    /// committed and applied here (the returned image includes it).
    pub async fn propose(&self, records: Vec<MetadataRecord>) -> Result<Published, ProposeError> {
        self.write(MetadataBatch {
            records,
            imported: false,
        })
        .await
    }

    async fn write(&self, batch: MetadataBatch) -> Result<Published, ProposeError> {
        match self.raft.client_write(batch).await {
            Ok(response) => {
                let published = self.state.published.borrow().clone();
                debug_assert!(
                    published.applied_index >= response.log_id.index,
                    "applied before answered"
                );
                Ok(published)
            }
            Err(openraft::error::RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id.map(kafka_id),
                })
            }
            Err(openraft::error::RaftError::APIError(e)) => Err(ProposeError::Other(e.to_string())),
            Err(openraft::error::RaftError::Fatal(e)) => Err(ProposeError::Fatal(e.to_string())),
        }
    }

    /// Waits until this node, as leader, has applied everything committed
    /// before now (openraft's read index), so decisions against `image()`
    /// see the whole committed log.
    pub async fn ensure_linearizable(&self) -> Result<(), ProposeError> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(openraft::error::RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id.map(kafka_id),
                })
            }
            Err(openraft::error::RaftError::APIError(e)) => Err(ProposeError::Other(e.to_string())),
            Err(openraft::error::RaftError::Fatal(e)) => Err(ProposeError::Fatal(e.to_string())),
        }
    }

    pub fn image(&self) -> Arc<ClusterImage> {
        self.state.published.borrow().image.clone()
    }

    /// The latest applied image; subscribers diff images and may skip some.
    pub fn subscribe(&self) -> watch::Receiver<Published> {
        self.state.published.subscribe()
    }

    pub fn leader(&self) -> Option<i32> {
        self.leadership.borrow().leader
    }

    /// Changes whenever the leader or the term changes.
    pub fn watch_leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.clone()
    }

    pub fn quorum_info(&self) -> QuorumInfo {
        let metrics = self.raft.metrics().borrow().clone();
        let fetches = self.network.last_fetches_ms();
        let now = crate::clock::now_ms();
        let me = raft_id(self.node_id);
        let leader_last = metrics.last_log_index;
        let replica = |id: u64| {
            let (leo, fetch) = if id == me {
                (metrics.last_log_index.map_or(0, |i| i as i64 + 1), now)
            } else {
                let matched = metrics.replication.as_ref().and_then(|r| r.get(&id)).copied();
                let leo = matched.map_or(-1, |m| m.map_or(0, |l| l.index as i64 + 1));
                (leo, fetches.get(&id).copied().unwrap_or(-1))
            };
            let caught_up = leader_last.is_some_and(|l| leo == l as i64 + 1);
            ReplicaState {
                replica_id: kafka_id(id),
                log_end_offset: leo,
                last_fetch_timestamp_ms: fetch,
                last_caught_up_timestamp_ms: if caught_up { fetch } else { -1 },
            }
        };
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        QuorumInfo {
            leader_id: metrics.current_leader.map_or(-1, kafka_id),
            leader_epoch: metrics.current_term as i32,
            high_watermark: self.log.committed().map_or(0, |c| c.index as i64 + 1),
            voters: voters.iter().map(|id| replica(*id)).collect(),
            observers: membership.learner_ids().map(replica).collect(),
        }
    }

    /// Adds a broker-only node as a learner (on the leader, when the node
    /// registers); idempotent; does not wait for it to catch up.
    pub async fn add_learner(&self, node_id: i32, addr: String) -> Result<(), ProposeError> {
        let id = raft_id(node_id);
        let known = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            m.membership_config
                .membership()
                .get_node(&id)
                .is_some_and(|n| n.addr == addr)
        };
        if known {
            return Ok(());
        }
        match self.raft.add_learner(id, BasicNode { addr }, false).await {
            Ok(_) => Ok(()),
            Err(openraft::error::RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id.map(kafka_id),
                })
            }
            Err(openraft::error::RaftError::APIError(e)) => Err(ProposeError::Other(e.to_string())),
            Err(openraft::error::RaftError::Fatal(e)) => Err(ProposeError::Fatal(e.to_string())),
        }
    }

    /// Serves one raft RPC that arrived over the controller listener
    /// (`RAFT_API_KEY`); returns the response body.
    pub async fn handle_rpc(&self, api_version: i16, body: Bytes) -> Result<Bytes, RaftError> {
        let malformed = |e: serde_json::Error| RaftError::Malformed(e.to_string());
        let out = match api_version {
            VERSION_APPEND_ENTRIES => {
                let request = serde_json::from_slice(&body).map_err(malformed)?;
                serde_json::to_vec(&self.raft.append_entries(request).await)
            }
            VERSION_VOTE => {
                let request = serde_json::from_slice(&body).map_err(malformed)?;
                serde_json::to_vec(&self.raft.vote(request).await)
            }
            VERSION_INSTALL_SNAPSHOT => {
                let request = serde_json::from_slice(&body).map_err(malformed)?;
                serde_json::to_vec(&self.raft.install_snapshot(request).await)
            }
            v => return Err(RaftError::UnsupportedVersion(v)),
        };
        out.map(Bytes::from).map_err(malformed)
    }

    /// Stops openraft and the background tasks; storage stays consistent.
    pub async fn shutdown(&self) {
        for task in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "metadata raft did not shut down cleanly");
        }
    }
}

impl Drop for MetadataRaft {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
}

/// The leadership watch, fed from openraft's metrics, and the task that asks
/// openraft for a snapshot when the state machine says one is due.
fn spawn_watchers(
    raft: &Raft,
    state: &Arc<state_machine::Shared>,
) -> (watch::Receiver<Leadership>, Vec<JoinHandle<()>>) {
    let mut metrics = raft.metrics();
    let (tx, rx) = watch::channel(Leadership { leader: None, term: 0 });
    let leadership = tokio::spawn(async move {
        loop {
            let now = {
                let m = metrics.borrow_and_update();
                Leadership {
                    leader: m.current_leader.map(kafka_id),
                    term: m.current_term,
                }
            };
            tx.send_if_modified(|l| std::mem::replace(l, now) != now);
            if metrics.changed().await.is_err() {
                break;
            }
        }
    });
    let (raft, state) = (raft.clone(), state.clone());
    let snapshots = tokio::spawn(async move {
        loop {
            state.snapshot_due.notified().await;
            if raft.trigger().snapshot().await.is_err() {
                break;
            }
        }
    });
    (rx, vec![leadership, snapshots])
}

/// In a multi-voter quorum, whichever node holds an old `metadata.log`
/// imports it when it becomes leader (or just renames it once the import is
/// seen in the log).
async fn import_when_leader(node: Arc<MetadataRaft>, records: Vec<MetadataRecord>, dir: PathBuf) {
    let mut leadership = node.watch_leadership();
    let mut published = node.subscribe();
    loop {
        let leader = leadership.borrow_and_update().leader == Some(node.node_id);
        if leader || node.state.imported.load(Ordering::Acquire) {
            match node.import(records.clone(), &dir).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "metadata.log import failed; will retry"),
            }
        }
        tokio::select! {
            r = leadership.changed() => if r.is_err() { return },
            r = published.changed() => if r.is_err() { return },
        }
    }
}
