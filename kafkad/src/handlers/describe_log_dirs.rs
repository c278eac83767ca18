//! DescribeLogDirs (35): every log dir with the partitions it holds and
//! their sizes (null topics = all). Volume sizes come from statvfs via df
//! semantics are not available here, so v4's total/usable bytes are -1
//! (Kafka's "unknown").

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, ResponseKind, TopicName};

use super::{sb, HandlerResult};
use crate::connection::RequestContext;

pub async fn handle(ctx: &RequestContext, req: DescribeLogDirsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let wanted: Option<Vec<(String, Vec<i32>)>> =
        req.topics.map(|ts| ts.into_iter().map(|t| (t.topic.0.to_string(), t.partitions)).collect());
    // dir -> topic -> [(partition, size)]
    let mut by_dir: BTreeMap<std::path::PathBuf, BTreeMap<String, Vec<(i32, i64)>>> =
        broker.logs.dirs.iter().map(|d| (d.clone(), BTreeMap::new())).collect();
    for l in broker.logs.all() {
        let Ok(g) = l.lock() else { continue };
        if let Some(w) = &wanted {
            if !w.iter().any(|(t, ps)| *t == g.topic && ps.contains(&g.partition)) {
                continue;
            }
        }
        let Some(dir) = broker.logs.dirs.iter().find(|d| g.dir.starts_with(d)) else { continue };
        if let Some(m) = by_dir.get_mut(dir) {
            m.entry(g.topic.clone()).or_default().push((g.partition, g.size_bytes() as i64));
        }
    }
    let mut resp = DescribeLogDirsResponse::default();
    for (dir, topics) in by_dir {
        let mut r = DescribeLogDirsResult::default();
        r.log_dir = sb(dir.display().to_string());
        r.total_bytes = -1;
        r.usable_bytes = -1;
        for (t, mut parts) in topics {
            parts.sort();
            let mut dt = DescribeLogDirsTopic::default();
            dt.name = TopicName(sb(t));
            for (p, size) in parts {
                let mut dp = DescribeLogDirsPartition::default();
                dp.partition_index = p;
                dp.partition_size = size;
                dp.offset_lag = 0;
                dp.is_future_key = false;
                dt.partitions.push(dp);
            }
            r.topics.push(dt);
        }
        resp.results.push(r);
    }
    Ok(Some(ResponseKind::DescribeLogDirs(resp)))
}
