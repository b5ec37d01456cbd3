//! One file per Kafka API. The `apis!` table below is the only list of what
//! fjord implements: it generates both the dispatch and the version ranges
//! ApiVersions advertises, so the two cannot drift apart.

pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod alter_configs;
pub mod describe_log_dirs;
pub mod errors;
pub mod fetch;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod offset_for_leader_epoch;
pub mod produce;

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
    IncrementalAlterConfigs(IncrementalAlterConfigsRequest) => incremental_alter_configs::handle,
    DescribeCluster(DescribeClusterRequest) => describe_cluster::handle,
}

/// The versions of `api` fjord accepts: the Kafka 4.x range the protocol
/// crate implements, for APIs that have a handler.
pub fn supported_versions(api: ApiKey) -> Option<VersionRange> {
    APIS.contains(&api).then(|| api.valid_versions())
}

/// Helper for handlers: build a `StrBytes` from anything string-like.
pub fn str_bytes(s: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.into())
}
