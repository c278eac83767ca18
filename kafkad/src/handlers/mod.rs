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

/// The route table, the one list of what is served: each API key with
/// its handler module and version range. ApiVersions advertises it, the
/// connection refuses what is missing, `dispatch` calls the handler, and
/// the metrics name requests by it. Caps stay below the versions that
/// address topics by id only (Produce 13, Fetch 13, DeleteTopics 6) and
/// below batched group APIs (OffsetFetch 8).
macro_rules! routes {
    ($($key:ident => $module:ident, $min:literal ..= $max:literal;)*) => {
        /// (api, min version, max version) served.
        pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[$((ApiKey::$key, $min, $max),)*];

        /// The API's name as Kafka spells it (metrics labels); `None` if
        /// not served.
        pub fn api_name(key: ApiKey) -> Option<&'static str> {
            match key {
                $(ApiKey::$key => Some(stringify!($key)),)*
                _ => None,
            }
        }

        pub async fn dispatch(ctx: &RequestContext, req: RequestKind) -> HandlerResult {
            match req {
                $(RequestKind::$key(r) => $module::handle(ctx, r).await,)*
                // Unreachable in practice: the connection rejects keys
                // missing from the table before decoding.
                other => Err(ConnectionError::Malformed(format!("no handler for {:?}", std::mem::discriminant(&other)))),
            }
        }
    };
}

routes! {
    Produce => produce, 3..=9;
    Fetch => fetch, 4..=12;
    ListOffsets => list_offsets, 1..=7;
    Metadata => metadata, 0..=12;
    OffsetCommit => offset_commit, 2..=8;
    OffsetFetch => offset_fetch, 1..=7;
    FindCoordinator => find_coordinator, 0..=4;
    JoinGroup => join_group, 0..=7;
    Heartbeat => heartbeat, 0..=4;
    LeaveGroup => leave_group, 0..=4;
    SyncGroup => sync_group, 0..=5;
    DescribeGroups => describe_groups, 0..=5;
    ListGroups => list_groups, 0..=4;
    ApiVersions => api_versions, 0..=3;
    CreateTopics => create_topics, 2..=7;
    DeleteTopics => delete_topics, 1..=5;
    InitProducerId => init_producer_id, 0..=4;
    DeleteRecords => delete_records, 0..=2;
    OffsetForLeaderEpoch => offset_for_leader_epoch, 2..=4;
    DescribeConfigs => describe_configs, 1..=4;
    AlterConfigs => alter_configs, 0..=2;
    DescribeLogDirs => describe_log_dirs, 1..=4;
    CreatePartitions => create_partitions, 0..=3;
    DeleteGroups => delete_groups, 0..=2;
    IncrementalAlterConfigs => incremental_alter_configs, 0..=1;
    OffsetDelete => offset_delete, 0..=0;
    DescribeCluster => describe_cluster, 0..=1;
    ElectLeaders => elect_leaders, 0..=2;
    AlterPartitionReassignments => alter_partition_reassignments, 0..=0;
    ListPartitionReassignments => list_partition_reassignments, 0..=0;
}

pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED.iter().find(|(k, _, _)| *k == key).map(|(_, a, b)| (*a, *b))
}

pub type HandlerResult = Result<Option<ResponseKind>, ConnectionError>;

pub fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Error message for responses that carry one (None means "no message").
pub fn msg(s: impl Into<String>) -> Option<StrBytes> {
    Some(sb(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every served API has its own name (metrics no longer lump the late
    /// additions under "Other") and a sane version range.
    #[test]
    fn every_route_is_named_and_ranged() {
        for (key, min, max) in SUPPORTED {
            assert_eq!(api_name(*key).map(str::to_string), Some(format!("{key:?}")));
            assert!(min <= max, "{key:?}");
        }
        assert_eq!(api_name(ApiKey::EndTxn), None);
    }
}
