//! ListGroups, with the state (v4+) and type (v5+, KIP-848) filters.

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{str_bytes, HandlerError, RequestContext};

/// Every group fjord runs is a classic group.
const GROUP_TYPE: &str = "classic";

pub async fn handle(ctx: &RequestContext, req: ListGroupsRequest) -> Result<Option<ListGroupsResponse>, HandlerError> {
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_ascii_lowercase()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_ascii_lowercase()).collect();
    let mut resp = ListGroupsResponse::default();
    for (id, protocol_type, state) in ctx.broker.groups.list() {
        if !states.is_empty() && !states.contains(&state.name().to_ascii_lowercase()) {
            continue;
        }
        if !types.is_empty() && !types.iter().any(|t| t == GROUP_TYPE) {
            continue;
        }
        let mut g = ListedGroup::default();
        g.group_id = GroupId(str_bytes(id));
        g.protocol_type = str_bytes(protocol_type);
        if ctx.version() >= 4 {
            g.group_state = str_bytes(state.name());
        }
        if ctx.version() >= 5 {
            g.group_type = str_bytes(GROUP_TYPE);
        }
        resp.groups.push(g);
    }
    Ok(Some(resp))
}
