//! Fetching for the consumers: positions per partition, ListOffsets,
//! Fetch to each leader, batch framing and record decoding.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest};
use kafka_protocol::records::{Record, RecordBatchDecoder};

use crate::client::{tn, Cluster};
use crate::error::{codes, Result, ToolError};

pub type Tp = (String, i32);

pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

pub struct Fetched {
    pub topic: String,
    pub partition: i32,
    pub records: Vec<Record>,
}

pub struct Fetcher {
    pub cl: Cluster,
    pub isolation: i8,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    /// auto.offset.reset: earliest (-2), latest (-1) or none (0).
    pub reset: i64,
    pub positions: BTreeMap<Tp, i64>,
    leaders: HashMap<Tp, i32>,
    /// Log end offsets seen in the last fetch (high watermarks).
    pub high_watermarks: HashMap<Tp, i64>,
}

/// Split a records blob into complete v2 batches (a fetch may end with a
/// partial batch) and decode them.
pub fn decode_batches(mut raw: Bytes) -> Result<Vec<(kafka_protocol::records::RecordSet, i64, i64, bool)>> {
    let mut out = Vec::new();
    while raw.len() >= 12 {
        let base = i64::from_be_bytes(raw[0..8].try_into().expect("8 bytes"));
        let len = i32::from_be_bytes(raw[8..12].try_into().expect("4 bytes"));
        if len < 0 {
            break;
        }
        let total = 12 + len as usize;
        if raw.len() < total {
            break;
        }
        let mut one = raw.split_to(total);
        // Legacy message sets are not produced by any client here.
        let Ok(h) = shared::kafka_format::batch::BatchHeader::parse(&one) else { continue };
        let set = RecordBatchDecoder::decode(&mut one)
            .map_err(|e| ToolError::Msg(format!("corrupt record batch at offset {base}: {e}")))?;
        out.push((set, base, h.last_offset(), h.is_control()));
    }
    let _ = raw.remaining();
    Ok(out)
}

impl Fetcher {
    pub fn new(cl: Cluster) -> Fetcher {
        Fetcher {
            cl,
            isolation: 0,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 52_428_800,
            partition_max_bytes: 1_048_576,
            reset: LATEST,
            positions: BTreeMap::new(),
            leaders: HashMap::new(),
            high_watermarks: HashMap::new(),
        }
    }

    pub async fn refresh_leaders(&mut self, topics: &[String]) -> Result<()> {
        let md = self.cl.metadata(Some(topics), false).await?;
        for t in &md.topics {
            let Some(name) = t.name.as_ref() else { continue };
            for p in &t.partitions {
                self.leaders.insert((name.to_string(), p.partition_index), p.leader_id.0);
            }
        }
        Ok(())
    }

    async fn leader(&mut self, tp: &Tp) -> Result<i32> {
        if !self.leaders.contains_key(tp) {
            self.refresh_leaders(std::slice::from_ref(&tp.0)).await?;
        }
        match self.leaders.get(tp) {
            Some(l) if *l >= 0 => Ok(*l),
            _ => Err(ToolError::kafka(codes::LEADER_NOT_AVAILABLE, format!("{}-{}", tp.0, tp.1))),
        }
    }

    /// ListOffsets for many partitions at `ts` (-2 earliest, -1 latest, or a timestamp).
    pub async fn list_offsets(&mut self, tps: &[Tp], ts: i64) -> Result<BTreeMap<Tp, i64>> {
        let mut by_leader: BTreeMap<i32, Vec<Tp>> = BTreeMap::new();
        for tp in tps {
            let l = self.leader(tp).await?;
            by_leader.entry(l).or_default().push(tp.clone());
        }
        let mut out = BTreeMap::new();
        for (leader, tps) in by_leader {
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in &tps {
                topics.entry(t.clone()).or_default().push(*p);
            }
            let mut req = ListOffsetsRequest::default();
            req.replica_id = BrokerId(-1);
            req.isolation_level = self.isolation;
            req.topics = topics
                .iter()
                .map(|(t, ps)| {
                    let mut lt = ListOffsetsTopic::default();
                    lt.name = tn(t);
                    lt.partitions = ps
                        .iter()
                        .map(|p| {
                            let mut lp = ListOffsetsPartition::default();
                            lp.partition_index = *p;
                            lp.timestamp = ts;
                            lp.current_leader_epoch = -1;
                            lp
                        })
                        .collect();
                    lt
                })
                .collect();
            let conn = self.cl.broker(leader).await?;
            let v = conn.version::<ListOffsetsRequest>(7)?;
            let resp = conn.call(&req, v).await?;
            for t in resp.topics {
                for p in t.partitions {
                    crate::error::check(p.error_code, || {
                        format!("ListOffsets {}-{}", t.name.as_str(), p.partition_index)
                    })?;
                    out.insert((t.name.to_string(), p.partition_index), p.offset);
                }
            }
        }
        Ok(out)
    }

    /// One fetch round over every assigned partition. Advances positions.
    pub async fn poll(&mut self) -> Result<Vec<Fetched>> {
        let mut by_leader: BTreeMap<i32, Vec<(Tp, i64)>> = BTreeMap::new();
        let positions: Vec<(Tp, i64)> = self.positions.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (tp, pos) in positions {
            match self.leader(&tp).await {
                Ok(l) => by_leader.entry(l).or_default().push((tp, pos)),
                Err(_) => self.leaders.clear(),
            }
        }
        if by_leader.is_empty() {
            tokio::time::sleep(Duration::from_millis(self.max_wait_ms.max(10) as u64)).await;
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut resets: Vec<Tp> = Vec::new();
        for (leader, parts) in by_leader {
            let mut topics: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
            for ((t, p), pos) in &parts {
                topics.entry(t.clone()).or_default().push((*p, *pos));
            }
            let mut req = FetchRequest::default();
            req.replica_id = BrokerId(-1);
            req.max_wait_ms = self.max_wait_ms;
            req.min_bytes = self.min_bytes;
            req.max_bytes = self.max_bytes;
            req.isolation_level = self.isolation;
            req.topics = topics
                .iter()
                .map(|(t, ps)| {
                    let mut ft = FetchTopic::default();
                    ft.topic = tn(t);
                    ft.partitions = ps
                        .iter()
                        .map(|(p, pos)| {
                            let mut fp = FetchPartition::default();
                            fp.partition = *p;
                            fp.fetch_offset = *pos;
                            fp.partition_max_bytes = self.partition_max_bytes;
                            fp.current_leader_epoch = -1;
                            fp.last_fetched_epoch = -1;
                            fp.log_start_offset = -1;
                            fp
                        })
                        .collect();
                    ft
                })
                .collect();
            let conn = match self.cl.broker(leader).await {
                Ok(c) => c,
                Err(e) => {
                    self.cl.drop_conn(leader);
                    self.leaders.clear();
                    return Err(e);
                }
            };
            let v = conn.version::<FetchRequest>(12)?;
            let resp = match conn.call(&req, v).await {
                Ok(r) => r,
                Err(e) => {
                    self.cl.drop_conn(leader);
                    self.leaders.clear();
                    return Err(e.into());
                }
            };
            crate::error::check(resp.error_code, || "Fetch".into())?;
            for t in resp.responses {
                let topic = t.topic.to_string();
                for p in t.partitions {
                    let tp = (topic.clone(), p.partition_index);
                    match p.error_code {
                        0 => {}
                        codes::OFFSET_OUT_OF_RANGE => {
                            resets.push(tp);
                            continue;
                        }
                        c if codes::retriable(c) => {
                            self.leaders.remove(&tp);
                            continue;
                        }
                        c => return Err(ToolError::kafka(c, format!("Fetch {}-{}", tp.0, tp.1))),
                    }
                    self.high_watermarks.insert(tp.clone(), p.high_watermark);
                    let Some(raw) = p.records else { continue };
                    let pos = *self.positions.get(&tp).unwrap_or(&0);
                    let mut recs = Vec::new();
                    let mut next = pos;
                    for (set, _base, last, control) in decode_batches(raw)? {
                        if last >= next {
                            next = last + 1;
                        }
                        if control {
                            continue;
                        }
                        recs.extend(set.records.into_iter().filter(|r| r.offset >= pos));
                    }
                    if next > pos {
                        self.positions.insert(tp.clone(), next);
                    }
                    if !recs.is_empty() {
                        out.push(Fetched { topic: tp.0, partition: tp.1, records: recs });
                    }
                }
            }
        }
        for tp in resets {
            if self.reset == 0 {
                return Err(ToolError::Msg(format!(
                    "org.apache.kafka.clients.consumer.OffsetOutOfRangeException: Fetch position is out of range for partition {}-{}",
                    tp.0, tp.1
                )));
            }
            let o = self.list_offsets(std::slice::from_ref(&tp), self.reset).await?;
            if let Some(off) = o.get(&tp) {
                self.positions.insert(tp, *off);
            }
        }
        Ok(out)
    }
}
