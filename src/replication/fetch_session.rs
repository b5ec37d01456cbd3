//! KIP-227 incremental fetch sessions, the leader's side: which partitions a
//! fetcher follows and at which offsets, so that a steady fetcher's request
//! names only what changed and the answer carries only what changed.
//!
//! This is Kafka's `FetchManager`, `FetchSession` and `FetchSessionCache`
//! (core/src/main/scala/kafka/server/FetchSession.scala) as one sans-I/O
//! type: time is passed in, nothing here reads a log or a socket. The Fetch
//! handler asks [`FetchSessionCache::new_context`] what a request means
//! (the one place where session id and epoch are decided), reads the
//! partitions it is told to, and hands the outcome back to
//! [`FetchSessionCache::maybe_create_session`] (full fetch) or
//! [`FetchSessionCache::incremental_response`] (incremental fetch).
//!
//! It lives in `replication/` beside the delayed-fetch waiters because it is
//! state the leader keeps per fetcher — followers use sessions exactly as
//! consumers do — and the future `ReplicaManager::fetch` will own it.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

/// Session id 0: no session (KIP-227 `INVALID_SESSION_ID`).
pub(crate) const INVALID_SESSION_ID: i32 = 0;
/// Epoch 0: a full fetch that asks for a new session.
pub(crate) const INITIAL_EPOCH: i32 = 0;
/// Epoch -1: a full fetch that wants no session (and closes the one named).
pub(crate) const FINAL_EPOCH: i32 = -1;
/// Kafka's `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`: a session younger
/// than this is only evicted by a privileged (follower) fetcher, and one
/// unused for longer is evicted first.
pub(crate) const MIN_EVICTION_MS: i64 = 120_000;

/// The epoch a fetcher sends after `epoch`: FINAL stays FINAL, and the
/// counter wraps to 1, never to the INITIAL epoch 0.
pub(crate) fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// How a session names a topic: by id once the request version carries ids
/// (Fetch v13+), else by name, as Kafka's `CachedPartition` compares them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TopicKey {
    Id(Uuid),
    /// Shared by all partitions of the topic: one allocation per topic.
    Name(std::sync::Arc<str>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PartitionKey {
    pub(crate) topic: TopicKey,
    pub(crate) partition: i32,
}

/// What a fetcher asks of one partition; a session remembers it between
/// requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionRequest {
    pub(crate) fetch_offset: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) max_bytes: i32,
    pub(crate) current_leader_epoch: i32,
    pub(crate) last_fetched_epoch: i32,
}

/// What the answer says of one partition: enough to decide whether an
/// incremental response must carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionOutcome {
    pub(crate) records_bytes: usize,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) error: bool,
}

/// The session fields of a Fetch request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionRequest {
    pub(crate) session_id: i32,
    pub(crate) epoch: i32,
    /// Fetch v13+: partitions are keyed by topic id.
    pub(crate) uses_topic_ids: bool,
    /// A follower (replica id >= 0): its sessions may evict younger ones.
    pub(crate) from_follower: bool,
}

/// Session errors, answered at the top level with no partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// FETCH_SESSION_ID_NOT_FOUND: an incremental fetch names no live session.
    IdNotFound,
    /// INVALID_FETCH_SESSION_EPOCH: the epoch is not the one the session expects.
    InvalidEpoch,
    /// FETCH_SESSION_TOPIC_ID_ERROR: the request version disagrees with the
    /// session's use of topic ids.
    TopicIdMismatch,
}

/// What a Fetch request means, decided once, before any partition is read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FetchContext {
    /// Answer with this error, session id 0 and no partitions.
    Error(SessionError),
    /// Read the request's partitions and answer with session id 0.
    Sessionless,
    /// Read the request's partitions, then offer them a new session.
    Full,
    /// Read every partition of the session (in this order) and answer with
    /// those that changed.
    Incremental {
        session_id: i32,
        partitions: Vec<(PartitionKey, PartitionRequest)>,
    },
}

struct CachedPartition {
    request: PartitionRequest,
    /// The high watermark and log start offset last sent; -1 until sent.
    high_watermark: i64,
    log_start_offset: i64,
    /// Position in the session's round-robin order.
    order: u64,
}

impl CachedPartition {
    /// Kafka's `maybeUpdateResponseData`: records, a moved high watermark or
    /// log start offset, or an error must be sent; the rest is left out.
    fn must_respond(&mut self, outcome: &PartitionOutcome) -> bool {
        let mut must = outcome.records_bytes > 0;
        if self.high_watermark != outcome.high_watermark {
            must = true;
            self.high_watermark = outcome.high_watermark;
        }
        if self.log_start_offset != outcome.log_start_offset {
            must = true;
            self.log_start_offset = outcome.log_start_offset;
        }
        if outcome.error {
            // Forget the sent high watermark so the next good answer is sent.
            self.high_watermark = -1;
            must = true;
        }
        must
    }
}

struct Session {
    privileged: bool,
    uses_topic_ids: bool,
    creation_ms: i64,
    last_used_ms: i64,
    /// The epoch the next incremental request must carry.
    epoch: i32,
    partitions: HashMap<PartitionKey, CachedPartition>,
    order: BTreeMap<u64, PartitionKey>,
    next_order: u64,
    /// Size and evictability as of the last touch (Kafka's `EvictableKey`
    /// is taken then too).
    cached_size: usize,
    evictable_by_all: bool,
    evictable_by_privileged: bool,
}

impl Session {
    fn add(&mut self, key: PartitionKey, request: PartitionRequest, high_watermark: i64, log_start_offset: i64) {
        let order = self.next_order;
        self.next_order += 1;
        self.order.insert(order, key.clone());
        self.partitions.insert(
            key,
            CachedPartition {
                request,
                high_watermark,
                log_start_offset,
                order,
            },
        );
    }

    /// Moves a partition that returned records to the back, so partitions
    /// behind it get the response size first next time (KIP-227 fairness).
    fn move_to_back(&mut self, key: &PartitionKey) {
        let Some(p) = self.partitions.get_mut(key) else { return };
        self.order.remove(&p.order);
        p.order = self.next_order;
        self.next_order += 1;
        self.order.insert(p.order, key.clone());
    }

    fn update(&mut self, fetch_data: &[(PartitionKey, PartitionRequest)], to_forget: &[PartitionKey]) {
        for (key, request) in fetch_data {
            match self.partitions.get_mut(key) {
                Some(p) => p.request = *request,
                None => self.add(key.clone(), *request, -1, -1),
            }
        }
        for key in to_forget {
            if let Some(p) = self.partitions.remove(key) {
                self.order.remove(&p.order);
            }
        }
    }

    fn in_order(&self) -> Vec<(PartitionKey, PartitionRequest)> {
        self.order
            .values()
            .map(|k| (k.clone(), self.partitions[k].request))
            .collect()
    }

    /// Kafka's eviction key: (privileged, size, id), smallest evicted first.
    fn evictable_key(&self, id: i32) -> (bool, usize, i32) {
        (self.privileged, self.cached_size, id)
    }
}

/// The broker's fetch sessions, bounded by
/// `max.incremental.fetch.session.cache.slots`.
///
/// Eviction scans the sessions (at most `max_slots`, 1,000 by default) only
/// when the cache is full and a new session is asked for.
pub(crate) struct FetchSessionCache {
    max_slots: usize,
    eviction_ms: i64,
    sessions: HashMap<i32, Session>,
    /// Draws candidate session ids; injected so tests can force collisions.
    random_id: fn() -> i32,
}

fn random_session_id() -> i32 {
    // Kafka draws from [1, Int.MaxValue): positive, never 0.
    (Uuid::new_v4().as_u128() as u32 & 0x7fff_ffff) as i32
}

impl FetchSessionCache {
    pub(crate) fn new(max_slots: usize, eviction_ms: i64) -> Self {
        FetchSessionCache {
            max_slots,
            eviction_ms,
            sessions: HashMap::new(),
            random_id: random_session_id,
        }
    }

    /// Kafka's `FetchManager.newContext`: the epoch decides first. Epochs 0
    /// and -1 are full fetches, which close any session they name; -1 never
    /// opens one. Any other epoch is incremental and must match a live
    /// session's expected epoch.
    pub(crate) fn new_context(
        &mut self,
        req: SessionRequest,
        fetch_data: &[(PartitionKey, PartitionRequest)],
        to_forget: &[PartitionKey],
        now_ms: i64,
    ) -> FetchContext {
        if req.epoch == INITIAL_EPOCH || req.epoch == FINAL_EPOCH {
            if req.session_id != INVALID_SESSION_ID && self.sessions.remove(&req.session_id).is_some() {
                tracing::debug!(session_id = req.session_id, "fetch session closed by a full fetch");
            }
            return if req.epoch == FINAL_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full
            };
        }
        let Some(session) = self.sessions.get_mut(&req.session_id) else {
            return FetchContext::Error(SessionError::IdNotFound);
        };
        if session.epoch != req.epoch {
            return FetchContext::Error(SessionError::InvalidEpoch);
        }
        if session.uses_topic_ids != req.uses_topic_ids {
            return FetchContext::Error(SessionError::TopicIdMismatch);
        }
        session.update(fetch_data, to_forget);
        if session.partitions.is_empty() {
            // Everything forgotten: the session ends and the (empty) answer
            // is sessionless.
            self.sessions.remove(&req.session_id);
            return FetchContext::Sessionless;
        }
        session.epoch = next_epoch(session.epoch);
        let partitions = session.in_order();
        self.touch(req.session_id, now_ms);
        FetchContext::Incremental {
            session_id: req.session_id,
            partitions,
        }
    }

    /// Kafka's `maybeCreateSession`, after a full fetch was read: a new
    /// session holding every answered partition if there is a free slot or
    /// one can be evicted, else `INVALID_SESSION_ID` (the answer stays
    /// sessionless and the fetcher keeps sending full fetches).
    pub(crate) fn maybe_create_session(
        &mut self,
        req: SessionRequest,
        partitions: Vec<(PartitionKey, PartitionRequest, PartitionOutcome)>,
        now_ms: i64,
    ) -> i32 {
        let privileged = req.from_follower;
        if self.sessions.len() >= self.max_slots && !self.try_evict(privileged, partitions.len(), now_ms) {
            tracing::debug!(privileged, size = partitions.len(), "fetch session cache full");
            return INVALID_SESSION_ID;
        }
        let id = self.new_session_id();
        let mut session = Session {
            privileged,
            uses_topic_ids: req.uses_topic_ids,
            creation_ms: now_ms,
            last_used_ms: now_ms,
            epoch: next_epoch(INITIAL_EPOCH),
            partitions: HashMap::with_capacity(partitions.len()),
            order: BTreeMap::new(),
            next_order: 0,
            cached_size: 0,
            evictable_by_all: false,
            evictable_by_privileged: false,
        };
        for (key, request, outcome) in partitions {
            let high_watermark = if outcome.error { -1 } else { outcome.high_watermark };
            session.add(key, request, high_watermark, outcome.log_start_offset);
        }
        self.sessions.insert(id, session);
        self.touch(id, now_ms);
        tracing::debug!(session_id = id, "fetch session created");
        id
    }

    /// After an incremental fetch was read: which of `outcomes` (in the
    /// order [`FetchContext::Incremental`] gave) the answer carries. A
    /// concurrent request on the same session that moved its epoch on makes
    /// this one INVALID_FETCH_SESSION_EPOCH, as in Kafka.
    pub(crate) fn incremental_response(
        &mut self,
        session_id: i32,
        request_epoch: i32,
        outcomes: &[(PartitionKey, PartitionOutcome)],
    ) -> Result<Vec<bool>, SessionError> {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            // Evicted or closed meanwhile: send everything; the next
            // incremental request learns that the session is gone.
            return Ok(vec![true; outcomes.len()]);
        };
        if session.epoch != next_epoch(request_epoch) {
            return Err(SessionError::InvalidEpoch);
        }
        let mut send = Vec::with_capacity(outcomes.len());
        for (key, outcome) in outcomes {
            let must = match session.partitions.get_mut(key) {
                Some(p) => p.must_respond(outcome),
                None => true,
            };
            if must && outcome.records_bytes > 0 {
                session.move_to_back(key);
            }
            send.push(must);
        }
        Ok(send)
    }

    fn new_session_id(&self) -> i32 {
        loop {
            let id = (self.random_id)();
            if id != INVALID_SESSION_ID && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Kafka's `touch`: records the use and re-evaluates evictability. A
    /// session is evictable by anyone once older than the eviction time, and
    /// by a privileged fetcher at once unless it is privileged itself.
    fn touch(&mut self, id: i32, now_ms: i64) {
        let eviction_ms = self.eviction_ms;
        if let Some(s) = self.sessions.get_mut(&id) {
            s.last_used_ms = now_ms;
            s.cached_size = s.partitions.len();
            let old = now_ms - s.creation_ms > eviction_ms;
            s.evictable_by_all = old;
            s.evictable_by_privileged = !s.privileged || old;
        }
    }

    /// Kafka's `tryEvict`: the least recently used session goes if it has
    /// been idle past the eviction time; otherwise the smallest evictable
    /// session (non-privileged first, then fewest partitions) goes if the
    /// newcomer ranks at least as high.
    fn try_evict(&mut self, privileged: bool, size: usize, now_ms: i64) -> bool {
        let Some((&lru_id, lru)) = self.sessions.iter().min_by_key(|(id, s)| (s.last_used_ms, **id)) else {
            return false;
        };
        if now_ms - lru.last_used_ms > self.eviction_ms {
            tracing::debug!(session_id = lru_id, "evicting stale fetch session");
            self.sessions.remove(&lru_id);
            return true;
        }
        let candidate = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                if privileged {
                    s.evictable_by_privileged
                } else {
                    s.evictable_by_all
                }
            })
            .map(|(id, s)| s.evictable_key(*id))
            .min();
        match candidate {
            Some(key) if (privileged, size, 0) >= key => {
                tracing::debug!(session_id = key.2, "evicting fetch session for a new one");
                self.sessions.remove(&key.2);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "fetch_session_tests.rs"]
mod tests;
