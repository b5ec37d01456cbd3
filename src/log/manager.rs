//! Where partition logs live on disk: one directory per partition,
//! `<topic>-<partition>`, spread over `log.dirs`; the clean-shutdown marker
//! and the per-log-dir offset checkpoints (Kafka's
//! `recovery-point-offset-checkpoint`, `replication-offset-checkpoint` and
//! `log-start-offset-checkpoint`) that tell a start what to recover.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::checkpoint::{self, PartitionOffset};
use super::partition_log::{LoadParams, LEGACY_LOG_START_OFFSET_FILE};
use super::{LogConfig, LogError, PartitionLog};

/// The per-log-dir offset checkpoints, by Kafka's file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirCheckpoint {
    /// Offset below which a log is fsynced: recovery starts there.
    RecoveryPoint,
    /// The high watermark (Kafka's replication offset checkpoint), written
    /// every `replication.high.watermark.checkpoint.interval.ms` and at
    /// shutdown by replication.
    HighWatermark,
    LogStartOffset,
}

impl DirCheckpoint {
    pub const ALL: [DirCheckpoint; 3] = [
        DirCheckpoint::RecoveryPoint,
        DirCheckpoint::HighWatermark,
        DirCheckpoint::LogStartOffset,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            DirCheckpoint::RecoveryPoint => "recovery-point-offset-checkpoint",
            DirCheckpoint::HighWatermark => "replication-offset-checkpoint",
            DirCheckpoint::LogStartOffset => "log-start-offset-checkpoint",
        }
    }
}

/// One partition's offsets written at clean shutdown.
#[derive(Debug, Clone)]
pub struct LogCheckpoint {
    pub topic: String,
    pub partition: i32,
    /// The partition directory (its parent is the log dir).
    pub dir: PathBuf,
    pub recovery_point: i64,
    pub log_start_offset: i64,
    pub high_watermark: i64,
}

/// A partition directory's offsets as the checkpoints held them at start-up.
type Loaded = HashMap<(DirCheckpoint, PathBuf), i64>;

/// Kafka's marker name: present only between a clean shutdown and the next start.
const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

pub struct LogManager {
    dirs: Vec<PathBuf>,
    clean_start: bool,
    /// The checkpoints as read at start-up, by partition directory.
    loaded: Loaded,
    logs_opened: AtomicUsize,
    logs_recovered: AtomicUsize,
}

impl LogManager {
    /// Takes ownership of the log directories. A clean-shutdown marker is
    /// consumed, so a crash from now on forces full recovery next time.
    pub fn open(dirs: &[PathBuf]) -> Result<Self, LogError> {
        let mut clean_start = true;
        for dir in dirs {
            std::fs::create_dir_all(dir)?;
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            if marker.exists() {
                std::fs::remove_file(&marker)?;
            } else {
                clean_start = false;
            }
        }
        let mut loaded = Loaded::new();
        for dir in dirs {
            for kind in DirCheckpoint::ALL {
                for e in checkpoint::read_offsets(&dir.join(kind.file_name()))? {
                    loaded.insert((kind, dir.join(format!("{}-{}", e.topic, e.partition))), e.offset);
                }
            }
        }
        Ok(LogManager {
            dirs: dirs.to_vec(),
            clean_start,
            loaded,
            logs_opened: AtomicUsize::new(0),
            logs_recovered: AtomicUsize::new(0),
        })
    }

    /// Whether the previous shutdown was clean (every log dir had the marker).
    pub fn clean_start(&self) -> bool {
        self.clean_start
    }

    /// The offset `kind` held for the partition in `partition_dir` when the
    /// broker started (for example the high watermark a replica starts from).
    pub fn checkpointed(&self, kind: DirCheckpoint, partition_dir: &Path) -> Option<i64> {
        self.loaded.get(&(kind, partition_dir.to_path_buf())).copied()
    }

    /// Writes checkpoint `kind` of every log dir from `entries`, given with
    /// their partition directories: each log dir's file is replaced by the
    /// entries of the partitions inside it (a dir without any gets an empty
    /// file), so pass every hosted partition. Crash-safe (see `checkpoint`).
    /// Blocking I/O: call from a blocking thread.
    pub fn write_checkpoint(
        &self,
        kind: DirCheckpoint,
        entries: &[(PathBuf, PartitionOffset)],
    ) -> Result<(), LogError> {
        for dir in &self.dirs {
            let mine: Vec<PartitionOffset> = entries
                .iter()
                .filter(|(p, _)| p.parent() == Some(dir.as_path()))
                .map(|(_, e)| e.clone())
                .collect();
            checkpoint::write_offsets(&dir.join(kind.file_name()), &mine)?;
        }
        if kind == DirCheckpoint::LogStartOffset {
            // The per-partition file of older versions is superseded now.
            for (p, _) in entries {
                match std::fs::remove_file(p.join(LEGACY_LOG_START_OFFSET_FILE)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Reads checkpoint `kind` as it is on disk now, over every log dir, by
    /// partition directory.
    pub fn read_checkpoint(&self, kind: DirCheckpoint) -> Result<HashMap<PathBuf, i64>, LogError> {
        let mut out = HashMap::new();
        for dir in &self.dirs {
            for e in checkpoint::read_offsets(&dir.join(kind.file_name()))? {
                out.insert(dir.join(format!("{}-{}", e.topic, e.partition)), e.offset);
            }
        }
        Ok(out)
    }

    /// Writes the recovery points, log start offsets and high watermarks of
    /// `logs` (Kafka's `checkpointLogRecoveryOffsets`,
    /// `checkpointLogStartOffsets` and `replication-offset-checkpoint`), as
    /// the periodic checkpoint and at shutdown.
    pub fn checkpoint_logs(&self, logs: &[LogCheckpoint]) -> Result<(), LogError> {
        let entry = |l: &LogCheckpoint, offset: i64| {
            (
                l.dir.clone(),
                PartitionOffset {
                    topic: l.topic.clone(),
                    partition: l.partition,
                    offset,
                },
            )
        };
        let rps: Vec<_> = logs.iter().map(|l| entry(l, l.recovery_point)).collect();
        self.write_checkpoint(DirCheckpoint::RecoveryPoint, &rps)?;
        let starts: Vec<_> = logs.iter().map(|l| entry(l, l.log_start_offset)).collect();
        self.write_checkpoint(DirCheckpoint::LogStartOffset, &starts)?;
        let hws: Vec<_> = logs.iter().map(|l| entry(l, l.high_watermark)).collect();
        self.write_checkpoint(DirCheckpoint::HighWatermark, &hws)
    }

    /// Clean shutdown, after every log was closed: the recovery points,
    /// log start offsets and high watermarks of `logs`, then the marker.
    pub fn shutdown(&self, logs: &[LogCheckpoint]) -> Result<(), LogError> {
        self.checkpoint_logs(logs)?;
        self.mark_clean_shutdown()
    }

    /// One line saying how many logs were loaded since start and how many of
    /// them needed recovery.
    pub fn log_load_summary(&self, elapsed: std::time::Duration) {
        tracing::info!(
            logs = self.logs_opened.load(Ordering::Relaxed),
            recovered = self.logs_recovered.load(Ordering::Relaxed),
            clean_shutdown = self.clean_start,
            elapsed_ms = elapsed.as_millis() as u64,
            "loaded logs"
        );
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The directory a partition lives in: an existing one if any log dir
    /// has it, otherwise the log dir with the fewest partitions.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        let name = format!("{topic}-{partition}");
        if let Some(existing) = self.dirs.iter().map(|d| d.join(&name)).find(|p| p.exists()) {
            return existing;
        }
        let least = self
            .dirs
            .iter()
            .min_by_key(|d| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0))
            .expect("at least one log dir");
        least.join(name)
    }

    pub fn open_log(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<PartitionLog, LogError> {
        let dir = self.partition_dir(topic, partition);
        let load = LoadParams {
            clean_shutdown: self.clean_start,
            recovery_point: self.checkpointed(DirCheckpoint::RecoveryPoint, &dir),
            log_start_offset: self.checkpointed(DirCheckpoint::LogStartOffset, &dir),
        };
        let log = PartitionLog::open(&dir, config, now_ms, load)?;
        self.logs_opened.fetch_add(1, Ordering::Relaxed);
        if log.recovered_segments() > 0 {
            self.logs_recovered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(log)
    }

    /// Removes a deleted partition's files.
    pub fn delete_partition_dir(&self, dir: &Path) -> Result<(), LogError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Partition directories found on disk, as (topic, partition, path).
    pub fn partition_dirs_on_disk(&self) -> Vec<(String, i32, PathBuf)> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                if !entry.path().is_dir() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some((topic, part)) = name.rsplit_once('-') {
                    if let Ok(p) = part.parse::<i32>() {
                        out.push((topic.to_string(), p, entry.path()));
                    }
                }
            }
        }
        out
    }

    /// Writes the clean-shutdown marker after every log has been closed and
    /// the checkpoints written.
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> {
        for dir in &self.dirs {
            std::fs::write(dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
            checkpoint::sync_dir(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::test_support::batch;

    fn config() -> LogConfig {
        LogConfig::new(&crate::config::Config::embedded().log, &Default::default())
    }

    fn entry(dir: &Path, topic: &str, partition: i32, offset: i64) -> (PathBuf, PartitionOffset) {
        (
            dir.join(format!("{topic}-{partition}")),
            PartitionOffset {
                topic: topic.to_string(),
                partition,
                offset,
            },
        )
    }

    #[test]
    fn each_log_dir_checkpoints_its_own_partitions() {
        let root = tempfile::tempdir().unwrap();
        let dirs = vec![root.path().join("a"), root.path().join("b")];
        let m = LogManager::open(&dirs).unwrap();
        let entries = vec![
            entry(&dirs[0], "t", 0, 10),
            entry(&dirs[1], "t", 1, 20),
            entry(&dirs[1], "u", 0, 30),
        ];
        m.write_checkpoint(DirCheckpoint::HighWatermark, &entries).unwrap();
        let a = checkpoint::read_offsets(&dirs[0].join("replication-offset-checkpoint")).unwrap();
        assert_eq!(a.len(), 1);
        let b = checkpoint::read_offsets(&dirs[1].join("replication-offset-checkpoint")).unwrap();
        assert_eq!(b.len(), 2);
        let read = m.read_checkpoint(DirCheckpoint::HighWatermark).unwrap();
        assert_eq!(read.get(&dirs[1].join("u-0")), Some(&30));
        assert_eq!(read.len(), 3);
        // The next start sees them.
        let m = LogManager::open(&dirs).unwrap();
        assert_eq!(
            m.checkpointed(DirCheckpoint::HighWatermark, &dirs[0].join("t-0")),
            Some(10)
        );
        assert_eq!(m.checkpointed(DirCheckpoint::RecoveryPoint, &dirs[0].join("t-0")), None);
    }

    #[test]
    fn a_clean_shutdown_lets_the_next_start_trust_every_log() {
        let root = tempfile::tempdir().unwrap();
        let dirs = vec![root.path().to_path_buf()];
        let m = LogManager::open(&dirs).unwrap();
        assert!(!m.clean_start());
        let mut log = m.open_log("t", 0, config(), 0).unwrap();
        for i in 0..10 {
            log.append(&batch(2, -1, -1, -1, 1000 + i), 0, 2000).unwrap();
        }
        log.close().unwrap();
        let offsets = LogCheckpoint {
            topic: "t".into(),
            partition: 0,
            dir: log.dir().to_path_buf(),
            recovery_point: log.recovery_point(),
            log_start_offset: log.log_start_offset(),
            high_watermark: 20,
        };
        drop(log);
        m.shutdown(&[offsets]).unwrap();
        let m = LogManager::open(&dirs).unwrap();
        assert!(m.clean_start());
        let log = m.open_log("t", 0, config(), 0).unwrap();
        assert_eq!(log.recovered_segments(), 0);
        assert_eq!(log.log_end_offset(), 20);
        assert_eq!(m.checkpointed(DirCheckpoint::HighWatermark, log.dir()), Some(20));
        drop(log);
        // No shutdown this time: the marker was consumed, so this is a crash.
        let m = LogManager::open(&dirs).unwrap();
        assert!(!m.clean_start());
        let log = m.open_log("t", 0, config(), 0).unwrap();
        assert_eq!(log.log_end_offset(), 20);
        // The recovery point was the log end: nothing above it to recover.
        assert_eq!(log.recovered_segments(), 0);
    }
}
