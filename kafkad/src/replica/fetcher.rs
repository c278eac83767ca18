//! Follower fetching (Kafka's ReplicaFetcherManager / ReplicaFetcherThread):
//! one task per leader broker this broker follows partitions of. Each task
//! first truncates a partition where it diverges from the leader (by leader
//! epoch, OffsetForLeaderEpoch), then long-polls Fetch with its replica id
//! and appends what comes back, byte for byte.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, OffsetForLeaderEpochRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use shared::kafka_conn::{Conn, ConnError};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::broker::{Broker, PartitionKey};
use crate::partition::Partition;

/// Highest Fetch version we send: v12 still names topics (v13 uses ids)
/// and carries replica_id in the top-level field.
const FETCH_VERSION_CAP: i16 = 12;

/// Keep one fetcher per leader, fed the set of partitions it follows from
/// that leader; re-planned whenever the metadata changes.
pub async fn manage(broker: Arc<Broker>, mut stop: shared::shutdown::ShutdownSignal) {
    let mut md = broker.metadata.subscribe();
    let mut fetchers: HashMap<i32, (watch::Sender<BTreeSet<PartitionKey>>, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    loop {
        let mut wanted: BTreeMap<i32, BTreeSet<PartitionKey>> = BTreeMap::new();
        let parts: Vec<(PartitionKey, Arc<Partition>)> = broker
            .partitions
            .read()
            .map(|m| m.iter().map(|(k, p)| (k.clone(), p.clone())).collect())
            .unwrap_or_default();
        for (key, p) in parts {
            if p.is_follower() {
                wanted.entry(p.leader_id()).or_default().insert(key);
            }
        }
        fetchers.retain(|leader, (_, task)| {
            let keep = wanted.contains_key(leader);
            if !keep {
                task.abort();
                tracing::debug!(leader, "stopped replica fetcher");
            }
            keep
        });
        for (leader, set) in wanted {
            match fetchers.get(&leader) {
                Some((tx, _)) => {
                    tx.send_if_modified(|cur| {
                        let changed = *cur != set;
                        *cur = set;
                        changed
                    });
                }
                None => {
                    tracing::info!(leader, partitions = set.len(), "starting replica fetcher");
                    let (tx, rx) = watch::channel(set);
                    let task = tokio::spawn(run(broker.clone(), leader, rx));
                    fetchers.insert(leader, (tx, task));
                }
            }
        }
        tokio::select! {
            r = md.changed() => if r.is_err() { break },
            _ = stop.recv() => break,
        }
    }
    for (_, (_, task)) in fetchers {
        task.abort();
    }
}

/// The leader's address on the inter-broker listener.
fn leader_address(broker: &Broker, leader: i32) -> Option<String> {
    let md = broker.metadata();
    let b = md.brokers.get(&leader)?;
    let ep = b
        .endpoints
        .iter()
        .find(|e| e.listener == broker.config.inter_broker_listener)
        .or_else(|| b.endpoints.first())?;
    Some(format!("{}:{}", ep.host, ep.port))
}

/// One request entry per topic from partitions grouped by topic name.
fn per_topic<P, T>(by_topic: BTreeMap<String, Vec<P>>, entry: impl Fn(TopicName, Vec<P>) -> T) -> Vec<T> {
    by_topic.into_iter().map(|(t, ps)| entry(TopicName(StrBytes::from_string(t)), ps)).collect()
}

struct FetcherState {
    /// Leader epoch each partition was last truncated for; a partition is
    /// fetched only while this matches its current epoch.
    truncated: HashMap<PartitionKey, i32>,
    /// Partitions backing off after an error, until the instant given.
    delayed: HashMap<PartitionKey, Instant>,
    /// The last backoff of each erroring partition: it starts short and
    /// doubles up to replica.fetch.backoff.ms, so a leader that is a moment
    /// behind the metadata (a new topic, a new epoch) costs milliseconds,
    /// not a whole backoff during which acks=all cannot complete.
    backoffs: HashMap<PartitionKey, Duration>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(20);

impl FetcherState {
    fn delay(&mut self, key: PartitionKey, max: Duration) {
        let next = self.backoffs.get(&key).map(|b| (*b * 2).min(max)).unwrap_or(FIRST_BACKOFF.min(max));
        self.backoffs.insert(key.clone(), next);
        self.delayed.insert(key, Instant::now() + next);
    }
}

async fn run(broker: Arc<Broker>, leader: i32, mut parts: watch::Receiver<BTreeSet<PartitionKey>>) {
    let cfg = broker.config.replica.clone();
    let backoff = Duration::from_millis(cfg.fetch_backoff_ms.max(1));
    let client_id = format!("broker-{}-fetcher-0", broker.id());
    let mut conn: Option<Conn> = None;
    let mut st = FetcherState { truncated: HashMap::new(), delayed: HashMap::new(), backoffs: HashMap::new() };
    loop {
        let set = parts.borrow_and_update().clone();
        st.truncated.retain(|k, _| set.contains(k));
        let now = Instant::now();
        st.delayed.retain(|k, until| set.contains(k) && *until > now);
        let active: Vec<(PartitionKey, Arc<Partition>)> = set
            .iter()
            .filter(|k| !st.delayed.contains_key(*k))
            .filter_map(|k| broker.partition(&k.0, k.1).filter(|p| p.is_follower()).map(|p| (k.clone(), p)))
            .collect();
        if active.is_empty() {
            // Everything is backing off (or gone): wait for a change or the
            // earliest retry.
            let until = st.delayed.values().min().copied().unwrap_or(now + backoff);
            tokio::select! {
                r = parts.changed() => if r.is_err() { return },
                _ = tokio::time::sleep_until(until) => {}
            }
            continue;
        }
        if conn.is_none() {
            let Some(addr) = leader_address(&broker, leader) else {
                tokio::time::sleep(backoff).await;
                continue;
            };
            let timeout = Duration::from_millis(cfg.socket_timeout_ms);
            match Conn::connect(&addr, &client_id, "kafkad", timeout).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(leader, addr, error = %e, "replica fetcher cannot reach the leader");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let r = async {
            let need: Vec<&(PartitionKey, Arc<Partition>)> =
                active.iter().filter(|(k, p)| st.truncated.get(k) != Some(&p.leader_epoch())).collect();
            if !need.is_empty() {
                truncate(&broker, c, &need, &mut st, backoff).await?;
            }
            let ready: Vec<&(PartitionKey, Arc<Partition>)> = active
                .iter()
                .filter(|(k, p)| st.truncated.get(k) == Some(&p.leader_epoch()) && !st.delayed.contains_key(k))
                .collect();
            if !ready.is_empty() {
                fetch(&broker, c, &ready, &mut st, backoff).await?;
            }
            Ok::<(), ConnError>(())
        }
        .await;
        if let Err(e) = r {
            tracing::warn!(leader, error = %e, "replica fetch failed; reconnecting");
            conn = None;
            tokio::time::sleep(backoff).await;
        }
    }
}

/// Truncate each partition to where it agrees with the leader: the leader's
/// end offset for our latest epoch (or, if the leader only knows an older
/// epoch, our own end of that epoch), never above our LEO.
async fn truncate(
    broker: &Broker,
    c: &mut Conn,
    parts: &[&(PartitionKey, Arc<Partition>)],
    st: &mut FetcherState,
    backoff: Duration,
) -> Result<(), ConnError> {
    let mut by_topic: BTreeMap<String, Vec<OffsetForLeaderPartition>> = BTreeMap::new();
    for (key, p) in parts {
        let (latest, leo) = p.latest_epoch_and_leo();
        match latest {
            // Nothing written yet (or nothing ever stamped): nothing to cut.
            _ if leo <= 0 => {
                st.truncated.insert(key.clone(), p.leader_epoch());
            }
            None => {
                p.truncate_to(p.high_watermark()).map_err(|e| ConnError::Connection(e.to_string()))?;
                st.truncated.insert(key.clone(), p.leader_epoch());
            }
            Some(epoch) => {
                let mut op = OffsetForLeaderPartition::default();
                op.partition = key.1;
                op.current_leader_epoch = p.leader_epoch();
                op.leader_epoch = epoch;
                by_topic.entry(key.0.clone()).or_default().push(op);
            }
        }
    }
    if by_topic.is_empty() {
        return Ok(());
    }
    let mut req = OffsetForLeaderEpochRequest::default();
    req.replica_id = BrokerId(broker.id());
    req.topics = per_topic(by_topic, |topic, partitions| {
        let mut ot = OffsetForLeaderTopic::default();
        ot.topic = topic;
        ot.partitions = partitions;
        ot
    });
    let v = c.version::<OffsetForLeaderEpochRequest>(4)?;
    let resp = c.call(&req, v).await?;
    for t in resp.topics {
        let topic = t.topic.0.to_string();
        for e in t.partitions {
            let key = (topic.clone(), e.partition);
            let Some(p) = broker.partition(&topic, e.partition) else { continue };
            if e.error_code != 0 {
                tracing::debug!(topic, partition = e.partition, error = e.error_code, "leader epoch lookup failed");
                st.delay(key, backoff);
                continue;
            }
            let (latest, leo) = p.latest_epoch_and_leo();
            let target = if e.leader_epoch < 0 || e.end_offset < 0 {
                // The leader knows no epoch at or below ours: keep what is
                // committed.
                p.high_watermark()
            } else if Some(e.leader_epoch) == latest {
                e.end_offset.min(leo)
            } else {
                e.end_offset.min(p.end_offset_for_epoch(e.leader_epoch).unwrap_or(leo))
            };
            if let Err(err) = p.truncate_to(target) {
                tracing::error!(topic, partition = e.partition, error = %err, "truncation failed");
                st.delay(key, backoff);
                continue;
            }
            st.truncated.insert(key, p.leader_epoch());
        }
    }
    Ok(())
}

/// One Fetch round for the ready partitions.
async fn fetch(
    broker: &Broker,
    c: &mut Conn,
    parts: &[&(PartitionKey, Arc<Partition>)],
    st: &mut FetcherState,
    backoff: Duration,
) -> Result<(), ConnError> {
    let cfg = &broker.config.replica;
    let mut by_topic: BTreeMap<String, Vec<FetchPartition>> = BTreeMap::new();
    for (key, p) in parts {
        let mut fp = FetchPartition::default();
        fp.partition = key.1;
        fp.current_leader_epoch = p.leader_epoch();
        fp.fetch_offset = p.log_end_offset();
        fp.last_fetched_epoch = -1;
        fp.log_start_offset = p.log_start_offset();
        fp.partition_max_bytes = cfg.fetch_max_bytes;
        by_topic.entry(key.0.clone()).or_default().push(fp);
    }
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(broker.id());
    req.max_wait_ms = cfg.fetch_wait_max_ms;
    req.min_bytes = cfg.fetch_min_bytes;
    req.max_bytes = cfg.fetch_response_max_bytes;
    req.isolation_level = 0;
    // A full fetch outside any fetch session.
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = per_topic(by_topic, |topic, partitions| {
        let mut ft = FetchTopic::default();
        ft.topic = topic;
        ft.partitions = partitions;
        ft
    });
    let v = c.version::<FetchRequest>(FETCH_VERSION_CAP)?;
    let resp = c.call(&req, v).await?;
    if resp.error_code != 0 {
        tracing::debug!(error = resp.error_code, "replica fetch refused");
        for (key, _) in parts {
            st.delay(key.clone(), backoff);
        }
        return Ok(());
    }
    for t in resp.responses {
        let topic = t.topic.0.to_string();
        for pd in t.partitions {
            let key = (topic.clone(), pd.partition_index);
            let Some(p) = broker.partition(&topic, pd.partition_index) else { continue };
            match ResponseError::try_from_code(pd.error_code) {
                None => {
                    if let Some(records) = pd.records.as_ref().filter(|r| !r.is_empty()) {
                        if let Err(e) = p.append_as_follower(records) {
                            tracing::error!(topic, partition = pd.partition_index, error = %e, "follower append failed");
                            // Re-check divergence before the next fetch.
                            st.truncated.remove(&key);
                            st.delay(key, backoff);
                            continue;
                        }
                    }
                    st.backoffs.remove(&key);
                    if pd.log_start_offset >= 0 {
                        p.update_follower_log_start(pd.log_start_offset);
                    }
                    if p.update_follower_hw(pd.high_watermark) {
                        p.notify_data();
                    }
                }
                Some(ResponseError::OffsetOutOfRange) => {
                    let (_, leo) = p.latest_epoch_and_leo();
                    if pd.log_start_offset >= 0 && leo < pd.log_start_offset {
                        if let Err(e) = p.truncate_fully_and_start_at(pd.log_start_offset) {
                            tracing::error!(topic, partition = pd.partition_index, error = %e, "log reset failed");
                            st.delay(key, backoff);
                        }
                    } else {
                        // We are past the leader's end: find where we diverged.
                        st.truncated.remove(&key);
                    }
                }
                Some(e) => {
                    // Not (yet) the leader for this epoch, or fenced: wait for
                    // the metadata to catch up.
                    tracing::debug!(topic, partition = pd.partition_index, error = ?e, "replica fetch error");
                    st.delay(key, backoff);
                }
            }
        }
    }
    Ok(())
}
