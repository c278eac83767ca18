//! The classic consumer group protocol: FindCoordinator, JoinGroup (range
//! assignor, computed by the leader), SyncGroup, Heartbeat, OffsetCommit,
//! OffsetFetch and LeaveGroup; plus ConsumerProtocol's wire formats.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest,
    SyncGroupRequest,
};

use crate::client::{sb, tn, Cluster};
use crate::error::{codes, Result, ToolError};
use crate::fetcher::Tp;

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn get_str(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_i16();
    if n < 0 {
        return Some(String::new());
    }
    let n = n as usize;
    if b.remaining() < n {
        return None;
    }
    Some(String::from_utf8_lossy(&b.split_to(n)).into_owned())
}

/// ConsumerProtocolSubscription v0.
pub fn encode_subscription(topics: &[String]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        put_str(&mut b, t);
    }
    b.put_i32(-1);
    b.freeze()
}

pub fn decode_subscription(mut b: Bytes) -> Vec<String> {
    let mut out = Vec::new();
    if b.remaining() < 6 {
        return out;
    }
    b.get_i16();
    let n = b.get_i32();
    for _ in 0..n.max(0) {
        match get_str(&mut b) {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

/// ConsumerProtocolAssignment v0.
pub fn encode_assignment(a: &BTreeMap<String, Vec<i32>>) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(a.len() as i32);
    for (t, ps) in a {
        put_str(&mut b, t);
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
    b.put_i32(-1);
    b.freeze()
}

pub fn decode_assignment(mut b: Bytes) -> Vec<Tp> {
    let mut out = Vec::new();
    if b.remaining() < 6 {
        return out;
    }
    b.get_i16();
    let n = b.get_i32();
    for _ in 0..n.max(0) {
        let Some(t) = get_str(&mut b) else { break };
        if b.remaining() < 4 {
            break;
        }
        let c = b.get_i32();
        for _ in 0..c.max(0) {
            if b.remaining() < 4 {
                break;
            }
            out.push((t.clone(), b.get_i32()));
        }
    }
    out
}

/// Kafka's RangeAssignor: per topic, contiguous ranges over members
/// sorted by member id.
pub fn range_assign(
    members: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> =
        members.iter().map(|(m, _)| (m.clone(), BTreeMap::new())).collect();
    for (topic, n) in partitions {
        let mut subs: Vec<&String> = members.iter().filter(|(_, ts)| ts.contains(topic)).map(|(m, _)| m).collect();
        subs.sort();
        if subs.is_empty() {
            continue;
        }
        let per = *n as usize / subs.len();
        let extra = *n as usize % subs.len();
        for (i, m) in subs.iter().enumerate() {
            let start = i * per + i.min(extra);
            let len = per + usize::from(i < extra);
            if len > 0 {
                out.get_mut(*m).expect("member").insert(topic.clone(), (start as i32..(start + len) as i32).collect());
            }
        }
    }
    out
}

pub struct Member {
    pub group: String,
    pub member_id: String,
    pub generation: i32,
    pub coordinator: i32,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub heartbeat_interval: Duration,
    last_heartbeat: Instant,
    pub assignment: Vec<Tp>,
}

impl Member {
    pub fn new(group: &str, session_timeout_ms: i32, rebalance_timeout_ms: i32, heartbeat_ms: u64) -> Member {
        Member {
            group: group.to_string(),
            member_id: String::new(),
            generation: -1,
            coordinator: -1,
            session_timeout_ms,
            rebalance_timeout_ms,
            heartbeat_interval: Duration::from_millis(heartbeat_ms),
            last_heartbeat: Instant::now(),
            assignment: Vec::new(),
        }
    }

    async fn ensure_coordinator(&mut self, cl: &mut Cluster) -> Result<()> {
        if self.coordinator < 0 {
            self.coordinator = cl.coordinator(&self.group, 0).await?;
        }
        Ok(())
    }

    fn lost_coordinator(&mut self, code: i16) -> bool {
        if code == codes::NOT_COORDINATOR || code == codes::COORDINATOR_NOT_AVAILABLE {
            self.coordinator = -1;
            return true;
        }
        false
    }

    /// Join (or rejoin) the group; `topics_for` gives the partition counts
    /// when this member is elected leader. Bounded by `timeout`.
    pub async fn join(&mut self, cl: &mut Cluster, topics: &[String], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if Instant::now() >= deadline {
                return Err(ToolError::Timeout(format!("Timed out joining group {}", self.group)));
            }
            self.ensure_coordinator(cl).await?;
            let mut req = JoinGroupRequest::default();
            req.group_id = GroupId(sb(&self.group));
            req.session_timeout_ms = self.session_timeout_ms;
            req.rebalance_timeout_ms = self.rebalance_timeout_ms;
            req.member_id = sb(&self.member_id);
            req.protocol_type = sb("consumer");
            let mut proto = JoinGroupRequestProtocol::default();
            proto.name = sb("range");
            proto.metadata = encode_subscription(topics);
            req.protocols = vec![proto];
            let conn = cl.broker(self.coordinator).await?;
            let v = conn.version::<JoinGroupRequest>(7)?;
            // JoinGroup blocks for the rebalance; allow the rebalance timeout.
            let saved = conn.timeout;
            conn.timeout = saved.max(Duration::from_millis(self.rebalance_timeout_ms as u64 + 5000));
            let resp = conn.call(&req, v).await;
            conn.timeout = saved;
            let resp = resp?;
            match resp.error_code {
                0 => {}
                codes::MEMBER_ID_REQUIRED => {
                    self.member_id = resp.member_id.to_string();
                    continue;
                }
                codes::UNKNOWN_MEMBER_ID => {
                    self.member_id.clear();
                    continue;
                }
                c if self.lost_coordinator(c)
                    || c == codes::REBALANCE_IN_PROGRESS
                    || c == codes::COORDINATOR_LOAD_IN_PROGRESS =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                c => return Err(ToolError::kafka(c, format!("JoinGroup {}", self.group))),
            }
            self.member_id = resp.member_id.to_string();
            self.generation = resp.generation_id;
            let mut assignments = Vec::new();
            if resp.leader == resp.member_id {
                let members: Vec<(String, Vec<String>)> = resp
                    .members
                    .iter()
                    .map(|m| (m.member_id.to_string(), decode_subscription(m.metadata.clone())))
                    .collect();
                let mut all: Vec<String> = members.iter().flat_map(|(_, t)| t.clone()).collect();
                all.sort();
                all.dedup();
                let md = cl.metadata(Some(&all), false).await?;
                let counts: BTreeMap<String, i32> = md
                    .topics
                    .iter()
                    .filter(|t| t.error_code == 0)
                    .filter_map(|t| t.name.as_ref().map(|n| (n.to_string(), t.partitions.len() as i32)))
                    .collect();
                for (m, a) in range_assign(&members, &counts) {
                    let mut x = SyncGroupRequestAssignment::default();
                    x.member_id = sb(&m);
                    x.assignment = encode_assignment(&a);
                    assignments.push(x);
                }
            }
            let mut sreq = SyncGroupRequest::default();
            sreq.group_id = GroupId(sb(&self.group));
            sreq.generation_id = self.generation;
            sreq.member_id = sb(&self.member_id);
            sreq.assignments = assignments;
            let conn = cl.broker(self.coordinator).await?;
            let v = conn.version::<SyncGroupRequest>(5)?;
            if v >= 5 {
                sreq.protocol_type = Some(sb("consumer"));
                sreq.protocol_name = Some(sb("range"));
            }
            let saved = conn.timeout;
            conn.timeout = saved.max(Duration::from_millis(self.rebalance_timeout_ms as u64 + 5000));
            let sresp = conn.call(&sreq, v).await;
            conn.timeout = saved;
            let sresp = sresp?;
            match sresp.error_code {
                0 => {
                    self.assignment = decode_assignment(sresp.assignment);
                    self.last_heartbeat = Instant::now();
                    return Ok(());
                }
                codes::UNKNOWN_MEMBER_ID => self.member_id.clear(),
                c if self.lost_coordinator(c)
                    || c == codes::REBALANCE_IN_PROGRESS
                    || c == codes::ILLEGAL_GENERATION => {}
                c => return Err(ToolError::kafka(c, format!("SyncGroup {}", self.group))),
            }
        }
    }

    /// Heartbeat when due. `Ok(true)` means the group is rebalancing and
    /// the member must rejoin.
    pub async fn heartbeat(&mut self, cl: &mut Cluster) -> Result<bool> {
        if self.last_heartbeat.elapsed() < self.heartbeat_interval {
            return Ok(false);
        }
        self.ensure_coordinator(cl).await?;
        let mut req = HeartbeatRequest::default();
        req.group_id = GroupId(sb(&self.group));
        req.generation_id = self.generation;
        req.member_id = sb(&self.member_id);
        let conn = cl.broker(self.coordinator).await?;
        let v = conn.version::<HeartbeatRequest>(4)?;
        let resp = conn.call(&req, v).await?;
        self.last_heartbeat = Instant::now();
        Ok(match resp.error_code {
            0 => false,
            codes::REBALANCE_IN_PROGRESS | codes::ILLEGAL_GENERATION => true,
            codes::UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                true
            }
            c if self.lost_coordinator(c) => false,
            c => return Err(ToolError::kafka(c, format!("Heartbeat {}", self.group))),
        })
    }

    pub async fn commit(&mut self, cl: &mut Cluster, offsets: &BTreeMap<Tp, i64>) -> Result<()> {
        commit_offsets(cl, &self.group, self.generation, &self.member_id, offsets).await
    }

    pub async fn leave(&mut self, cl: &mut Cluster) -> Result<()> {
        if self.member_id.is_empty() || self.coordinator < 0 {
            return Ok(());
        }
        let mut req = LeaveGroupRequest::default();
        req.group_id = GroupId(sb(&self.group));
        let conn = cl.broker(self.coordinator).await?;
        let v = conn.version::<LeaveGroupRequest>(4)?;
        if v >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = sb(&self.member_id);
            req.members = vec![m];
        } else {
            req.member_id = sb(&self.member_id);
        }
        let _ = conn.call(&req, v).await?;
        self.member_id.clear();
        Ok(())
    }
}

/// OffsetCommit to the group's coordinator (generation -1 for admin commits).
pub async fn commit_offsets(
    cl: &mut Cluster,
    group: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<Tp, i64>,
) -> Result<()> {
    let mut topics: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
    for ((t, p), o) in offsets {
        topics.entry(t.clone()).or_default().push((*p, *o));
    }
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id_or_member_epoch = generation;
    req.member_id = sb(member_id);
    req.topics = topics
        .into_iter()
        .map(|(t, ps)| {
            let mut ot = OffsetCommitRequestTopic::default();
            ot.name = tn(&t);
            ot.partitions = ps
                .into_iter()
                .map(|(p, o)| {
                    let mut op = OffsetCommitRequestPartition::default();
                    op.partition_index = p;
                    op.committed_offset = o;
                    op.committed_leader_epoch = -1;
                    op.committed_metadata = Some(sb(""));
                    op
                })
                .collect();
            ot
        })
        .collect();
    let coord = cl.coordinator(group, 0).await?;
    let conn = cl.broker(coord).await?;
    let v = conn.version::<OffsetCommitRequest>(8)?;
    if (2..=4).contains(&v) {
        req.retention_time_ms = -1;
    }
    let resp = conn.call(&req, v).await?;
    for t in resp.topics {
        for p in t.partitions {
            crate::error::check(p.error_code, || {
                format!("OffsetCommit {group} {}-{}", t.name.as_str(), p.partition_index)
            })?;
        }
    }
    Ok(())
}

/// Committed offsets of a group (None for `partitions` = all topics).
pub async fn fetch_offsets(cl: &mut Cluster, group: &str, partitions: Option<&[Tp]>) -> Result<BTreeMap<Tp, i64>> {
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(sb(group));
    req.topics = partitions.map(|ps| {
        let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in ps {
            m.entry(t.clone()).or_default().push(*p);
        }
        m.into_iter()
            .map(|(t, ps)| {
                let mut x = OffsetFetchRequestTopic::default();
                x.name = tn(&t);
                x.partition_indexes = ps;
                x
            })
            .collect()
    });
    let coord = cl.coordinator(group, 0).await?;
    let conn = cl.broker(coord).await?;
    let v = conn.version::<OffsetFetchRequest>(7)?;
    if v < 2 && req.topics.is_none() {
        return Err(ToolError::Msg("the broker cannot list all offsets of a group (OffsetFetch < v2)".into()));
    }
    let resp = conn.call(&req, v).await?;
    crate::error::check(resp.error_code, || format!("OffsetFetch {group}"))?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignor_matches_kafka() {
        let members = vec![("c1".to_string(), vec!["t".to_string()]), ("c0".to_string(), vec!["t".to_string()])];
        let parts = BTreeMap::from([("t".to_string(), 3)]);
        let a = range_assign(&members, &parts);
        assert_eq!(a["c0"]["t"], vec![0, 1]);
        assert_eq!(a["c1"]["t"], vec![2]);
    }

    #[test]
    fn assignment_round_trips() {
        let a = BTreeMap::from([("x".to_string(), vec![0, 2])]);
        assert_eq!(decode_assignment(encode_assignment(&a)), vec![("x".to_string(), 0), ("x".to_string(), 2)]);
        assert_eq!(decode_subscription(encode_subscription(&["a".into()])), vec!["a".to_string()]);
    }
}
