//! BrokerRegistration (controller API): a broker joins the cluster as a new
//! incarnation. The active controller records it fenced; a broker-only node
//! also joins the metadata quorum as a learner (a KRaft observer), reached
//! on its inter-broker listener.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{BrokerRegistrationRequest, BrokerRegistrationResponse};

use super::{HandlerError, RequestContext};
use crate::cluster::lifecycle::SECURITY_PROTOCOL_PLAINTEXT;
use crate::metadata::controller::task::not_controller;
use crate::metadata::controller::BrokerRegistrationRequest as Registration;
use crate::metadata::BrokerEndpoint;

pub async fn handle(
    ctx: &RequestContext,
    req: BrokerRegistrationRequest,
) -> Result<Option<BrokerRegistrationResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut resp = BrokerRegistrationResponse::default();
    resp.broker_epoch = -1;
    if req.cluster_id.as_str() != broker.cluster_id {
        resp.error_code = ResponseError::InconsistentClusterId.code();
        return Ok(Some(resp));
    }
    if req
        .listeners
        .iter()
        .any(|l| l.security_protocol != SECURITY_PROTOCOL_PLAINTEXT)
    {
        resp.error_code = ResponseError::InvalidRegistration.code();
        return Ok(Some(resp));
    }
    let registration = Registration {
        broker_id: req.broker_id.0,
        incarnation_id: req.incarnation_id,
        listeners: req
            .listeners
            .iter()
            .map(|l| BrokerEndpoint {
                name: l.name.to_string(),
                host: l.host.to_string(),
                port: i32::from(l.port),
                security_protocol: l.security_protocol,
            })
            .collect(),
        rack: req.rack.as_ref().map(|r| r.to_string()),
    };
    // A learner is reached on the inter-broker listener (Kafka requires
    // every broker to configure the same one), else its first listener.
    let inter_broker = &broker.config.quorum.inter_broker_listener_name;
    let learner_addr = registration
        .listeners
        .iter()
        .find(|l| &l.name == inter_broker)
        .or(registration.listeners.first())
        .map(|l| format!("{}:{}", l.host, l.port));
    let outcome = match broker.controller() {
        Some(controller) => controller.register(registration).await,
        None => Err(not_controller()),
    };
    match outcome {
        Ok(epoch) => {
            resp.broker_epoch = epoch;
            let is_voter = broker.config.quorum.voters.contains_key(&req.broker_id.0);
            if let (false, Some(addr)) = (is_voter, learner_addr) {
                if let Err(e) = broker.raft.add_learner(req.broker_id.0, addr).await {
                    tracing::warn!(broker = req.broker_id.0, error = %e, "could not add the broker to the metadata quorum as a learner");
                }
            }
        }
        Err(e) => resp.error_code = e.code.code(),
    }
    Ok(Some(resp))
}
