//! The classic group coordinator (JoinGroup/SyncGroup/Heartbeat/LeaveGroup)
//! with Kafka's states: Empty -> PreparingRebalance -> CompletingRebalance
//! -> Stable. Committed offsets live in `offsets`, persisted in
//! __consumer_offsets by `persist`. Static members (group.instance.id)
//! keep their assignment across restarts of the client without a
//! rebalance.

mod join;
pub mod offsets;
pub mod persist;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::BrokerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(&self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only: (member id, instance id, metadata).
    pub members: Vec<(String, Option<String>, Bytes)>,
}

#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

pub struct JoinParams {
    pub group: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
}

pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: Instant,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

pub struct Group {
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending: HashMap<String, Instant>,
    /// Until when a join round may not complete early (initial delay).
    hold_until: Instant,
    /// A member joined a new group during its initial delay, which then
    /// extends by another delay (Kafka's InitialDelayedJoin).
    new_member_added: bool,
    /// Bumped per rebalance so stale timers do nothing.
    round: u64,
}

impl Group {
    fn new() -> Group {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            hold_until: Instant::now(),
            new_member_added: false,
            round: 0,
        }
    }
}

/// A group metadata record to append to __consumer_offsets.
pub type GroupWrite = (String, Bytes, Option<Bytes>);

/// (member id, instance id, metadata for the chosen protocol), as the
/// leader's JoinGroup response lists them.
fn member_list(group: &Group) -> Vec<(String, Option<String>, Bytes)> {
    let proto = group.protocol.clone().unwrap_or_default();
    group
        .members
        .values()
        .map(|m| {
            let meta = m.protocols.iter().find(|(n, _)| *n == proto).map(|(_, b)| b.clone()).unwrap_or_default();
            (m.id.clone(), m.instance_id.clone(), meta)
        })
        .collect()
}

/// Topics a consumer-protocol member subscribed to
/// (ConsumerProtocolSubscription: int16 version, array of strings, ...).
pub fn subscribed_topics(metadata: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if metadata.len() < 6 {
        return out;
    }
    let n = i32::from_be_bytes([metadata[2], metadata[3], metadata[4], metadata[5]]);
    let mut pos = 6usize;
    for _ in 0..n.max(0) {
        let Some(l) = metadata.get(pos..pos + 2) else { break };
        let len = i16::from_be_bytes([l[0], l[1]]);
        pos += 2;
        if len < 0 {
            continue;
        }
        let Some(t) = metadata.get(pos..pos + len as usize) else { break };
        out.push(String::from_utf8_lossy(t).to_string());
        pos += len as usize;
    }
    out
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    pub offsets: offsets::OffsetStore,
    writes: tokio::sync::mpsc::UnboundedSender<GroupWrite>,
    /// Taken once by the broker, which appends the records.
    pub write_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<GroupWrite>>>,
    initial_delay: Duration,
    min_session_ms: i32,
    max_session_ms: i32,
}

pub enum Joined {
    Now(JoinResult),
    Later(oneshot::Receiver<JoinResult>),
}

pub enum Synced {
    Now(SyncResult),
    Later(oneshot::Receiver<SyncResult>),
}

fn err_join(e: ResponseError, member_id: &str) -> Joined {
    Joined::Now(JoinResult { error: e.code(), generation: -1, member_id: member_id.to_string(), ..Default::default() })
}

impl GroupCoordinator {
    pub fn new(config: &BrokerConfig) -> Arc<GroupCoordinator> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(GroupCoordinator {
            groups: Mutex::new(HashMap::new()),
            offsets: offsets::OffsetStore::new(),
            writes: tx,
            write_rx: Mutex::new(Some(rx)),
            initial_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            min_session_ms: config.group_min_session_timeout_ms,
            max_session_ms: config.group_max_session_timeout_ms,
        })
    }

    pub fn with_group<R>(&self, name: &str, f: impl FnOnce(Option<&Group>) -> R) -> R {
        match self.groups.lock() {
            Ok(g) => f(g.get(name)),
            Err(_) => f(None),
        }
    }

    pub fn group_names(&self) -> Vec<(String, String, GroupState)> {
        let Ok(g) = self.groups.lock() else { return Vec::new() };
        g.iter().map(|(n, g)| (n.clone(), g.protocol_type.clone().unwrap_or_default(), g.state)).collect()
    }

    pub fn sync(&self, group: &str, generation: i32, member_id: &str, assignments: Vec<(String, Bytes)>) -> Synced {
        let fail = |e: ResponseError| Synced::Now(SyncResult { error: e.code(), ..Default::default() });
        let Ok(mut groups) = self.groups.lock() else { return fail(ResponseError::UnknownServerError) };
        let Some(g) = groups.get_mut(group) else { return fail(ResponseError::UnknownMemberId) };
        if !g.members.contains_key(member_id) {
            return fail(ResponseError::UnknownMemberId);
        }
        if generation != g.generation {
            return fail(ResponseError::IllegalGeneration);
        }
        let ok = |a: Bytes, g: &Group| SyncResult {
            error: 0,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment: a,
        };
        match g.state {
            GroupState::Empty => fail(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => fail(ResponseError::RebalanceInProgress),
            GroupState::Stable => {
                let a = g.members.get(member_id).map(|m| m.assignment.clone()).unwrap_or_default();
                Synced::Now(ok(a, g))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = g.members.get_mut(member_id) {
                    m.sync_waiter = Some(tx);
                    m.last_heartbeat = Instant::now();
                }
                if g.leader.as_deref() == Some(member_id) {
                    let mut map: HashMap<String, Bytes> = assignments.into_iter().collect();
                    g.state = GroupState::Stable;
                    let pt = g.protocol_type.clone();
                    let pn = g.protocol.clone();
                    for m in g.members.values_mut() {
                        m.assignment = map.remove(&m.id).unwrap_or_default();
                    }
                    self.record_group(group, g);
                    for m in g.members.values_mut() {
                        if let Some(tx) = m.sync_waiter.take() {
                            let _ = tx.send(SyncResult {
                                error: 0,
                                protocol_type: pt.clone(),
                                protocol_name: pn.clone(),
                                assignment: m.assignment.clone(),
                            });
                        }
                    }
                }
                Synced::Later(rx)
            }
        }
    }

    pub fn heartbeat(&self, group: &str, generation: i32, member_id: &str) -> Result<(), ResponseError> {
        let Ok(mut groups) = self.groups.lock() else { return Err(ResponseError::UnknownServerError) };
        let Some(g) = groups.get_mut(group) else { return Err(ResponseError::UnknownMemberId) };
        let state = g.state;
        let gen = g.generation;
        let Some(m) = g.members.get_mut(member_id) else { return Err(ResponseError::UnknownMemberId) };
        m.last_heartbeat = Instant::now();
        match state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ if generation != gen => Err(ResponseError::IllegalGeneration),
            GroupState::Empty => Err(ResponseError::UnknownMemberId),
            _ => Ok(()),
        }
    }

    /// Remove members (LeaveGroup); the rest must rejoin. Per-member errors.
    pub fn leave(self: &Arc<Self>, group: &str, members: &[(String, Option<String>)]) -> Vec<i16> {
        let Ok(mut groups) = self.groups.lock() else {
            return vec![ResponseError::UnknownServerError.code(); members.len()];
        };
        let Some(g) = groups.get_mut(group) else { return vec![ResponseError::UnknownMemberId.code(); members.len()] };
        let mut out = Vec::new();
        let mut removed = false;
        for (id, instance) in members {
            // A static member may leave by instance id alone; a different
            // member id for a known instance is a fenced zombie.
            let by_instance = instance
                .as_ref()
                .and_then(|i| g.members.values().find(|m| m.instance_id.as_ref() == Some(i)).map(|m| m.id.clone()));
            if let Some(owner) = &by_instance {
                if !id.is_empty() && owner != id {
                    out.push(ResponseError::FencedInstanceId.code());
                    continue;
                }
            }
            let id = by_instance.unwrap_or_else(|| id.clone());
            if g.members.remove(&id).is_some() {
                removed = true;
                out.push(0);
            } else {
                out.push(ResponseError::UnknownMemberId.code());
            }
        }
        if removed {
            self.after_removal(group, g);
        }
        out
    }

    /// Queue a GroupMetadata record (version 3) for __consumer_offsets.
    fn record_group(&self, name: &str, g: &Group) {
        let proto = g.protocol.clone().unwrap_or_default();
        let members: Vec<offsets::MemberRecord> = g
            .members
            .values()
            .map(|m| {
                let sub = m.protocols.iter().find(|(n, _)| *n == proto).map(|(_, b)| b.clone()).unwrap_or_default();
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.client_id.clone(),
                    m.client_host.clone(),
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    sub,
                    m.assignment.clone(),
                )
            })
            .collect();
        let stored = offsets::StoredGroup {
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            generation: g.generation,
            protocol: g.protocol.clone(),
            leader: g.leader.clone(),
            members: members.len(),
        };
        let value = offsets::group_value(&stored, &members, crate::now_ms());
        self.offsets.apply(offsets::Record::Group { group: name.to_string(), value: Some(stored) });
        let _ = self.writes.send((name.to_string(), offsets::group_key(name), Some(value)));
    }

    fn after_removal(self: &Arc<Self>, name: &str, g: &mut Group) {
        if g.members.is_empty() {
            if g.state != GroupState::Empty {
                g.generation += 1;
            }
            g.state = GroupState::Empty;
            g.leader = None;
            g.protocol = None;
            g.round += 1;
            self.record_group(name, g);
        } else if g.state == GroupState::PreparingRebalance {
            self.try_complete_join(g, false);
        } else {
            self.prepare_rebalance(name, g);
        }
    }

    /// Expire members whose session timed out; run periodically.
    pub fn expire_members(self: &Arc<Self>) {
        let Ok(mut groups) = self.groups.lock() else { return };
        let now = Instant::now();
        let names: Vec<String> = groups.keys().cloned().collect();
        for name in names {
            let Some(g) = groups.get_mut(&name) else { continue };
            g.pending.retain(|_, t| now.duration_since(*t) < Duration::from_secs(300));
            let dead: HashSet<String> = g
                .members
                .values()
                .filter(|m| {
                    m.join_waiter.is_none()
                        && now.duration_since(m.last_heartbeat)
                            > Duration::from_millis(m.session_timeout_ms.max(0) as u64)
                })
                .map(|m| m.id.clone())
                .collect();
            if dead.is_empty() {
                continue;
            }
            for id in &dead {
                tracing::info!(group = %name, member = %id, "member session expired");
                g.members.remove(id);
            }
            self.after_removal(&name, g);
        }
    }

    /// DeleteGroups' check: only empty (or dead) groups go; the live entry
    /// is dropped so the caller can tombstone the stored data.
    pub fn prepare_delete(&self, group: &str) -> Result<(), ResponseError> {
        let Ok(mut groups) = self.groups.lock() else { return Err(ResponseError::UnknownServerError) };
        match groups.get(group) {
            Some(g) if g.state != GroupState::Empty => Err(ResponseError::NonEmptyGroup),
            Some(_) => {
                groups.remove(group);
                Ok(())
            }
            None if self.offsets.has_group(group) => Ok(()),
            None => Err(ResponseError::GroupIdNotFound),
        }
    }

    /// OffsetDelete's check: Ok(subscribed topics) when offsets may be
    /// deleted (empty group: none), or the group-level error.
    pub fn offset_delete_check(&self, group: &str) -> Result<Vec<String>, ResponseError> {
        let Ok(groups) = self.groups.lock() else { return Err(ResponseError::UnknownServerError) };
        match groups.get(group) {
            Some(g) if g.state == GroupState::Empty => Ok(Vec::new()),
            Some(g) if g.protocol_type.as_deref() == Some("consumer") => {
                let proto = g.protocol.clone().unwrap_or_default();
                let mut topics: Vec<String> = g
                    .members
                    .values()
                    .flat_map(|m| {
                        m.protocols
                            .iter()
                            .find(|(n, _)| *n == proto)
                            .map(|(_, b)| subscribed_topics(b))
                            .unwrap_or_default()
                    })
                    .collect();
                topics.sort();
                topics.dedup();
                Ok(topics)
            }
            Some(_) => Err(ResponseError::NonEmptyGroup),
            None if self.offsets.has_group(group) => Ok(Vec::new()),
            None => Err(ResponseError::GroupIdNotFound),
        }
    }

    /// Whether an offset commit from this member/generation is accepted,
    /// as Kafka 3.9's GroupCoordinator.handleCommitOffsets /
    /// validateOffsetCommit decide: a generation below 0 commits freely
    /// into an Empty or absent group (admin or assign() consumers); a
    /// generation from a group that no longer exists is stale
    /// (ILLEGAL_GENERATION); otherwise the member (and its static instance
    /// id) must be current and the generation equal. Accepted while Stable
    /// or PreparingRebalance (consumers commit from onPartitionsRevoked and
    /// learn of the rebalance from their heartbeat), REBALANCE_IN_PROGRESS
    /// while CompletingRebalance. An accepted commit counts as a heartbeat.
    pub fn check_commit(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        let Ok(mut groups) = self.groups.lock() else { return Err(ResponseError::UnknownServerError) };
        let Some(g) = groups.get_mut(group) else { return self.check_commit_stored(group, generation) };
        if generation < 0 && g.state == GroupState::Empty {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if let Some(instance) = instance_id {
                match g.members.values().find(|m| m.instance_id.as_deref() == Some(instance)) {
                    Some(m) if m.id != member_id => return Err(ResponseError::FencedInstanceId),
                    Some(_) => {}
                    None => return Err(ResponseError::UnknownMemberId),
                }
            }
            if !g.members.contains_key(member_id) {
                return Err(ResponseError::UnknownMemberId);
            }
            if generation != g.generation {
                return Err(ResponseError::IllegalGeneration);
            }
        } else if g.state != GroupState::Empty {
            // A non-empty group takes commits from its members only.
            return Err(ResponseError::UnknownMemberId);
        }
        match g.state {
            GroupState::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => {
                if let Some(m) = g.members.get_mut(member_id) {
                    m.last_heartbeat = Instant::now();
                }
                Ok(())
            }
        }
    }

    /// A group with no live state here. Kafka would have loaded it from
    /// __consumer_offsets with its members; this coordinator keeps only the
    /// stored generation and member count, so a stored group with members
    /// accepts its stored generation (the members Kafka would know), and
    /// one without members is Empty (only generation < 0 commits).
    fn check_commit_stored(&self, group: &str, generation: i32) -> Result<(), ResponseError> {
        match self.offsets.stored_group(group) {
            None if generation < 0 => Ok(()),
            None => Err(ResponseError::IllegalGeneration),
            // Kafka would refuse this while the loaded members live; they
            // are not known here and never expire, so it is let through.
            Some(_) if generation < 0 => Ok(()),
            Some(sg) if sg.members == 0 => Err(ResponseError::UnknownMemberId),
            Some(sg) if sg.generation == generation => Ok(()),
            Some(_) => Err(ResponseError::IllegalGeneration),
        }
    }
}
