//! Committed offsets, kept in memory and persisted in the internal topic
//! `__consumer_offsets` exactly as Kafka writes it: record key
//! OffsetCommitKey (version 1: group, topic, partition), value
//! OffsetCommitValue version 3 (offset, leader epoch, metadata, commit
//! timestamp), a null value as tombstone; GroupMetadataKey (version 2) /
//! GroupMetadataValue version 3 for groups. A group lives in partition
//! abs(javaHashCode(group)) % offsets.topic.num.partitions. Loading replays
//! a partition's log when this broker becomes its leader.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ms: i64,
}

/// What a group metadata record says about a group (enough to list it and
/// resume its generation after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredGroup {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: usize,
}

/// Kafka's String.hashCode over UTF-16 units, then Utils.abs % n.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for u in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

#[derive(Default)]
struct State {
    offsets: BTreeMap<String, BTreeMap<(String, i32), Committed>>,
    groups: BTreeMap<String, StoredGroup>,
    /// __consumer_offsets partitions loaded (led) here.
    loaded: HashSet<i32>,
}

#[derive(Default)]
pub struct OffsetStore {
    state: Mutex<State>,
}

/// One decoded __consumer_offsets record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Offset { group: String, topic: String, partition: i32, value: Option<Committed> },
    Group { group: String, value: Option<StoredGroup> },
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len().min(i16::MAX as usize) as i16);
    b.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn get_str(b: &mut Bytes) -> Option<String> {
    let n = get_i16(b)?;
    if n < 0 {
        return None;
    }
    let n = n as usize;
    if b.remaining() < n {
        return None;
    }
    let s = String::from_utf8_lossy(&b[..n]).to_string();
    b.advance(n);
    Some(s)
}

/// Nullable string: Ok(None) for a null, Err on truncation.
fn get_nullable_str(b: &mut Bytes) -> Result<Option<String>, ()> {
    if b.remaining() < 2 {
        return Err(());
    }
    let n = i16::from_be_bytes([b[0], b[1]]);
    if n < 0 {
        b.advance(2);
        return Ok(None);
    }
    get_str(b).map(Some).ok_or(())
}

fn get_i16(b: &mut Bytes) -> Option<i16> {
    (b.remaining() >= 2).then(|| b.get_i16())
}
fn get_i32(b: &mut Bytes) -> Option<i32> {
    (b.remaining() >= 4).then(|| b.get_i32())
}
fn get_i64(b: &mut Bytes) -> Option<i64> {
    (b.remaining() >= 8).then(|| b.get_i64())
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(1);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

pub fn offset_value(c: &Committed) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    b.put_i64(c.offset);
    b.put_i32(c.leader_epoch);
    put_str(&mut b, &c.metadata);
    b.put_i64(c.commit_ms);
    b.freeze()
}

pub fn group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(2);
    put_str(&mut b, group);
    b.freeze()
}

/// A GroupMetadataValue member: (member id, instance id, client id, client
/// host, rebalance timeout, session timeout, subscription, assignment).
pub type MemberRecord = (String, Option<String>, String, String, i32, i32, Bytes, Bytes);

pub fn group_value(g: &StoredGroup, members: &[MemberRecord], now_ms: i64) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, &g.protocol_type);
    b.put_i32(g.generation);
    put_nullable_str(&mut b, g.protocol.as_deref());
    put_nullable_str(&mut b, g.leader.as_deref());
    b.put_i64(now_ms);
    b.put_i32(members.len() as i32);
    for (id, inst, client, host, rebalance, session, sub, assign) in members {
        put_str(&mut b, id);
        put_nullable_str(&mut b, inst.as_deref());
        put_str(&mut b, client);
        put_str(&mut b, host);
        b.put_i32(*rebalance);
        b.put_i32(*session);
        b.put_i32(sub.len() as i32);
        b.put_slice(sub);
        b.put_i32(assign.len() as i32);
        b.put_slice(assign);
    }
    b.freeze()
}

/// Decode a record of the versions Kafka writes (offset values 0-3, group
/// values 0-3); anything else is skipped by the caller.
pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<Record> {
    let mut k = key.clone();
    let kv = get_i16(&mut k)?;
    match kv {
        0 | 1 => {
            let group = get_str(&mut k)?;
            let topic = get_str(&mut k)?;
            let partition = get_i32(&mut k)?;
            let value = match value {
                None => None,
                Some(v) => Some(decode_offset_value(v)?),
            };
            Some(Record::Offset { group, topic, partition, value })
        }
        2 => {
            let group = get_str(&mut k)?;
            let value = match value {
                None => None,
                Some(v) => Some(decode_group_value(v)?),
            };
            Some(Record::Group { group, value })
        }
        _ => None,
    }
}

fn decode_offset_value(v: &Bytes) -> Option<Committed> {
    let mut b = v.clone();
    let version = get_i16(&mut b)?;
    let offset = get_i64(&mut b)?;
    let leader_epoch = if version >= 3 { get_i32(&mut b)? } else { -1 };
    let metadata = get_str(&mut b)?;
    let commit_ms = get_i64(&mut b)?;
    Some(Committed { offset, leader_epoch, metadata, commit_ms })
}

fn decode_group_value(v: &Bytes) -> Option<StoredGroup> {
    let mut b = v.clone();
    let version = get_i16(&mut b)?;
    let protocol_type = get_str(&mut b)?;
    let generation = get_i32(&mut b)?;
    let protocol = get_nullable_str(&mut b).ok()?;
    let leader = get_nullable_str(&mut b).ok()?;
    if version >= 2 {
        get_i64(&mut b)?;
    }
    let members = get_i32(&mut b)?.max(0) as usize;
    Some(StoredGroup { protocol_type, generation, protocol, leader, members })
}

impl OffsetStore {
    pub fn new() -> OffsetStore {
        OffsetStore::default()
    }

    /// Apply one replayed or freshly written record.
    pub fn apply(&self, r: Record) {
        let Ok(mut s) = self.state.lock() else { return };
        match r {
            Record::Offset { group, topic, partition, value: Some(c) } => {
                s.offsets.entry(group).or_default().insert((topic, partition), c);
            }
            Record::Offset { group, topic, partition, value: None } => {
                if let Some(g) = s.offsets.get_mut(&group) {
                    g.remove(&(topic, partition));
                    if g.is_empty() {
                        s.offsets.remove(&group);
                    }
                }
            }
            Record::Group { group, value: Some(g) } => {
                s.groups.insert(group, g);
            }
            Record::Group { group, value: None } => {
                s.groups.remove(&group);
                s.offsets.remove(&group);
            }
        }
    }

    pub fn mark_loaded(&self, partition: i32, loaded: bool) {
        if let Ok(mut s) = self.state.lock() {
            if loaded {
                s.loaded.insert(partition);
            } else {
                s.loaded.remove(&partition);
            }
        }
    }

    pub fn is_loaded(&self, partition: i32) -> bool {
        self.state.lock().map(|s| s.loaded.contains(&partition)).unwrap_or(false)
    }

    /// Forget groups of a partition this broker no longer leads.
    pub fn unload(&self, partition: i32, partitions: i32) {
        if let Ok(mut s) = self.state.lock() {
            s.loaded.remove(&partition);
            s.offsets.retain(|g, _| partition_for(g, partitions) != partition);
            s.groups.retain(|g, _| partition_for(g, partitions) != partition);
        }
    }

    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<Committed> {
        self.state.lock().ok()?.offsets.get(group)?.get(&(topic.to_string(), partition)).cloned()
    }

    /// Every (topic, partition, offset) of a group.
    pub fn all(&self, group: &str) -> Vec<(String, i32, Committed)> {
        let Ok(s) = self.state.lock() else { return Vec::new() };
        s.offsets
            .get(group)
            .map(|g| g.iter().map(|((t, p), c)| (t.clone(), *p, c.clone())).collect())
            .unwrap_or_default()
    }

    /// Groups known from offsets or group records: (name, protocol type,
    /// generation).
    pub fn groups(&self) -> Vec<(String, String, i32)> {
        let Ok(s) = self.state.lock() else { return Vec::new() };
        let mut out: BTreeMap<String, (String, i32)> =
            s.offsets.keys().map(|g| (g.clone(), ("consumer".to_string(), 0))).collect();
        for (g, sg) in &s.groups {
            out.insert(g.clone(), (sg.protocol_type.clone(), sg.generation));
        }
        out.into_iter().map(|(g, (t, gen))| (g, t, gen)).collect()
    }

    pub fn stored_group(&self, group: &str) -> Option<StoredGroup> {
        self.state.lock().ok()?.groups.get(group).cloned()
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.state.lock().map(|s| s.groups.contains_key(group) || s.offsets.contains_key(group)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_partitioning() {
        // "my-group".hashCode() == -1906497762 in Java; abs % 50 == 12.
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("", 50), 0);
    }

    #[test]
    fn records_roundtrip() {
        let c = Committed { offset: 42, leader_epoch: 3, metadata: "m".into(), commit_ms: 1000 };
        let k = offset_key("g", "t", 5);
        let v = offset_value(&c);
        // Key v1: int16 1, "g", "t", int32 5.
        assert_eq!(&k[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 5]);
        assert_eq!(&v[..2], &[0, 3]);
        assert_eq!(
            decode(&k, Some(&v)),
            Some(Record::Offset { group: "g".into(), topic: "t".into(), partition: 5, value: Some(c) })
        );
        let g = StoredGroup {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: None,
            members: 1,
        };
        let m: MemberRecord =
            ("m1".into(), Some("i1".into()), "c".into(), "/h".into(), 300, 10, Bytes::from_static(b"s"), Bytes::new());
        let v = group_value(&g, &[m], 5);
        assert_eq!(decode(&group_key("grp"), Some(&v)), Some(Record::Group { group: "grp".into(), value: Some(g) }));
        assert_eq!(decode(&group_key("grp"), None), Some(Record::Group { group: "grp".into(), value: None }));
    }
}
