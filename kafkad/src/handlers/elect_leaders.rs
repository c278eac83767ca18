//! ElectLeaders (43): preferred or unclean leader election, run by the
//! controller (other brokers answer NOT_CONTROLLER, as Kafka's do). Null
//! topic_partitions means every partition.

use std::collections::BTreeMap;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, ResponseKind, TopicName};
use kafka_protocol::ResponseError;

use super::{msg, sb, HandlerResult};
use crate::connection::RequestContext;
use crate::zk::election::{self, ElectionType};

pub async fn handle(ctx: &RequestContext, req: ElectLeadersRequest) -> HandlerResult {
    let broker = &ctx.broker;
    let mut resp = ElectLeadersResponse::default();
    let wanted: BTreeMap<String, Vec<i32>> = match &req.topic_partitions {
        Some(tps) => tps.iter().map(|t| (t.topic.0.to_string(), t.partitions.clone())).collect(),
        None => broker
            .metadata()
            .topics
            .values()
            .filter(|t| !t.deleting)
            .map(|t| (t.name.clone(), t.partitions.keys().copied().collect()))
            .collect(),
    };
    let kind =
        if ctx.api_version >= 1 && req.election_type == 1 { ElectionType::Unclean } else { ElectionType::Preferred };
    let epoch = broker.controller_epoch();
    if epoch.is_none() && ctx.api_version >= 1 {
        resp.error_code = ResponseError::NotController.code();
        return Ok(Some(ResponseKind::ElectLeaders(resp)));
    }
    // Kafka leaves partitions that need no election out of an answer to
    // an all-partitions request.
    let all = req.topic_partitions.is_none();
    for (topic, partitions) in wanted {
        let mut tr = ReplicaElectionResult::default();
        tr.topic = TopicName(sb(topic.clone()));
        for p in partitions {
            let mut pr = PartitionResult::default();
            pr.partition_id = p;
            let r = match epoch {
                Some(e) => election::elect(broker, e, &topic, p, kind).await,
                None => Err((ResponseError::NotController, String::new())),
            };
            if let Err((e, m)) = r {
                if all && e == ResponseError::ElectionNotNeeded {
                    continue;
                }
                pr.error_code = e.code();
                pr.error_message = if m.is_empty() { None } else { msg(m) };
            }
            tr.partition_result.push(pr);
        }
        if !tr.partition_result.is_empty() {
            resp.replica_election_results.push(tr);
        }
    }
    Ok(Some(ResponseKind::ElectLeaders(resp)))
}
