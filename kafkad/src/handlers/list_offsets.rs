//! ListOffsets (2): earliest (-2), latest (-1, the high watermark), max
//! timestamp (-3), or the first offset with timestamp >= the target.
//! Without transactions the last stable offset is the high watermark, so
//! READ_COMMITTED (isolation_level 1) gets the same answers.

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(ctx: &RequestContext, req: ListOffsetsRequest) -> HandlerResult {
    let v = ctx.api_version;
    let mut resp = ListOffsetsResponse::default();
    for t in req.topics {
        let topic = t.name.0.to_string();
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = t.name.clone();
        for lp in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = lp.partition_index;
            pr.timestamp = -1;
            pr.offset = -1;
            match ctx.broker.partition(&topic, lp.partition_index) {
                None => {
                    pr.error_code = ctx.broker.missing_partition_error(&topic, lp.partition_index).code();
                }
                Some(p) if !p.is_leader() => pr.error_code = ResponseError::NotLeaderOrFollower.code(),
                Some(p) => {
                    let epoch = p.leader_epoch();
                    if v >= 4 && lp.current_leader_epoch >= 0 && lp.current_leader_epoch != epoch {
                        pr.error_code = if lp.current_leader_epoch < epoch {
                            ResponseError::FencedLeaderEpoch
                        } else {
                            ResponseError::UnknownLeaderEpoch
                        }
                        .code();
                    } else if p.hw_behind_epoch_start() {
                        pr.error_code = ResponseError::OffsetNotAvailable.code();
                    } else {
                        let (offset, ts) = match lp.timestamp {
                            LATEST => (p.high_watermark(), -1),
                            EARLIEST => (p.log_start_offset(), -1),
                            MAX_TIMESTAMP => {
                                let (ts, off) = p.max_timestamp();
                                (off, ts)
                            }
                            ts if ts >= 0 => p.offset_for_timestamp(ts).unwrap_or((-1, -1)),
                            _ => {
                                pr.error_code = ResponseError::InvalidRequest.code();
                                (-1, -1)
                            }
                        };
                        pr.offset = offset;
                        pr.timestamp = ts;
                        if v >= 4 {
                            pr.leader_epoch = epoch;
                        }
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(ResponseKind::ListOffsets(resp)))
}
