//! Cluster metadata, KRaft-style: typed records appended to a durable
//! metadata log and applied, in order, to an in-memory image. Here one node
//! writes the log; the cluster issue puts it on an openraft quorum behind
//! the same `write` entry point, so handlers do not change.

pub mod controller;
pub mod image;
pub mod records;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use bytes::BytesMut;

pub use image::{ClusterImage, PartitionImage, TopicImage};
pub use records::MetadataRecord;

/// Kafka keeps its metadata log in the `__cluster_metadata-0` directory.
pub const METADATA_DIR: &str = "__cluster_metadata-0";
const METADATA_LOG: &str = "metadata.log";

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata log I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub struct MetadataStore {
    log: Mutex<File>,
    image: RwLock<Arc<ClusterImage>>,
    path: PathBuf,
}

impl MetadataStore {
    /// Opens the metadata log under `dir`, replays it into an image and cuts
    /// a torn tail left by a crash.
    pub fn open(dir: &Path) -> Result<Self, MetadataError> {
        let dir = dir.join(METADATA_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(METADATA_LOG);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let bytes = std::fs::read(&path)?;
        let mut image = ClusterImage::default();
        let mut at = 0usize;
        let mut count = 0usize;
        loop {
            match MetadataRecord::decode(&bytes[at..]) {
                Ok(Some((record, used))) => {
                    image.apply(&record);
                    at += used;
                    count += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(path = %path.display(), position = at, error = %e, "metadata log has a corrupt tail");
                    break;
                }
            }
        }
        if at < bytes.len() {
            tracing::warn!(path = %path.display(), position = at, "cutting torn metadata log tail");
            file.set_len(at as u64)?;
            file.flush()?;
        }
        tracing::debug!(records = count, topics = image.topics.len(), "replayed metadata log");
        Ok(MetadataStore {
            log: Mutex::new(file),
            image: RwLock::new(Arc::new(image)),
            path,
        })
    }

    /// The current image; cheap, never blocks on writers for long.
    pub fn image(&self) -> Arc<ClusterImage> {
        self.image.read().expect("image lock is never poisoned").clone()
    }

    /// The single way to change metadata: `decide` sees the current image
    /// under the writer lock and returns the records to commit (or an error
    /// to return untouched). Records are made durable before they are
    /// applied, and `publish` sees the new image while the lock is still
    /// held, so publications happen in commit order.
    pub fn write<E>(
        &self,
        decide: impl FnOnce(&ClusterImage) -> Result<Vec<MetadataRecord>, E>,
        publish: impl FnOnce(&ClusterImage, &[MetadataRecord]),
    ) -> Result<Result<Arc<ClusterImage>, E>, MetadataError> {
        let mut log = self.log.lock().expect("metadata log lock is never poisoned");
        let current = self.image();
        let records = match decide(&current) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if records.is_empty() {
            return Ok(Ok(current));
        }
        let mut buf = BytesMut::new();
        for r in &records {
            r.encode(&mut buf);
        }
        log.write_all(&buf)?;
        log.sync_data()?;
        let mut next = (*current).clone();
        for r in &records {
            next.apply(r);
        }
        let next = Arc::new(next);
        *self.image.write().expect("image lock is never poisoned") = next.clone();
        publish(&next, &records);
        Ok(Ok(next))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_records_survive_reopen_and_torn_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path()).unwrap();
        let id = uuid::Uuid::new_v4();
        store
            .write::<()>(
                |_| {
                    Ok(vec![MetadataRecord::Topic {
                        name: "a".into(),
                        topic_id: id,
                    }])
                },
                |_, _| {},
            )
            .unwrap()
            .unwrap();
        let path = store.path().to_path_buf();
        drop(store);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 0, 50, 1, 2]).unwrap();
        drop(f);
        let store = MetadataStore::open(dir.path()).unwrap();
        assert!(store.image().topics.contains_key("a"));
        let len = std::fs::metadata(&path).unwrap().len();
        let store2_len = {
            drop(store);
            MetadataStore::open(dir.path()).unwrap();
            std::fs::metadata(&path).unwrap().len()
        };
        assert_eq!(len, store2_len);
    }
}
