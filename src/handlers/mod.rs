//! One file per Kafka API. The `apis!` table below is the only list of what
//! fjord implements: it generates both the dispatch and the version ranges
//! ApiVersions advertises, so the two cannot drift apart.

pub mod alter_configs;
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
pub mod errors;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, VersionRange};
use tokio::sync::OwnedMutexGuard;

use crate::broker::Broker;

/// Everything a handler may use besides the request body.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub header: RequestHeader,
    /// The client's address (group members are reported with it).
    pub peer: std::net::SocketAddr,
    /// The listener the client connected through; it is told that
    /// listener's advertised address.
    pub listener: Arc<str>,
    /// Held by a produce request until its batches are appended, so a
    /// connection's produce requests reach the log in arrival order.
    pub append_order: Option<OwnedMutexGuard<()>>,
}

impl RequestContext {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// A request the broker refuses to answer: the connection is closed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

macro_rules! apis {
    ($($key:ident($request:ty) => $handler:path),* $(,)?) => {
        /// Every API fjord implements, in Kafka's key order.
        pub const APIS: &[ApiKey] = &[$(ApiKey::$key),*];

        /// The versions the protocol crate can decode for each API.
        fn decodable_versions(api: ApiKey) -> Option<VersionRange> {
            match api {
                $(ApiKey::$key => Some(<$request as kafka_protocol::protocol::Message>::VERSIONS),)*
                _ => None,
            }
        }

        /// Decodes the request body, runs its handler and encodes the
        /// response body into `out`. `Ok(false)` means no response is sent
        /// (acks=0 produce).
        pub async fn dispatch(ctx: &RequestContext, api: ApiKey, mut body: Bytes, out: &mut BytesMut) -> Result<bool, HandlerError> {
            let version = ctx.version();
            match api {
                $(ApiKey::$key => {
                    let request = <$request>::decode(&mut body, version)
                        .map_err(|e| HandlerError(format!("malformed {:?} v{version} request: {e}", api)))?;
                    match $handler(ctx, request).await? {
                        Some(response) => {
                            // One allocation for the whole response: a Fetch
                            // response of megabytes would otherwise grow and
                            // copy its buffer several times.
                            if let Ok(size) = response.compute_size(version) {
                                out.reserve(size);
                            }
                            response
                                .encode(out, version)
                                .map_err(|e| HandlerError(format!("cannot encode {:?} v{version} response: {e}", api)))?;
                            Ok(true)
                        }
                        None => Ok(false),
                    }
                })*
                other => Err(HandlerError(format!("no handler for {other:?}"))),
            }
        }
    };
}

apis! {
    Produce(ProduceRequest) => produce::handle,
    Fetch(FetchRequest) => fetch::handle,
    ListOffsets(ListOffsetsRequest) => list_offsets::handle,
    Metadata(MetadataRequest) => metadata::handle,
    OffsetCommit(OffsetCommitRequest) => offset_commit::handle,
    OffsetFetch(OffsetFetchRequest) => offset_fetch::handle,
    FindCoordinator(FindCoordinatorRequest) => find_coordinator::handle,
    JoinGroup(JoinGroupRequest) => join_group::handle,
    Heartbeat(HeartbeatRequest) => heartbeat::handle,
    LeaveGroup(LeaveGroupRequest) => leave_group::handle,
    SyncGroup(SyncGroupRequest) => sync_group::handle,
    DescribeGroups(DescribeGroupsRequest) => describe_groups::handle,
    ListGroups(ListGroupsRequest) => list_groups::handle,
    DeleteRecords(DeleteRecordsRequest) => delete_records::handle,
    InitProducerId(InitProducerIdRequest) => init_producer_id::handle,
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest) => offset_for_leader_epoch::handle,
    ApiVersions(ApiVersionsRequest) => api_versions::handle,
    CreateTopics(CreateTopicsRequest) => create_topics::handle,
    DeleteTopics(DeleteTopicsRequest) => delete_topics::handle,
    DescribeConfigs(DescribeConfigsRequest) => describe_configs::handle,
    AlterConfigs(AlterConfigsRequest) => alter_configs::handle,
    DescribeLogDirs(DescribeLogDirsRequest) => describe_log_dirs::handle,
    CreatePartitions(CreatePartitionsRequest) => create_partitions::handle,
    DeleteGroups(DeleteGroupsRequest) => delete_groups::handle,
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest) => incremental_alter_configs::handle,
    OffsetDelete(OffsetDeleteRequest) => offset_delete::handle,
    DescribeCluster(DescribeClusterRequest) => describe_cluster::handle,
}

/// The versions of `api` fjord accepts: the Kafka 4.1 range (without
/// versions Kafka still marks unstable, which the request types cannot
/// decode), raised to Kafka 4.0's minimums where KIP-896 removed old ones.
pub fn supported_versions(api: ApiKey) -> Option<VersionRange> {
    let range = decodable_versions(api)?.intersect(&api.valid_versions());
    let kafka4_min = match api {
        ApiKey::JoinGroup => 2,
        _ => range.min,
    };
    Some(VersionRange {
        min: range.min.max(kafka4_min),
        max: range.max,
    })
}

/// Helper for handlers: build a `StrBytes` from anything string-like.
pub fn str_bytes(s: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.into())
}
