//! openraft's `RaftStateMachine`: applies each entry's records to the
//! cluster image and publishes the result on a watch.
//!
//! Only snapshots are persisted (`snapshot.bin`); everything after the
//! latest snapshot is replayed from the raft log on start. A snapshot is the
//! records that rebuild the image (`ClusterImage::to_records`), so it needs
//! nothing beyond `MetadataRecord`'s own framing.
//!
//! Snapshot data (what InstallSnapshot carries): `[u8 format = 1][u8 flags]`
//! then framed records back to back; flag bit 0: the old single-node
//! `metadata.log` has been imported. The file: two CRC frames, the
//! `SnapshotMeta` as JSON, then the data.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageIOError};
use tokio::sync::{watch, Notify};

use super::durable::{blocking, put_frame, read_optional, take_frame, write_atomically};
use super::types::{
    decode_records, encode_records, Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use super::Published;
use crate::metadata::image::ClusterImage;

const SNAPSHOT_FILE: &str = "snapshot.bin";
const SNAPSHOT_FORMAT: u8 = 1;
const FLAG_IMPORTED: u8 = 1;

/// A snapshot as kept in memory and on disk.
#[derive(Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// What the state machine shares with `MetadataRaft` and its snapshot
/// builders.
pub(crate) struct Shared {
    dir: PathBuf,
    pub(crate) published: watch::Sender<Published>,
    /// Set once the batch importing `metadata.log` has been applied.
    pub(crate) imported: AtomicBool,
    /// Signalled when `snapshot_every_records` have been applied since the
    /// last snapshot; `MetadataRaft` then asks openraft for one.
    pub(crate) snapshot_due: Notify,
    current: Mutex<Option<StoredSnapshot>>,
    /// Serialises snapshot file writes (builder and install).
    write_lock: tokio::sync::Mutex<()>,
    snapshot_seq: AtomicU64,
}

pub(crate) struct StateMachine {
    shared: Arc<Shared>,
    image: Arc<ClusterImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    records_since_snapshot: u64,
    snapshot_every_records: u64,
}

fn encode_data(image: &ClusterImage, imported: bool) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_records(&image.to_records(), &mut buf);
    let mut data = Vec::with_capacity(buf.len() + 2);
    data.push(SNAPSHOT_FORMAT);
    data.push(if imported { FLAG_IMPORTED } else { 0 });
    data.extend_from_slice(&buf);
    data
}

fn decode_data(data: &[u8]) -> Result<(ClusterImage, bool), String> {
    match data {
        [SNAPSHOT_FORMAT, flags, records @ ..] => {
            let records = decode_records(records)?;
            Ok((ClusterImage::from_records(&records), flags & FLAG_IMPORTED != 0))
        }
        _ => Err("unknown metadata snapshot format".into()),
    }
}

fn read_snapshot_file(dir: &Path) -> std::io::Result<Option<StoredSnapshot>> {
    let Some(bytes) = read_optional(dir, SNAPSHOT_FILE)? else {
        return Ok(None);
    };
    let corrupt = || std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt metadata snapshot file");
    let (meta, used) = take_frame(&bytes).ok_or_else(corrupt)?;
    let (data, _) = take_frame(&bytes[used..]).ok_or_else(corrupt)?;
    let meta = serde_json::from_slice(meta).map_err(|_| corrupt())?;
    Ok(Some(StoredSnapshot {
        meta,
        data: data.to_vec(),
    }))
}

fn storage_error(e: impl ToString) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e.to_string())).into()
}

impl Shared {
    /// Persists `snap` and makes it current unless a newer one already is.
    async fn save_snapshot(self: &Arc<Self>, snap: StoredSnapshot) -> std::io::Result<()> {
        let _writing = self.write_lock.lock().await;
        let newer =
            |cur: &Option<StoredSnapshot>| cur.as_ref().is_none_or(|c| c.meta.last_log_id <= snap.meta.last_log_id);
        if !newer(&self.current.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        let mut file = Vec::with_capacity(snap.data.len() + 256);
        put_frame(
            &mut file,
            &serde_json::to_vec(&snap.meta).map_err(std::io::Error::other)?,
        );
        put_frame(&mut file, &snap.data);
        let dir = self.dir.clone();
        blocking(move || write_atomically(&dir, SNAPSHOT_FILE, &file)).await?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(snap);
        Ok(())
    }

    fn current(&self) -> Option<StoredSnapshot> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl StateMachine {
    /// Loads the latest snapshot under `dir`. Blocking.
    pub(crate) fn open(dir: &Path, snapshot_every_records: u64) -> std::io::Result<StateMachine> {
        let snapshot = read_snapshot_file(dir)?;
        let (image, imported, last_applied, membership) = match &snapshot {
            Some(s) => {
                let (image, imported) =
                    decode_data(&s.data).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                (image, imported, s.meta.last_log_id, s.meta.last_membership.clone())
            }
            None => (ClusterImage::default(), false, None, StoredMembership::default()),
        };
        let image = Arc::new(image);
        let (published, _) = watch::channel(Published {
            image: image.clone(),
            applied_index: last_applied.map_or(0, |l| l.index),
        });
        Ok(StateMachine {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                published,
                imported: AtomicBool::new(imported),
                snapshot_due: Notify::new(),
                current: Mutex::new(snapshot),
                write_lock: tokio::sync::Mutex::new(()),
                snapshot_seq: AtomicU64::new(0),
            }),
            image,
            last_applied,
            membership,
            records_since_snapshot: 0,
            snapshot_every_records: snapshot_every_records.max(1),
        })
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn publish(&self) {
        self.shared.published.send_replace(Published {
            image: self.image.clone(),
            applied_index: self.last_applied.map_or(0, |l| l.index),
        });
    }
}

/// Builds a snapshot of the state at the moment it was asked for.
pub(crate) struct SnapshotBuilder {
    shared: Arc<Shared>,
    image: Arc<ClusterImage>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let imported = self.shared.imported.load(Ordering::Acquire);
        let data = encode_data(&self.image, imported);
        let seq = self.shared.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{seq}", l.leader_id.term, l.index),
            None => format!("none-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let stored = StoredSnapshot { meta, data };
        self.shared.save_snapshot(stored.clone()).await.map_err(storage_error)?;
        tracing::debug!(snapshot = %stored.meta.snapshot_id, bytes = stored.data.len(), "built metadata snapshot");
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let image = Arc::make_mut(&mut self.image);
        for entry in entries {
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(batch) => {
                    for r in &batch.records {
                        image.apply(r);
                    }
                    if batch.imported {
                        self.shared.imported.store(true, Ordering::Release);
                    }
                    self.records_since_snapshot += batch.records.len().max(1) as u64;
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                }
            }
            self.last_applied = Some(entry.log_id);
            replies.push(());
        }
        self.publish();
        if self.records_since_snapshot >= self.snapshot_every_records {
            self.records_since_snapshot = 0;
            self.shared.snapshot_due.notify_one();
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        self.records_since_snapshot = 0;
        SnapshotBuilder {
            shared: self.shared.clone(),
            image: self.image.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let (image, imported) = decode_data(&data).map_err(storage_error)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.shared.save_snapshot(stored).await.map_err(storage_error)?;
        self.image = Arc::new(image);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.records_since_snapshot = 0;
        if imported {
            self.shared.imported.store(true, Ordering::Release);
        }
        tracing::info!(snapshot = %meta.snapshot_id, "installed metadata snapshot from the leader");
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.shared.current().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
