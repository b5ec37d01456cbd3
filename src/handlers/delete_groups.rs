//! DeleteGroups: removes Empty groups and their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::{HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DeleteGroupsRequest,
) -> Result<Option<DeleteGroupsResponse>, HandlerError> {
    let mut resp = DeleteGroupsResponse::default();
    for group_id in req.groups_names {
        let mut r = DeletableGroupResult::default();
        if let Err(e) = ctx.broker.groups.delete_group(group_id.0.as_str()) {
            r.error_code = e.code();
        } else {
            tracing::info!(group = %group_id.0.as_str(), "deleted group");
        }
        r.group_id = group_id;
        resp.results.push(r);
    }
    Ok(Some(resp))
}
