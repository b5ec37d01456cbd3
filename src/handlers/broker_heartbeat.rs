//! BrokerHeartbeat (controller API): keeps a broker's session alive,
//! unfences it once it has caught up with the metadata log, and tells it
//! whether it is fenced.

use kafka_protocol::messages::{BrokerHeartbeatRequest, BrokerHeartbeatResponse};

use super::{HandlerError, RequestContext};
use crate::metadata::controller::task::{not_controller, HeartbeatRequest};

pub async fn handle(
    ctx: &RequestContext,
    req: BrokerHeartbeatRequest,
) -> Result<Option<BrokerHeartbeatResponse>, HandlerError> {
    let mut resp = BrokerHeartbeatResponse::default();
    resp.is_fenced = true;
    let outcome = match ctx.broker.controller() {
        Some(controller) => {
            controller
                .heartbeat(HeartbeatRequest {
                    broker_id: req.broker_id.0,
                    broker_epoch: req.broker_epoch,
                    current_metadata_offset: req.current_metadata_offset,
                    want_fence: req.want_fence,
                    want_shutdown: req.want_shut_down,
                })
                .await
        }
        None => Err(not_controller()),
    };
    match outcome {
        Ok(reply) => {
            resp.is_caught_up = reply.is_caught_up;
            resp.is_fenced = reply.is_fenced;
            resp.should_shut_down = reply.should_shut_down;
        }
        Err(e) => resp.error_code = e.code.code(),
    }
    Ok(Some(resp))
}
