//! Produce (0): validate each partition's batches (framing, CRC-32C, size),
//! append as leader, and answer per acks: 0 -> no response at all, 1 ->
//! after the local append, -1 -> once the high watermark covers the batch.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::{msg, HandlerResult};
use crate::connection::RequestContext;
use crate::error::ConnectionError;
use crate::log::batch::{self, BatchHeader};

pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let acks = req.acks;
    let mut resp = ProduceResponse::default();
    // (topic index, partition index, last offset) awaiting acks=-1.
    let mut waits: Vec<(usize, usize, i64, i32)> = Vec::new();
    let mut any_error = false;
    for td in req.topic_data {
        let topic = td.name.0.to_string();
        let mut tr = TopicProduceResponse::default();
        tr.name = td.name.clone();
        for pd in td.partition_data {
            let mut pr = PartitionProduceResponse::default();
            pr.index = pd.index;
            pr.base_offset = -1;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = -1;
            let r = if !matches!(acks, -1..=1) {
                Err((ResponseError::InvalidRequiredAcks, String::new()).into())
            } else {
                append(ctx, &topic, pd.index, pd.records.unwrap_or_default(), acks)
            };
            match r {
                Ok(info) => {
                    pr.base_offset = info.first_offset;
                    pr.log_append_time_ms = info.log_append_time;
                    if ctx.api_version >= 5 {
                        pr.log_start_offset = info.log_start_offset;
                    }
                    if acks == -1 {
                        waits.push((
                            resp.responses.len(),
                            tr.partition_responses.len(),
                            info.last_offset,
                            info.leader_epoch,
                        ));
                    }
                }
                Err(Refused(e, text, record_errors)) => {
                    any_error = true;
                    pr.error_code = e.code();
                    if ctx.api_version >= 8 && !text.is_empty() {
                        pr.error_message = msg(text);
                    }
                    if ctx.api_version >= 8 {
                        pr.record_errors = record_errors
                            .into_iter()
                            .map(|(i, m)| {
                                let mut r = BatchIndexAndErrorMessage::default();
                                r.batch_index = i;
                                r.batch_index_error_message = msg(m);
                                r
                            })
                            .collect();
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    if acks == 0 {
        // No response is ever sent for acks=0; closing the connection is
        // the only way Kafka signals a failure to such a producer.
        if any_error {
            return Err(ConnectionError::Malformed("acks=0 produce failed".into()));
        }
        return Ok(None);
    }
    if !waits.is_empty() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(req.timeout_ms.max(0) as u64);
        for (ti, pi, last, epoch) in waits {
            let topic = resp.responses[ti].name.0.to_string();
            let index = resp.responses[ti].partition_responses[pi].index;
            let code = match broker.partition(&topic, index) {
                Some(p) => p.wait_replicated(last, epoch, deadline).await.err().map(|e| e.code()).unwrap_or(0),
                None => ResponseError::NotLeaderOrFollower.code(),
            };
            if code != 0 {
                resp.responses[ti].partition_responses[pi].error_code = code;
            }
        }
    }
    Ok(Some(ResponseKind::Produce(resp)))
}

/// A refused partition: error, message, and (record index, message) pairs
/// for ProduceResponse v8+'s record_errors.
struct Refused(ResponseError, String, Vec<(i32, String)>);

impl From<(ResponseError, String)> for Refused {
    fn from((e, m): (ResponseError, String)) -> Refused {
        Refused(e, m, Vec::new())
    }
}

/// Kafka's LogValidator.validateKey: a compacted topic refuses records
/// without a key, reporting the first failing batch's records.
fn check_keys(
    topic: &str,
    index: i32,
    records: &[u8],
    ranges: &[std::ops::Range<usize>],
    headers: &[BatchHeader],
) -> Result<(), Refused> {
    use crate::log::cleaner::records as recs;
    for (r, h) in ranges.iter().zip(headers) {
        let bytes = &records[r.clone()];
        let data = recs::decompress(h, bytes).map_err(|e| (ResponseError::CorruptMessage, e.to_string()))?;
        let parsed = recs::parse(h, &data).map_err(|e| (ResponseError::CorruptMessage, e.to_string()))?;
        let errors: Vec<(i32, String)> = parsed
            .iter()
            .enumerate()
            .filter(|(_, rec)| rec.key.is_none())
            .map(|(i, _)| {
                (
                    i as i32,
                    format!("Compacted topic cannot accept message without key in topic partition {topic}-{index}"),
                )
            })
            .collect();
        if !errors.is_empty() {
            let shown: Vec<String> =
                errors.iter().take(3).map(|(i, m)| format!("RecordError(batchIndex={i}, message='{m}')")).collect();
            let text = format!(
                "One or more records have been rejected due to {} record errors in total, \
                 and only showing the first three errors at most: [{}]",
                errors.len(),
                shown.join(", ")
            );
            return Err(Refused(ResponseError::InvalidRecord, text, errors));
        }
    }
    Ok(())
}

fn append(
    ctx: &RequestContext,
    topic: &str,
    index: i32,
    records: Bytes,
    acks: i16,
) -> Result<crate::partition::AppendInfo, Refused> {
    let broker = &ctx.broker;
    let Some(part) = broker.partition(topic, index) else {
        return Err((broker.missing_partition_error(topic, index), String::new()).into());
    };
    if records.is_empty() {
        return Err((ResponseError::CorruptMessage, "empty record set".to_string()).into());
    }
    let ranges = batch::split(&records).map_err(|e| (ResponseError::CorruptMessage, e.to_string()))?;
    let mut headers: Vec<BatchHeader> = Vec::with_capacity(ranges.len());
    for r in &ranges {
        if r.len() > broker.config.message_max_bytes.max(0) as usize {
            return Err((
                ResponseError::MessageTooLarge,
                format!("batch of {} bytes exceeds message.max.bytes {}", r.len(), broker.config.message_max_bytes),
            )
                .into());
        }
        let h = batch::validate(&records[r.clone()]).map_err(|e| (ResponseError::CorruptMessage, e.to_string()))?;
        if h.is_control() {
            return Err((ResponseError::InvalidRecord, "clients may not write control batches".to_string()).into());
        }
        headers.push(h);
    }
    if part.log.lock().map(|g| g.config.compact).unwrap_or(false) {
        check_keys(topic, index, &records, &ranges, &headers)?;
    }
    let info = part
        .append_as_leader(&records, &ranges, &headers, acks, broker.config.min_insync_replicas)
        .map_err(|e| Refused(e, String::new(), Vec::new()))?;
    part.notify_data();
    let messages: u64 = headers.iter().map(|h| h.record_count.max(0) as u64).sum();
    broker.metrics.record_in(topic, records.len(), messages);
    Ok(info)
}
