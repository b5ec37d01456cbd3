//! Coordinators: state machines that sit beside the log (producer ids,
//! consumer groups, transactions).

pub mod group;
pub mod internal_topic;
pub mod producer_ids;
pub mod transaction;
