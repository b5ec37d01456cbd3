//! The controller's decisions: admin requests and broker lifecycle events
//! turned into metadata records against the current image, with Kafka's
//! validation and error codes. Pure functions of (image, request, time or
//! seed): the controller task commits what they return.

pub mod brokers;
pub mod change;
pub mod configs;
pub mod partitions;
pub mod placement;
pub mod reassignments;
pub mod task;
pub mod topics;

pub use brokers::{
    fence_broker, heartbeat, next_broker_epoch, register_broker, unfence_broker, BrokerHeartbeats,
    BrokerRegistrationRequest, HeartbeatReply, Registered, NO_LEADER,
};
pub use configs::{
    activation_records, alter_broker_configs, alter_topic_configs, validate_broker_resource, validate_topic_configs,
};
pub use placement::place;
pub use topics::{create_partitions, create_topic, delete_topic, validate_topic_name, NewTopic};
