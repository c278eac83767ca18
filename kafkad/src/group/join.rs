//! The join phase of a rebalance: JoinGroup (dynamic and static members),
//! the initial rebalance delay and the rebalance deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    err_join, member_list, Group, GroupCoordinator, GroupState, JoinParams, JoinResult, Joined, Member, SyncResult,
};

impl GroupCoordinator {
    pub fn join(self: &Arc<Self>, p: JoinParams) -> Joined {
        if p.session_timeout_ms < self.min_session_ms || p.session_timeout_ms > self.max_session_ms {
            return err_join(ResponseError::InvalidSessionTimeout, &p.member_id);
        }
        if p.group.is_empty() {
            return err_join(ResponseError::InvalidGroupId, &p.member_id);
        }
        let Ok(mut groups) = self.groups.lock() else {
            return err_join(ResponseError::UnknownServerError, &p.member_id);
        };
        let stored_gen = self.offsets.stored_group(&p.group).map(|g| g.generation).unwrap_or(0);
        let group = groups.entry(p.group.clone()).or_insert_with(|| {
            let mut g = Group::new();
            // A group loaded from __consumer_offsets resumes its generation.
            g.generation = stored_gen;
            g
        });
        if group.state != GroupState::Empty {
            let type_ok = group.protocol_type.as_deref() == Some(p.protocol_type.as_str());
            let proto_ok = p
                .protocols
                .iter()
                .any(|(n, _)| group.members.values().all(|m| m.protocols.iter().any(|(mn, _)| mn == n)));
            if !type_ok || !proto_ok {
                return err_join(ResponseError::InconsistentGroupProtocol, &p.member_id);
            }
        }
        let mut member_id = p.member_id.clone();
        let static_owner = p
            .instance_id
            .as_ref()
            .and_then(|i| group.members.values().find(|m| m.instance_id.as_ref() == Some(i)).map(|m| m.id.clone()));
        if let (Some(owner), false) = (&static_owner, member_id.is_empty()) {
            if *owner != member_id {
                return err_join(ResponseError::FencedInstanceId, &member_id);
            }
        }
        if member_id.is_empty() && p.instance_id.is_some() {
            // Static member (re)joining: takes over its old identity and
            // assignment; a stable group does not rebalance for it.
            member_id = format!("{}-{}", p.instance_id.clone().unwrap_or_default(), uuid::Uuid::new_v4());
            if let Some(old) = static_owner {
                if let Some(mut m) = group.members.remove(&old) {
                    if let Some(tx) = m.join_waiter.take() {
                        let _ = tx.send(JoinResult {
                            error: ResponseError::FencedInstanceId.code(),
                            generation: -1,
                            ..Default::default()
                        });
                    }
                    if let Some(tx) = m.sync_waiter.take() {
                        let _ =
                            tx.send(SyncResult { error: ResponseError::FencedInstanceId.code(), ..Default::default() });
                    }
                    m.id = member_id.clone();
                    m.last_heartbeat = Instant::now();
                    let same_protocols = m.protocols == p.protocols;
                    m.protocols = p.protocols.clone();
                    if group.leader.as_deref() == Some(old.as_str()) {
                        group.leader = Some(member_id.clone());
                    }
                    group.members.insert(member_id.clone(), m);
                    if group.state == GroupState::Stable && same_protocols {
                        tracing::info!(group = %p.group, member = %member_id, "static member rejoined; no rebalance");
                        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
                        let members = if is_leader { member_list(group) } else { Vec::new() };
                        return Joined::Now(JoinResult {
                            error: 0,
                            generation: group.generation,
                            protocol_type: group.protocol_type.clone(),
                            protocol_name: group.protocol.clone(),
                            leader: group.leader.clone().unwrap_or_default(),
                            member_id,
                            members,
                        });
                    }
                }
            }
        } else if member_id.is_empty() {
            member_id = format!("{}-{}", p.client_id, uuid::Uuid::new_v4());
            if p.require_known_member_id {
                group.pending.insert(member_id.clone(), Instant::now());
                return err_join(ResponseError::MemberIdRequired, &member_id);
            }
        } else if !group.members.contains_key(&member_id) && group.pending.remove(&member_id).is_none() {
            return err_join(ResponseError::UnknownMemberId, &member_id);
        }
        let (tx, rx) = oneshot::channel();
        if !group.members.contains_key(&member_id)
            && group.state == GroupState::PreparingRebalance
            && group.generation == 0
        {
            group.new_member_added = true;
        }
        let m = group.members.entry(member_id.clone()).or_insert_with(|| Member {
            id: member_id.clone(),
            instance_id: p.instance_id.clone(),
            client_id: p.client_id.clone(),
            client_host: p.client_host.clone(),
            session_timeout_ms: p.session_timeout_ms,
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            protocols: Vec::new(),
            assignment: Bytes::new(),
            last_heartbeat: Instant::now(),
            join_waiter: None,
            sync_waiter: None,
        });
        m.protocols = p.protocols;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.last_heartbeat = Instant::now();
        if let Some(old) = m.join_waiter.replace(tx) {
            let _ = old.send(JoinResult {
                error: ResponseError::UnknownMemberId.code(),
                generation: -1,
                ..Default::default()
            });
        }
        if group.protocol_type.is_none() || group.state == GroupState::Empty {
            group.protocol_type = Some(p.protocol_type);
        }
        if group.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(&p.group, group);
        }
        self.try_complete_join(group, false);
        Joined::Later(rx)
    }

    pub(super) fn prepare_rebalance(self: &Arc<Self>, name: &str, group: &mut Group) {
        // Members waiting in SyncGroup learn that the round was abandoned.
        for m in group.members.values_mut() {
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(SyncResult { error: ResponseError::RebalanceInProgress.code(), ..Default::default() });
            }
        }
        let now = Instant::now();
        let rebalance = group.members.values().map(|m| m.rebalance_timeout_ms.max(0)).max().unwrap_or(0) as u64;
        let rebalance = Duration::from_millis(rebalance);
        let was_empty = group.state == GroupState::Empty;
        group.state = GroupState::PreparingRebalance;
        group.round += 1;
        let round = group.round;
        if was_empty {
            // group.initial.rebalance.delay.ms: the first generation of a
            // group waits a delay, extended by another delay while new
            // members keep arriving, up to the rebalance timeout.
            group.new_member_added = false;
            group.hold_until = now + self.initial_delay;
            self.schedule_initial_join(name, round, group.hold_until, rebalance.saturating_sub(self.initial_delay));
        } else {
            group.hold_until = now;
            let me = self.clone();
            let name = name.to_string();
            tokio::spawn(async move {
                tokio::time::sleep_until(now + rebalance).await;
                let Ok(mut groups) = me.groups.lock() else { return };
                if let Some(g) = groups.get_mut(&name) {
                    if g.round == round {
                        me.try_complete_join(g, true);
                    }
                }
            });
        }
    }

    /// Kafka's InitialDelayedJoin: at `at`, extend by min(delay, remaining)
    /// if a member joined meanwhile, else complete the join.
    fn schedule_initial_join(self: &Arc<Self>, name: &str, round: u64, at: Instant, remaining: Duration) {
        let me = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let Ok(mut groups) = me.groups.lock() else { return };
            let Some(g) = groups.get_mut(&name) else { return };
            if g.round != round || g.state != GroupState::PreparingRebalance {
                return;
            }
            if g.new_member_added && !remaining.is_zero() {
                g.new_member_added = false;
                let d = me.initial_delay.min(remaining);
                g.hold_until = Instant::now() + d;
                me.schedule_initial_join(&name, round, g.hold_until, remaining - d);
            } else {
                me.try_complete_join(g, true);
            }
        });
    }

    /// Finish the join phase when every member has rejoined (after the
    /// initial hold) or, with `force`, at the rebalance deadline, dropping
    /// members that did not rejoin.
    pub(super) fn try_complete_join(&self, group: &mut Group, force: bool) {
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = group.members.values().all(|m| m.join_waiter.is_some());
        if !force && (!all_joined || Instant::now() < group.hold_until) {
            return;
        }
        group.members.retain(|_, m| m.join_waiter.is_some());
        group.generation += 1;
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.leader = None;
            group.protocol = None;
            return;
        }
        if group.leader.as_ref().map(|l| !group.members.contains_key(l)).unwrap_or(true) {
            group.leader = group.members.keys().next().cloned();
        }
        let leader = group.leader.clone().unwrap_or_default();
        // The first protocol of the leader that every member supports.
        let protocol = group.members.get(&leader).and_then(|l| {
            l.protocols
                .iter()
                .map(|(n, _)| n.clone())
                .find(|n| group.members.values().all(|m| m.protocols.iter().any(|(mn, _)| mn == n)))
        });
        group.protocol = protocol.clone();
        group.state = GroupState::CompletingRebalance;
        let list = member_list(group);
        for m in group.members.values_mut() {
            m.last_heartbeat = Instant::now();
            if let Some(tx) = m.join_waiter.take() {
                let _ = tx.send(JoinResult {
                    error: 0,
                    generation: group.generation,
                    protocol_type: group.protocol_type.clone(),
                    protocol_name: group.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader { list.clone() } else { Vec::new() },
                });
            }
        }
    }
}
