//! The metadata image as this node has applied it. The quorum's state
//! machine applies committed records first; the broker then brings its
//! hosted partitions and coordinators in line and publishes the image here,
//! so a handler never sees a topic whose partitions this node has not
//! opened yet.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::ClusterImage;

pub struct LocalImage {
    /// The published image and its metadata log index, set together.
    image: RwLock<(Arc<ClusterImage>, u64)>,
    /// The metadata log index of the published image, for waiters. Never
    /// held together with `image`'s lock (`wait_until` reads the image
    /// while it holds the watch's).
    applied: watch::Sender<u64>,
}

impl LocalImage {
    pub fn new(image: Arc<ClusterImage>, applied_index: u64) -> Self {
        LocalImage {
            image: RwLock::new((image, applied_index)),
            applied: watch::Sender::new(applied_index),
        }
    }

    /// The current image; cheap (an `Arc` clone under a brief read lock).
    pub fn image(&self) -> Arc<ClusterImage> {
        self.image.read().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// The metadata log index this node has applied (BrokerHeartbeat's
    /// `current_metadata_offset`).
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// The current image and its metadata log index, read together.
    pub fn published(&self) -> (Arc<ClusterImage>, u64) {
        self.image.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn publish(&self, image: Arc<ClusterImage>, applied_index: u64) {
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = (image, applied_index);
        self.applied.send_replace(applied_index);
    }

    /// Waits until the image at `index` (or later) is published, at most
    /// `timeout`; returns whether it was.
    pub async fn wait_for_index(&self, index: u64, timeout: Duration) -> bool {
        let mut rx = self.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|i| *i >= index))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until the published image satisfies `ready`, at most `timeout`.
    pub async fn wait_until(&self, ready: impl Fn(&ClusterImage) -> bool, timeout: Duration) -> bool {
        let mut rx = self.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|_| ready(&self.image())))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}
