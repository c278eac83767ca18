//! A pipelined sender over `Producer`: up to max.in.flight.requests.per.connection
//! Produce requests outstanding per broker connection, responses matched
//! in order. Used by kafka-producer-perf-test and the console producer.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use kafka_protocol::messages::ProduceRequest;

use crate::error::{codes, Result, ToolError};
use crate::producer::{Producer, Rec};

struct Pending {
    corr: i32,
    version: i16,
    partition: i32,
    count: usize,
    started: Instant,
}

/// A completed batch (partition/base_offset: for senders that report offsets).
#[allow(dead_code)]
pub struct Done {
    pub partition: i32,
    pub base_offset: i64,
    pub count: usize,
    pub started: Instant,
    pub error: Option<ToolError>,
}

pub struct Pipeline<'a> {
    pub prod: &'a mut Producer,
    topic: String,
    in_flight: HashMap<i32, VecDeque<Pending>>,
}

impl<'a> Pipeline<'a> {
    pub async fn new(prod: &'a mut Producer, topic: &str) -> Result<Pipeline<'a>> {
        prod.partitions(topic).await?;
        Ok(Pipeline { prod, topic: topic.to_string(), in_flight: HashMap::new() })
    }

    /// Queue one batch for `partition`; returns batches completed meanwhile
    /// (reading responses only when the connection is at its limit).
    pub async fn submit(&mut self, partition: i32, recs: &[Rec], started: Instant) -> Result<Vec<Done>> {
        let leader = self.prod.leader_of(&self.topic, partition);
        if leader < 0 {
            return Err(ToolError::kafka(
                codes::LEADER_NOT_AVAILABLE,
                format!("Produce to {}-{partition}", self.topic),
            ));
        }
        let mut done = Vec::new();
        let limit = self.prod.cfg.max_in_flight.max(1);
        while self.in_flight.get(&leader).map_or(0, VecDeque::len) >= limit {
            done.push(self.complete_one(leader).await?);
        }
        let req = self.prod.produce_request(&self.topic, partition, recs)?;
        let acks = self.prod.cfg.acks;
        let conn = self.prod.cl.broker(leader).await?;
        let version = conn.version::<ProduceRequest>(9)?;
        if acks == 0 {
            conn.send_only(&req, version).await?;
            done.push(Done { partition, base_offset: -1, count: recs.len(), started, error: None });
            return Ok(done);
        }
        let corr = conn.send(&req, version).await?;
        self.in_flight.entry(leader).or_default().push_back(Pending {
            corr,
            version,
            partition,
            count: recs.len(),
            started,
        });
        Ok(done)
    }

    async fn complete_one(&mut self, leader: i32) -> Result<Done> {
        let Some(p) = self.in_flight.get_mut(&leader).and_then(VecDeque::pop_front) else {
            return Err(ToolError::Msg("no request in flight".into()));
        };
        let conn = self.prod.cl.broker(leader).await?;
        let resp = match conn.recv::<ProduceRequest>(p.corr, p.version).await {
            Ok(r) => r,
            Err(e) => {
                self.prod.cl.drop_conn(leader);
                return Err(e.into());
            }
        };
        let pr = resp.responses.iter().flat_map(|t| t.partition_responses.iter()).find(|r| r.index == p.partition);
        let (base_offset, error) = match pr {
            None => {
                (-1, Some(ToolError::Connection(format!("no response for partition {}-{}", self.topic, p.partition))))
            }
            Some(r) if r.error_code == 0 || r.error_code == 46 => (r.base_offset, None),
            Some(r) => (-1, Some(ToolError::kafka(r.error_code, format!("Produce to {}-{}", self.topic, p.partition)))),
        };
        Ok(Done { partition: p.partition, base_offset, count: p.count, started: p.started, error })
    }

    /// Wait for every outstanding request.
    pub async fn flush(&mut self) -> Result<Vec<Done>> {
        let mut done = Vec::new();
        let leaders: Vec<i32> = self.in_flight.keys().copied().collect();
        for l in leaders {
            while self.in_flight.get(&l).is_some_and(|q| !q.is_empty()) {
                done.push(self.complete_one(l).await?);
            }
        }
        Ok(done)
    }
}
