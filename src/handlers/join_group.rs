//! JoinGroup: the first phase of a classic rebalance. The answer is held
//! until every member has rejoined (or the rebalance times out); the leader
//! gets every member's metadata to compute the assignment.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::group::state::JoinRequest;

pub async fn handle(ctx: &RequestContext, req: JoinGroupRequest) -> Result<Option<JoinGroupResponse>, HandlerError> {
    let group_id = req.group_id.0.to_string();
    let mut resp = JoinGroupResponse::default();
    if group_id.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        resp.generation_id = -1;
        resp.member_id = req.member_id;
        return Ok(Some(resp));
    }
    let rebalance_timeout_ms = if ctx.version() >= 1 {
        req.rebalance_timeout_ms
    } else {
        req.session_timeout_ms
    };
    let join = JoinRequest {
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.header.client_id.as_ref().map(|s| s.to_string()).unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        // KIP-394: from v4 a new member must come back with the id we hand it.
        require_known_member_id: ctx.version() >= 4,
    };
    let result = ctx.broker.groups.join(&group_id, join).await;
    resp.error_code = result.error.map_or(0, |e| e.code());
    resp.generation_id = result.generation_id;
    if ctx.version() >= 7 {
        resp.protocol_type = result.protocol_type.map(str_bytes);
    }
    resp.protocol_name = result.protocol_name.map(str_bytes);
    if ctx.version() < 7 && resp.protocol_name.is_none() {
        resp.protocol_name = Some(str_bytes(""));
    }
    resp.leader = str_bytes(result.leader);
    resp.member_id = str_bytes(result.member_id);
    resp.members = result
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default();
            m.member_id = str_bytes(id);
            if ctx.version() >= 5 {
                m.group_instance_id = instance.map(str_bytes);
            }
            m.metadata = metadata;
            m
        })
        .collect();
    Ok(Some(resp))
}
