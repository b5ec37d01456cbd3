//! The order in which one connection's requests take effect. Kafka applies
//! them one after another; fjord starts each request as soon as every
//! earlier request it conflicts with (handlers/access.rs) has taken effect,
//! so requests that cannot see each other overlap and all others keep their
//! order. Responses are written in request order regardless (connection.rs).

use tokio::sync::watch;

use crate::handlers::access::Access;

/// The earlier requests of one connection that have not taken effect yet.
#[derive(Default)]
pub(crate) struct Sequencer {
    pending: Vec<Pending>,
}

struct Pending {
    access: Access,
    /// Closed when that request has taken effect.
    done: watch::Receiver<()>,
}

/// Held by a request while it works: dropping it tells the later requests
/// waiting on it that it has taken effect.
pub(crate) struct Done {
    _sender: watch::Sender<()>,
}

/// What a request waits for before it may start.
pub(crate) struct Turn(Vec<watch::Receiver<()>>);

impl Turn {
    pub(crate) async fn wait(self) {
        for mut earlier in self.0 {
            // Nothing is ever sent: this returns once the sender is dropped.
            let _ = earlier.changed().await;
        }
    }
}

impl Sequencer {
    /// Called for each request in arrival order.
    pub(crate) fn admit(&mut self, access: Access) -> (Turn, Done) {
        self.pending.retain(|p| p.done.has_changed().is_ok());
        let before = self
            .pending
            .iter()
            .filter(|p| access.must_follow(&p.access))
            .map(|p| p.done.clone())
            .collect();
        let (tx, rx) = watch::channel(());
        self.pending.push(Pending { access, done: rx });
        (Turn(before), Done { _sender: tx })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::handlers::access::*;

    fn started(turn: Turn) -> tokio::task::JoinHandle<()> {
        tokio::spawn(turn.wait())
    }

    async fn finishes(handle: &mut tokio::task::JoinHandle<()>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), handle).await.is_ok()
    }

    #[tokio::test]
    async fn a_conflicting_request_waits_until_the_earlier_one_is_done() {
        let mut seq = Sequencer::default();
        let produce = Access::reads(TOPICS).writes(LOG);
        let fetch = Access::reads(TOPICS.and(LOG));
        let (first, first_done) = seq.admit(produce);
        assert!(finishes(&mut started(first)).await);
        let (second, second_done) = seq.admit(fetch);
        let mut second = started(second);
        assert!(!finishes(&mut second).await, "the fetch waits for the produce");
        drop(first_done);
        assert!(finishes(&mut second).await);
        drop(second_done);
    }

    #[tokio::test]
    async fn a_request_on_other_state_starts_at_once() {
        let mut seq = Sequencer::default();
        let (_, _fetch_done) = seq.admit(Access::reads(TOPICS.and(LOG)));
        let (commit, _commit_done) = seq.admit(Access::reads(TOPICS).writes(GROUPS));
        assert!(
            finishes(&mut started(commit)).await,
            "the commit does not wait for the fetch"
        );
    }

    #[tokio::test]
    async fn finished_requests_are_forgotten() {
        let mut seq = Sequencer::default();
        for _ in 0..100 {
            let (turn, done) = seq.admit(Access::ORDERED);
            turn.wait().await;
            drop(done);
        }
        assert!(seq.pending.len() <= 1);
    }
}
