//! Consumer groups (the classic protocol) and committed offsets, every
//! advertised version: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, DescribeGroups, ListGroups, DeleteGroups, OffsetCommit,
//! OffsetFetch, OffsetDelete. Set-up steps use fixed recent versions; the
//! version under test is the one each test walks.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponsePartition;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, BrokerId, ConsumerProtocolAssignment, ConsumerProtocolSubscription, DeleteGroupsRequest,
    DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::codes::*;
use crate::harness::{
    each_version, no_message, str_bytes, topic_name, Client, Ctx, TestBroker, ADVERTISED_HOST, ADVERTISED_PORT, NODE_ID,
};
use crate::ops::create_topic;

/// No initial rebalance delay, so a lone member's join completes at once;
/// few `__consumer_offsets` partitions, so the topic is quick to create.
pub(crate) const GROUP_SETTINGS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("offsets.topic.num.partitions", "5"),
];
const SESSION_TIMEOUT_MS: i32 = 30_000;
const PROTOCOL_TYPE: &str = "consumer";
const ASSIGNOR: &str = "range";

pub(crate) fn group_id(s: &str) -> GroupId {
    GroupId(str_bytes(s))
}

fn s(v: &Option<StrBytes>) -> Option<&str> {
    v.as_ref().map(|x| x.as_str())
}

/// A consumer's subscription, as the Java client encodes it (version 0).
fn subscription(topics: &[&str]) -> Bytes {
    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = topics.iter().map(|t| str_bytes(t)).collect();
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    sub.encode(&mut buf, 0).expect("encode subscription");
    buf.freeze()
}

/// A leader's assignment for one member (version 0).
fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let mut tp = TopicPartition::default();
    tp.topic = topic_name(topic);
    tp.partitions = partitions.to_vec();
    let mut a = ConsumerProtocolAssignment::default();
    a.assigned_partitions = vec![tp];
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    a.encode(&mut buf, 0).expect("encode assignment");
    buf.freeze()
}

/// A member that has joined and synced: the group is Stable.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) group: String,
    pub(crate) member_id: String,
    pub(crate) generation_id: i32,
    pub(crate) metadata: Bytes,
    assignment: Bytes,
}

async fn start_group_broker() -> (TestBroker, Ctx) {
    let broker = TestBroker::start_with(GROUP_SETTINGS).await;
    let ctx = broker.ctx.clone();
    (broker, ctx)
}

/// FindCoordinator v3, as a client does before any group request.
pub(crate) async fn find_coordinator(c: &mut Client, group: &str) {
    let mut req = FindCoordinatorRequest::default();
    req.key = str_bytes(group);
    req.key_type = 0;
    let resp = c.call(3, &req).await;
    assert_eq!(
        resp.error_code, NONE,
        "set-up: FindCoordinator for {group}: {:?}",
        resp.error_message
    );
    assert_eq!(resp.node_id, BrokerId(NODE_ID));
}

pub(crate) fn join_request(version: i16, group: &str, member_id: &str, metadata: &Bytes) -> JoinGroupRequest {
    let mut p = JoinGroupRequestProtocol::default();
    p.name = str_bytes(ASSIGNOR);
    p.metadata = metadata.clone();
    let mut req = JoinGroupRequest::default();
    req.group_id = group_id(group);
    req.session_timeout_ms = SESSION_TIMEOUT_MS;
    if version >= 1 {
        req.rebalance_timeout_ms = SESSION_TIMEOUT_MS;
    }
    req.member_id = str_bytes(member_id);
    req.protocol_type = str_bytes(PROTOCOL_TYPE);
    req.protocols = vec![p];
    req
}

/// Joins as a new member at `version`; from v4 (KIP-394) that takes the
/// MEMBER_ID_REQUIRED round trip, which is checked on the way.
async fn join(c: &mut Client, version: i16, group: &str, metadata: &Bytes) -> JoinGroupResponse {
    let first = c.call(version, &join_request(version, group, "", metadata)).await;
    if version < 4 {
        return first;
    }
    assert_eq!(
        first.error_code, MEMBER_ID_REQUIRED,
        "v{version}: a new member's first join"
    );
    assert!(
        !first.member_id.is_empty(),
        "v{version}: MEMBER_ID_REQUIRED carries the member id to use"
    );
    assert_eq!(first.generation_id, -1, "v{version}: no generation yet");
    assert!(first.members.is_empty(), "v{version}: no members yet");
    let member_id = first.member_id.to_string();
    c.call(version, &join_request(version, group, &member_id, metadata))
        .await
}

/// A Stable one-member group subscribed to `topic` (JoinGroup v9, SyncGroup v5).
pub(crate) async fn join_and_sync(c: &mut Client, group: &str, topic: &str) -> Member {
    find_coordinator(c, group).await;
    let metadata = subscription(&[topic]);
    let joined = join(c, 9, group, &metadata).await;
    assert_eq!(joined.error_code, NONE, "set-up: join {group}");
    let member = Member {
        group: group.to_string(),
        member_id: joined.member_id.to_string(),
        generation_id: joined.generation_id,
        metadata,
        assignment: assignment(topic, &[0]),
    };
    let synced = c
        .call(5, &sync_request(5, &member, member.generation_id, &member.member_id))
        .await;
    assert_eq!(synced.error_code, NONE, "set-up: sync {group}");
    member
}

pub(crate) fn sync_request(version: i16, m: &Member, generation_id: i32, member_id: &str) -> SyncGroupRequest {
    let mut a = SyncGroupRequestAssignment::default();
    a.member_id = str_bytes(&m.member_id);
    a.assignment = m.assignment.clone();
    let mut req = SyncGroupRequest::default();
    req.group_id = group_id(&m.group);
    req.generation_id = generation_id;
    req.member_id = str_bytes(member_id);
    if version >= 5 {
        req.protocol_type = Some(str_bytes(PROTOCOL_TYPE));
        req.protocol_name = Some(str_bytes(ASSIGNOR));
    }
    req.assignments = vec![a];
    req
}

async fn describe_group(c: &mut Client, version: i16, group: &str) -> DescribedGroup {
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![group_id(group)];
    let mut resp = c.call(version, &req).await;
    assert_eq!(resp.groups.len(), 1);
    resp.groups.remove(0)
}

/// Commits `offset` for partitions of `topic` (OffsetCommit v8) as a
/// member, or as a standalone client with generation -1 and no member id.
async fn commit(
    c: &mut Client,
    version: i16,
    group: &str,
    member: Option<(&str, i32)>,
    topic: &str,
    partitions: &[(i32, i64)],
) -> Vec<(i32, i16)> {
    let req = commit_request(version, group, member, topic, partitions);
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1, "v{version}: one topic in the commit response");
    assert_eq!(resp.topics[0].name.0.as_str(), topic, "v{version}: topic echo");
    resp.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect()
}

pub(crate) fn commit_request(
    version: i16,
    group: &str,
    member: Option<(&str, i32)>,
    topic: &str,
    partitions: &[(i32, i64)],
) -> OffsetCommitRequest {
    let mut t = OffsetCommitRequestTopic::default();
    t.name = topic_name(topic);
    t.partitions = partitions
        .iter()
        .map(|(p, offset)| {
            let mut cp = OffsetCommitRequestPartition::default();
            cp.partition_index = *p;
            cp.committed_offset = *offset;
            if version >= 6 {
                cp.committed_leader_epoch = 0;
            }
            cp.committed_metadata = Some(str_bytes("meta"));
            cp
        })
        .collect();
    let mut req = OffsetCommitRequest::default();
    req.group_id = group_id(group);
    let (member_id, generation) = member.unwrap_or(("", -1));
    req.member_id = str_bytes(member_id);
    req.generation_id_or_member_epoch = generation;
    req.topics = vec![t];
    req
}

/// Committed (offset, metadata, error) per partition (OffsetFetch v8).
pub(crate) async fn fetch_committed(
    c: &mut Client,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Vec<(i32, i64, Option<String>, i16)> {
    let req = offset_fetch_request(group, topic, partitions);
    let resp = c.call(8, &req).await;
    committed(&resp, group)
}

/// OffsetFetch v8 for partitions of one topic of one group.
pub(crate) fn offset_fetch_request(group: &str, topic: &str, partitions: &[i32]) -> OffsetFetchRequest {
    let mut t = OffsetFetchRequestTopics::default();
    t.name = topic_name(topic);
    t.partition_indexes = partitions.to_vec();
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = group_id(group);
    g.topics = Some(vec![t]);
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    req
}

/// (partition, offset, metadata, error) of an OffsetFetch v8 response.
pub(crate) fn committed(resp: &OffsetFetchResponse, group: &str) -> Vec<(i32, i64, Option<String>, i16)> {
    assert_eq!(resp.groups[0].error_code, NONE, "OffsetFetch {group}");
    resp.groups[0]
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.metadata.as_ref().map(|m| m.to_string()),
                p.error_code,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_coordinator_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::FindCoordinator, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let mut req = FindCoordinatorRequest::default();
            if v < 4 {
                req.key = str_bytes(&format!("coordinated-v{v}"));
                let resp = c.call(v, &req).await;
                assert_eq!(resp.throttle_time_ms, 0);
                assert_eq!(resp.error_code, NONE, "v{v}: error ({:?})", resp.error_message);
                assert_eq!(resp.node_id, BrokerId(NODE_ID), "v{v}: coordinator node");
                assert_eq!(
                    (resp.host.as_str(), resp.port),
                    (ADVERTISED_HOST, ADVERTISED_PORT),
                    "v{v}: coordinator address"
                );
            } else {
                let keys = [format!("coordinated-a-v{v}"), format!("coordinated-b-v{v}")];
                req.coordinator_keys = keys.iter().map(|k| str_bytes(k)).collect();
                let resp = c.call(v, &req).await;
                assert_eq!(resp.throttle_time_ms, 0);
                let got: Vec<(&str, i16, BrokerId, &str, i32)> = resp
                    .coordinators
                    .iter()
                    .map(|co| (co.key.as_str(), co.error_code, co.node_id, co.host.as_str(), co.port))
                    .collect();
                let want: Vec<(&str, i16, BrokerId, &str, i32)> = keys
                    .iter()
                    .map(|k| (k.as_str(), NONE, BrokerId(NODE_ID), ADVERTISED_HOST, ADVERTISED_PORT))
                    .collect();
                assert_eq!(got, want, "v{v}: one coordinator per key, in order");
            }
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_group_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::JoinGroup, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let group = format!("join-v{v}");
            find_coordinator(&mut c, &group).await;
            let metadata = subscription(&["join-topic"]);
            let resp = join(&mut c, v, &group, &metadata).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.error_code, NONE, "v{v}: join");
            assert_eq!(resp.generation_id, 1, "v{v}: the first generation");
            let absent = JoinGroupResponse::default().protocol_type;
            let protocol_type = if v >= 7 { Some(PROTOCOL_TYPE) } else { s(&absent) };
            assert_eq!(s(&resp.protocol_type), protocol_type, "v{v}: protocol type");
            assert_eq!(s(&resp.protocol_name), Some(ASSIGNOR), "v{v}: chosen protocol");
            assert!(!resp.member_id.is_empty(), "v{v}: a member id");
            assert_eq!(resp.leader, resp.member_id, "v{v}: the only member leads");
            assert!(!resp.skip_assignment, "v{v}: the leader assigns");
            let members: Vec<(&str, Option<&str>, &Bytes)> = resp
                .members
                .iter()
                .map(|m| (m.member_id.as_str(), s(&m.group_instance_id), &m.metadata))
                .collect();
            assert_eq!(
                members,
                vec![(resp.member_id.as_str(), None, &metadata)],
                "v{v}: the leader gets every member's metadata"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_group_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::SyncGroup, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let group = format!("sync-v{v}");
            find_coordinator(&mut c, &group).await;
            let metadata = subscription(&["sync-topic"]);
            let joined = join(&mut c, 9, &group, &metadata).await;
            let m = Member {
                group: group.clone(),
                member_id: joined.member_id.to_string(),
                generation_id: joined.generation_id,
                metadata,
                assignment: assignment("sync-topic", &[0, 1]),
            };
            let resp = c.call(v, &sync_request(v, &m, m.generation_id, &m.member_id)).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.error_code, NONE, "v{v}: sync");
            assert_eq!(
                resp.assignment, m.assignment,
                "v{v}: the member gets the leader's assignment"
            );
            let (pt, pn) = if v >= 5 {
                (Some(PROTOCOL_TYPE), Some(ASSIGNOR))
            } else {
                (None, None)
            };
            assert_eq!(
                (s(&resp.protocol_type), s(&resp.protocol_name)),
                (pt, pn),
                "v{v}: protocol type and name"
            );

            let resp = c.call(v, &sync_request(v, &m, m.generation_id + 1, &m.member_id)).await;
            assert_eq!(resp.error_code, ILLEGAL_GENERATION, "v{v}: a wrong generation");
            let resp = c.call(v, &sync_request(v, &m, m.generation_id, "nobody")).await;
            assert_eq!(resp.error_code, UNKNOWN_MEMBER_ID, "v{v}: an unknown member");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::Heartbeat, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let m = join_and_sync(&mut c, &format!("heartbeat-v{v}"), "heartbeat-topic").await;
            let heartbeat = |member_id: &str, generation_id: i32| {
                let mut req = HeartbeatRequest::default();
                req.group_id = group_id(&m.group);
                req.generation_id = generation_id;
                req.member_id = str_bytes(member_id);
                req
            };
            let resp = c.call(v, &heartbeat(&m.member_id, m.generation_id)).await;
            assert_eq!(
                (resp.throttle_time_ms, resp.error_code),
                (0, NONE),
                "v{v}: heartbeat of a stable member"
            );
            let resp = c.call(v, &heartbeat(&m.member_id, m.generation_id + 1)).await;
            assert_eq!(resp.error_code, ILLEGAL_GENERATION, "v{v}: a wrong generation");
            let resp = c.call(v, &heartbeat("nobody", m.generation_id)).await;
            assert_eq!(resp.error_code, UNKNOWN_MEMBER_ID, "v{v}: an unknown member");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_group_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::LeaveGroup, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let m = join_and_sync(&mut c, &format!("leave-v{v}"), "leave-topic").await;
            let leave = |member_id: &str| {
                let mut req = LeaveGroupRequest::default();
                req.group_id = group_id(&m.group);
                if v >= 3 {
                    let mut id = MemberIdentity::default();
                    id.member_id = str_bytes(member_id);
                    req.members = vec![id];
                } else {
                    req.member_id = str_bytes(member_id);
                }
                req
            };
            // An unknown member: the whole request fails before v3, only
            // that member's entry from v3 (batched leave, KIP-345).
            let resp = c.call(v, &leave("nobody")).await;
            if v >= 3 {
                assert_eq!(resp.error_code, NONE, "v{v}: batched leave of an unknown member");
                let members: Vec<(&str, Option<&str>, i16)> = resp
                    .members
                    .iter()
                    .map(|r| (r.member_id.as_str(), s(&r.group_instance_id), r.error_code))
                    .collect();
                assert_eq!(
                    members,
                    vec![("nobody", None, UNKNOWN_MEMBER_ID)],
                    "v{v}: per-member result"
                );
            } else {
                assert_eq!(resp.error_code, UNKNOWN_MEMBER_ID, "v{v}: leave of an unknown member");
            }

            let resp = c.call(v, &leave(&m.member_id)).await;
            assert_eq!((resp.throttle_time_ms, resp.error_code), (0, NONE), "v{v}: leave");
            if v >= 3 {
                let members: Vec<(&str, Option<&str>, i16)> = resp
                    .members
                    .iter()
                    .map(|r| (r.member_id.as_str(), s(&r.group_instance_id), r.error_code))
                    .collect();
                assert_eq!(
                    members,
                    vec![(m.member_id.as_str(), None, NONE)],
                    "v{v}: per-member result"
                );
            }
            let g = describe_group(&mut c, 5, &m.group).await;
            assert_eq!(
                g.group_state.as_str(),
                "Empty",
                "v{v}: the group is empty after its only member left"
            );
            assert!(g.members.is_empty(), "v{v}: no members");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_groups_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::DescribeGroups, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let m = join_and_sync(&mut c, &format!("describe-v{v}"), "describe-topic").await;
            let missing = format!("describe-missing-v{v}");
            let mut req = DescribeGroupsRequest::default();
            req.groups = vec![group_id(&m.group), group_id(&missing)];
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.groups.len(), 2, "v{v}: one result per group");

            let g = &resp.groups[0];
            assert_eq!(g.group_id.0.as_str(), m.group, "v{v}: group id");
            assert_eq!(g.error_code, NONE, "v{v}: error");
            assert!(
                no_message(&g.error_message),
                "v{v}: error message {:?}",
                g.error_message
            );
            assert_eq!(
                (
                    g.group_state.as_str(),
                    g.protocol_type.as_str(),
                    g.protocol_data.as_str()
                ),
                ("Stable", PROTOCOL_TYPE, ASSIGNOR),
                "v{v}: state, protocol type and protocol"
            );
            assert_eq!(
                g.authorized_operations,
                i32::MIN,
                "v{v}: authorized operations not requested"
            );
            assert_eq!(g.members.len(), 1, "v{v}: one member");
            let mm = &g.members[0];
            assert_eq!(mm.member_id.as_str(), m.member_id, "v{v}: member id");
            assert_eq!(s(&mm.group_instance_id), None, "v{v}: dynamic member");
            assert_eq!(
                mm.client_id.as_str(),
                "fjord-proto-tests",
                "v{v}: client id from the request header"
            );
            assert_eq!(mm.client_host.as_str(), "/127.0.0.1", "v{v}: client host");
            assert_eq!(mm.member_metadata, m.metadata, "v{v}: subscription metadata");
            assert_eq!(mm.member_assignment, m.assignment, "v{v}: assignment");

            // KIP-1043: an unknown group is Dead, and from v6 GROUP_ID_NOT_FOUND.
            let g = &resp.groups[1];
            assert_eq!(g.group_id.0.as_str(), missing, "v{v}: unknown group id echo");
            let code = if v >= 6 { GROUP_ID_NOT_FOUND } else { NONE };
            assert_eq!(g.error_code, code, "v{v}: unknown group error");
            assert_eq!(g.group_state.as_str(), "Dead", "v{v}: unknown group state");
            assert!(g.members.is_empty(), "v{v}: unknown group members");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_groups_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::ListGroups, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let m = join_and_sync(&mut c, &format!("list-v{v}"), "list-topic").await;
            let list = |states: &[&str], types: &[&str]| {
                let mut req = ListGroupsRequest::default();
                req.states_filter = states.iter().map(|x| str_bytes(x)).collect();
                req.types_filter = types.iter().map(|x| str_bytes(x)).collect();
                req
            };
            let resp = c.call(v, &list(&[], &[])).await;
            assert_eq!((resp.throttle_time_ms, resp.error_code), (0, NONE), "v{v}: list");
            let ours: Vec<(&str, &str, &str)> = resp
                .groups
                .iter()
                .filter(|g| g.group_id.0.as_str() == m.group)
                .map(|g| (g.protocol_type.as_str(), g.group_state.as_str(), g.group_type.as_str()))
                .collect();
            let state = if v >= 4 { "Stable" } else { "" };
            let kind = if v >= 5 { "classic" } else { "" };
            assert_eq!(ours, vec![(PROTOCOL_TYPE, state, kind)], "v{v}: the group, once");

            let listed = |resp: &kafka_protocol::messages::ListGroupsResponse| {
                resp.groups.iter().any(|g| g.group_id.0.as_str() == m.group)
            };
            if v >= 4 {
                assert!(
                    listed(&c.call(v, &list(&["Stable"], &[])).await),
                    "v{v}: states filter Stable"
                );
                assert!(
                    !listed(&c.call(v, &list(&["Empty"], &[])).await),
                    "v{v}: states filter Empty"
                );
            }
            if v >= 5 {
                assert!(
                    listed(&c.call(v, &list(&[], &["classic"])).await),
                    "v{v}: types filter classic"
                );
                assert!(
                    !listed(&c.call(v, &list(&[], &["consumer"])).await),
                    "v{v}: types filter consumer"
                );
            }
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_groups_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::DeleteGroups, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = format!("delete-groups-topic-v{v}");
            create_topic(&mut c, &topic, 1, &[]).await;
            let empty = format!("delete-empty-v{v}");
            find_coordinator(&mut c, &empty).await;
            assert_eq!(
                commit(&mut c, 8, &empty, None, &topic, &[(0, 42)]).await,
                vec![(0, NONE)]
            );
            let active = join_and_sync(&mut c, &format!("delete-active-v{v}"), &topic).await;
            let missing = format!("delete-missing-v{v}");

            let mut req = DeleteGroupsRequest::default();
            req.groups_names = vec![group_id(&empty), group_id(&active.group), group_id(&missing)];
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0);
            let mut results: Vec<(String, i16)> = resp
                .results
                .iter()
                .map(|r| (r.group_id.0.to_string(), r.error_code))
                .collect();
            results.sort();
            let mut want = vec![
                (empty.clone(), NONE),
                (active.group.clone(), NON_EMPTY_GROUP),
                (missing, GROUP_ID_NOT_FOUND),
            ];
            want.sort();
            assert_eq!(results, want, "v{v}: per-group results");

            let committed = fetch_committed(&mut c, &empty, &topic, &[0]).await;
            assert_eq!(committed[0].1, -1, "v{v}: the deleted group's offsets are gone");
            assert_eq!(
                describe_group(&mut c, 5, &empty).await.group_state.as_str(),
                "Dead",
                "v{v}: the deleted group is Dead"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_commit_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::OffsetCommit, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = format!("commit-topic-v{v}");
            create_topic(&mut c, &topic, 2, &[]).await;

            // A standalone commit: generation -1, no member id.
            let group = format!("commit-v{v}");
            find_coordinator(&mut c, &group).await;
            let results = commit(&mut c, v, &group, None, &topic, &[(0, 42), (1, 7)]).await;
            assert_eq!(results, vec![(0, NONE), (1, NONE)], "v{v}: standalone commit");
            let committed = fetch_committed(&mut c, &group, &topic, &[0, 1]).await;
            let meta = Some("meta".to_string());
            assert_eq!(
                committed,
                vec![(0, 42, meta.clone(), NONE), (1, 7, meta.clone(), NONE)],
                "v{v}: committed offsets read back"
            );

            let results = commit(&mut c, v, &group, None, &format!("commit-missing-v{v}"), &[(0, 1)]).await;
            assert_eq!(
                results,
                vec![(0, UNKNOWN_TOPIC_OR_PARTITION)],
                "v{v}: commit for an unknown topic"
            );

            // A member's commit is checked against its generation.
            let m = join_and_sync(&mut c, &format!("commit-member-v{v}"), &topic).await;
            let as_member = Some((m.member_id.as_str(), m.generation_id));
            assert_eq!(
                commit(&mut c, v, &m.group, as_member, &topic, &[(0, 5)]).await,
                vec![(0, NONE)],
                "v{v}: member commit"
            );
            let stale = Some((m.member_id.as_str(), m.generation_id + 1));
            assert_eq!(
                commit(&mut c, v, &m.group, stale, &topic, &[(0, 6)]).await,
                vec![(0, ILLEGAL_GENERATION)],
                "v{v}: wrong generation"
            );
            let stranger = Some(("nobody", m.generation_id));
            assert_eq!(
                commit(&mut c, v, &m.group, stranger, &topic, &[(0, 6)]).await,
                vec![(0, UNKNOWN_MEMBER_ID)],
                "v{v}: unknown member"
            );
            let committed = fetch_committed(&mut c, &m.group, &topic, &[0]).await;
            assert_eq!(committed[0].1, 5, "v{v}: refused commits changed nothing");
        }
    })
    .await;
    broker.stop().await;
}

/// One partition of an OffsetFetch response, whatever the version's shape:
/// (partition, offset, leader epoch, metadata, error).
type FetchedOffset = (i32, i64, i32, Option<String>, i16);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_fetch_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::OffsetFetch, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = format!("fetch-offsets-topic-v{v}");
            create_topic(&mut c, &topic, 2, &[]).await;
            let group = format!("fetch-offsets-v{v}");
            find_coordinator(&mut c, &group).await;
            assert_eq!(
                commit(&mut c, 8, &group, None, &topic, &[(0, 42)]).await,
                vec![(0, NONE)]
            );

            let request = |group: &str, partitions: Option<&[i32]>| {
                let mut req = OffsetFetchRequest::default();
                if v >= 8 {
                    let mut g = OffsetFetchRequestGroup::default();
                    g.group_id = group_id(group);
                    g.topics = partitions.map(|ps| {
                        let mut t = OffsetFetchRequestTopics::default();
                        t.name = topic_name(&topic);
                        t.partition_indexes = ps.to_vec();
                        vec![t]
                    });
                    req.groups = vec![g];
                } else {
                    req.group_id = group_id(group);
                    req.topics = partitions.map(|ps| {
                        let mut t = OffsetFetchRequestTopic::default();
                        t.name = topic_name(&topic);
                        t.partition_indexes = ps.to_vec();
                        vec![t]
                    });
                }
                req
            };
            let fetched = |resp: &kafka_protocol::messages::OffsetFetchResponse, group: &str| -> Vec<FetchedOffset> {
                assert_eq!(resp.throttle_time_ms, 0);
                if v >= 8 {
                    assert_eq!(resp.groups.len(), 1, "v{v}: one group");
                    assert_eq!(resp.groups[0].group_id.0.as_str(), group, "v{v}: group echo");
                    assert_eq!(resp.groups[0].error_code, NONE, "v{v}: group error");
                    resp.groups[0]
                        .topics
                        .iter()
                        .filter(|t| t.name.0.as_str() == topic)
                        .flat_map(|t| &t.partitions)
                        .map(|p| {
                            (
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.as_ref().map(|m| m.to_string()),
                                p.error_code,
                            )
                        })
                        .collect()
                } else {
                    assert_eq!(resp.error_code, NONE, "v{v}: error");
                    resp.topics
                        .iter()
                        .filter(|t| t.name.0.as_str() == topic)
                        .flat_map(|t| &t.partitions)
                        .map(|p| {
                            (
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.as_ref().map(|m| m.to_string()),
                                p.error_code,
                            )
                        })
                        .collect()
                }
            };
            // The leader epoch is returned from v5; before, the default.
            let epoch = if v >= 5 {
                0
            } else {
                OffsetFetchResponsePartition::default().committed_leader_epoch
            };
            let none = if v >= 5 {
                -1
            } else {
                OffsetFetchResponsePartition::default().committed_leader_epoch
            };
            let committed = (0, 42, epoch, Some("meta".to_string()), NONE);
            // Kafka answers an uncommitted partition with INVALID_OFFSET and NO_METADATA ("").
            let uncommitted = (1, -1, none, Some(String::new()), NONE);

            let resp = c.call(v, &request(&group, Some(&[0, 1]))).await;
            assert_eq!(
                fetched(&resp, &group),
                vec![committed.clone(), uncommitted.clone()],
                "v{v}: named partitions"
            );
            if v >= 2 {
                let resp = c.call(v, &request(&group, None)).await;
                assert_eq!(
                    fetched(&resp, &group),
                    vec![committed.clone()],
                    "v{v}: all committed partitions (null topics)"
                );
            }
            let unknown = format!("fetch-offsets-unknown-v{v}");
            let resp = c.call(v, &request(&unknown, Some(&[0]))).await;
            let mut nothing = uncommitted.clone();
            nothing.0 = 0;
            assert_eq!(fetched(&resp, &unknown), vec![nothing], "v{v}: a group without offsets");
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_delete_every_version() {
    let (broker, ctx) = start_group_broker().await;
    each_version(ApiKey::OffsetDelete, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = format!("offset-delete-topic-v{v}");
            create_topic(&mut c, &topic, 2, &[]).await;
            let delete = |group: &str| {
                let mut p = OffsetDeleteRequestPartition::default();
                p.partition_index = 0;
                let mut t = OffsetDeleteRequestTopic::default();
                t.name = topic_name(&topic);
                t.partitions = vec![p];
                let mut req = OffsetDeleteRequest::default();
                req.group_id = group_id(group);
                req.topics = vec![t];
                req
            };
            let partition_errors = |resp: &kafka_protocol::messages::OffsetDeleteResponse| -> Vec<(i32, i16)> {
                resp.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| (p.partition_index, p.error_code))
                    .collect()
            };

            // An empty group: the offsets go.
            let group = format!("offset-delete-v{v}");
            find_coordinator(&mut c, &group).await;
            commit(&mut c, 8, &group, None, &topic, &[(0, 42), (1, 7)]).await;
            let resp = c.call(v, &delete(&group)).await;
            assert_eq!((resp.throttle_time_ms, resp.error_code), (0, NONE), "v{v}: delete");
            assert_eq!(resp.topics[0].name.0.as_str(), topic, "v{v}: topic echo");
            assert_eq!(partition_errors(&resp), vec![(0, NONE)], "v{v}: partition result");
            let committed: Vec<i64> = fetch_committed(&mut c, &group, &topic, &[0, 1])
                .await
                .iter()
                .map(|p| p.1)
                .collect();
            assert_eq!(committed, vec![-1, 7], "v{v}: only partition 0's offset was deleted");

            // A group consuming the topic keeps its offsets.
            let m = join_and_sync(&mut c, &format!("offset-delete-active-v{v}"), &topic).await;
            commit(
                &mut c,
                8,
                &m.group,
                Some((m.member_id.as_str(), m.generation_id)),
                &topic,
                &[(0, 3)],
            )
            .await;
            let resp = c.call(v, &delete(&m.group)).await;
            assert_eq!(resp.error_code, NONE, "v{v}: delete from an active group");
            assert_eq!(
                partition_errors(&resp),
                vec![(0, GROUP_SUBSCRIBED_TO_TOPIC)],
                "v{v}: subscribed topic"
            );

            let resp = c.call(v, &delete(&format!("offset-delete-missing-v{v}"))).await;
            assert_eq!(resp.error_code, GROUP_ID_NOT_FOUND, "v{v}: unknown group");
        }
    })
    .await;
    broker.stop().await;
}
