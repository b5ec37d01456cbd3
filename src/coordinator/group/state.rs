//! The classic consumer-group state machine (Kafka's GroupMetadata and the
//! classic GroupCoordinator), as plain data: no sockets, no clocks, no
//! tasks. Waiting JoinGroup/SyncGroup calls are oneshot senders parked on
//! their member; timers the coordinator must run come back as `Timer`s.
//!
//! States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable,
//! back to PreparingRebalance on membership changes, Dead when deleted.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The names Kafka reports in DescribeGroups and ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Broker settings the state machine obeys.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i64,
    pub max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX as usize,
        }
    }
}

/// What a JoinGroup call eventually answers.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only the leader gets the members and their metadata.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(error: ResponseError, member_id: &str) -> Self {
        JoinResult {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub(crate) fn error(e: ResponseError) -> Self {
        SyncResult {
            error: Some(e),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// Timers the coordinator runs and reports back when they fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// Complete the join phase at `deadline_ms` if `rebalance_epoch` still holds.
    Rebalance { deadline_ms: i64, rebalance_epoch: u64 },
    /// Expire `member_id` at `deadline_ms` unless it heartbeats after `heartbeat_epoch`.
    Session {
        member_id: String,
        deadline_ms: i64,
        heartbeat_epoch: u64,
    },
}

#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    awaiting_join: Option<oneshot::Sender<JoinResult>>,
    awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    heartbeat_epoch: u64,
    /// Joined in the current rebalance (a member that did not is removed
    /// when the rebalance times out).
    joined: bool,
}

impl Member {
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A committed offset as stored and fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

/// The parameters of one JoinGroup call.
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member must rejoin with the id we hand
    /// it (KIP-394).
    pub require_known_member_id: bool,
}

/// Offsets an open transaction committed, each with its record's position.
type PendingOffsets = BTreeMap<(String, i32), (CommittedOffset, i64)>;

#[derive(Debug)]
pub struct Group {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    /// Members in join order (the first becomes leader).
    pub members: BTreeMap<u64, Member>,
    next_member_seq: u64,
    pending_members: HashSet<String>,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// The `__consumer_offsets` offset of the record behind each committed
    /// offset: when a transaction's offsets complete, a partition keeps
    /// whichever of the two was written later (as Kafka does).
    offset_positions: HashMap<(String, i32), i64>,
    /// Offsets committed in open transactions (TxnOffsetCommit), by producer
    /// id, with their record's position: applied when the commit marker is
    /// written, dropped on abort, and held back from OffsetFetch until then.
    pending_txn_offsets: HashMap<i64, PendingOffsets>,
    rebalance_epoch: u64,
    /// An Empty group's first rebalance waits this long for more members.
    initial_join_not_before_ms: Option<i64>,
    pub state_timestamp_ms: i64,
}

impl Group {
    pub fn new(group_id: &str, now_ms: i64) -> Self {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            next_member_seq: 0,
            pending_members: HashSet::new(),
            offsets: BTreeMap::new(),
            offset_positions: HashMap::new(),
            pending_txn_offsets: HashMap::new(),
            rebalance_epoch: 0,
            initial_join_not_before_ms: None,
            state_timestamp_ms: now_ms,
        }
    }

    fn transition(&mut self, to: GroupState, now_ms: i64) {
        self.state = to;
        self.state_timestamp_ms = now_ms;
    }

    fn seq_of(&self, member_id: &str) -> Option<u64> {
        self.members
            .iter()
            .find(|(_, m)| m.member_id == member_id)
            .map(|(s, _)| *s)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.values().find(|m| m.member_id == member_id)
    }

    fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.values_mut().find(|m| m.member_id == member_id)
    }

    fn static_member(&self, instance_id: &str) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.group_instance_id.as_deref() == Some(instance_id))
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Protocols every member (and the joining one) supports.
    fn candidate_protocols(&self, extra: &[(String, Bytes)]) -> Vec<String> {
        let mut candidates: Vec<String> = extra.iter().map(|(n, _)| n.clone()).collect();
        for m in self.members.values() {
            candidates.retain(|c| m.protocols.iter().any(|(n, _)| n == c));
        }
        candidates
    }

    /// Kafka's `selectProtocol`: each member votes for its most preferred
    /// candidate; the most votes wins (ties to the earlier candidate).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols(&self.members.values().next()?.protocols);
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for m in self.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                *votes.entry(n.as_str()).or_default() += 1;
            }
        }
        candidates
            .iter()
            .max_by_key(|c| {
                (
                    votes.get(c.as_str()).copied().unwrap_or(0),
                    std::cmp::Reverse(candidates.iter().position(|x| x == *c)),
                )
            })
            .cloned()
    }

    fn supports(&self, req: &JoinRequest) -> bool {
        if self.members.is_empty() {
            return !req.protocol_type.is_empty() && !req.protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(req.protocol_type.as_str())
            && !self.candidate_protocols(&req.protocols).is_empty()
    }

    fn new_member_id(client_id: &str) -> String {
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    /// JoinGroup. Returns the immediate answer, or `None` when the answer
    /// will be sent on `reply` when the join phase completes, plus timers.
    pub fn join(
        &mut self,
        req: JoinRequest,
        reply: oneshot::Sender<JoinResult>,
        config: &GroupConfig,
        now_ms: i64,
    ) -> Vec<Timer> {
        let mut timers = Vec::new();
        let fail = |reply: oneshot::Sender<JoinResult>, e: ResponseError, id: &str| {
            let _ = reply.send(JoinResult::error(e, id));
        };
        if req.session_timeout_ms < config.min_session_timeout_ms
            || req.session_timeout_ms > config.max_session_timeout_ms
        {
            fail(reply, ResponseError::InvalidSessionTimeout, &req.member_id);
            return timers;
        }
        if self.state == GroupState::Dead {
            fail(reply, ResponseError::CoordinatorNotAvailable, &req.member_id);
            return timers;
        }
        if !self.supports(&req) {
            fail(reply, ResponseError::InconsistentGroupProtocol, &req.member_id);
            return timers;
        }
        if req.member_id.is_empty() {
            // A static member rejoining under a new process keeps its
            // identity: fence the old member id and take over its place.
            if let Some(instance) = &req.group_instance_id {
                if let Some(old) = self.static_member(instance).map(|m| m.member_id.clone()) {
                    return self.replace_static_member(&old, req, reply, config, now_ms);
                }
            } else if req.require_known_member_id {
                let id = Self::new_member_id(&req.client_id);
                self.pending_members.insert(id.clone());
                // KIP-394: the client rejoins with this id.
                fail(reply, ResponseError::MemberIdRequired, &id);
                return timers;
            }
            if self.members.len() >= config.max_size {
                fail(reply, ResponseError::GroupMaxSizeReached, "");
                return timers;
            }
            let id = Self::new_member_id(&req.client_id);
            self.add_member(id, req, reply, now_ms, &mut timers);
            timers.extend(self.prepare_rebalance(config, now_ms));
            timers.extend(self.try_complete_join(now_ms));
            return timers;
        }
        // A known (or pending, per KIP-394) member id.
        if self.pending_members.remove(&req.member_id) {
            if self.members.len() >= config.max_size {
                fail(reply, ResponseError::GroupMaxSizeReached, &req.member_id);
                return timers;
            }
            let id = req.member_id.clone();
            self.add_member(id, req, reply, now_ms, &mut timers);
            timers.extend(self.prepare_rebalance(config, now_ms));
            timers.extend(self.try_complete_join(now_ms));
            return timers;
        }
        let Some(member) = self.member(&req.member_id) else {
            fail(reply, ResponseError::UnknownMemberId, &req.member_id);
            return timers;
        };
        if let Some(instance) = &req.group_instance_id {
            if member.group_instance_id.as_deref() != Some(instance.as_str()) {
                fail(reply, ResponseError::FencedInstanceId, &req.member_id);
                return timers;
            }
        }
        let unchanged = member.protocols == req.protocols;
        let is_leader = self.leader_id.as_deref() == Some(req.member_id.as_str());
        match self.state {
            GroupState::CompletingRebalance | GroupState::Stable
                if unchanged && !(is_leader && self.state == GroupState::Stable) =>
            {
                // The member lost our answer, or a follower rejoins without
                // changes: repeat the current generation.
                let result = self.join_result_for(&req.member_id);
                let _ = reply.send(result);
                timers.extend(self.touch(&req.member_id, now_ms));
            }
            _ => {
                let member = self.member_mut(&req.member_id).expect("checked above");
                member.protocols = req.protocols;
                member.session_timeout_ms = req.session_timeout_ms;
                member.rebalance_timeout_ms = req.rebalance_timeout_ms;
                member.awaiting_join = Some(reply);
                member.joined = true;
                timers.extend(self.touch(&req.member_id, now_ms));
                timers.extend(self.prepare_rebalance(config, now_ms));
                timers.extend(self.try_complete_join(now_ms));
            }
        }
        timers
    }

    /// KIP-345: a static member restarting under a new member id takes its
    /// old place. Kafka's `updateStaticMemberAndRebalance`: in Stable, no
    /// rebalance unless the group's protocol for the next generation would
    /// change; the answer names the leader as it was before the swap, so a
    /// restarted leader does not run the assignor again.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        req: JoinRequest,
        reply: oneshot::Sender<JoinResult>,
        config: &GroupConfig,
        now_ms: i64,
    ) -> Vec<Timer> {
        let mut timers = Vec::new();
        let new_id = Self::new_member_id(&req.client_id);
        let seq = self.seq_of(old_id).expect("static member exists");
        let leader_before = self.leader_id.clone().unwrap_or_default();
        {
            let m = self.members.get_mut(&seq).expect("present");
            // The old process is fenced: its pending calls learn it.
            if let Some(tx) = m.awaiting_join.take() {
                let _ = tx.send(JoinResult::error(ResponseError::FencedInstanceId, old_id));
            }
            if let Some(tx) = m.awaiting_sync.take() {
                let _ = tx.send(SyncResult::error(ResponseError::FencedInstanceId));
            }
            m.member_id = new_id.clone();
            m.client_id = req.client_id.clone();
            m.client_host = req.client_host.clone();
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.protocols = req.protocols.clone();
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.clone());
        }
        if self.state == GroupState::Stable && self.select_protocol() == self.protocol_name {
            let mut result = self.join_result_for(&new_id);
            result.members.clear();
            result.leader = leader_before;
            let _ = reply.send(result);
            timers.extend(self.touch(&new_id, now_ms));
            return timers;
        }
        let m = self.members.get_mut(&seq).expect("present");
        m.awaiting_join = Some(reply);
        m.joined = true;
        timers.extend(self.touch(&new_id, now_ms));
        timers.extend(self.prepare_rebalance(config, now_ms));
        timers.extend(self.try_complete_join(now_ms));
        timers
    }

    fn add_member(
        &mut self,
        member_id: String,
        req: JoinRequest,
        reply: oneshot::Sender<JoinResult>,
        now_ms: i64,
        timers: &mut Vec<Timer>,
    ) {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        let seq = self.next_member_seq;
        self.next_member_seq += 1;
        self.members.insert(
            seq,
            Member {
                member_id: member_id.clone(),
                group_instance_id: req.group_instance_id,
                client_id: req.client_id,
                client_host: req.client_host,
                session_timeout_ms: req.session_timeout_ms,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                protocol_type: req.protocol_type,
                protocols: req.protocols,
                assignment: Bytes::new(),
                awaiting_join: Some(reply),
                awaiting_sync: None,
                heartbeat_epoch: 0,
                joined: true,
            },
        );
        timers.extend(self.touch(&member_id, now_ms));
    }

    /// Restarts the member's session timer (a heartbeat or any group call).
    fn touch(&mut self, member_id: &str, now_ms: i64) -> Option<Timer> {
        let m = self.member_mut(member_id)?;
        m.heartbeat_epoch += 1;
        Some(Timer::Session {
            member_id: member_id.to_string(),
            deadline_ms: now_ms + m.session_timeout_ms as i64,
            heartbeat_epoch: m.heartbeat_epoch,
        })
    }

    /// Moves to PreparingRebalance (if not there already); pending SyncGroup
    /// calls learn that a rebalance started.
    fn prepare_rebalance(&mut self, config: &GroupConfig, now_ms: i64) -> Vec<Timer> {
        if self.state == GroupState::PreparingRebalance {
            return Vec::new();
        }
        for m in self.members.values_mut() {
            if let Some(tx) = m.awaiting_sync.take() {
                let _ = tx.send(SyncResult::error(ResponseError::RebalanceInProgress));
            }
        }
        let was_empty = self.state == GroupState::Empty;
        self.transition(GroupState::PreparingRebalance, now_ms);
        self.rebalance_epoch += 1;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms as i64)
            .max()
            .unwrap_or(0);
        let mut timers = vec![Timer::Rebalance {
            deadline_ms: now_ms + timeout,
            rebalance_epoch: self.rebalance_epoch,
        }];
        if was_empty && config.initial_rebalance_delay_ms > 0 {
            let at = now_ms + config.initial_rebalance_delay_ms.min(timeout.max(1));
            self.initial_join_not_before_ms = Some(at);
            timers.push(Timer::Rebalance {
                deadline_ms: at,
                rebalance_epoch: self.rebalance_epoch,
            });
        } else {
            self.initial_join_not_before_ms = None;
        }
        timers
    }

    /// Completes the join phase once every member has rejoined (and an
    /// initial delay, if any, has passed).
    pub fn try_complete_join(&mut self, now_ms: i64) -> Vec<Timer> {
        if self.state != GroupState::PreparingRebalance {
            return Vec::new();
        }
        if self.initial_join_not_before_ms.is_some_and(|t| now_ms < t) {
            return Vec::new();
        }
        if self.members.values().all(|m| m.awaiting_join.is_some()) {
            return self.complete_join(now_ms);
        }
        Vec::new()
    }

    /// A rebalance timer fired.
    pub fn on_rebalance_timer(&mut self, rebalance_epoch: u64, deadline_ms: i64, now_ms: i64) -> Vec<Timer> {
        if self.state != GroupState::PreparingRebalance || rebalance_epoch != self.rebalance_epoch {
            return Vec::new();
        }
        if self.initial_join_not_before_ms == Some(deadline_ms) {
            self.initial_join_not_before_ms = None;
            return self.try_complete_join(now_ms);
        }
        // The rebalance timed out: members that did not rejoin are out.
        let gone: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, m)| m.awaiting_join.is_none())
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            self.members.remove(&s);
        }
        self.initial_join_not_before_ms = None;
        self.complete_join(now_ms)
    }

    fn complete_join(&mut self, now_ms: i64) -> Vec<Timer> {
        self.generation_id += 1;
        self.initial_join_not_before_ms = None;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader_id = None;
            self.transition(GroupState::Empty, now_ms);
            return Vec::new();
        }
        self.protocol_name = self.select_protocol();
        if self.leader_id.as_ref().is_none_or(|l| self.member(l).is_none()) {
            self.leader_id = self.members.values().next().map(|m| m.member_id.clone());
        }
        self.transition(GroupState::CompletingRebalance, now_ms);
        let ids: Vec<String> = self.members.values().map(|m| m.member_id.clone()).collect();
        let mut timers = Vec::new();
        for id in ids {
            let result = self.join_result_for(&id);
            let m = self.member_mut(&id).expect("listed above");
            m.joined = false;
            m.assignment = Bytes::new();
            if let Some(tx) = m.awaiting_join.take() {
                let _ = tx.send(result);
            }
            timers.extend(self.touch(&id, now_ms));
        }
        timers
    }

    fn join_result_for(&self, member_id: &str) -> JoinResult {
        let leader = self.leader_id.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        m.metadata_for(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Checks the identity fields common to Sync, Heartbeat and OffsetCommit.
    fn check_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        let Some(m) = self.member(member_id) else {
            if let Some(i) = instance_id {
                if self.static_member(i).is_some() {
                    return Err(ResponseError::FencedInstanceId);
                }
            }
            return Err(ResponseError::UnknownMemberId);
        };
        if let Some(i) = instance_id {
            if m.group_instance_id.as_deref() != Some(i) {
                return Err(ResponseError::FencedInstanceId);
            }
        }
        if generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// SyncGroup. The leader's call carries the assignment; every call is
    /// answered once it is known. Returns timers and whether the group
    /// became Stable (its metadata should then be persisted).
    #[allow(clippy::too_many_arguments)] // SyncGroup's fields, one per argument
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        reply: oneshot::Sender<SyncResult>,
        now_ms: i64,
    ) -> (Vec<Timer>, bool) {
        if self.state == GroupState::Dead {
            let _ = reply.send(SyncResult::error(ResponseError::CoordinatorNotAvailable));
            return (Vec::new(), false);
        }
        if let Err(e) = self.check_member(member_id, instance_id, generation_id) {
            let _ = reply.send(SyncResult::error(e));
            return (Vec::new(), false);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            let _ = reply.send(SyncResult::error(ResponseError::InconsistentGroupProtocol));
            return (Vec::new(), false);
        }
        let timers: Vec<Timer> = self.touch(member_id, now_ms).into_iter().collect();
        match self.state {
            GroupState::PreparingRebalance => {
                let _ = reply.send(SyncResult::error(ResponseError::RebalanceInProgress));
                (timers, false)
            }
            GroupState::Stable => {
                let result = self.sync_result_for(member_id);
                let _ = reply.send(result);
                (timers, false)
            }
            GroupState::CompletingRebalance => {
                self.member_mut(member_id).expect("checked").awaiting_sync = Some(reply);
                if self.leader_id.as_deref() != Some(member_id) {
                    return (timers, false);
                }
                let given: HashMap<String, Bytes> = assignments.into_iter().collect();
                for m in self.members.values_mut() {
                    m.assignment = given.get(&m.member_id).cloned().unwrap_or_default();
                }
                self.transition(GroupState::Stable, now_ms);
                let ids: Vec<String> = self.members.values().map(|m| m.member_id.clone()).collect();
                for id in ids {
                    let result = self.sync_result_for(&id);
                    if let Some(tx) = self.member_mut(&id).and_then(|m| m.awaiting_sync.take()) {
                        let _ = tx.send(result);
                    }
                }
                (timers, true)
            }
            GroupState::Empty | GroupState::Dead => {
                let _ = reply.send(SyncResult::error(ResponseError::UnknownMemberId));
                (timers, false)
            }
        }
    }

    fn sync_result_for(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self.member(member_id).map(|m| m.assignment.clone()).unwrap_or_default(),
        }
    }

    /// Heartbeat: keeps the session alive and tells the member whether a
    /// rebalance is under way.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> (Option<ResponseError>, Option<Timer>) {
        match self.state {
            GroupState::Dead => return (Some(ResponseError::CoordinatorNotAvailable), None),
            GroupState::Empty => return (Some(ResponseError::UnknownMemberId), None),
            _ => {}
        }
        if let Err(e) = self.check_member(member_id, instance_id, generation_id) {
            // During a rebalance the generation moves on; a member that has
            // not rejoined yet is told to, rather than that it is stale.
            if e == ResponseError::IllegalGeneration && self.state == GroupState::PreparingRebalance {
                return (Some(ResponseError::RebalanceInProgress), self.touch(member_id, now_ms));
            }
            return (Some(e), None);
        }
        let timer = self.touch(member_id, now_ms);
        match self.state {
            GroupState::PreparingRebalance => (Some(ResponseError::RebalanceInProgress), timer),
            _ => (None, timer),
        }
    }

    /// A member's session timer fired; expires it unless it heartbeated since.
    pub fn on_session_timer(
        &mut self,
        member_id: &str,
        heartbeat_epoch: u64,
        config: &GroupConfig,
        now_ms: i64,
    ) -> Vec<Timer> {
        match self.member(member_id) {
            Some(m) if m.heartbeat_epoch == heartbeat_epoch && m.awaiting_join.is_none() => {}
            _ => return Vec::new(),
        }
        tracing::info!(group = %self.group_id, member = member_id, "member session expired");
        self.remove_member(member_id, config, now_ms)
    }

    /// LeaveGroup for one member (by member id, or by instance id for
    /// static members, KIP-345).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        config: &GroupConfig,
        now_ms: i64,
    ) -> (Option<ResponseError>, Vec<Timer>) {
        if self.state == GroupState::Dead {
            return (Some(ResponseError::CoordinatorNotAvailable), Vec::new());
        }
        let target = match instance_id {
            Some(i) => match self.static_member(i) {
                Some(m) if member_id.is_empty() || m.member_id == member_id => m.member_id.clone(),
                Some(_) => return (Some(ResponseError::FencedInstanceId), Vec::new()),
                None => return (Some(ResponseError::UnknownMemberId), Vec::new()),
            },
            None => {
                if self.pending_members.remove(member_id) {
                    return (None, Vec::new());
                }
                match self.member(member_id) {
                    Some(m) => m.member_id.clone(),
                    None => return (Some(ResponseError::UnknownMemberId), Vec::new()),
                }
            }
        };
        (None, self.remove_member(&target, config, now_ms))
    }

    fn remove_member(&mut self, member_id: &str, config: &GroupConfig, now_ms: i64) -> Vec<Timer> {
        let Some(seq) = self.seq_of(member_id) else {
            return Vec::new();
        };
        let m = self.members.remove(&seq).expect("present");
        if let Some(tx) = m.awaiting_join {
            let _ = tx.send(JoinResult::error(ResponseError::UnknownMemberId, member_id));
        }
        if let Some(tx) = m.awaiting_sync {
            let _ = tx.send(SyncResult::error(ResponseError::UnknownMemberId));
        }
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.members.values().next().map(|m| m.member_id.clone());
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                let mut t = self.prepare_rebalance(config, now_ms);
                t.extend(self.try_complete_join(now_ms));
                t
            }
            GroupState::PreparingRebalance => self.try_complete_join(now_ms),
            _ => Vec::new(),
        }
    }

    /// OffsetCommit's membership check: simple (generation -1) commits need
    /// an Empty group; member commits need the current generation.
    pub fn check_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<Option<Timer>, ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && member_id.is_empty() {
            return if self.state == GroupState::Empty {
                Ok(None)
            } else {
                Err(ResponseError::UnknownMemberId)
            };
        }
        self.check_member(member_id, instance_id, generation_id)?;
        if self.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(self.touch(member_id, now_ms))
    }

    /// Topics the members subscribe to, from their consumer-protocol
    /// metadata (OffsetDelete refuses to drop offsets of those).
    pub fn subscribed_topics(&self) -> HashSet<String> {
        let mut out = HashSet::new();
        if self.protocol_type.as_deref() != Some("consumer") {
            return out;
        }
        let protocol = self.protocol_name.clone().unwrap_or_default();
        for m in self.members.values() {
            out.extend(parse_subscription_topics(&m.metadata_for(&protocol)));
        }
        out
    }

    /// Stores committed offsets whose records were written from
    /// `first_position` on, one position each, in order.
    pub fn apply_offsets(&mut self, offsets: Vec<((String, i32), CommittedOffset)>, first_position: i64) {
        for (i, (tp, o)) in offsets.into_iter().enumerate() {
            self.offset_positions.insert(tp.clone(), first_position + i as i64);
            self.offsets.insert(tp, o);
        }
    }

    /// Removes a committed offset (a tombstone).
    pub fn remove_offset(&mut self, tp: &(String, i32)) {
        self.offsets.remove(tp);
        self.offset_positions.remove(tp);
    }

    /// Holds offsets of `producer_id`'s open transaction whose records were
    /// written from `first_position` on.
    pub fn add_pending_txn_offsets(
        &mut self,
        producer_id: i64,
        offsets: Vec<((String, i32), CommittedOffset)>,
        first_position: i64,
    ) {
        let pending = self.pending_txn_offsets.entry(producer_id).or_default();
        for (i, (tp, o)) in offsets.into_iter().enumerate() {
            pending.insert(tp, (o, first_position + i as i64));
        }
    }

    /// Ends `producer_id`'s transaction here: on commit its offsets take
    /// effect, except where a later commit was written after them
    /// (Kafka's completePendingTxnOffsetCommit). Whether the group held any.
    pub fn complete_txn_offsets(&mut self, producer_id: i64, commit: bool) -> bool {
        let Some(pending) = self.pending_txn_offsets.remove(&producer_id) else {
            return false;
        };
        if commit {
            for (tp, (o, position)) in pending {
                if self.offset_positions.get(&tp).is_none_or(|p| *p < position) {
                    self.offset_positions.insert(tp.clone(), position);
                    self.offsets.insert(tp, o);
                }
            }
        }
        true
    }

    /// Whether an open transaction holds an offset for `tp` (OffsetFetch
    /// with `require_stable` answers UNSTABLE_OFFSET_COMMIT for it).
    pub fn has_pending_txn_offset(&self, tp: &(String, i32)) -> bool {
        self.pending_txn_offsets.values().any(|p| p.contains_key(tp))
    }

    /// Whether any open transaction holds offsets of this group.
    pub fn has_pending_txn_offsets(&self) -> bool {
        !self.pending_txn_offsets.is_empty()
    }

    /// TxnOffsetCommit's checks of the group generation the producer's
    /// consumer was in (KIP-447): a member id, when given, must be a member,
    /// with its instance id, and a generation, when given, the current one.
    pub fn check_txn_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if let Some(i) = instance_id {
            if self.static_member(i).is_some_and(|m| m.member_id != member_id) {
                return Err(ResponseError::FencedInstanceId);
            }
        }
        if !member_id.is_empty() && self.member(member_id).is_none() {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation_id >= 0 && generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    pub fn mark_dead(&mut self, now_ms: i64) {
        self.transition(GroupState::Dead, now_ms);
    }
}

/// Topic names from a ConsumerProtocolSubscription (any version: they all
/// start with an int16 version and an array of int16-length strings).
pub fn parse_subscription_topics(metadata: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = metadata;
    if buf.len() < 6 {
        return out;
    }
    buf = &buf[2..];
    let count = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    buf = &buf[4..];
    for _ in 0..count.max(0) {
        if buf.len() < 2 {
            break;
        }
        let len = i16::from_be_bytes([buf[0], buf[1]]) as usize;
        buf = &buf[2..];
        if buf.len() < len {
            break;
        }
        out.push(String::from_utf8_lossy(&buf[..len]).to_string());
        buf = &buf[len..];
    }
    out
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
