//! DeleteRecords (21): move each partition's log start offset up to the
//! requested offset (-1 = the high watermark); whole segments below it are
//! removed by the next retention pass, as in Kafka.

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, ResponseKind};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DeleteRecordsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = DeleteRecordsResponse::default();
    for t in req.topics {
        let topic = t.name.0.to_string();
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = t.name.clone();
        for p in t.partitions {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.low_watermark = -1;
            match broker.partition(&topic, p.partition_index) {
                None => {
                    pr.error_code = broker.missing_partition_error(&topic, p.partition_index).code();
                }
                Some(part) if !part.is_leader() => pr.error_code = ResponseError::NotLeaderOrFollower.code(),
                Some(part) => {
                    let hw = part.high_watermark();
                    let target = if p.offset == -1 { hw } else { p.offset };
                    if target < 0 || target > hw {
                        pr.error_code = ResponseError::OffsetOutOfRange.code();
                    } else if let Ok(mut log) = part.log.lock() {
                        log.advance_log_start(target);
                        pr.low_watermark = log.log_start_offset;
                    } else {
                        pr.error_code = ResponseError::KafkaStorageError.code();
                    }
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(ResponseKind::DeleteRecords(resp)))
}
