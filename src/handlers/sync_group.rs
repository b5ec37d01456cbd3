//! SyncGroup: the second phase of a classic rebalance. The leader sends the
//! assignment it computed; every member gets its own share.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{str_bytes, HandlerError, RequestContext};

pub async fn handle(ctx: &RequestContext, req: SyncGroupRequest) -> Result<Option<SyncGroupResponse>, HandlerError> {
    let group_id = req.group_id.0.to_string();
    let mut resp = SyncGroupResponse::default();
    if group_id.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        return Ok(Some(resp));
    }
    let assignments = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let result = ctx
        .broker
        .groups
        .sync(
            &group_id,
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id,
            req.protocol_type.as_ref().map(|s| s.as_str()),
            req.protocol_name.as_ref().map(|s| s.as_str()),
            assignments,
        )
        .await;
    resp.error_code = result.error.map_or(0, |e| e.code());
    if ctx.version() >= 5 {
        resp.protocol_type = result.protocol_type.map(str_bytes);
        resp.protocol_name = result.protocol_name.map(str_bytes);
    }
    resp.assignment = result.assignment;
    Ok(Some(resp))
}
