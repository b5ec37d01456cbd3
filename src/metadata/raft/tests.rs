//! The metadata quorum over real loopback TCP, plus openraft's storage
//! suite. Every wait is bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::log_store::LogStore;
use super::network::{parse_request, response_frame, RAFT_API_KEY};
use super::state_machine::StateMachine;
use super::types::TypeConfig;
use super::*;
use crate::server::frame::read_frame;

const ELECTION_TIMEOUT_MS: u64 = 600;
const HEARTBEAT_MS: u64 = 150;
const WAIT: Duration = Duration::from_secs(15);

/// A test-only controller listener: Kafka frames in, `handle_rpc`, frames out.
async fn serve_connection(raft: Arc<MetadataRaft>, mut socket: TcpStream) {
    while let Ok(Some(frame)) = read_frame(&mut socket, 64 * 1024 * 1024).await {
        let Some((key, version, correlation_id, body)) = parse_request(frame) else {
            return;
        };
        assert_eq!(key, RAFT_API_KEY);
        let Ok(answer) = raft.handle_rpc(version, body).await else {
            return;
        };
        if socket
            .write_all(&response_frame(correlation_id, &answer))
            .await
            .is_err()
        {
            return;
        }
    }
}

fn serve(listener: TcpListener, raft: Arc<MetadataRaft>) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Dropping the set (when this task is aborted) ends every connection.
        let mut connections = JoinSet::new();
        while let Ok((socket, _)) = listener.accept().await {
            connections.spawn(serve_connection(raft.clone(), socket));
        }
    })
}

struct Node {
    raft: Arc<MetadataRaft>,
    server: JoinHandle<()>,
}

impl Node {
    async fn kill(self) {
        self.server.abort();
        let _ = self.server.await;
        self.raft.shutdown().await;
    }
}

fn settings(node_id: i32, dir: &Path, voters: &BTreeMap<i32, String>, is_voter: bool) -> RaftSettings {
    RaftSettings {
        node_id,
        dir: dir.join(format!("node-{node_id}")).join(crate::metadata::METADATA_DIR),
        voters: voters.clone(),
        is_voter,
        election_timeout_ms: ELECTION_TIMEOUT_MS,
        heartbeat_interval_ms: HEARTBEAT_MS,
        snapshot_every_records: 1000,
    }
}

async fn start_node(listener: TcpListener, settings: RaftSettings) -> Node {
    let raft = MetadataRaft::start(settings).await.expect("start");
    let server = serve(listener, raft.clone());
    Node { raft, server }
}

async fn bind(addr: &str) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn topic(name: &str) -> MetadataRecord {
    MetadataRecord::Topic {
        name: name.into(),
        topic_id: uuid::Uuid::new_v4(),
    }
}

/// Polls `f` every 20 ms until it returns `Some`, failing the test after `WAIT`.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The leader every node in `nodes` follows, other than `not`.
async fn agreed_leader(nodes: &[&Node], not: Option<i32>) -> i32 {
    eventually("one leader", || {
        let first = nodes[0].raft.leader().filter(|l| Some(*l) != not)?;
        nodes.iter().all(|n| n.raft.leader() == Some(first)).then_some(first)
    })
    .await
}

async fn same_images(nodes: &[&Node], want: &ClusterImage) {
    eventually("equal images", || {
        nodes.iter().all(|n| *n.raft.image() == *want).then_some(())
    })
    .await;
}

#[test]
fn openraft_storage_suite() {
    struct Builder;
    impl openraft::testing::StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), openraft::StorageError<u64>> {
            let dir = tempfile::tempdir().unwrap();
            let log = LogStore::open(dir.path()).unwrap();
            let sm = StateMachine::open(dir.path(), 1000).unwrap();
            Ok((dir, log, sm))
        }
    }
    openraft::testing::Suite::test_all(Builder).unwrap();
}

#[tokio::test]
async fn log_truncation_and_purge_survive_reopen_and_torn_tails_are_cut() {
    use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
    use openraft::testing::{blank_ent, log_id};
    use openraft::RaftLogReader;
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    log.blocking_append((0..10).map(|i| blank_ent::<TypeConfig>(1, 1, i)))
        .await
        .unwrap();
    log.truncate(log_id(1, 1, 7)).await.unwrap();
    log.purge(log_id(1, 1, 2)).await.unwrap();
    log.blocking_append([blank_ent::<TypeConfig>(2, 1, 7)]).await.unwrap();
    drop(log);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("raft.log"))
        .unwrap();
    std::io::Write::write_all(&mut f, &[0, 0, 0, 99, 1, 2, 3]).unwrap();
    drop(f);
    for _ in 0..2 {
        let mut log = LogStore::open(dir.path()).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 2)));
        assert_eq!(state.last_log_id, Some(log_id(2, 1, 7)));
        let indexes: Vec<u64> = log
            .try_get_log_entries(0..100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect();
        assert_eq!(indexes, vec![3, 4, 5, 6, 7]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_replicate_fail_over_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let mut listeners = Vec::new();
    let mut voters = BTreeMap::new();
    for id in 1..=3 {
        let (l, addr) = bind("127.0.0.1:0").await;
        voters.insert(id, addr.to_string());
        listeners.push((id, l));
    }
    let starts = listeners
        .into_iter()
        .map(|(id, l)| start_node(l, settings(id, dir.path(), &voters, true)));
    let mut nodes: BTreeMap<i32, Node> = (1..=3).zip(futures_join(starts).await).collect();
    let leader = agreed_leader(&nodes.values().collect::<Vec<_>>(), None).await;
    let published = nodes[&leader].raft.propose(vec![topic("a")]).await.unwrap();
    assert!(published.image.topics.contains_key("a"));
    let follower = *nodes.keys().find(|id| **id != leader).unwrap();
    assert!(matches!(
        nodes[&follower].raft.propose(vec![topic("x")]).await,
        Err(ProposeError::NotLeader { leader: Some(l) }) if l == leader
    ));
    same_images(&nodes.values().collect::<Vec<_>>(), &published.image).await;

    let killed_at = Instant::now();
    nodes.remove(&leader).unwrap().kill().await;
    let survivors: Vec<&Node> = nodes.values().collect();
    let new_leader = agreed_leader(&survivors, Some(leader)).await;
    let failover = killed_at.elapsed();
    assert_ne!(new_leader, leader);
    assert!(failover < Duration::from_secs(5), "fail-over took {failover:?}");
    let new_leader_raft = nodes[&new_leader].raft.clone();
    new_leader_raft.ensure_linearizable().await.unwrap();
    let published = new_leader_raft.propose(vec![topic("b")]).await.unwrap();
    let info = new_leader_raft.quorum_info();
    assert_eq!(info.leader_id, new_leader);
    assert_eq!(info.voters.len(), 3);
    assert!(info.high_watermark as u64 > published.applied_index);

    let (l, _) = bind(&voters[&leader]).await;
    let restarted = start_node(l, settings(leader, dir.path(), &voters, true)).await;
    assert!(
        restarted.raft.image().topics.contains_key("a"),
        "recovered from its own log"
    );
    nodes.insert(leader, restarted);
    same_images(&nodes.values().collect::<Vec<_>>(), &published.image).await;
    tracing::info!(?failover, "three voters: leader killed to new leader agreed");
    for (_, n) in nodes {
        n.kill().await;
    }
}

/// Starts futures concurrently (voters must all be up to elect).
async fn futures_join<F: std::future::Future<Output = Node> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<Node> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_purge_the_log_survive_restart_and_reach_a_new_learner() {
    let dir = tempfile::tempdir().unwrap();
    let (l1, a1) = bind("127.0.0.1:0").await;
    let (l2, a2) = bind("127.0.0.1:0").await;
    let voters = BTreeMap::from([(1, a1.to_string())]);
    let mut s1 = settings(1, dir.path(), &voters, true);
    s1.snapshot_every_records = 5;
    let data_dir = s1.dir.clone();
    let voter = start_node(l1, s1).await;
    for i in 0..12 {
        voter.raft.propose(vec![topic(&format!("t{i}"))]).await.unwrap();
    }
    eventually("a purged log", || {
        let m = voter.raft.raft.metrics().borrow().clone();
        (m.snapshot.is_some() && m.purged.is_some()).then_some(())
    })
    .await;
    let image = voter.raft.image();

    // The learner joins after the purge: only InstallSnapshot can bring it up.
    let learner = start_node(l2, settings(2, dir.path(), &voters, false)).await;
    voter.raft.add_learner(2, a2.to_string()).await.unwrap();
    voter.raft.add_learner(2, a2.to_string()).await.unwrap();
    same_images(&[&voter, &learner], &image).await;
    assert_eq!(learner.raft.leader(), Some(1));
    let info = voter.raft.quorum_info();
    assert_eq!(info.observers.iter().map(|o| o.replica_id).collect::<Vec<_>>(), vec![2]);
    assert!(matches!(
        learner.raft.propose(vec![topic("x")]).await,
        Err(ProposeError::NotLeader { leader: Some(1) })
    ));

    // Restart the voter from its snapshot and what is left of its log.
    voter.kill().await;
    // The learner, alone, never campaigns.
    tokio::time::sleep(Duration::from_millis(ELECTION_TIMEOUT_MS * 3)).await;
    assert_ne!(learner.raft.leader(), Some(2));
    assert!(learner.raft.propose(vec![topic("x")]).await.is_err());
    let log_bytes = std::fs::metadata(data_dir.join("raft.log")).unwrap().len();
    assert!(
        log_bytes < 4096,
        "log was purged behind the snapshot ({log_bytes} bytes)"
    );
    let (l1, _) = bind(&a1.to_string()).await;
    let mut s1 = settings(1, dir.path(), &voters, true);
    s1.snapshot_every_records = 5;
    let voter = start_node(l1, s1).await;
    assert_eq!(*voter.raft.image(), *image);
    let published = voter.raft.propose(vec![topic("after")]).await.unwrap();
    same_images(&[&voter, &learner], &published.image).await;
    voter.kill().await;
    learner.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_starts_and_proposes_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let (l, a) = bind("127.0.0.1:0").await;
    let voters = BTreeMap::from([(1, a.to_string())]);
    drop(l);
    let mut timings = Vec::new();
    for round in 0..2 {
        let started = Instant::now();
        let raft = MetadataRaft::start(settings(1, dir.path(), &voters, true))
            .await
            .unwrap();
        let published = raft.propose(vec![topic(&format!("t{round}"))]).await.unwrap();
        timings.push(started.elapsed());
        assert_eq!(published.image.topics.len(), round + 1);
        raft.shutdown().await;
    }
    tracing::info!(
        ?timings,
        "single voter: start to first committed proposal (fresh, restart)"
    );
    assert!(timings.iter().all(|t| *t < Duration::from_secs(2)), "{timings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_metadata_log_is_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let node_dir = dir.path().join("node-1");
    // The single-node metadata file an older fjord wrote: framed records.
    let old_dir = node_dir.join(crate::metadata::METADATA_DIR);
    std::fs::create_dir_all(&old_dir).unwrap();
    let mut old = bytes::BytesMut::new();
    topic("kept").encode(&mut old);
    std::fs::write(old_dir.join("metadata.log"), &old).unwrap();
    let (l, a) = bind("127.0.0.1:0").await;
    drop(l);
    let voters = BTreeMap::from([(1, a.to_string())]);
    let s = settings(1, dir.path(), &voters, true);
    let meta_dir: PathBuf = s.dir.clone();
    let raft = MetadataRaft::start(s).await.unwrap();
    assert!(raft.image().topics.contains_key("kept"));
    assert!(!meta_dir.join("metadata.log").exists());
    assert!(meta_dir.join("metadata.log.imported").exists());
    let id = raft.image().topics["kept"].id;
    raft.propose(vec![MetadataRecord::RemoveTopic { topic_id: id }])
        .await
        .unwrap();
    raft.shutdown().await;

    // A crash between the import and the rename: the file is back, but the
    // log already holds the import, so it is not applied again.
    std::fs::rename(meta_dir.join("metadata.log.imported"), meta_dir.join("metadata.log")).unwrap();
    let raft = MetadataRaft::start(settings(1, dir.path(), &voters, true))
        .await
        .unwrap();
    assert!(!raft.image().topics.contains_key("kept"));
    assert!(!meta_dir.join("metadata.log").exists());
    raft.shutdown().await;
}
