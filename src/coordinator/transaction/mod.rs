//! The transaction coordinator (Kafka's TransactionCoordinator), built as
//! `group/` is: a sans-I/O state machine (`state`), the records of the
//! compacted internal topic `__transaction_state` in Kafka's formats
//! (`records`), and the coordinator that runs them (`coordinator`). A transactional id's coordinator is the leader of
//! partition `hash(transactional.id) % transaction.state.log.num.partitions`.

pub mod coordinator;
pub mod records;
pub mod state;

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
