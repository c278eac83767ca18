//! The producer engine behind kafka-console-producer, the perf test and
//! kafka-verifiable-producer: record batches v2 (kafka-protocol's
//! RecordBatchEncoder, CRC-32C), leader routing, retries, and the
//! idempotent producer (InitProducerId + per-partition sequences).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use crate::client::{now_ms, tn, Cluster};
use crate::error::{codes, Result, ToolError};

#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub acks: i16,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub compression: Compression,
    pub linger_ms: u64,
    pub batch_size: usize,
    pub idempotent: bool,
    pub request_timeout: Duration,
    pub max_block: Duration,
    pub client_id: String,
    /// max.in.flight.requests.per.connection (pipelined senders).
    pub max_in_flight: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: -1,
            retries: 3,
            retry_backoff: Duration::from_millis(100),
            compression: Compression::None,
            linger_ms: 0,
            batch_size: 16384,
            idempotent: false,
            request_timeout: Duration::from_millis(30_000),
            max_block: Duration::from_millis(60_000),
            client_id: "producer-1".into(),
            max_in_flight: 5,
        }
    }
}

pub fn parse_compression(s: &str) -> Result<Compression> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "none" | "" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(ToolError::Usage(format!("Invalid value {other} for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd"))),
    })
}

pub fn parse_acks(s: &str) -> Result<i16> {
    match s.trim() {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        o => Err(ToolError::Usage(format!(
            "Invalid value {o} for configuration acks: String must be one of: all, -1, 0, 1"
        ))),
    }
}

impl ProducerConfig {
    /// Apply Java producer properties; unknown keys are ignored as the
    /// Java client only warns about them.
    pub fn apply(&mut self, props: &[(String, String)]) -> Result<()> {
        let num = |k: &str, v: &str| -> Result<u64> {
            v.trim().parse::<u64>().map_err(|_| {
                ToolError::Usage(format!("Invalid value {v} for configuration {k}: Not a number of type LONG"))
            })
        };
        for (k, v) in props {
            match k.as_str() {
                "acks" => self.acks = parse_acks(v)?,
                "retries" => self.retries = num(k, v)?.min(u32::MAX as u64) as u32,
                "retry.backoff.ms" => self.retry_backoff = Duration::from_millis(num(k, v)?),
                "compression.type" => self.compression = parse_compression(v)?,
                "linger.ms" => self.linger_ms = num(k, v)?,
                "batch.size" => self.batch_size = num(k, v)?.max(1) as usize,
                "enable.idempotence" => self.idempotent = v.trim().eq_ignore_ascii_case("true"),
                "request.timeout.ms" => self.request_timeout = Duration::from_millis(num(k, v)?.max(1)),
                "max.block.ms" => self.max_block = Duration::from_millis(num(k, v)?),
                "client.id" => self.client_id = v.clone(),
                "max.in.flight.requests.per.connection" => {
                    self.max_in_flight = num(k, v)?.clamp(1, 1000) as usize;
                    if self.idempotent && num(k, v)? > 5 {
                        return Err(ToolError::Usage("Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer.".into()));
                    }
                }
                _ => {}
            }
        }
        if self.idempotent && self.acks != -1 {
            return Err(ToolError::Usage("Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.".into()));
        }
        Ok(())
    }
}

/// One record to send.
#[derive(Clone, Debug, Default)]
pub struct Rec {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp: Option<i64>,
}

/// Kafka's murmur2, used by the default partitioner for keyed records.
pub fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let len = data.len();
    let mut h: u32 = seed ^ (len as u32);
    for c in data.chunks_exact(4) {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> 24;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let tail = &data[len & !3..];
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

pub struct Producer {
    pub cl: Cluster,
    pub cfg: ProducerConfig,
    /// topic -> partition -> leader
    leaders: HashMap<String, BTreeMap<i32, i32>>,
    pid: i64,
    epoch: i16,
    seqs: HashMap<(String, i32), i32>,
    sticky: usize,
}

/// Outcome of one partition's batch.
#[allow(dead_code)] // base_offset/count: for the verifiable producer
pub struct Ack {
    pub partition: i32,
    pub base_offset: i64,
    pub count: usize,
    pub error: Option<ToolError>,
}

impl Producer {
    pub async fn connect(bootstrap: &str, cfg: ProducerConfig) -> Result<Producer> {
        // The broker answers REQUEST_TIMED_OUT at request.timeout.ms; the
        // socket waits a little longer so that answer is seen.
        let cl = Cluster::connect(bootstrap, &cfg.client_id, cfg.request_timeout + Duration::from_secs(5)).await?;
        let mut p = Producer { cl, cfg, leaders: HashMap::new(), pid: -1, epoch: -1, seqs: HashMap::new(), sticky: 0 };
        if p.cfg.idempotent {
            p.init_producer_id().await?;
        }
        Ok(p)
    }

    async fn init_producer_id(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.cfg.max_block;
        loop {
            let conn = self.cl.any().await?;
            let v = conn.version::<InitProducerIdRequest>(4)?;
            let mut req = InitProducerIdRequest::default();
            req.transactional_id = None;
            req.transaction_timeout_ms = i32::MAX;
            if v >= 3 {
                req.producer_id = kafka_protocol::messages::ProducerId(-1);
                req.producer_epoch = -1;
            }
            let resp = conn.call(&req, v).await?;
            if resp.error_code == 0 {
                self.pid = resp.producer_id.0;
                self.epoch = resp.producer_epoch;
                return Ok(());
            }
            if !codes::retriable(resp.error_code) || Instant::now() >= deadline {
                return Err(ToolError::kafka(resp.error_code, "InitProducerId"));
            }
            tokio::time::sleep(self.cfg.retry_backoff).await;
        }
    }

    /// Partitions of `topic` (auto-creating it as the Java producer does),
    /// waiting up to max.block.ms for leaders.
    pub async fn partitions(&mut self, topic: &str) -> Result<Vec<i32>> {
        if let Some(m) = self.leaders.get(topic) {
            return Ok(m.keys().copied().collect());
        }
        self.refresh(topic).await?;
        Ok(self.leaders.get(topic).map(|m| m.keys().copied().collect()).unwrap_or_default())
    }

    async fn refresh(&mut self, topic: &str) -> Result<()> {
        let deadline = Instant::now() + self.cfg.max_block;
        loop {
            let md = self.cl.metadata(Some(&[topic.to_string()]), true).await?;
            let err = crate::client::topic_error(&md, topic).unwrap_or(codes::UNKNOWN_TOPIC_OR_PARTITION);
            if err == 0 {
                if let Some(l) = crate::client::leaders(&md, topic) {
                    if !l.is_empty() && l.values().all(|x| *x >= 0) {
                        self.leaders.insert(topic.to_string(), l);
                        return Ok(());
                    }
                }
            } else if !codes::retriable(err) {
                return Err(ToolError::kafka(err, format!("Topic {topic}")));
            }
            if Instant::now() >= deadline {
                return Err(ToolError::Timeout(format!(
                    "org.apache.kafka.common.errors.TimeoutException: Topic {topic} not present in metadata after {} ms.",
                    self.cfg.max_block.as_millis()
                )));
            }
            tokio::time::sleep(self.cfg.retry_backoff).await;
        }
    }

    /// The default partitioner: murmur2 of the key, else sticky per call.
    pub fn choose(&mut self, key: Option<&[u8]>, n: usize, new_batch: bool) -> i32 {
        if n == 0 {
            return 0;
        }
        match key {
            Some(k) => ((murmur2(k) & 0x7fff_ffff) as usize % n) as i32,
            None => {
                if new_batch {
                    self.sticky = self.sticky.wrapping_add(1);
                }
                (self.sticky % n) as i32
            }
        }
    }

    /// The leader of a partition from the cached metadata (-1 if unknown).
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        self.leaders.get(topic).and_then(|m| m.get(&partition)).copied().unwrap_or(-1)
    }

    /// A Produce request for one batch, for senders that pipeline: the
    /// idempotent sequence advances now, not at the acknowledgement.
    pub fn produce_request(&mut self, topic: &str, partition: i32, recs: &[Rec]) -> Result<ProduceRequest> {
        let b = self.encode(topic, partition, recs)?;
        if self.pid >= 0 {
            let s = self.seqs.entry((topic.to_string(), partition)).or_insert(0);
            *s = s.wrapping_add(recs.len() as i32);
        }
        let mut pd = PartitionProduceData::default();
        pd.index = partition;
        pd.records = Some(b);
        let mut td = TopicProduceData::default();
        td.name = tn(topic);
        td.partition_data = vec![pd];
        let mut req = ProduceRequest::default();
        req.acks = self.cfg.acks;
        req.timeout_ms = self.cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        req.topic_data = vec![td];
        Ok(req)
    }

    fn encode(&mut self, topic: &str, partition: i32, recs: &[Rec]) -> Result<Bytes> {
        let now = now_ms();
        let base_seq = if self.pid >= 0 { *self.seqs.get(&(topic.to_string(), partition)).unwrap_or(&0) } else { 0 };
        let records: Vec<Record> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: self.pid,
                producer_epoch: self.epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // Without a producer id the batch's base sequence is -1;
                // offset - sequence must stay constant for one batch.
                sequence: if self.pid >= 0 { base_seq.wrapping_add(i as i32) } else { i as i32 - 1 },
                timestamp: r.timestamp.unwrap_or(now),
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.iter().map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone())).collect(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records.iter(),
            &RecordEncodeOptions { version: 2, compression: self.cfg.compression },
        )
        .map_err(|e| ToolError::Msg(format!("cannot encode record batch: {e}")))?;
        Ok(buf.freeze())
    }

    /// Send one batch per partition; retries retriable errors with a
    /// metadata refresh, up to `retries` times. Returns one Ack per batch.
    pub async fn send(&mut self, topic: &str, batches: Vec<(i32, Vec<Rec>)>) -> Result<Vec<Ack>> {
        if !self.leaders.contains_key(topic) {
            self.refresh(topic).await?;
        }
        let mut pending: Vec<(i32, usize, Bytes)> = Vec::new();
        for (p, recs) in &batches {
            if recs.is_empty() {
                continue;
            }
            let b = self.encode(topic, *p, recs)?;
            pending.push((*p, recs.len(), b));
        }
        let mut acks = Vec::new();
        let mut attempt = 0u32;
        // A batch that failed for good with an error a metadata refresh can
        // cure: the next send looks the leaders up again, as the Java
        // producer requests a metadata update on such errors whatever its
        // retries (with retries=0 the cached leader would stay stale).
        let mut stale = false;
        while !pending.is_empty() {
            let leaders = self.leaders.get(topic).cloned().unwrap_or_default();
            let mut by_leader: BTreeMap<i32, Vec<(i32, usize, Bytes)>> = BTreeMap::new();
            for item in pending.drain(..) {
                let l = leaders.get(&item.0).copied().unwrap_or(-1);
                by_leader.entry(l).or_default().push(item);
            }
            let mut retry = Vec::new();
            for (leader, items) in by_leader {
                let results = self.produce_to(leader, topic, &items).await;
                for ((p, n, b), res) in items.into_iter().zip(results) {
                    match res {
                        Ok(off) => {
                            if self.pid >= 0 {
                                let s = self.seqs.entry((topic.to_string(), p)).or_insert(0);
                                *s = s.wrapping_add(n as i32);
                            }
                            acks.push(Ack { partition: p, base_offset: off, count: n, error: None });
                        }
                        Err(e) if attempt < self.cfg.retries && is_retriable(&e) => retry.push((p, n, b)),
                        Err(e) => {
                            stale |= is_retriable(&e);
                            acks.push(Ack { partition: p, base_offset: -1, count: n, error: Some(e) })
                        }
                    }
                }
            }
            if !retry.is_empty() {
                attempt += 1;
                tokio::time::sleep(self.cfg.retry_backoff).await;
                self.leaders.remove(topic);
                let _ = self.refresh(topic).await;
                pending = retry;
            }
        }
        if stale {
            self.leaders.remove(topic);
        }
        Ok(acks)
    }

    async fn produce_to(&mut self, leader: i32, topic: &str, items: &[(i32, usize, Bytes)]) -> Vec<Result<i64>> {
        let fail = |e: ToolError| items.iter().map(|_| Err(clone_err(&e))).collect::<Vec<_>>();
        if leader < 0 {
            return fail(ToolError::kafka(codes::LEADER_NOT_AVAILABLE, format!("Produce to {topic}")));
        }
        let mut td = TopicProduceData::default();
        td.name = tn(topic);
        td.partition_data = items
            .iter()
            .map(|(p, _, b)| {
                let mut pd = PartitionProduceData::default();
                pd.index = *p;
                pd.records = Some(b.clone());
                pd
            })
            .collect();
        let mut req = ProduceRequest::default();
        req.acks = self.cfg.acks;
        req.timeout_ms = self.cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        req.topic_data = vec![td];
        let acks = self.cfg.acks;
        let conn = match self.cl.broker(leader).await {
            Ok(c) => c,
            Err(e) => {
                self.cl.drop_conn(leader);
                return fail(e);
            }
        };
        let v = match conn.version::<ProduceRequest>(9) {
            Ok(v) => v,
            Err(e) => return fail(e.into()),
        };
        if acks == 0 {
            return match conn.send_only(&req, v).await {
                Ok(()) => items.iter().map(|_| Ok(-1)).collect(),
                Err(e) => {
                    self.cl.drop_conn(leader);
                    fail(e.into())
                }
            };
        }
        let resp = match conn.call(&req, v).await {
            Ok(r) => r,
            Err(e) => {
                self.cl.drop_conn(leader);
                return fail(e.into());
            }
        };
        items
            .iter()
            .map(|(p, _, _)| {
                let pr = resp.responses.iter().flat_map(|t| t.partition_responses.iter()).find(|r| r.index == *p);
                match pr {
                    None => Err(ToolError::Connection(format!("no response for partition {topic}-{p}"))),
                    Some(r) if r.error_code == 0 || r.error_code == 46 => Ok(r.base_offset),
                    Some(r) => Err(ToolError::Kafka {
                        context: format!("Produce to {topic}-{p}"),
                        err: kafka_protocol::error::ResponseError::try_from_code(r.error_code)
                            .unwrap_or(kafka_protocol::error::ResponseError::Unknown(r.error_code)),
                    }),
                }
            })
            .collect()
    }
}

fn is_retriable(e: &ToolError) -> bool {
    match e {
        ToolError::Kafka { err, .. } => codes::retriable(err.code()),
        ToolError::Connection(_) | ToolError::Timeout(_) => true,
        _ => false,
    }
}

fn clone_err(e: &ToolError) -> ToolError {
    match e {
        ToolError::Kafka { context, err } => ToolError::Kafka { context: context.clone(), err: *err },
        ToolError::Connection(s) => ToolError::Connection(s.clone()),
        ToolError::Timeout(s) => ToolError::Timeout(s.clone()),
        other => ToolError::Msg(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::murmur2;

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }
}
