//! OffsetForLeaderEpoch (23): the end offset of the requested leader epoch
//! from the leader-epoch-checkpoint cache (the LEO for the current epoch),
//! with current_leader_epoch fencing as for Fetch.

use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: OffsetForLeaderEpochRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = OffsetForLeaderEpochResponse::default();
    for t in req.topics {
        let topic = t.topic.0.to_string();
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = t.topic.clone();
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = -1;
            e.end_offset = -1;
            match broker.partition(&topic, p.partition) {
                None => {
                    e.error_code = broker.missing_partition_error(&topic, p.partition).code();
                }
                Some(part) if !part.is_leader() => e.error_code = ResponseError::NotLeaderOrFollower.code(),
                Some(part) => {
                    let cur = part.leader_epoch();
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch < cur {
                        e.error_code = ResponseError::FencedLeaderEpoch.code();
                    } else if p.current_leader_epoch > cur {
                        e.error_code = ResponseError::UnknownLeaderEpoch.code();
                    } else if let Ok(log) = part.log.lock() {
                        if let Some((epoch, end)) = log.epochs.end_offset_for(p.leader_epoch, log.log_end_offset()) {
                            e.leader_epoch = epoch;
                            e.end_offset = end;
                        }
                    } else {
                        e.error_code = ResponseError::KafkaStorageError.code();
                    }
                }
            }
            tr.partitions.push(e);
        }
        resp.topics.push(tr);
    }
    Ok(Some(ResponseKind::OffsetForLeaderEpoch(resp)))
}
