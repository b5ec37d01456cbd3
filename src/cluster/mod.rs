//! How this node works with the rest of the cluster: a Kafka connection to
//! another node, and the channel to the active controller.

pub mod channel;
pub mod client;
pub mod isr;
pub mod lifecycle;
