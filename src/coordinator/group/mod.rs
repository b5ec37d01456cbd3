//! The classic consumer-group coordinator. Group state and committed offsets
//! are records in the compacted internal topic `__consumer_offsets`; a
//! group's coordinator is the leader of partition
//! `hash(group.id) % offsets.topic.num.partitions`, and its state is rebuilt
//! by replaying that partition.

pub mod coordinator;
pub mod records;
pub mod state;

pub use coordinator::{GroupCoordinator, TxnProducer, OFFSETS_TOPIC};
