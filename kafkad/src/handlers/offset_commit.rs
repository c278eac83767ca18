//! OffsetCommit (8): partitions of unknown topics, or beyond a topic's
//! partition count, are answered UNKNOWN_TOPIC_OR_PARTITION without
//! reaching the coordinator (as Kafka's KafkaApis.handleOffsetCommitRequest
//! filters them against its metadata cache); the rest are checked against
//! the member's generation, then appended to __consumer_offsets and
//! acknowledged once committed there.

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, ResponseKind, TopicName};
use kafka_protocol::ResponseError;

use super::HandlerResult;
use crate::connection::RequestContext;
use crate::group::offsets::Committed;

/// Kafka's OffsetCommitResponse.Builder: a topic appears once, at the
/// position where its first partition was added; partitions keep the order
/// in which they were added (unknown ones first, then the coordinator's).
#[derive(Default)]
struct ResponseBuilder {
    topics: Vec<OffsetCommitResponseTopic>,
}

impl ResponseBuilder {
    fn add(&mut self, name: &TopicName, partition: i32, error: i16) {
        let pos = match self.topics.iter().position(|t| &t.name == name) {
            Some(p) => p,
            None => {
                let mut t = OffsetCommitResponseTopic::default();
                t.name = name.clone();
                self.topics.push(t);
                self.topics.len() - 1
            }
        };
        let mut pr = OffsetCommitResponsePartition::default();
        pr.partition_index = partition;
        pr.error_code = error;
        self.topics[pos].partitions.push(pr);
    }
}

pub async fn handle(ctx: &RequestContext, req: OffsetCommitRequest) -> HandlerResult {
    let groups = &ctx.broker.groups;
    let group = req.group_id.0.to_string();
    let metadata = ctx.broker.metadata();
    let mut out = ResponseBuilder::default();
    // (topic, partition) pairs that exist, in request order.
    let mut valid = Vec::new();
    let now = crate::now_ms();
    let mut entries = Vec::new();
    for t in &req.topics {
        let topic = metadata.topics.get(t.name.0.as_str());
        for p in &t.partitions {
            if !topic.map(|ti| ti.partitions.contains_key(&p.partition_index)).unwrap_or(false) {
                out.add(&t.name, p.partition_index, ResponseError::UnknownTopicOrPartition.code());
                continue;
            }
            valid.push((t.name.clone(), p.partition_index));
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
    // Kafka does not consult the coordinator when nothing is left to commit.
    if !entries.is_empty() {
        let instance = req.group_instance_id.as_ref().map(|s| s.to_string());
        let check = groups.check_commit(&group, req.generation_id_or_member_epoch, &req.member_id, instance.as_deref());
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
        for (name, partition) in &valid {
            out.add(name, *partition, code);
        }
    }
    let mut resp = OffsetCommitResponse::default();
    resp.topics = out.topics;
    Ok(Some(ResponseKind::OffsetCommit(resp)))
}
