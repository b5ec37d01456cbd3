//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::{HandlerError, RequestContext};

pub async fn handle(ctx: &RequestContext, req: HeartbeatRequest) -> Result<Option<HeartbeatResponse>, HandlerError> {
    let mut resp = HeartbeatResponse::default();
    let group_id = req.group_id.0.as_str();
    resp.error_code = if group_id.is_empty() {
        ResponseError::InvalidGroupId.code()
    } else {
        ctx.broker
            .groups
            .heartbeat(
                group_id,
                req.member_id.as_str(),
                req.group_instance_id.as_ref().map(|s| s.as_str()),
                req.generation_id,
            )
            .map_or(0, |e| e.code())
    };
    Ok(Some(resp))
}
