//! A partition replica on this broker: its log, leadership (leader epoch,
//! ISR), the high watermark, and the idempotent-producer checks against
//! the log's producer state (log::producer_state).
//!
//! As leader, the high watermark is min(LEO) over the ISR, where a
//! follower's LEO is the offset of its latest fetch; followers that keep
//! up join the ISR and those that fall behind for replica.lag.time.max.ms
//! leave it (the ZooKeeper write itself is in `replica::isr`). As follower,
//! the log takes the leader's batches as they are and the HW follows the
//! leader's.

mod follower;
mod isr;

use std::collections::HashMap;
use std::sync::Mutex;

use kafka_protocol::ResponseError;
use tokio::sync::watch;

use crate::log::batch::{self, BatchHeader};
use crate::log::manager::SharedLog;
use crate::log::producer_state::Check;
use crate::log::{ReadError, ReadResult};

/// What the leader knows of one follower (Kafka's Replica state).
#[derive(Debug, Clone, Copy)]
struct FollowerState {
    /// Offset of its latest fetch; -1 until it fetched from this leader.
    leo: i64,
    /// Leader LEO and time at that fetch, for the caught-up rule.
    last_fetch_leo: i64,
    last_fetch_ms: i64,
    last_caught_up_ms: i64,
}

#[derive(Debug, Clone)]
struct Leadership {
    leader: i32,
    leader_epoch: i32,
    isr: Vec<i32>,
    replicas: Vec<i32>,
    controller_epoch: i32,
    /// zkVersion of the state znode this came from (conditional ISR writes).
    zk_version: i32,
    /// LEO when this broker became leader for `leader_epoch`; a follower
    /// joins the ISR only once it has reached it.
    epoch_start_offset: i64,
    followers: HashMap<i32, FollowerState>,
    /// An ISR change is being written to ZooKeeper.
    isr_write_pending: bool,
}

/// The state znode an ISR change must replace (conditional on zk_version).
#[derive(Debug, Clone)]
pub struct IsrUpdate {
    pub leader: i32,
    pub leader_epoch: i32,
    pub controller_epoch: i32,
    pub zk_version: i32,
    pub new_isr: Vec<i32>,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: uuid::Uuid,
    pub broker_id: i32,
    pub log: SharedLog,
    state: Mutex<Leadership>,
    hw: watch::Sender<i64>,
    /// Bumped when this partition's LEO or HW moves or its leadership
    /// changes: long-polling fetches of it wake (and only those).
    data: watch::Sender<u64>,
}

/// Result of a leader append.
#[derive(Debug, Clone, Copy)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub log_start_offset: i64,
    /// The leader epoch the batches were written under.
    pub leader_epoch: i32,
    /// The time LogAppendTime batches were stamped with; -1 for CreateTime.
    pub log_append_time: i64,
}

fn err<T>(e: ResponseError) -> Result<T, ResponseError> {
    Err(e)
}

impl Partition {
    pub fn new(
        topic: &str,
        index: i32,
        topic_id: uuid::Uuid,
        broker_id: i32,
        log: SharedLog,
        hw_checkpoint: i64,
    ) -> Partition {
        Partition {
            topic: topic.to_string(),
            index,
            topic_id,
            broker_id,
            log,
            state: Mutex::new(Leadership {
                leader: -1,
                leader_epoch: -1,
                isr: Vec::new(),
                replicas: Vec::new(),
                controller_epoch: -1,
                zk_version: -1,
                epoch_start_offset: 0,
                followers: HashMap::new(),
                isr_write_pending: false,
            }),
            hw: watch::channel(hw_checkpoint).0,
            data: watch::channel(0).0,
        }
    }

    /// Wake the fetches waiting on this partition.
    pub fn notify_data(&self) {
        self.data.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn subscribe_data(&self) -> watch::Receiver<u64> {
        self.data.subscribe()
    }

    pub fn high_watermark(&self) -> i64 {
        *self.hw.borrow()
    }

    pub fn subscribe_hw(&self) -> watch::Receiver<i64> {
        self.hw.subscribe()
    }

    pub fn is_leader(&self) -> bool {
        self.state.lock().map(|s| s.leader == self.broker_id).unwrap_or(false)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.state.lock().map(|s| s.leader_epoch).unwrap_or(-1)
    }

    pub fn isr_len(&self) -> usize {
        self.state.lock().map(|s| s.isr.len()).unwrap_or(0)
    }

    /// Led here with an ISR smaller than the replica set (Kafka's
    /// UnderReplicatedPartitions counts leaders only).
    pub fn is_under_replicated(&self) -> bool {
        self.state.lock().map(|s| s.leader == self.broker_id && s.isr.len() < s.replicas.len()).unwrap_or(false)
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.lock().map(|l| l.log_end_offset()).unwrap_or(-1)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.lock().map(|l| l.log_start_offset).unwrap_or(-1)
    }

    /// Apply a partition state from ZooKeeper. Returns true when this broker
    /// just became leader for a new epoch. States older than the one held
    /// (lower epoch, or same epoch and lower zkVersion) are ignored.
    pub fn apply_state(&self, info: &crate::metadata::PartitionInfo) -> bool {
        let leo = self.log_end_offset();
        let Ok(mut s) = self.state.lock() else { return false };
        if info.leader_epoch < s.leader_epoch || (info.leader_epoch == s.leader_epoch && info.zk_version < s.zk_version)
        {
            return false;
        }
        let newly =
            info.leader == self.broker_id && (s.leader != self.broker_id || s.leader_epoch != info.leader_epoch);
        s.leader = info.leader;
        s.leader_epoch = info.leader_epoch;
        s.isr = info.isr.clone();
        s.replicas = info.replicas.clone();
        s.controller_epoch = info.controller_epoch;
        s.zk_version = info.zk_version;
        if newly {
            // Kafka resets every follower to an unknown LEO, counting ISR
            // members as caught up now so they are not shrunk at once.
            let now = crate::now_ms();
            s.epoch_start_offset = leo;
            s.followers = s
                .replicas
                .iter()
                .filter(|r| **r != self.broker_id)
                .map(|r| (*r, FollowerState { leo: -1, last_fetch_leo: -1, last_fetch_ms: 0, last_caught_up_ms: now }))
                .collect();
        }
        drop(s);
        if newly {
            if let Ok(mut log) = self.log.lock() {
                let leo = log.log_end_offset();
                if log.epochs.assign(info.leader_epoch, leo) {
                    if let Err(e) = log.epochs.save(&log.dir) {
                        tracing::error!(error = %e, "cannot write leader-epoch-checkpoint");
                    }
                }
            }
            tracing::info!(topic = %self.topic, partition = self.index, leader_epoch = info.leader_epoch, "became leader");
        }
        self.maybe_increment_hw();
        newly
    }

    /// A new leader whose HW has not yet reached the start of its epoch
    /// (its followers have not fetched yet): offsets it would report could
    /// go back in time, so Kafka answers OFFSET_NOT_AVAILABLE until then.
    pub fn hw_behind_epoch_start(&self) -> bool {
        let start = self.state.lock().map(|s| s.epoch_start_offset).unwrap_or(0);
        self.high_watermark() < start
    }

    pub fn leader_id(&self) -> i32 {
        self.state.lock().map(|s| s.leader).unwrap_or(-1)
    }

    /// This broker is in the replica set and someone else leads.
    pub fn is_follower(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.leader >= 0 && s.leader != self.broker_id && s.replicas.contains(&self.broker_id))
            .unwrap_or(false)
    }

    pub fn isr(&self) -> Vec<i32> {
        self.state.lock().map(|s| s.isr.clone()).unwrap_or_default()
    }

    /// HW = min LEO over the ISR (the leader's own LEO included).
    pub fn maybe_increment_hw(&self) -> bool {
        let leo = self.log_end_offset();
        let Ok(s) = self.state.lock() else { return false };
        if s.leader != self.broker_id {
            return false;
        }
        let mut hw = leo;
        for r in &s.isr {
            if *r != self.broker_id {
                hw = hw.min(s.followers.get(r).map(|f| f.leo).unwrap_or(-1));
            }
        }
        drop(s);
        let mut changed = false;
        self.hw.send_if_modified(|cur| {
            if hw > *cur || *cur > leo {
                *cur = hw;
                changed = true;
            }
            changed
        });
        changed
    }

    /// Append validated batches as leader. Duplicate idempotent batches are
    /// acknowledged with their original offsets instead of being written.
    pub fn append_as_leader(
        &self,
        records: &[u8],
        ranges: &[std::ops::Range<usize>],
        headers: &[BatchHeader],
        required_acks: i16,
        min_insync_replicas: i32,
    ) -> Result<AppendInfo, ResponseError> {
        let (is_leader, epoch, isr_len) = match self.state.lock() {
            Ok(s) => (s.leader == self.broker_id, s.leader_epoch, s.isr.len()),
            Err(_) => return err(ResponseError::UnknownServerError),
        };
        if !is_leader {
            return err(ResponseError::NotLeaderOrFollower);
        }
        if required_acks == -1 && (isr_len as i32) < min_insync_replicas {
            return err(ResponseError::NotEnoughReplicas);
        }
        let Ok(mut log) = self.log.lock() else {
            return err(ResponseError::UnknownServerError);
        };
        // Idempotence (Kafka's producer state checks): a retry of one of
        // the producer's last five batches is answered with its original
        // offsets instead of being written again.
        match log.producers.check(headers)? {
            Check::Duplicate { first_offset, last_offset } => {
                return Ok(AppendInfo {
                    first_offset,
                    last_offset,
                    log_start_offset: log.log_start_offset,
                    leader_epoch: epoch,
                    log_append_time: -1,
                });
            }
            Check::Append => {}
        }
        let mut buf = records.to_vec();
        let (first, last, log_append_time) = match log.append_as_leader(&mut buf, ranges, epoch.max(0)) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
                return err(ResponseError::KafkaStorageError);
            }
        };
        let log_start_offset = log.log_start_offset;
        drop(log);
        self.maybe_increment_hw();
        Ok(AppendInfo {
            first_offset: first,
            last_offset: last,
            log_start_offset,
            leader_epoch: epoch,
            log_append_time,
        })
    }

    /// acks=all: wait until the HW covers `last_offset`. If leadership
    /// moved meanwhile the records may be gone from the new leader's log,
    /// so they are not acknowledged (NOT_LEADER_OR_FOLLOWER, and the
    /// producer retries).
    pub async fn wait_replicated(
        &self,
        last_offset: i64,
        leader_epoch: i32,
        deadline: tokio::time::Instant,
    ) -> Result<(), ResponseError> {
        let mut rx = self.subscribe_hw();
        let reached = matches!(tokio::time::timeout_at(deadline, rx.wait_for(|hw| *hw > last_offset)).await, Ok(Ok(_)));
        if !self.is_leader() || self.leader_epoch() != leader_epoch {
            Err(ResponseError::NotLeaderOrFollower)
        } else if reached {
            Ok(())
        } else {
            Err(ResponseError::RequestTimedOut)
        }
    }

    /// Read for a consumer (bounded by the HW) or a follower (by the LEO).
    pub fn read(&self, offset: i64, max_bytes: usize, up_to_leo: bool) -> Result<ReadResult, ReadError> {
        let hw = self.high_watermark();
        let log = self.log.lock().map_err(|_| {
            ReadError::Storage(crate::error::StorageError::Corrupt {
                path: Default::default(),
                reason: "poisoned".into(),
            })
        })?;
        let bound = if up_to_leo { log.log_end_offset() } else { hw };
        log.read(offset, max_bytes, bound)
    }

    /// Earliest offset whose timestamp is >= ts, with that record's
    /// timestamp; the batch is decoded (and decompressed) to find the record.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let found = {
            let log = self.log.lock().ok()?;
            log.batch_for_timestamp(ts).ok()??
        };
        let (h, bytes) = found;
        let mut b = bytes::Bytes::from(bytes);
        if let Ok(set) = kafka_protocol::records::RecordBatchDecoder::decode(&mut b) {
            for r in set.records {
                if r.timestamp >= ts && r.offset < self.high_watermark() {
                    return Some((r.offset, r.timestamp));
                }
            }
        }
        (h.base_offset < self.high_watermark()).then_some((h.base_offset, h.max_timestamp))
    }

    /// Largest timestamp and its offset (ListOffsets -3, MAX_TIMESTAMP).
    pub fn max_timestamp(&self) -> (i64, i64) {
        let Some(log) = self.log.lock().ok() else { return (-1, -1) };
        let hw = self.high_watermark();
        let mut best = (-1i64, -1i64);
        let mut offset = log.log_start_offset;
        while offset < hw {
            let Ok(r) = log.read(offset, 1 << 20, hw) else { break };
            if r.bytes.is_empty() {
                break;
            }
            let Ok(ranges) = batch::split(&r.bytes) else { break };
            for rg in ranges {
                if let Ok(h) = BatchHeader::parse(&r.bytes[rg]) {
                    if h.max_timestamp > best.0 {
                        best = (h.max_timestamp, h.last_offset());
                    }
                    offset = h.last_offset() + 1;
                }
            }
        }
        best
    }
}
