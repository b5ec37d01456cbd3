//! One file per Kafka API. The `apis!` table below is the only list of what
//! fjord implements: it generates the dispatch, the version ranges
//! ApiVersions advertises, and what each request reads and changes (which
//! decides what may overlap on one connection), so none of them can drift
//! apart.

pub mod access;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod allocate_producer_ids;
pub mod alter_configs;
pub mod alter_partition;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod broker_heartbeat;
pub mod broker_registration;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod elect_leaders;
pub mod end_txn;
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
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_txn_markers;

use std::sync::Arc;

use self::access::*;
use crate::broker::Broker;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, VersionRange};

/// Everything a handler may use besides the request body.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub header: RequestHeader,
    /// The client's address (group members are reported with it).
    pub peer: std::net::SocketAddr,
    /// The listener the client connected through; it is told that
    /// listener's advertised address.
    pub listener: Arc<str>,
    /// Whether that listener is one of `controller.listener.names`: a
    /// request that reaches a controller directly is answered there
    /// (NOT_CONTROLLER if it is not the active one), never forwarded again.
    pub from_controller_listener: bool,
    /// Held while this request has not taken effect: later requests of
    /// the connection that conflict with it wait for it (server/ordering.rs).
    pub(crate) ordering: std::sync::Mutex<Option<crate::server::ordering::Done>>,
}

impl RequestContext {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }

    /// Tells the connection's later requests that this one has taken
    /// effect, before its handler finishes: a produce that waits for its
    /// followers lets the next produce of the connection append meanwhile,
    /// in order.
    pub(crate) fn taken_effect(&self) {
        self.ordering.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A request the broker refuses to answer: the connection is closed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

macro_rules! apis {
    ($($(#[$forward:ident])? $key:ident($request:ty) => $handler:path $(, overlaps $access:expr)?;)*) => {
        /// Every API fjord implements, in Kafka's key order.
        pub const APIS: &[ApiKey] = &[$(ApiKey::$key),*];

        /// What a request of `api` reads and changes: `Access::ORDERED`
        /// unless the table declares what it touches.
        pub fn access(api: ApiKey) -> Access {
            match api {
                $(ApiKey::$key => None$(.or(Some($access)))?.unwrap_or(Access::ORDERED),)*
                _ => Access::ORDERED,
            }
        }

        /// APIs marked `#[forward]`: they change cluster metadata, so a
        /// broker that is not the active controller forwards them to it.
        pub fn forwarded(api: ApiKey) -> bool {
            match api {
                $(ApiKey::$key => false $(|| stringify!($forward) == "forward")?,)*
                _ => false,
            }
        }

        /// APIs marked `#[controller]`: brokers call them on the active
        /// controller's controller listener; no other listener serves or
        /// advertises them (as in Kafka).
        pub fn controller_only(api: ApiKey) -> bool {
            match api {
                $(ApiKey::$key => false $(|| stringify!($forward) == "controller")?,)*
                _ => false,
            }
        }

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
            if controller_only(api) && !ctx.from_controller_listener {
                return Err(HandlerError(format!("{api:?} is served on controller listeners only")));
            }
            if forwarded(api) && !ctx.from_controller_listener && !ctx.broker.is_active_controller() {
                return forward(ctx, api, body, out).await;
            }
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

// What each request touches (handlers/access.rs). An API without `overlaps`
// waits for every earlier request of its connection to take effect, and
// every later one waits for it; declare its access only once the handler
// is known to touch nothing else. Two requests of one connection overlap
// only if neither changes what the other reads or changes, so the overlap
// cannot be seen: a long-poll Fetch does not hold up the OffsetCommit or
// Heartbeat behind it, but a Fetch sent after a Produce sees it.
apis! {
    Produce(ProduceRequest) => produce::handle, overlaps Access::reads(TOPICS).writes(LOG);
    Fetch(FetchRequest) => fetch::handle, overlaps Access::reads(TOPICS.and(LOG)).writes(FETCH_SESSIONS);
    ListOffsets(ListOffsetsRequest) => list_offsets::handle, overlaps Access::reads(TOPICS.and(LOG));
    // Auto-creates topics when asked to.
    Metadata(MetadataRequest) => metadata::handle, overlaps Access::reads(NOTHING).writes(TOPICS);
    OffsetCommit(OffsetCommitRequest) => offset_commit::handle, overlaps Access::reads(TOPICS).writes(GROUPS);
    OffsetFetch(OffsetFetchRequest) => offset_fetch::handle, overlaps Access::reads(TOPICS.and(GROUPS));
    // Creates __consumer_offsets on first use.
    FindCoordinator(FindCoordinatorRequest) => find_coordinator::handle, overlaps Access::reads(NOTHING).writes(TOPICS);
    JoinGroup(JoinGroupRequest) => join_group::handle, overlaps Access::reads(NOTHING).writes(GROUPS);
    Heartbeat(HeartbeatRequest) => heartbeat::handle, overlaps Access::reads(NOTHING).writes(GROUPS);
    LeaveGroup(LeaveGroupRequest) => leave_group::handle, overlaps Access::reads(NOTHING).writes(GROUPS);
    SyncGroup(SyncGroupRequest) => sync_group::handle, overlaps Access::reads(NOTHING).writes(GROUPS);
    DescribeGroups(DescribeGroupsRequest) => describe_groups::handle, overlaps Access::reads(GROUPS);
    ListGroups(ListGroupsRequest) => list_groups::handle, overlaps Access::reads(GROUPS);
    DeleteRecords(DeleteRecordsRequest) => delete_records::handle;
    InitProducerId(InitProducerIdRequest) => init_producer_id::handle;
    OffsetForLeaderEpoch(OffsetForLeaderEpochRequest) => offset_for_leader_epoch::handle, overlaps Access::reads(TOPICS.and(LOG));
    ApiVersions(ApiVersionsRequest) => api_versions::handle, overlaps Access::reads(NOTHING);
    #[forward] CreateTopics(CreateTopicsRequest) => create_topics::handle;
    #[forward] DeleteTopics(DeleteTopicsRequest) => delete_topics::handle;
    DescribeConfigs(DescribeConfigsRequest) => describe_configs::handle, overlaps Access::reads(TOPICS);
    #[forward] AlterConfigs(AlterConfigsRequest) => alter_configs::handle;
    DescribeLogDirs(DescribeLogDirsRequest) => describe_log_dirs::handle, overlaps Access::reads(TOPICS.and(LOG));
    #[forward] CreatePartitions(CreatePartitionsRequest) => create_partitions::handle;
    DeleteGroups(DeleteGroupsRequest) => delete_groups::handle;
    #[forward] ElectLeaders(ElectLeadersRequest) => elect_leaders::handle;
    #[forward] IncrementalAlterConfigs(IncrementalAlterConfigsRequest) => incremental_alter_configs::handle;
    #[forward] AlterPartitionReassignments(AlterPartitionReassignmentsRequest) => alter_partition_reassignments::handle;
    #[forward] ListPartitionReassignments(ListPartitionReassignmentsRequest) => list_partition_reassignments::handle, overlaps Access::reads(TOPICS);
    OffsetDelete(OffsetDeleteRequest) => offset_delete::handle;
    DescribeCluster(DescribeClusterRequest) => describe_cluster::handle, overlaps Access::reads(NOTHING);
    #[forward] DescribeQuorum(DescribeQuorumRequest) => describe_quorum::handle, overlaps Access::reads(NOTHING);
    #[controller] BrokerRegistration(BrokerRegistrationRequest) => broker_registration::handle;
    #[controller] BrokerHeartbeat(BrokerHeartbeatRequest) => broker_heartbeat::handle;
    #[controller] AllocateProducerIds(AllocateProducerIdsRequest) => allocate_producer_ids::handle;
    #[controller] AlterPartition(AlterPartitionRequest) => alter_partition::handle;
    DescribeProducers(DescribeProducersRequest) => describe_producers::handle, overlaps Access::reads(TOPICS.and(LOG));
    DescribeTopicPartitions(DescribeTopicPartitionsRequest) => describe_topic_partitions::handle, overlaps Access::reads(TOPICS);
    AddPartitionsToTxn(AddPartitionsToTxnRequest) => add_partitions_to_txn::handle;
    AddOffsetsToTxn(AddOffsetsToTxnRequest) => add_offsets_to_txn::handle;
    EndTxn(EndTxnRequest) => end_txn::handle;
    WriteTxnMarkers(WriteTxnMarkersRequest) => write_txn_markers::handle;
    TxnOffsetCommit(TxnOffsetCommitRequest) => txn_offset_commit::handle;
    DescribeTransactions(DescribeTransactionsRequest) => describe_transactions::handle, overlaps Access::reads(NOTHING);
    ListTransactions(ListTransactionsRequest) => list_transactions::handle, overlaps Access::reads(NOTHING);
}

/// How long a forwarded request waits for the active controller.
const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Kafka's request forwarding (KIP-590), as an internal call: the request
/// body goes to the active controller unchanged over the controller
/// channel, and its answer comes back unchanged. A controller that cannot
/// be reached closes the client's connection, as a broker that loses its
/// controller does; the client reconnects and retries.
async fn forward(ctx: &RequestContext, api: ApiKey, body: Bytes, out: &mut BytesMut) -> Result<bool, HandlerError> {
    let Some(channel) = ctx.broker.controller_channel() else {
        return Err(HandlerError(format!("no controller to forward {api:?} to")));
    };
    let answer = channel
        .forward(api, ctx.version(), body, FORWARD_TIMEOUT)
        .await
        .map_err(|e| HandlerError(format!("forwarding {api:?} to the active controller failed: {e}")))?;
    out.extend_from_slice(&answer);
    Ok(true)
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
    let max = match api {
        // v2 filters by a transactional id regular expression (KIP-1152),
        // which fjord does not evaluate.
        ApiKey::ListTransactions => range.max.min(1),
        _ => range.max,
    };
    Some(VersionRange {
        min: range.min.max(kafka4_min),
        max,
    })
}

/// Helper for handlers: build a `StrBytes` from anything string-like.
pub fn str_bytes(s: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.into())
}
