//! The active controller (Kafka's QuorumController): one task with an event
//! queue that decides metadata changes against the committed image and
//! hands the records to the metadata quorum. It runs on every voter and
//! acts only while this node leads the quorum; elsewhere every event is
//! answered NOT_CONTROLLER. Decisions are the sans-I/O functions beside
//! this file; this task adds only ordering, time and the quorum.
//!
//! Events are handled one at a time, each waiting for its records to be
//! committed, so every decision sees the one before it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::sync::{mpsc, oneshot, watch};

use super::brokers::{self, BrokerHeartbeats, BrokerRegistrationRequest, HeartbeatReply};
use super::configs::activation_records;
use super::reassignments;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::metadata::raft::{MetadataRaft, ProposeError};
use crate::metadata::{ClusterImage, MetadataRecord};

/// A metadata change decided against the committed image.
pub type Decision = Box<dyn FnOnce(&ClusterImage) -> Result<Vec<MetadataRecord>, ApiError> + Send>;

/// Events waiting for the controller; a full queue makes callers wait.
const QUEUE_DEPTH: usize = 1024;

#[derive(Debug, Clone)]
pub struct ControllerSettings {
    pub node_id: i32,
    pub session_timeout_ms: i64,
    /// `min.insync.replicas` from the static config, recorded as the
    /// cluster-wide dynamic default when a controller first activates.
    pub static_min_insync_replicas: i32,
    /// Feature levels the controller finalizes on activation (KIP-584).
    pub features: Vec<(String, i16)>,
    /// `leader.imbalance.check.interval.seconds` in ms when
    /// `auto.leader.rebalance.enable`: how often partitions move back to
    /// their preferred leaders. `None`: never.
    pub leader_balance_interval_ms: Option<i64>,
}

/// The most leader elections one balancing pass commits (Kafka's
/// maxElectionsPerImbalance); the next pass continues.
const MAX_ELECTIONS_PER_PASS: usize = 1_000;

/// How often leaderless partitions of topics with
/// `unclean.leader.election.enable` get an unclean election when no
/// preferred-leader pass does it (Kafka's internal
/// `unclean.leader.election.interval.ms`).
const UNCLEAN_ELECTION_INTERVAL_MS: i64 = 300_000;

pub struct HeartbeatRequest {
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub current_metadata_offset: i64,
    pub want_fence: bool,
    pub want_shutdown: bool,
}

enum Event {
    Write {
        decide: Decision,
        reply: oneshot::Sender<Result<(Arc<ClusterImage>, u64), ApiError>>,
    },
    Register {
        request: BrokerRegistrationRequest,
        reply: oneshot::Sender<Result<i64, ApiError>>,
    },
    Heartbeat {
        request: HeartbeatRequest,
        reply: oneshot::Sender<Result<HeartbeatReply, ApiError>>,
    },
}

/// The handle handlers and the broker use; cheap to clone.
#[derive(Clone)]
pub struct QuorumController {
    events: mpsc::Sender<Event>,
}

pub fn not_controller() -> ApiError {
    ApiError::new(ResponseError::NotController, "This node is not the active controller.")
}

fn controller_gone() -> ApiError {
    ApiError::new(ResponseError::NotController, "The controller is shutting down.")
}

impl QuorumController {
    /// Starts the controller task; it ends when `shutdown` flips.
    pub fn start(
        raft: Arc<MetadataRaft>,
        settings: ControllerSettings,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (events, rx) = mpsc::channel(QUEUE_DEPTH);
        let state = State {
            raft,
            settings,
            heartbeats: BrokerHeartbeats::default(),
            active_epoch: None,
            registered_at: HashMap::new(),
            last_balance_ms: now_ms(),
            last_unclean_ms: now_ms(),
        };
        let task = tokio::spawn(run(state, rx, shutdown));
        (QuorumController { events }, task)
    }

    /// Decides and commits one change; answers with the image that holds
    /// it and that image's metadata log index.
    pub async fn write(&self, decide: Decision) -> Result<(Arc<ClusterImage>, u64), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.events
            .send(Event::Write { decide, reply })
            .await
            .map_err(|_| controller_gone())?;
        rx.await.map_err(|_| controller_gone())?
    }

    /// BrokerRegistration: answers with the broker epoch.
    pub async fn register(&self, request: BrokerRegistrationRequest) -> Result<i64, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.events
            .send(Event::Register { request, reply })
            .await
            .map_err(|_| controller_gone())?;
        rx.await.map_err(|_| controller_gone())?
    }

    pub async fn heartbeat(&self, request: HeartbeatRequest) -> Result<HeartbeatReply, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.events
            .send(Event::Heartbeat { request, reply })
            .await
            .map_err(|_| controller_gone())?;
        rx.await.map_err(|_| controller_gone())?
    }
}

struct State {
    raft: Arc<MetadataRaft>,
    settings: ControllerSettings,
    heartbeats: BrokerHeartbeats,
    /// The quorum epoch in which this node last became the active
    /// controller; `None` while it is not.
    active_epoch: Option<i32>,
    /// The metadata offset at which each broker's registration was
    /// committed by this controller: a broker is caught up once it has
    /// applied that far.
    registered_at: HashMap<i32, i64>,
    /// When leaders were last balanced.
    last_balance_ms: i64,
    /// When leaderless partitions last got unclean elections.
    last_unclean_ms: i64,
}

async fn run(mut state: State, mut events: mpsc::Receiver<Event>, mut shutdown: watch::Receiver<bool>) {
    let period = Duration::from_millis((state.settings.session_timeout_ms / 4).clamp(50, 1_000) as u64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // A commit waits for the quorum, which may be gone at shutdown:
            // shutdown interrupts it (the caller's reply channel closes).
            event = events.recv() => match event {
                Some(event) => tokio::select! {
                    _ = state.handle(event) => {}
                    _ = shutdown.changed() => break,
                },
                None => break,
            },
            _ = tick.tick() => tokio::select! {
                _ = async {
                    state.fence_expired().await;
                    state.balance_leaders().await;
                } => {}
                _ = shutdown.changed() => break,
            },
            _ = shutdown.changed() => break,
        }
    }
}

impl State {
    async fn handle(&mut self, event: Event) {
        match event {
            Event::Write { decide, reply } => {
                let result = match self.activate().await {
                    Ok(()) => self.decide_and_commit(decide).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Event::Register { request, reply } => {
                let result = match self.activate().await {
                    Ok(()) => self.register(request).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Event::Heartbeat { request, reply } => {
                let result = match self.activate().await {
                    Ok(()) => self.heartbeat(request).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Makes sure this node is the active controller and, the first time
    /// in a quorum epoch, that it has applied everything committed before
    /// it (so decisions see the whole log), given every registered broker a
    /// fresh session (Kafka does the same on failover), and recorded the
    /// activation records.
    async fn activate(&mut self) -> Result<(), ApiError> {
        let info = self.raft.quorum_info();
        if info.leader_id != self.settings.node_id {
            self.active_epoch = None;
            return Err(not_controller());
        }
        if self.active_epoch == Some(info.leader_epoch) {
            return Ok(());
        }
        self.raft.ensure_linearizable().await.map_err(propose_error)?;
        let image = self.raft.image();
        let now = now_ms();
        self.heartbeats = BrokerHeartbeats::default();
        self.registered_at.clear();
        for id in image.brokers.keys() {
            self.heartbeats.touch(*id, now);
        }
        let mut records = activation_records(&image, self.settings.static_min_insync_replicas);
        for (name, level) in &self.settings.features {
            if image.features.get(name) != Some(level) {
                records.push(MetadataRecord::FeatureLevel {
                    name: name.clone(),
                    level: *level,
                });
            }
        }
        self.commit(records).await?;
        tracing::info!(epoch = info.leader_epoch, "became the active controller");
        self.active_epoch = Some(info.leader_epoch);
        Ok(())
    }

    /// Commits `records`; answers with the image holding them and its
    /// index (with nothing to commit: the current image and index).
    async fn commit(&self, records: Vec<MetadataRecord>) -> Result<(Arc<ClusterImage>, u64), ApiError> {
        if records.is_empty() {
            let current = self.raft.subscribe().borrow().clone();
            return Ok((current.image, current.applied_index));
        }
        let published = self.raft.propose(records).await.map_err(propose_error)?;
        Ok((published.image, published.applied_index))
    }

    async fn decide_and_commit(&self, decide: Decision) -> Result<(Arc<ClusterImage>, u64), ApiError> {
        let image = self.raft.image();
        let records = decide(&image)?;
        self.commit(records).await
    }

    async fn register(&mut self, request: BrokerRegistrationRequest) -> Result<i64, ApiError> {
        let image = self.raft.image();
        let now = now_ms();
        // A fenced registration has no session to protect (a broker that
        // shut down cleanly, or whose session already expired). And this
        // node's own broker cannot have another live incarnation: the
        // process that held it is the one now running this controller
        // (after a crash of a combined node, the grace given at activation
        // would otherwise keep it out for a whole session timeout).
        let fenced = image.brokers.get(&request.broker_id).is_none_or(|b| b.fenced);
        let live = !fenced
            && request.broker_id != self.settings.node_id
            && self
                .heartbeats
                .has_live_session(request.broker_id, now, self.settings.session_timeout_ms);
        let broker_id = request.broker_id;
        let registered = brokers::register_broker(&image, &request, live, brokers::next_broker_epoch(&image))?;
        let (_, offset) = self.commit(registered.records).await?;
        self.heartbeats.touch(broker_id, now);
        self.registered_at.insert(broker_id, offset as i64);
        tracing::info!(broker = broker_id, epoch = registered.broker_epoch, "registered broker");
        Ok(registered.broker_epoch)
    }

    async fn heartbeat(&mut self, request: HeartbeatRequest) -> Result<HeartbeatReply, ApiError> {
        let image = self.raft.image();
        let caught_up = self
            .registered_at
            .get(&request.broker_id)
            .is_none_or(|at| request.current_metadata_offset >= *at);
        let (records, reply) = brokers::heartbeat(
            &image,
            request.broker_id,
            request.broker_epoch,
            request.want_fence,
            request.want_shutdown,
            caught_up,
        )?;
        self.heartbeats.touch(request.broker_id, now_ms());
        let unfenced = !records.is_empty() && !reply.is_fenced;
        self.commit(records).await?;
        if unfenced {
            tracing::info!(broker = request.broker_id, "unfenced broker");
        }
        Ok(reply)
    }

    /// Fences brokers whose session expired (`broker.session.timeout.ms`
    /// without a heartbeat): they leave the ISRs, and the partitions they
    /// led move to another in-sync replica or go offline.
    async fn fence_expired(&mut self) {
        if self.active_epoch.is_none() || self.raft.quorum_info().leader_id != self.settings.node_id {
            self.active_epoch = None;
            return;
        }
        let now = now_ms();
        for broker_id in self.heartbeats.expired(now, self.settings.session_timeout_ms) {
            let image = self.raft.image();
            if image.brokers.get(&broker_id).is_none_or(|b| b.fenced) {
                self.heartbeats.remove(broker_id);
                continue;
            }
            match brokers::fence_broker(&image, broker_id) {
                Ok(records) => match self.commit(records).await {
                    Ok(_) => {
                        tracing::warn!(
                            broker = broker_id,
                            "fenced broker: no heartbeat within broker.session.timeout.ms"
                        );
                        self.heartbeats.remove(broker_id);
                    }
                    Err(e) => {
                        tracing::warn!(broker = broker_id, error = %e.message, "could not fence broker");
                        return;
                    }
                },
                Err(e) => tracing::warn!(broker = broker_id, error = %e.message, "could not fence broker"),
            }
        }
    }
}

impl State {
    /// Kafka's maybeBalancePartitionLeaders, every
    /// `leader.imbalance.check.interval.seconds` with
    /// `auto.leader.rebalance.enable`: partitions move back to their
    /// preferred leader where it is live and in sync. And Kafka's
    /// maybeElectUncleanLeaders, with it or at least every five minutes:
    /// leaderless partitions of topics with `unclean.leader.election.enable`
    /// elect any live replica.
    async fn balance_leaders(&mut self) {
        if self.active_epoch.is_none() {
            return;
        }
        let now = now_ms();
        let preferred = self
            .settings
            .leader_balance_interval_ms
            .is_some_and(|interval| now - self.last_balance_ms >= interval);
        if !preferred && now - self.last_unclean_ms < UNCLEAN_ELECTION_INTERVAL_MS {
            return;
        }
        if preferred {
            self.last_balance_ms = now;
        }
        self.last_unclean_ms = now;
        let image = self.raft.image();
        let records = reassignments::balance_leaders(&image, MAX_ELECTIONS_PER_PASS, preferred);
        if records.is_empty() {
            return;
        }
        let count = records.len();
        match self.commit(records).await {
            Ok(_) => tracing::info!(
                partitions = count,
                "elected partition leaders (preferred replicas, or unclean where allowed)"
            ),
            Err(e) => tracing::warn!(error = %e.message, "could not balance partition leaders"),
        }
    }
}

fn propose_error(e: ProposeError) -> ApiError {
    match e {
        ProposeError::NotLeader { .. } => not_controller(),
        other => ApiError::new(ResponseError::UnknownServerError, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use super::*;
    use crate::metadata::raft::RaftSettings;
    use crate::metadata::records::BrokerEndpoint;

    const SESSION_TIMEOUT_MS: i64 = 400;
    const WAIT: Duration = Duration::from_secs(10);

    /// A controller on a metadata quorum of one (or, with `is_voter`
    /// false, on a learner of a quorum it cannot reach).
    struct Fixture {
        controller: QuorumController,
        raft: Arc<MetadataRaft>,
        shutdown: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    async fn fixture(is_voter: bool) -> Fixture {
        fixture_with(is_voter, None).await
    }

    async fn fixture_with(is_voter: bool, leader_balance_interval_ms: Option<i64>) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        // A learner's only voter is unreachable: it never learns a leader.
        let voter = if is_voter {
            (1, "127.0.0.1:0")
        } else {
            (2, "127.0.0.1:1")
        };
        let raft = MetadataRaft::start(RaftSettings {
            node_id: 1,
            dir: dir.path().join(crate::metadata::METADATA_DIR),
            voters: BTreeMap::from([(voter.0, voter.1.to_string())]),
            is_voter,
            election_timeout_ms: 300,
            heartbeat_interval_ms: 100,
            snapshot_every_records: 1000,
        })
        .await
        .expect("the metadata quorum starts");
        let (shutdown, rx) = watch::channel(false);
        let (controller, task) = QuorumController::start(
            raft.clone(),
            ControllerSettings {
                node_id: 1,
                session_timeout_ms: SESSION_TIMEOUT_MS,
                static_min_insync_replicas: 1,
                features: Vec::new(),
                leader_balance_interval_ms,
            },
            rx,
        );
        Fixture {
            controller,
            raft,
            shutdown,
            task,
            _dir: dir,
        }
    }

    impl Fixture {
        async fn stop(self) {
            let _ = self.shutdown.send(true);
            let _ = tokio::time::timeout(WAIT, self.task)
                .await
                .expect("controller task ends");
            self.raft.shutdown().await;
        }

        async fn register(&self, broker_id: i32) -> i64 {
            self.controller
                .register(BrokerRegistrationRequest {
                    broker_id,
                    incarnation_id: uuid::Uuid::new_v4(),
                    listeners: vec![BrokerEndpoint {
                        name: "PLAINTEXT".into(),
                        host: "127.0.0.1".into(),
                        port: 9092,
                        security_protocol: 0,
                    }],
                    rack: None,
                })
                .await
                .expect("registration accepted")
        }

        async fn heartbeat(&self, broker_id: i32, broker_epoch: i64) -> Result<HeartbeatReply, ApiError> {
            let applied = self.raft.subscribe().borrow().applied_index as i64;
            self.controller
                .heartbeat(HeartbeatRequest {
                    broker_id,
                    broker_epoch,
                    current_metadata_offset: applied,
                    want_fence: false,
                    want_shutdown: false,
                })
                .await
        }

        fn fenced(&self, broker_id: i32) -> Option<bool> {
            self.raft.image().brokers.get(&broker_id).map(|b| b.fenced)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registration_then_a_caught_up_heartbeat_unfences() {
        let f = fixture(true).await;
        let epoch = f.register(2).await;
        assert_eq!(f.fenced(2), Some(true), "a new registration starts fenced");
        let reply = f.heartbeat(2, epoch).await.expect("heartbeat accepted");
        assert!(!reply.is_fenced && reply.is_caught_up, "{reply:?}");
        assert_eq!(f.fenced(2), Some(false), "committed before the reply");
        let stale = f.heartbeat(2, epoch - 1).await.expect_err("a stale epoch is refused");
        assert_eq!(stale.code, ResponseError::StaleBrokerEpoch);
        f.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_whose_heartbeats_stop_is_fenced_after_the_session_timeout() {
        let f = fixture(true).await;
        let epoch = f.register(2).await;
        f.heartbeat(2, epoch).await.expect("heartbeat accepted");
        let last_heartbeat = Instant::now();
        assert_eq!(f.fenced(2), Some(false));
        let deadline = last_heartbeat + WAIT;
        while f.fenced(2) != Some(true) {
            assert!(Instant::now() < deadline, "not fenced within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            last_heartbeat.elapsed() >= Duration::from_millis(SESSION_TIMEOUT_MS as u64),
            "fenced after {:?}, before the session timeout",
            last_heartbeat.elapsed()
        );
        // Its next heartbeat finds it fenced until it is caught up again.
        let reply = f.heartbeat(2, epoch).await.expect("heartbeat accepted");
        assert!(!reply.is_fenced, "a caught-up heartbeat unfences again: {reply:?}");
        f.stop().await;
    }

    /// With `auto.leader.rebalance.enable`, a partition led by a replica
    /// other than its preferred one moves back on the next check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leaders_move_back_to_their_preferred_replicas() {
        let f = fixture_with(true, Some(100)).await;
        let e1 = f.register(1).await;
        let e2 = f.register(2).await;
        f.heartbeat(1, e1).await.expect("heartbeat accepted");
        f.heartbeat(2, e2).await.expect("heartbeat accepted");
        let topic_id = uuid::Uuid::new_v4();
        f.controller
            .write(Box::new(move |_| {
                Ok(vec![
                    MetadataRecord::Topic {
                        name: "t".into(),
                        topic_id,
                    },
                    MetadataRecord::Partition {
                        topic_id,
                        partition: 0,
                        replicas: vec![1, 2],
                        isr: vec![1, 2],
                        leader: 2,
                        leader_epoch: 0,
                        partition_epoch: 0,
                        adding_replicas: Vec::new(),
                        removing_replicas: Vec::new(),
                    },
                ])
            }))
            .await
            .expect("topic written");
        let deadline = Instant::now() + WAIT;
        loop {
            let leader = f.raft.image().topics["t"].partitions[&0].leader;
            if leader == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "leader still {leader} after {WAIT:?}");
            f.heartbeat(1, e1).await.expect("heartbeat accepted");
            f.heartbeat(2, e2).await.expect("heartbeat accepted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(f.raft.image().topics["t"].partitions[&0].leader_epoch, 1);
        f.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_that_does_not_lead_the_quorum_is_not_the_controller() {
        let f = fixture(false).await;
        let registration = f
            .controller
            .register(BrokerRegistrationRequest {
                broker_id: 3,
                incarnation_id: uuid::Uuid::new_v4(),
                listeners: Vec::new(),
                rack: None,
            })
            .await;
        assert_eq!(registration.map_err(|e| e.code), Err(ResponseError::NotController));
        let heartbeat = f.heartbeat(3, 1).await.map_err(|e| e.code);
        assert_eq!(heartbeat, Err(ResponseError::NotController));
        let write = f.controller.write(Box::new(|_| Ok(Vec::new()))).await;
        assert_eq!(write.map(|_| ()).map_err(|e| e.code), Err(ResponseError::NotController));
        f.stop().await;
    }
}
