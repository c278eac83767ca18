//! Fetch (1): serve raw stored batches up to the high watermark, long-poll
//! until min_bytes are available or max_wait_ms passes. Incremental fetch
//! sessions (KIP-227, v7+) live in crate::fetch_session: it turns the
//! request into the partitions to read (all of the session's for an
//! incremental fetch) and the full answer into the session's answer (only
//! partitions with news); this handler reads as for any full fetch.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;
use crate::fetch_session::Pending;
use crate::log::ReadError;

pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> HandlerResult {
    let replica_id = if ctx.api_version >= 15 { req.replica_state.replica_id.0 } else { req.replica_id.0 };
    // Fetch session (KIP-227): from here on `req` lists what to read.
    let (session, req) = ctx.broker.fetch_sessions.begin(ctx.api_version, req, replica_id >= 0);
    let mut data = ctx.broker.data_version.subscribe();
    let mut mine = partition_watches(ctx, &req);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms.clamp(0, 60_000) as u64);
    if replica_id >= 0 {
        record_follower_fetch(ctx, &req, replica_id);
    }
    loop {
        data.borrow_and_update();
        for w in &mut mine {
            w.borrow_and_update();
        }
        let (resp, bytes, errors) = read_all(ctx, &req, replica_id >= 0);
        let done = bytes >= req.min_bytes.max(0) as usize || errors || req.max_wait_ms <= 0;
        if done {
            return respond(ctx, session, resp, replica_id >= 0);
        }
        match tokio::time::timeout_at(deadline, any_change(&mut data, &mut mine)).await {
            Ok(true) => continue,
            _ => {
                let (resp, _, _) = read_all(ctx, &req, replica_id >= 0);
                return respond(ctx, session, resp, replica_id >= 0);
            }
        }
    }
}

/// The wake-ups of the requested partitions held here.
fn partition_watches(ctx: &RequestContext, req: &FetchRequest) -> Vec<tokio::sync::watch::Receiver<u64>> {
    let parts = req.topics.iter().flat_map(|t| t.partitions.iter().map(move |p| (t.topic.0.as_str(), p.partition)));
    parts.filter_map(|(topic, index)| ctx.broker.partition(topic, index)).map(|p| p.subscribe_data()).collect()
}

/// A requested partition's data or the broker's leadership moved; false
/// if the broker is going away.
async fn any_change(
    broker: &mut tokio::sync::watch::Receiver<u64>,
    mine: &mut [tokio::sync::watch::Receiver<u64>],
) -> bool {
    // select_all wants at least one future.
    if mine.is_empty() {
        return broker.changed().await.is_ok();
    }
    let partitions = futures_util::future::select_all(mine.iter_mut().map(|w| Box::pin(w.changed())));
    tokio::select! {
        r = broker.changed() => r.is_ok(),
        (r, _, _) = partitions => r.is_ok(),
    }
}

/// A follower's fetch offset is its LEO: move the HW and maybe grow the
/// ISR (the ZooKeeper write runs in the background).
fn record_follower_fetch(ctx: &RequestContext, req: &FetchRequest, replica_id: i32) {
    let now = crate::now_ms();
    for ft in &req.topics {
        for fp in &ft.partitions {
            let Some(p) = ctx.broker.partition(ft.topic.0.as_str(), fp.partition) else { continue };
            let (update, m) = p.record_follower_fetch(replica_id, fp.fetch_offset, now);
            if m {
                p.notify_data();
            }
            if let Some(u) = update {
                tracing::info!(topic = %p.topic, partition = p.index, replica = replica_id, isr = ?u.new_isr, "expanding ISR");
                crate::replica::isr::spawn_write(ctx.broker.clone(), p, u);
            }
        }
    }
}

/// Fetch session (KIP-227): the session's answer to the full read (an
/// incremental fetch keeps only partitions with news), then counted.
fn respond(ctx: &RequestContext, session: Pending, resp: FetchResponse, follower: bool) -> HandlerResult {
    let resp = ctx.broker.fetch_sessions.finish(session, resp);
    count_out(ctx, &resp, follower);
    Ok(Some(ResponseKind::Fetch(resp)))
}

/// Bytes and records handed to consumers (followers are replication
/// traffic, which Kafka counts apart).
fn count_out(ctx: &RequestContext, resp: &FetchResponse, follower: bool) {
    if follower {
        return;
    }
    for t in &resp.responses {
        for p in &t.partitions {
            let Some(records) = p.records.as_ref().filter(|r| !r.is_empty()) else { continue };
            // A partial trailing batch (max_bytes cut) is not counted.
            let mut messages = 0u64;
            let mut pos = 0usize;
            while let Some(Ok(h)) = records.get(pos..).map(crate::log::batch::BatchHeader::parse) {
                let end = pos.saturating_add(h.size());
                if end > records.len() || h.size() == 0 {
                    break;
                }
                messages += h.record_count.max(0) as u64;
                pos = end;
            }
            ctx.broker.metrics.record_out(t.topic.0.as_str(), records.len(), messages);
        }
    }
}

/// One pass over the requested partitions: (response, bytes, any error).
fn read_all(ctx: &RequestContext, req: &FetchRequest, follower: bool) -> (FetchResponse, usize, bool) {
    let v = ctx.api_version;
    let mut resp = FetchResponse::default();
    let mut total = 0usize;
    let mut errors = false;
    let max_total = if req.max_bytes > 0 { req.max_bytes as usize } else { usize::MAX };
    for ft in &req.topics {
        let topic = ft.topic.0.to_string();
        let mut tr = FetchableTopicResponse::default();
        tr.topic = ft.topic.clone();
        for fp in &ft.partitions {
            let mut pd = PartitionData::default();
            pd.partition_index = fp.partition;
            pd.high_watermark = -1;
            pd.last_stable_offset = -1;
            pd.log_start_offset = -1;
            pd.aborted_transactions = Some(Vec::new());
            pd.records = Some(Bytes::new());
            match ctx.broker.partition(&topic, fp.partition) {
                None => {
                    pd.error_code = ctx.broker.missing_partition_error(&topic, fp.partition).code();
                    errors = true;
                }
                Some(p) if !p.is_leader() => {
                    pd.error_code = ResponseError::NotLeaderOrFollower.code();
                    errors = true;
                }
                Some(p) => {
                    let epoch = p.leader_epoch();
                    if v >= 9 && fp.current_leader_epoch >= 0 && fp.current_leader_epoch != epoch {
                        pd.error_code = if fp.current_leader_epoch < epoch {
                            ResponseError::FencedLeaderEpoch
                        } else {
                            ResponseError::UnknownLeaderEpoch
                        }
                        .code();
                        errors = true;
                    } else {
                        let hw = p.high_watermark();
                        pd.high_watermark = hw;
                        pd.last_stable_offset = hw;
                        pd.log_start_offset = p.log_start_offset();
                        let room = max_total.saturating_sub(total);
                        let limit = (fp.partition_max_bytes.max(0) as usize).min(room);
                        if limit > 0 || total == 0 {
                            match p.read(fp.fetch_offset, limit.max(1), follower) {
                                Ok(r) => {
                                    // Only the first non-empty partition may exceed
                                    // the limits (one oversized batch).
                                    if total == 0 || r.bytes.len() <= limit {
                                        total += r.bytes.len();
                                        pd.records = Some(Bytes::from(r.bytes));
                                    }
                                }
                                Err(ReadError::OutOfRange { .. }) => {
                                    pd.error_code = ResponseError::OffsetOutOfRange.code();
                                    errors = true;
                                }
                                Err(ReadError::Storage(e)) => {
                                    tracing::error!(topic = %topic, partition = fp.partition, error = %e, "read failed");
                                    pd.error_code = ResponseError::KafkaStorageError.code();
                                    errors = true;
                                }
                            }
                        }
                    }
                }
            }
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    (resp, total, errors)
}
