//! Coordinators: state machines that sit beside the log (producer ids here;
//! consumer groups and transactions join with their issues).

pub mod group;
pub mod producer_ids;
