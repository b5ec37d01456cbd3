//! LeaveGroup: one member (v0-2) or a batch of members by member or
//! instance id (v3+, KIP-345).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::{HandlerError, RequestContext};

pub async fn handle(ctx: &RequestContext, req: LeaveGroupRequest) -> Result<Option<LeaveGroupResponse>, HandlerError> {
    let group_id = req.group_id.0.to_string();
    let members: Vec<(String, Option<String>)> = if ctx.version() < 3 {
        vec![(req.member_id.to_string(), None)]
    } else {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    };
    let mut resp = LeaveGroupResponse::default();
    match ctx.broker.groups.leave(&group_id, &members) {
        Err(e) => resp.error_code = e.code(),
        Ok(results) => {
            if ctx.version() < 3 {
                resp.error_code = results[0].map_or(0, |e| e.code());
            } else {
                resp.members = req
                    .members
                    .into_iter()
                    .zip(results)
                    .map(|(m, r)| {
                        let mut out = MemberResponse::default();
                        out.member_id = m.member_id;
                        out.group_instance_id = m.group_instance_id;
                        out.error_code = r.map_or(0, |e| e.code());
                        out
                    })
                    .collect();
            }
        }
    }
    Ok(Some(resp))
}
