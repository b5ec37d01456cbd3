//! The replicas this broker hosts: each partition's role (leader or
//! follower), high watermark and waiters (`partition.rs`), the set of them
//! kept in step with the metadata image (`replica_manager.rs`), the
//! fetchers that make followers copy their leaders (`fetcher.rs`), and
//! KIP-227 fetch sessions.

pub(crate) mod fetch_session;
pub mod fetcher;
pub mod partition;
pub mod replica_manager;

pub use partition::Partition;
pub use replica_manager::ReplicaManager;
