//! ListPartitionReassignments (46): the moves under way, from the
//! adding/removing replicas in the topic znodes. Served by the controller.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, ResponseKind, TopicName,
};
use kafka_protocol::ResponseError;

use super::{sb, HandlerResult};
use crate::connection::RequestContext;
use crate::metadata::TopicZnode;

pub async fn handle(ctx: &RequestContext, req: ListPartitionReassignmentsRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = ListPartitionReassignmentsResponse::default();
    if broker.controller_epoch().is_none() {
        resp.error_code = ResponseError::NotController.code();
        return Ok(Some(ResponseKind::ListPartitionReassignments(resp)));
    }
    match ongoing(broker, &req).await {
        Ok(topics) => resp.topics = topics,
        Err(e) => {
            resp.error_code = ResponseError::UnknownServerError.code();
            resp.error_message = super::msg(format!("zookeeper: {e}"));
        }
    }
    Ok(Some(ResponseKind::ListPartitionReassignments(resp)))
}

/// Straight from the topic znodes: a move just started must show even
/// before the metadata sync has caught up.
async fn ongoing(
    broker: &crate::broker::Broker,
    req: &ListPartitionReassignmentsRequest,
) -> Result<Vec<OngoingTopicReassignment>, zookeeper_client::Error> {
    let mut out = Vec::new();
    let names = match &req.topics {
        Some(ts) => ts.iter().map(|t| t.name.0.to_string()).collect(),
        None => broker.zk.children("/brokers/topics").await?,
    };
    let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
    for name in names {
        let Some((data, _)) = broker.zk.get(&format!("/brokers/topics/{name}")).await? else {
            continue;
        };
        let Some(zn) = TopicZnode::parse(&data) else { continue };
        let only: Option<&Vec<i32>> = req
            .topics
            .as_ref()
            .and_then(|ts| ts.iter().find(|t| t.name.0.as_str() == name))
            .map(|t| &t.partition_indexes);
        let mut tr = OngoingTopicReassignment::default();
        tr.name = TopicName(sb(name.clone()));
        for (p, replicas) in &zn.partitions {
            if only.is_some_and(|ps| !ps.contains(p)) || !zn.reassigning(*p) {
                continue;
            }
            let mut pr = OngoingPartitionReassignment::default();
            pr.partition_index = *p;
            pr.replicas = ids(replicas);
            pr.adding_replicas = ids(zn.adding.get(p).map(Vec::as_slice).unwrap_or_default());
            pr.removing_replicas = ids(zn.removing.get(p).map(Vec::as_slice).unwrap_or_default());
            tr.partitions.push(pr);
        }
        if !tr.partitions.is_empty() {
            out.push(tr);
        }
    }
    Ok(out)
}
