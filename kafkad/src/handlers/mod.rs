//! The route table: one handler module per Kafka API key. An API missing
//! here is neither advertised in ApiVersions nor served.

pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod elect_leaders;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use crate::connection::RequestContext;
use crate::error::ConnectionError;

/// (api, min version, max version) served. Caps stay below the versions
/// that address topics by id only (Produce 13, Fetch 13, DeleteTopics 6)
/// and below batched group APIs (OffsetFetch 8).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::AlterPartitionReassignments, 0, 0),
    (ApiKey::ListPartitionReassignments, 0, 0),
];

pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED.iter().find(|(k, _, _)| *k == key).map(|(_, a, b)| (*a, *b))
}

pub type HandlerResult = Result<Option<ResponseKind>, ConnectionError>;

pub async fn dispatch(ctx: &RequestContext, req: RequestKind) -> HandlerResult {
    match req {
        RequestKind::Produce(r) => produce::handle(ctx, r).await,
        RequestKind::Fetch(r) => fetch::handle(ctx, r).await,
        RequestKind::ListOffsets(r) => list_offsets::handle(ctx, r).await,
        RequestKind::Metadata(r) => metadata::handle(ctx, r).await,
        RequestKind::OffsetCommit(r) => offset_commit::handle(ctx, r).await,
        RequestKind::OffsetFetch(r) => offset_fetch::handle(ctx, r).await,
        RequestKind::FindCoordinator(r) => find_coordinator::handle(ctx, r).await,
        RequestKind::JoinGroup(r) => join_group::handle(ctx, r).await,
        RequestKind::Heartbeat(r) => heartbeat::handle(ctx, r).await,
        RequestKind::LeaveGroup(r) => leave_group::handle(ctx, r).await,
        RequestKind::SyncGroup(r) => sync_group::handle(ctx, r).await,
        RequestKind::DescribeGroups(r) => describe_groups::handle(ctx, r).await,
        RequestKind::ListGroups(r) => list_groups::handle(ctx, r).await,
        RequestKind::ApiVersions(r) => api_versions::handle(ctx, r).await,
        RequestKind::CreateTopics(r) => create_topics::handle(ctx, r).await,
        RequestKind::DeleteTopics(r) => delete_topics::handle(ctx, r).await,
        RequestKind::InitProducerId(r) => init_producer_id::handle(ctx, r).await,
        RequestKind::DeleteRecords(r) => delete_records::handle(ctx, r).await,
        RequestKind::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(ctx, r).await,
        RequestKind::DescribeConfigs(r) => describe_configs::handle(ctx, r).await,
        RequestKind::AlterConfigs(r) => alter_configs::handle(ctx, r).await,
        RequestKind::DescribeLogDirs(r) => describe_log_dirs::handle(ctx, r).await,
        RequestKind::CreatePartitions(r) => create_partitions::handle(ctx, r).await,
        RequestKind::DeleteGroups(r) => delete_groups::handle(ctx, r).await,
        RequestKind::IncrementalAlterConfigs(r) => incremental_alter_configs::handle(ctx, r).await,
        RequestKind::OffsetDelete(r) => offset_delete::handle(ctx, r).await,
        RequestKind::DescribeCluster(r) => describe_cluster::handle(ctx, r).await,
        RequestKind::ElectLeaders(r) => elect_leaders::handle(ctx, r).await,
        RequestKind::AlterPartitionReassignments(r) => alter_partition_reassignments::handle(ctx, r).await,
        RequestKind::ListPartitionReassignments(r) => list_partition_reassignments::handle(ctx, r).await,
        // Unreachable in practice: the connection rejects keys missing
        // from SUPPORTED before decoding.
        other => Err(ConnectionError::Malformed(format!("no handler for {:?}", std::mem::discriminant(&other)))),
    }
}

pub fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Error message for responses that carry one (None means "no message").
pub fn msg(s: impl Into<String>) -> Option<StrBytes> {
    Some(sb(s))
}
