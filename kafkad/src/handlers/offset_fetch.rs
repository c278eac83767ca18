//! OffsetFetch (9), v1-7 (one group per request): committed offsets, -1
//! for partitions without one; null topics (v2+) means all of the group's.

use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, ResponseKind, TopicName};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: OffsetFetchRequest) -> HandlerResult {
    let store = &ctx.broker.groups.offsets;
    let group = req.group_id.0.to_string();
    let v = ctx.api_version;
    let wanted: Vec<(String, Vec<i32>)> = match req.topics {
        Some(t) => t.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect(),
        None => {
            let mut m: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
            for (t, p, _) in store.all(&group) {
                m.entry(t).or_default().push(p);
            }
            m.into_iter().collect()
        }
    };
    let mut resp = OffsetFetchResponse::default();
    for (topic, parts) in wanted {
        let mut tr = OffsetFetchResponseTopic::default();
        tr.name = TopicName(sb(topic.clone()));
        for p in parts {
            let mut pr = OffsetFetchResponsePartition::default();
            pr.partition_index = p;
            match store.get(&group, &topic, p) {
                Some(c) => {
                    pr.committed_offset = c.offset;
                    if v >= 5 {
                        pr.committed_leader_epoch = c.leader_epoch;
                    }
                    pr.metadata = Some(sb(c.metadata));
                }
                None => {
                    pr.committed_offset = -1;
                    if v >= 5 {
                        pr.committed_leader_epoch = -1;
                    }
                    pr.metadata = Some(sb(""));
                }
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(ResponseKind::OffsetFetch(resp)))
}
