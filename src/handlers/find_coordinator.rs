//! FindCoordinator (single key up to v3, batched keys from v4): every group
//! is coordinated by this node, the leader of its `__consumer_offsets`
//! partition, which is created on first use. Transaction coordinators come
//! with the transactions issue.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{str_bytes, HandlerError, RequestContext};

const KEY_TYPE_GROUP: i8 = 0;

pub async fn handle(
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> Result<Option<FindCoordinatorResponse>, HandlerError> {
    let broker = &ctx.broker;
    let listener = broker.config.advertised_for(&ctx.listener);
    let outcome = if req.key_type != KEY_TYPE_GROUP {
        Err((
            ResponseError::CoordinatorNotAvailable,
            "transaction coordinators are not available yet".to_string(),
        ))
    } else {
        broker
            .ensure_offsets_topic()
            .map_err(|e| (ResponseError::CoordinatorNotAvailable, e.message))
    };
    let answer = |key: &str| -> (i16, Option<String>, i32) {
        match &outcome {
            Ok(()) if key.is_empty() && req.key_type == KEY_TYPE_GROUP => {
                (ResponseError::InvalidRequest.code(), Some("empty group id".into()), -1)
            }
            Ok(()) => (0, None, broker.config.node_id),
            Err((code, message)) => (code.code(), Some(message.clone()), -1),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version() < 4 {
        let (error, message, node) = answer(req.key.as_str());
        resp.error_code = error;
        if ctx.version() >= 1 {
            resp.error_message = message.map(str_bytes);
        }
        resp.node_id = BrokerId(node);
        if node >= 0 {
            resp.host = str_bytes(listener.host.clone());
            resp.port = listener.port as i32;
        } else {
            resp.port = -1;
        }
    } else {
        for key in &req.coordinator_keys {
            let (error, message, node) = answer(key.as_str());
            let mut c = Coordinator::default();
            c.key = key.clone();
            c.error_code = error;
            c.error_message = message.map(str_bytes);
            c.node_id = BrokerId(node);
            if node >= 0 {
                c.host = str_bytes(listener.host.clone());
                c.port = listener.port as i32;
            } else {
                c.port = -1;
            }
            resp.coordinators.push(c);
        }
    }
    Ok(Some(resp))
}
