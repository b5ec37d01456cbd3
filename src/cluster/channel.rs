//! The channel from this node to the active controller (Kafka's
//! NodeToControllerChannelManager): broker registration and heartbeats,
//! AllocateProducerIds, topic auto-creation and the admin requests a broker
//! forwards. The active controller is the metadata quorum's leader; until
//! this node knows it (a broker that has not yet joined the quorum as a
//! learner), the voters are tried in turn.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Request;

use super::client::{ClientError, NodeClient};

/// How long one attempt waits for the controller.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between attempts while no controller answers.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

pub type LeaderHint = Arc<dyn Fn() -> Option<i32> + Send + Sync>;

pub struct ControllerChannel {
    voters: BTreeMap<i32, NodeClient>,
    leader: LeaderHint,
    /// Round-robin position when the leader is unknown or unreachable.
    next: AtomicUsize,
}

impl ControllerChannel {
    /// `voters`: node id -> controller listener address.
    pub fn new(voters: &BTreeMap<i32, String>, node_id: i32, leader: LeaderHint) -> Self {
        let client_id = format!("fjord-{node_id}-to-controller");
        ControllerChannel {
            voters: voters
                .iter()
                .map(|(id, addr)| (*id, NodeClient::new(addr.clone(), &client_id)))
                .collect(),
            leader,
            next: AtomicUsize::new(0),
        }
    }

    /// The node to try next: the known leader, else the voters in turn.
    fn target(&self, failed: Option<i32>) -> Option<(i32, &NodeClient)> {
        if let Some(id) = (self.leader)().filter(|id| Some(*id) != failed) {
            if let Some(c) = self.voters.get(&id) {
                return Some((id, c));
            }
        }
        if self.voters.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.voters.len();
        self.voters.iter().nth(i).map(|(id, c)| (*id, c))
    }

    /// Calls the active controller with a typed request until `deadline`:
    /// connection failures, timeouts and answers for which `not_controller`
    /// is true (the node is not, or no longer, the leader) move on to the
    /// next candidate.
    pub async fn call<R: Request>(
        &self,
        request: &R,
        version: i16,
        not_controller: impl Fn(&R::Response) -> bool,
        deadline: tokio::time::Instant,
    ) -> Result<R::Response, ClientError> {
        let mut failed = None;
        loop {
            let Some((id, client)) = self.target(failed) else {
                return Err(no_voters());
            };
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outcome = client.call(request, version, remaining.min(ATTEMPT_TIMEOUT)).await;
            match outcome {
                Ok(r) if !not_controller(&r) => return Ok(r),
                Ok(_) => tracing::debug!(node = id, "not the active controller; trying another"),
                Err(e) => {
                    if tokio::time::Instant::now() + RETRY_BACKOFF >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(node = id, error = %e, "controller call failed; retrying");
                }
            }
            failed = Some(id);
            if tokio::time::Instant::now() + RETRY_BACKOFF >= deadline {
                return Err(ClientError::Timeout {
                    addr: client.addr().to_string(),
                    timeout_ms: 0,
                });
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    /// Forwards a client's request body to the active controller as it
    /// is, returning the answer's body. Retries only while nothing was
    /// sent (the node is unreachable): a request that reached a controller
    /// is not sent twice.
    pub async fn forward(
        &self,
        api: ApiKey,
        version: i16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut failed = None;
        loop {
            let Some((id, client)) = self.target(failed) else {
                return Err(no_voters());
            };
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match client.call_raw(api, version, body.clone(), remaining).await {
                Err(ClientError::Connect { .. }) if tokio::time::Instant::now() + RETRY_BACKOFF < deadline => {
                    failed = Some(id);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                other => return other,
            }
        }
    }
}

fn no_voters() -> ClientError {
    ClientError::Connect {
        addr: "controller.quorum.voters".into(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no voters configured"),
    }
}
