//! FindCoordinator (single key up to v3, batched keys from v4): a group is
//! coordinated by the leader of its `__consumer_offsets` partition, a
//! transactional id by the leader of its `__transaction_state` partition;
//! each topic is created on first use.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn handle(
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> Result<Option<FindCoordinatorResponse>, HandlerError> {
    let broker = &ctx.broker;
    let (topic, ensured) = match req.key_type {
        KEY_TYPE_GROUP => (OFFSETS_TOPIC, broker.ensure_offsets_topic().await),
        KEY_TYPE_TRANSACTION => (TRANSACTION_STATE_TOPIC, broker.ensure_transaction_topic().await),
        other => {
            let mut resp = FindCoordinatorResponse::default();
            let message = format!("unknown coordinator key type {other}");
            if ctx.version() < 4 {
                resp.error_code = ResponseError::InvalidRequest.code();
                if ctx.version() >= 1 {
                    resp.error_message = Some(str_bytes(message));
                }
                resp.node_id = BrokerId(-1);
                resp.port = -1;
            } else {
                for key in &req.coordinator_keys {
                    let mut c = Coordinator::default();
                    c.key = key.clone();
                    c.error_code = ResponseError::InvalidRequest.code();
                    c.error_message = Some(str_bytes(message.clone()));
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                    resp.coordinators.push(c);
                }
            }
            return Ok(Some(resp));
        }
    };
    let outcome = ensured.map_err(|e| (ResponseError::CoordinatorNotAvailable, e.message));
    let image = broker.metadata.image();
    // The coordinator is the leader of the key's partition of the internal
    // topic, at its endpoint on the client's listener.
    let answer = |key: &str| -> Result<(i32, String, i32), (i16, Option<String>)> {
        if let Err((code, message)) = &outcome {
            return Err((code.code(), Some(message.clone())));
        }
        if key.is_empty() {
            let what = if req.key_type == KEY_TYPE_GROUP {
                "group id"
            } else {
                "transactional id"
            };
            return Err((ResponseError::InvalidRequest.code(), Some(format!("empty {what}"))));
        }
        let partition = if req.key_type == KEY_TYPE_GROUP {
            broker.groups.partition_for(key)
        } else {
            broker.transactions.partition_for(key)
        };
        let leader = image
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(&partition))
            .map_or(-1, |p| p.leader);
        match image.broker_endpoint(leader, &ctx.listener) {
            Some(e) if image.brokers.get(&leader).is_some_and(|b| !b.fenced) => Ok((leader, e.host.clone(), e.port)),
            _ => Err((
                ResponseError::CoordinatorNotAvailable.code(),
                Some(format!("the leader of {topic} partition {partition} is not available")),
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
