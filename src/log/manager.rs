//! Where partition logs live on disk: one directory per partition,
//! `<topic>-<partition>`, spread over `log.dirs`, plus the clean-shutdown
//! marker that tells recovery whether CRCs must be re-checked.

use std::path::{Path, PathBuf};

use super::{LogConfig, LogError, PartitionLog};

/// Kafka's marker name: present only between a clean shutdown and the next start.
const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

pub struct LogManager {
    dirs: Vec<PathBuf>,
    clean_start: bool,
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
        Ok(LogManager {
            dirs: dirs.to_vec(),
            clean_start,
        })
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
        PartitionLog::open(&dir, config, now_ms, self.clean_start)
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

    /// Writes the clean-shutdown marker after every log has been closed.
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> {
        for dir in &self.dirs {
            std::fs::write(dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        }
        Ok(())
    }
}
