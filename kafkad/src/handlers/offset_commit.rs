//! OffsetCommit (8): checked against the member's generation, then
//! appended to __consumer_offsets; acknowledged once committed there.

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, ResponseKind};

use super::HandlerResult;
use crate::connection::RequestContext;
use crate::group::offsets::Committed;

pub async fn handle(ctx: &RequestContext, req: OffsetCommitRequest) -> HandlerResult {
    let groups = &ctx.broker.groups;
    let group = req.group_id.0.to_string();
    let check = groups.check_commit(&group, req.generation_id_or_member_epoch, &req.member_id);
    let now = crate::now_ms();
    let mut entries = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            entries.push((
                t.name.0.to_string(),
                p.partition_index,
                Committed {
                    offset: p.committed_offset,
                    leader_epoch: if ctx.api_version >= 6 { p.committed_leader_epoch } else { -1 },
                    metadata: p.committed_metadata.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                    commit_ms: now,
                },
            ));
        }
    }
    let code = match check {
        Err(e) => e.code(),
        Ok(()) => match ctx.broker.commit_offsets(&group, entries).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::warn!(group = %group, error = ?e, "offset commit failed");
                e.code()
            }
        },
    };
    let mut resp = OffsetCommitResponse::default();
    for t in req.topics {
        let mut tr = OffsetCommitResponseTopic::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = OffsetCommitResponsePartition::default();
            pr.partition_index = p.partition_index;
            pr.error_code = code;
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(ResponseKind::OffsetCommit(resp)))
}
