//! DescribeGroups: state, protocol and members (with metadata and
//! assignment once Stable). Unknown groups are reported Dead, and from v6
//! with GROUP_ID_NOT_FOUND (KIP-1043).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{str_bytes, HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
) -> Result<Option<DescribeGroupsResponse>, HandlerError> {
    let mut resp = DescribeGroupsResponse::default();
    for group_id in req.groups {
        let mut d = DescribedGroup::default();
        if let Some(e) = ctx.broker.groups.coordinator_error(group_id.0.as_str()) {
            d.error_code = e.code();
            d.group_id = group_id;
            resp.groups.push(d);
            continue;
        }
        match ctx.broker.groups.describe(group_id.0.as_str()) {
            None => {
                d.group_state = str_bytes("Dead");
                if ctx.version() >= 6 {
                    d.error_code = ResponseError::GroupIdNotFound.code();
                    d.error_message = Some(str_bytes(format!("Group {} not found.", group_id.0.as_str())));
                }
            }
            Some(g) => {
                d.group_state = str_bytes(g.state.name());
                d.protocol_type = str_bytes(g.protocol_type);
                d.protocol_data = str_bytes(g.protocol_name);
                d.members = g
                    .members
                    .into_iter()
                    .map(|(id, instance, client_id, host, metadata, assignment)| {
                        let mut m = DescribedGroupMember::default();
                        m.member_id = str_bytes(id);
                        if ctx.version() >= 4 {
                            m.group_instance_id = instance.map(str_bytes);
                        }
                        m.client_id = str_bytes(client_id);
                        m.client_host = str_bytes(host);
                        m.member_metadata = metadata;
                        m.member_assignment = assignment;
                        m
                    })
                    .collect();
            }
        }
        d.group_id = group_id;
        resp.groups.push(d);
    }
    Ok(Some(resp))
}
