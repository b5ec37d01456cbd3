//! Cluster metadata, KRaft-style: typed records in a replicated log (the
//! openraft quorum in `raft/`), applied in order to an in-memory image on
//! every node. The controller (`controller/`) decides changes; `local` is
//! the image as this node has applied it.

pub mod controller;
pub mod features;
pub mod image;
pub mod local;
pub mod raft;
pub mod records;

pub use image::{BrokerRegistration, ClusterImage, LiveBroker, PartitionImage, TopicImage};
pub use records::{BrokerEndpoint, MetadataRecord};

/// Kafka keeps its metadata log in the `__cluster_metadata-0` directory.
pub const METADATA_DIR: &str = "__cluster_metadata-0";

pub use features::{METADATA_VERSION, METADATA_VERSION_LEVEL};

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata log I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes the records at the front of a metadata log file, stopping at a
/// torn or corrupt tail; returns them and the bytes they span.
pub(crate) fn decode_log(bytes: &[u8]) -> (Vec<MetadataRecord>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    loop {
        match MetadataRecord::decode(&bytes[at..]) {
            Ok(Some((record, used))) => {
                records.push(record);
                at += used;
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(position = at, error = %e, "metadata log has a corrupt tail");
                break;
            }
        }
    }
    (records, at)
}
