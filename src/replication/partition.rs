//! One hosted partition: its log behind a per-partition lock (appends to
//! different partitions never contend), and the waiters of delayed fetches,
//! woken by appends rather than polled.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::log::{AppendInfo, LogConfig, LogError, PartitionLog, ReadPlan};

pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    state: Mutex<State>,
}

struct State {
    log: PartitionLog,
    leader_epoch: i32,
    isr_size: usize,
    waiters: Vec<Arc<Notify>>,
}

/// What a fetch sees of a partition at one instant.
#[derive(Debug)]
pub struct FetchSnapshot {
    pub plan: Option<ReadPlan>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Offsets of a partition, for ListOffsets and metadata tools.
#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub size_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("ISR size {isr} is below min.insync.replicas {min}")]
    NotEnoughReplicas { isr: usize, min: i32 },
}

impl Partition {
    pub fn new(
        topic: String,
        index: i32,
        topic_id: Uuid,
        mut log: PartitionLog,
        leader_epoch: i32,
        isr_size: usize,
    ) -> Self {
        log.assign_leader_epoch(leader_epoch);
        Partition {
            topic,
            index,
            topic_id,
            state: Mutex::new(State {
                log,
                leader_epoch,
                isr_size,
                waiters: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding a partition lock is a bug; keep serving the
        // other partitions rather than poisoning the broker.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a client batch and wakes delayed fetches.
    pub fn append(&self, records: &bytes::Bytes, acks: i16, now_ms: i64) -> Result<AppendInfo, PartitionError> {
        let waiters;
        let info;
        {
            let mut s = self.lock();
            let min_isr = s.log.config().min_insync_replicas;
            if acks == -1 && (s.isr_size as i32) < min_isr {
                return Err(PartitionError::NotEnoughReplicas {
                    isr: s.isr_size,
                    min: min_isr,
                });
            }
            let epoch = s.leader_epoch;
            info = s.log.append(records, epoch, now_ms)?;
            waiters = std::mem::take(&mut s.waiters);
        }
        for w in waiters {
            w.notify_one();
        }
        Ok(info)
    }

    /// Plans a read below the high watermark; registers `waiter` to be woken
    /// by the next append when `waiter` is given.
    pub fn fetch(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        waiter: Option<&Arc<Notify>>,
    ) -> Result<FetchSnapshot, LogError> {
        let mut s = self.lock();
        let hw = s.log.log_end_offset();
        let plan = s.log.plan_read(offset, max_bytes, hw, min_one)?;
        if let Some(w) = waiter {
            if !s.waiters.iter().any(|x| Arc::ptr_eq(x, w)) {
                s.waiters.push(w.clone());
            }
        }
        Ok(FetchSnapshot {
            plan,
            high_watermark: hw,
            log_start_offset: s.log.log_start_offset(),
        })
    }

    /// Drops a finished fetch's waiter so idle partitions do not collect them.
    pub fn unregister(&self, waiter: &Arc<Notify>) {
        self.lock().waiters.retain(|x| !Arc::ptr_eq(x, waiter));
    }

    pub fn offsets(&self) -> Offsets {
        let s = self.lock();
        let leo = s.log.log_end_offset();
        Offsets {
            log_start_offset: s.log.log_start_offset(),
            high_watermark: leo,
            log_end_offset: leo,
            size_bytes: s.log.size_bytes(),
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.lock().log.offset_for_timestamp(ts)
    }

    pub fn offset_of_max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.lock().log.offset_of_max_timestamp()
    }

    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let mut s = self.lock();
        let hw = s.log.log_end_offset();
        let target = if offset == -1 { hw } else { offset };
        s.log.delete_records_before(target, hw)
    }

    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.lock().log.end_offset_for_epoch(epoch)
    }

    pub fn update(&self, config: LogConfig, leader_epoch: i32, isr_size: usize) {
        let mut s = self.lock();
        if s.log.config() != &config {
            s.log.set_config(config);
        }
        if leader_epoch != s.leader_epoch {
            s.log.assign_leader_epoch(leader_epoch);
        }
        s.leader_epoch = leader_epoch;
        s.isr_size = isr_size;
    }

    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        self.lock().log.enforce_retention(now_ms)
    }

    pub fn close(&self) -> Result<(), LogError> {
        self.lock().log.close()
    }

    pub fn dir(&self) -> std::path::PathBuf {
        self.lock().log.dir().to_path_buf()
    }
}
