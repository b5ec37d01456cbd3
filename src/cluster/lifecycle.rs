//! This broker's life in the cluster (Kafka's BrokerLifecycleManager): it
//! registers with the active controller as a new incarnation, heartbeats
//! every `broker.heartbeat.interval.ms` (carrying how far it has applied the
//! metadata log), is unfenced once caught up, and registers again if the
//! controller forgot it. Clients are served only once it is unfenced.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::broker_registration_request::Listener;
use kafka_protocol::messages::{
    BrokerHeartbeatRequest, BrokerHeartbeatResponse, BrokerId, BrokerRegistrationRequest, BrokerRegistrationResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use uuid::Uuid;

use crate::broker::Broker;
use crate::error::ApiError;
use crate::metadata::controller::task::HeartbeatRequest;
use crate::metadata::controller::{BrokerRegistrationRequest as Registration, HeartbeatReply};
use crate::metadata::BrokerEndpoint;

/// Kafka's SecurityProtocol id of PLAINTEXT, the only protocol fjord
/// listens with today.
pub const SECURITY_PROTOCOL_PLAINTEXT: i16 = 0;
const REGISTRATION_VERSION: i16 = 4;
const HEARTBEAT_VERSION: i16 = 1;
/// `initial.broker.registration.timeout.ms`'s default.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_millis(200);
/// Next heartbeat while registered but still fenced (this node has not yet
/// applied its registration record): Kafka's BrokerLifecycleManager asks
/// again after 10 ms while it is catching up.
const CATCH_UP_RETRY: Duration = Duration::from_millis(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a shutting-down broker waits for the controller to fence it.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// What this broker tells the controller about itself.
pub fn registration(broker: &Broker, incarnation_id: Uuid) -> Registration {
    Registration {
        broker_id: broker.config.node_id,
        incarnation_id,
        listeners: broker
            .config
            .advertised_listeners
            .iter()
            .map(|l| BrokerEndpoint {
                name: l.name.clone(),
                host: l.host.clone(),
                port: i32::from(l.port),
                security_protocol: SECURITY_PROTOCOL_PLAINTEXT,
            })
            .collect(),
        rack: broker.config.quorum.rack.clone(),
    }
}

/// Registers and heartbeats until the controller unfences this broker
/// (bounded by Kafka's `initial.broker.registration.timeout.ms`); returns
/// the broker epoch.
pub async fn join(broker: &Arc<Broker>, incarnation_id: Uuid) -> Result<i64, ApiError> {
    let deadline = tokio::time::Instant::now() + REGISTRATION_TIMEOUT;
    let mut last_error = None;
    while tokio::time::Instant::now() < deadline {
        let epoch = match register(broker, incarnation_id).await {
            Ok(epoch) => epoch,
            Err(e) => {
                tracing::debug!(error = %e.message, "broker registration failed; retrying");
                last_error = Some(e);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        loop {
            let mut delay = RETRY;
            let applied = broker.metadata.applied_index();
            match heartbeat(broker, epoch, false).await {
                Ok(reply) if !reply.is_fenced => {
                    // Serve only once this node's own image shows it
                    // unfenced, with the leaderships that came back with it.
                    let id = broker.config.node_id;
                    broker
                        .metadata
                        .wait_until(
                            |image| image.brokers.get(&id).is_some_and(|b| b.epoch == epoch && !b.fenced),
                            REGISTRATION_TIMEOUT,
                        )
                        .await;
                    tracing::info!(epoch, "registered with the controller and unfenced");
                    return Ok(epoch);
                }
                Ok(_) => delay = CATCH_UP_RETRY,
                Err(e) if is_registration_lost(&e) => break,
                Err(e) => {
                    tracing::debug!(error = %e.message, "heartbeat failed; retrying");
                    last_error = Some(e);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            if delay == CATCH_UP_RETRY {
                // Ask again as soon as this node has applied more of the
                // log (its registration), at the latest after the delay.
                broker.metadata.wait_for_index(applied + 1, delay).await;
            } else {
                tokio::time::sleep(delay).await;
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        ApiError::new(
            ResponseError::RequestTimedOut,
            "the controller did not unfence this broker within initial.broker.registration.timeout.ms",
        )
    }))
}

/// Heartbeats until shutdown; registers again when the controller has
/// forgotten this incarnation (a new controller that never saw it, or a
/// session that expired and was replaced).
pub async fn run(broker: Arc<Broker>, incarnation_id: Uuid, mut shutdown: watch::Receiver<bool>) {
    let epoch = &broker.registration_epoch;
    use std::sync::atomic::Ordering;
    let interval = Duration::from_millis(broker.config.quorum.broker_heartbeat_interval_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
        match heartbeat(&broker, epoch.load(Ordering::Relaxed), false).await {
            Ok(reply) if reply.is_fenced => tracing::debug!("fenced; heartbeating until caught up"),
            Ok(_) => {}
            Err(e) if is_registration_lost(&e) => match register(&broker, incarnation_id).await {
                Ok(new_epoch) => {
                    tracing::info!(epoch = new_epoch, "registered again with the controller");
                    epoch.store(new_epoch, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e.message, "registering again failed"),
            },
            Err(e) => tracing::debug!(error = %e.message, "heartbeat failed"),
        }
    }
}

/// Kafka's controlled shutdown, as far as fjord has it: a last heartbeat
/// asks the controller to fence this broker now, so its partitions are
/// reported offline at once instead of after `broker.session.timeout.ms`,
/// and its next start registers without waiting for the old session.
pub async fn leave(broker: &Arc<Broker>, epoch: i64) {
    match tokio::time::timeout(LEAVE_TIMEOUT, heartbeat(broker, epoch, true)).await {
        Ok(Ok(_)) => tracing::info!("the controller fenced this broker for shutdown"),
        Ok(Err(e)) => tracing::warn!(error = %e.message, "shutdown heartbeat refused"),
        Err(_) => tracing::warn!("no controller answered the shutdown heartbeat"),
    }
}

fn is_registration_lost(e: &ApiError) -> bool {
    matches!(
        e.code,
        ResponseError::StaleBrokerEpoch | ResponseError::BrokerIdNotRegistered
    )
}

fn code_error(code: i16, what: &str) -> Result<(), ApiError> {
    if code == 0 {
        return Ok(());
    }
    let e = ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError);
    Err(ApiError::new(e, format!("{what} refused: {e:?}")))
}

async fn register(broker: &Arc<Broker>, incarnation_id: Uuid) -> Result<i64, ApiError> {
    let reg = registration(broker, incarnation_id);
    let Some(channel) = broker.controller_channel() else {
        let controller = broker
            .controller()
            .ok_or_else(crate::metadata::controller::task::not_controller)?;
        return controller.register(reg).await;
    };
    let mut req = BrokerRegistrationRequest::default();
    req.broker_id = BrokerId(reg.broker_id);
    req.cluster_id = StrBytes::from_string(broker.cluster_id.clone());
    req.incarnation_id = reg.incarnation_id;
    req.rack = reg.rack.clone().map(StrBytes::from_string);
    req.previous_broker_epoch = -1;
    for l in &reg.listeners {
        let mut listener = Listener::default();
        listener.name = StrBytes::from_string(l.name.clone());
        listener.host = StrBytes::from_string(l.host.clone());
        listener.port = l.port as u16;
        listener.security_protocol = l.security_protocol;
        req.listeners.push(listener);
    }
    let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
    let not_controller = |r: &BrokerRegistrationResponse| r.error_code == ResponseError::NotController.code();
    let resp = channel
        .call(&req, REGISTRATION_VERSION, not_controller, deadline)
        .await
        .map_err(|e| ApiError::new(ResponseError::RequestTimedOut, e.to_string()))?;
    code_error(resp.error_code, "broker registration")?;
    Ok(resp.broker_epoch)
}

async fn heartbeat(broker: &Arc<Broker>, epoch: i64, want_shutdown: bool) -> Result<HeartbeatReply, ApiError> {
    let applied = broker.metadata.applied_index() as i64;
    let Some(channel) = broker.controller_channel() else {
        let controller = broker
            .controller()
            .ok_or_else(crate::metadata::controller::task::not_controller)?;
        return controller
            .heartbeat(HeartbeatRequest {
                broker_id: broker.config.node_id,
                broker_epoch: epoch,
                current_metadata_offset: applied,
                want_fence: false,
                want_shutdown,
            })
            .await;
    };
    let mut req = BrokerHeartbeatRequest::default();
    req.broker_id = BrokerId(broker.config.node_id);
    req.broker_epoch = epoch;
    req.current_metadata_offset = applied;
    req.want_shut_down = want_shutdown;
    let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
    let not_controller = |r: &BrokerHeartbeatResponse| r.error_code == ResponseError::NotController.code();
    let resp = channel
        .call(&req, HEARTBEAT_VERSION, not_controller, deadline)
        .await
        .map_err(|e| ApiError::new(ResponseError::RequestTimedOut, e.to_string()))?;
    code_error(resp.error_code, "broker heartbeat")?;
    Ok(HeartbeatReply {
        is_caught_up: resp.is_caught_up,
        is_fenced: resp.is_fenced,
        should_shut_down: resp.should_shut_down,
    })
}
