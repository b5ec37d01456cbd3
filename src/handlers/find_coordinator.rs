//! FindCoordinator (single key up to v3, batched keys from v4): a group is
//! coordinated by the leader of its `__consumer_offsets` partition, which
//! is created on first use. Transaction coordinators come with the
//! transactions issue.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::group::OFFSETS_TOPIC;

const KEY_TYPE_GROUP: i8 = 0;

pub async fn handle(
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> Result<Option<FindCoordinatorResponse>, HandlerError> {
    let broker = &ctx.broker;
    let outcome = if req.key_type != KEY_TYPE_GROUP {
        Err((
            ResponseError::CoordinatorNotAvailable,
            "transaction coordinators are not available yet".to_string(),
        ))
    } else {
        broker
            .ensure_offsets_topic()
            .await
            .map_err(|e| (ResponseError::CoordinatorNotAvailable, e.message))
    };
    let image = broker.metadata.image();
    // The coordinator of a group is the leader of its `__consumer_offsets`
    // partition, at its endpoint on the client's listener.
    let answer = |key: &str| -> Result<(i32, String, i32), (i16, Option<String>)> {
        if let Err((code, message)) = &outcome {
            return Err((code.code(), Some(message.clone())));
        }
        if key.is_empty() {
            return Err((ResponseError::InvalidRequest.code(), Some("empty group id".into())));
        }
        let partition = broker.groups.partition_for(key);
        let leader = image
            .topics
            .get(OFFSETS_TOPIC)
            .and_then(|t| t.partitions.get(&partition))
            .map_or(-1, |p| p.leader);
        match image.broker_endpoint(leader, &ctx.listener) {
            Some(e) if image.brokers.get(&leader).is_some_and(|b| !b.fenced) => Ok((leader, e.host.clone(), e.port)),
            _ => Err((
                ResponseError::CoordinatorNotAvailable.code(),
                Some(format!(
                    "the leader of {OFFSETS_TOPIC} partition {partition} is not available"
                )),
            )),
        }
    };
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version() < 4 {
        match answer(req.key.as_str()) {
            Ok((node, host, port)) => {
                resp.node_id = BrokerId(node);
                resp.host = str_bytes(host);
                resp.port = port;
            }
            Err((error, message)) => {
                resp.error_code = error;
                if ctx.version() >= 1 {
                    resp.error_message = message.map(str_bytes);
                }
                resp.node_id = BrokerId(-1);
                resp.port = -1;
            }
        }
    } else {
        for key in &req.coordinator_keys {
            let mut c = Coordinator::default();
            c.key = key.clone();
            match answer(key.as_str()) {
                Ok((node, host, port)) => {
                    c.node_id = BrokerId(node);
                    c.host = str_bytes(host);
                    c.port = port;
                }
                Err((error, message)) => {
                    c.error_code = error;
                    c.error_message = message.map(str_bytes);
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                }
            }
            resp.coordinators.push(c);
        }
    }
    Ok(Some(resp))
}
