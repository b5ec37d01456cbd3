//! The transaction coordinator (Kafka's TransactionCoordinator), built as
//! `group/` is: a sans-I/O state machine (`state`), the records of the
//! compacted internal topic `__transaction_state` in Kafka's formats
//! (`records`), and the coordinator that runs them (`coordinator`). A transactional id's coordinator is the leader of
//! partition `hash(transactional.id) % transaction.state.log.num.partitions`.

pub mod coordinator;
pub mod records;
pub mod state;

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Fault injection for the crash tests (`tests/txn_crash.rs`): when the
/// environment names a step of EndTxn in `FJORD_TEST_CRASH_AT`, the process
/// aborts there, stopping as a `kill -9` would (nothing flushed, nothing
/// cleaned up). Steps: `end-txn-before-prepare`, `end-txn-after-prepare`,
/// `end-txn-between-markers`, `end-txn-before-complete`.
pub(crate) fn crash_point(step: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if AT.get_or_init(|| std::env::var("FJORD_TEST_CRASH_AT").ok()).as_deref() == Some(step) {
        tracing::error!(step, "FJORD_TEST_CRASH_AT names this step: aborting the process");
        std::process::abort();
    }
}
