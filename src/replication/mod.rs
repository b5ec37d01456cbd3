//! Partition leadership state on this broker: each hosted partition's log,
//! its high watermark and the delayed fetches waiting on it. On a single
//! node every replica is the leader and the ISR is itself; followers join
//! here with the cluster issue.

pub(crate) mod fetch_session;
pub mod partition;
pub mod replica_manager;

pub use partition::Partition;
pub use replica_manager::ReplicaManager;
