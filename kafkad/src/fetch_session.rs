//! Incremental fetch sessions (KIP-227), as Kafka's FetchSessionCache and
//! FetchContext do them. Pure logic: the Fetch handler calls `begin` for
//! the partitions to read and `finish` to turn its full answer into the
//! session's answer.
//!
//! Request metadata (session_id, session_epoch):
//! - epoch -1 (FINAL): sessionless full fetch; a named session is closed.
//! - epoch 0 (INITIAL): full fetch that closes a named session and asks
//!   for a new one; the answer carries its id, or 0 when the cache has no
//!   room (or `max.incremental.fetch.session.cache.slots` is 0).
//! - epoch N > 0: incremental on session `id`. Partitions listed are added
//!   or updated, `forgotten_topics_data` removed; every cached partition is
//!   read, and only those with records, a new HW / LSO / log start offset,
//!   or an error are answered. Unknown id: FETCH_SESSION_ID_NOT_FOUND (70);
//!   wrong epoch: INVALID_FETCH_SESSION_EPOCH (71), both at the top level.
//!
//! Eviction follows Kafka's tryEvict: a session unused for 2 minutes goes
//! first; otherwise a new session may displace the "least valuable" one,
//! ordered by (privileged, partition count, id), that is older than 2
//! minutes (followers' sessions are privileged and may also displace a
//! young consumer session). Simplifications: candidates are found by a
//! scan of at most `slots` sessions instead of Kafka's sorted indexes, and
//! "older than 2 minutes" is judged now rather than at the last use.
//! Unlike Kafka, the session also remembers the LSO (equal to the HW here,
//! as there are no transactions).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::ResponseError;

pub const INVALID_SESSION_ID: i32 = 0;
pub const INITIAL_EPOCH: i32 = 0;
pub const FINAL_EPOCH: i32 = -1;
/// Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS.
pub const EVICTION_MS: i64 = 120_000;

pub type TopicPartition = (String, i32);

/// What the fetcher asked for one partition; cached so an incremental
/// request need not repeat it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionParams {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    pub log_start_offset: i64,
    pub last_fetched_epoch: i32,
}

/// The parts of one partition's answer a session compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionOutcome {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub has_records: bool,
    pub error: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    IdNotFound,
    InvalidEpoch,
}

impl SessionError {
    pub fn code(self) -> i16 {
        match self {
            SessionError::IdNotFound => ResponseError::FetchSessionIdNotFound.code(),
            SessionError::InvalidEpoch => ResponseError::InvalidFetchSessionEpoch.code(),
        }
    }
}

/// How one request is answered (Kafka's FetchContext kinds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    Error(SessionError),
    Sessionless,
    /// Full fetch that may create a session when answered.
    Full {
        privileged: bool,
    },
    /// Incremental on `id`; `epoch` is what the session must still be at
    /// when answered (a concurrent duplicate request moves it on).
    Incremental {
        id: i32,
        epoch: i32,
    },
}

/// The context plus the partitions to read, in order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub context: Context,
    pub partitions: Vec<(TopicPartition, PartitionParams)>,
}

/// The session's verdict on a read: top-level error, session id, and
/// which of the plan's partitions go into the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub error: Option<SessionError>,
    pub session_id: i32,
    pub include: Vec<bool>,
}

#[derive(Clone, Debug)]
struct Cached {
    params: PartitionParams,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

impl Cached {
    /// Kafka's maybeUpdateResponseData with updates on: whether the
    /// partition must be answered, remembering what was answered.
    fn must_respond(&mut self, o: &PartitionOutcome) -> bool {
        let mut respond = o.has_records;
        if self.high_watermark != o.high_watermark {
            respond = true;
            self.high_watermark = o.high_watermark;
        }
        if self.last_stable_offset != o.last_stable_offset {
            respond = true;
            self.last_stable_offset = o.last_stable_offset;
        }
        if self.log_start_offset != o.log_start_offset {
            respond = true;
            self.log_start_offset = o.log_start_offset;
        }
        if o.error {
            // Forget the HW so the partition is answered again once the
            // error is gone.
            self.high_watermark = -1;
            respond = true;
        }
        respond
    }
}

struct Session {
    privileged: bool,
    partitions: HashMap<TopicPartition, Cached>,
    /// Read order; partitions that were answered move to the back so a
    /// size-limited response rotates through all of them.
    order: Vec<TopicPartition>,
    creation_ms: i64,
    last_used_ms: i64,
    epoch: i32,
}

/// Kafka's FetchMetadata.nextEpoch.
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// Totals for /metrics (Kafka's FetchSessionCache gauges and meter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sessions: u64,
    pub partitions: u64,
    pub evictions: u64,
    pub incremental_fetches: u64,
}

pub struct FetchSessionCache {
    max_entries: usize,
    eviction_ms: i64,
    sessions: HashMap<i32, Session>,
    evictions: u64,
    incremental_fetches: u64,
}

impl FetchSessionCache {
    pub fn new(max_entries: usize, eviction_ms: i64) -> FetchSessionCache {
        FetchSessionCache { max_entries, eviction_ms, sessions: HashMap::new(), evictions: 0, incremental_fetches: 0 }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            sessions: self.sessions.len() as u64,
            partitions: self.sessions.values().map(|s| s.partitions.len() as u64).sum(),
            evictions: self.evictions,
            incremental_fetches: self.incremental_fetches,
        }
    }

    /// Kafka's FetchManager.newContext.
    pub fn new_context(
        &mut self,
        now: i64,
        session_id: i32,
        epoch: i32,
        fetch: Vec<(TopicPartition, PartitionParams)>,
        forgotten: &[TopicPartition],
        privileged: bool,
    ) -> Plan {
        if epoch == INITIAL_EPOCH || epoch == FINAL_EPOCH {
            if session_id != INVALID_SESSION_ID {
                self.sessions.remove(&session_id);
            }
            let context = if epoch == FINAL_EPOCH { Context::Sessionless } else { Context::Full { privileged } };
            return Plan { context, partitions: fetch };
        }
        let Some(s) = self.sessions.get_mut(&session_id) else {
            return Plan { context: Context::Error(SessionError::IdNotFound), partitions: Vec::new() };
        };
        if s.epoch != epoch {
            return Plan { context: Context::Error(SessionError::InvalidEpoch), partitions: Vec::new() };
        }
        for (tp, params) in &fetch {
            match s.partitions.get_mut(tp) {
                Some(c) => c.params = params.clone(),
                None => {
                    let c = Cached {
                        params: params.clone(),
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                    };
                    s.partitions.insert(tp.clone(), c);
                    s.order.push(tp.clone());
                }
            }
        }
        for tp in forgotten {
            if s.partitions.remove(tp).is_some() {
                s.order.retain(|o| o != tp);
            }
        }
        if s.partitions.is_empty() {
            // Nothing left: Kafka closes the session and answers sessionless.
            self.sessions.remove(&session_id);
            return Plan { context: Context::Sessionless, partitions: fetch };
        }
        s.last_used_ms = now;
        s.epoch = next_epoch(s.epoch);
        self.incremental_fetches += 1;
        let partitions = s.order.iter().map(|tp| (tp.clone(), s.partitions[tp].params.clone())).collect();
        Plan { context: Context::Incremental { id: session_id, epoch: s.epoch }, partitions }
    }

    /// Answer a plan once its partitions were read; `outcomes` follow the
    /// plan's order.
    pub fn finish(&mut self, now: i64, plan: &Plan, outcomes: &[(TopicPartition, PartitionOutcome)]) -> Answer {
        let all = |session_id| Answer { error: None, session_id, include: vec![true; outcomes.len()] };
        match &plan.context {
            Context::Error(e) => Answer { error: Some(*e), session_id: INVALID_SESSION_ID, include: Vec::new() },
            Context::Sessionless => all(INVALID_SESSION_ID),
            Context::Full { privileged } => {
                let id = self.maybe_create(now, *privileged, plan, outcomes);
                all(id)
            }
            Context::Incremental { id, epoch } => {
                let Some(s) = self.sessions.get_mut(id) else {
                    // Evicted while this fetch waited: the client starts over.
                    return Answer { error: Some(SessionError::IdNotFound), session_id: *id, include: Vec::new() };
                };
                if s.epoch != *epoch {
                    return Answer { error: Some(SessionError::InvalidEpoch), session_id: *id, include: Vec::new() };
                }
                let mut include = Vec::with_capacity(outcomes.len());
                let mut answered = Vec::new();
                for (tp, o) in outcomes {
                    let yes = s.partitions.get_mut(tp).map(|c| c.must_respond(o)).unwrap_or(false);
                    if yes {
                        answered.push(tp.clone());
                    }
                    include.push(yes);
                }
                if !answered.is_empty() {
                    s.order.retain(|tp| !answered.contains(tp));
                    s.order.extend(answered);
                }
                Answer { error: None, session_id: *id, include }
            }
        }
    }

    /// Kafka's maybeCreateSession: a new id, or 0 when there is no room.
    fn maybe_create(
        &mut self,
        now: i64,
        privileged: bool,
        plan: &Plan,
        outcomes: &[(TopicPartition, PartitionOutcome)],
    ) -> i32 {
        if self.sessions.len() >= self.max_entries && !self.try_evict(now, privileged, outcomes.len()) {
            return INVALID_SESSION_ID;
        }
        let mut partitions = HashMap::new();
        let mut order = Vec::new();
        for ((tp, params), (_, o)) in plan.partitions.iter().zip(outcomes) {
            let c = Cached {
                params: params.clone(),
                // An errored partition is answered again next time.
                high_watermark: if o.error { -1 } else { o.high_watermark },
                last_stable_offset: o.last_stable_offset,
                log_start_offset: o.log_start_offset,
            };
            if partitions.insert(tp.clone(), c).is_none() {
                order.push(tp.clone());
            }
        }
        let id = self.new_session_id();
        let session = Session {
            privileged,
            partitions,
            order,
            creation_ms: now,
            last_used_ms: now,
            epoch: next_epoch(INITIAL_EPOCH),
        };
        self.sessions.insert(id, session);
        id
    }

    /// Random, positive and unused, as Kafka's newSessionId.
    fn new_session_id(&self) -> i32 {
        loop {
            let b = uuid::Uuid::new_v4().into_bytes();
            let id = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) & i32::MAX;
            if id != INVALID_SESSION_ID && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn try_evict(&mut self, now: i64, privileged: bool, size: usize) -> bool {
        let stale =
            self.sessions.iter().min_by_key(|(id, s)| (s.last_used_ms, **id)).map(|(id, s)| (*id, s.last_used_ms));
        let Some((stale_id, last_used)) = stale else { return false };
        let victim = if now - last_used > self.eviction_ms {
            Some(stale_id)
        } else {
            let old = |s: &Session| now - s.creation_ms > self.eviction_ms;
            self.sessions
                .iter()
                .filter(|(_, s)| if privileged { !s.privileged || old(s) } else { old(s) })
                .map(|(id, s)| ((s.privileged, s.partitions.len(), *id), *id))
                .min()
                .filter(|(key, _)| (privileged, size, 0) >= *key)
                .map(|(_, id)| id)
        };
        let Some(id) = victim else { return false };
        self.sessions.remove(&id);
        self.evictions += 1;
        true
    }
}

/// The broker's cache, shared by all connections.
pub struct FetchSessions(Mutex<FetchSessionCache>);

/// A fetch between `begin` and `finish`.
pub struct Pending {
    plan: Plan,
    /// Below Fetch v7 there are no session fields to answer with.
    versioned: bool,
}

impl FetchSessions {
    pub fn new(slots: usize) -> FetchSessions {
        FetchSessions(Mutex::new(FetchSessionCache::new(slots, EVICTION_MS)))
    }

    pub fn stats(&self) -> Stats {
        self.0.lock().map(|c| c.stats()).unwrap_or_default()
    }

    /// The request to read for this fetch: the request itself, or for an
    /// incremental fetch every partition of the session; a session error
    /// reads nothing and does not wait.
    pub fn begin(&self, api_version: i16, mut req: FetchRequest, privileged: bool) -> (Pending, FetchRequest) {
        let fetch: Vec<(TopicPartition, PartitionParams)> = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let params = PartitionParams {
                        fetch_offset: p.fetch_offset,
                        max_bytes: p.partition_max_bytes,
                        current_leader_epoch: p.current_leader_epoch,
                        log_start_offset: p.log_start_offset,
                        last_fetched_epoch: p.last_fetched_epoch,
                    };
                    ((t.topic.0.to_string(), p.partition), params)
                })
            })
            .collect();
        if api_version < 7 {
            return (
                Pending { plan: Plan { context: Context::Sessionless, partitions: fetch }, versioned: false },
                req,
            );
        }
        let forgotten: Vec<TopicPartition> = req
            .forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
            .collect();
        let plan = match self.0.lock() {
            Ok(mut c) => {
                c.new_context(crate::now_ms(), req.session_id, req.session_epoch, fetch, &forgotten, privileged)
            }
            Err(_) => Plan { context: Context::Sessionless, partitions: fetch },
        };
        match &plan.context {
            Context::Error(_) => {
                req.topics.clear();
                req.max_wait_ms = 0;
            }
            Context::Incremental { .. } => req.topics = to_topics(&plan.partitions),
            Context::Sessionless | Context::Full { .. } => {}
        }
        (Pending { plan, versioned: true }, req)
    }

    /// The session's answer from the full answer to `begin`'s request.
    pub fn finish(&self, pending: Pending, mut resp: FetchResponse) -> FetchResponse {
        if !pending.versioned {
            return resp;
        }
        let outcomes: Vec<(TopicPartition, PartitionOutcome)> = resp
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let o = PartitionOutcome {
                        high_watermark: p.high_watermark,
                        last_stable_offset: p.last_stable_offset,
                        log_start_offset: p.log_start_offset,
                        has_records: p.records.as_ref().is_some_and(|r: &Bytes| !r.is_empty()),
                        error: p.error_code != 0,
                    };
                    ((t.topic.0.to_string(), p.partition_index), o)
                })
            })
            .collect();
        let answer = match self.0.lock() {
            Ok(mut c) => c.finish(crate::now_ms(), &pending.plan, &outcomes),
            Err(_) => Answer { error: None, session_id: INVALID_SESSION_ID, include: vec![true; outcomes.len()] },
        };
        resp.session_id = answer.session_id;
        if let Some(e) = answer.error {
            resp.error_code = e.code();
            resp.responses.clear();
            return resp;
        }
        let mut keep = answer.include.into_iter();
        for t in &mut resp.responses {
            t.partitions.retain(|_| keep.next().unwrap_or(true));
        }
        resp.responses.retain(|t| !t.partitions.is_empty());
        resp
    }
}

/// Partitions back into request topics; consecutive partitions of one
/// topic share an entry (a topic may recur, as in Kafka's responses).
fn to_topics(parts: &[(TopicPartition, PartitionParams)]) -> Vec<FetchTopic> {
    let mut out: Vec<FetchTopic> = Vec::new();
    for ((topic, index), p) in parts {
        if out.last().map(|t| t.topic.0.as_str() != topic.as_str()).unwrap_or(true) {
            let mut t = FetchTopic::default();
            t.topic = TopicName(kafka_protocol::protocol::StrBytes::from_string(topic.clone()));
            out.push(t);
        }
        let mut fp = FetchPartition::default();
        fp.partition = *index;
        fp.fetch_offset = p.fetch_offset;
        fp.partition_max_bytes = p.max_bytes;
        fp.current_leader_epoch = p.current_leader_epoch;
        fp.log_start_offset = p.log_start_offset;
        fp.last_fetched_epoch = p.last_fetched_epoch;
        if let Some(t) = out.last_mut() {
            t.partitions.push(fp);
        }
    }
    out
}

#[cfg(test)]
mod tests;
