//! Kafka's checkpoint file format (`server-common`'s `CheckpointFile`): a
//! text file whose first line is a format version, second line the number
//! of entries, then one entry per line. Used for the per-log-dir offset
//! checkpoints (`recovery-point-offset-checkpoint`,
//! `replication-offset-checkpoint`, `log-start-offset-checkpoint`: entries
//! `topic partition offset`) and the per-partition `leader-epoch-checkpoint`
//! (entries `epoch start_offset`).
//!
//! Writes are crash-safe: the new content goes to `<name>.tmp`, which is
//! fsynced, renamed over the old file, and the directory is fsynced, so a
//! crash leaves either the old file or the new one, never a torn mix.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::LogError;

/// The version Kafka writes for both offset and leader-epoch checkpoints.
pub const CHECKPOINT_VERSION: i32 = 0;

/// Writes `lines` (entries without line breaks) as a checkpoint of
/// `version`, atomically and durably.
pub fn write(path: &Path, version: i32, lines: &[String]) -> io::Result<()> {
    let mut text = String::with_capacity(16 + lines.iter().map(|l| l.len() + 1).sum::<usize>());
    text.push_str(&format!("{version}\n{}\n", lines.len()));
    for line in lines {
        debug_assert!(!line.contains('\n'), "a checkpoint entry is one line");
        text.push_str(line);
        text.push('\n');
    }
    let tmp = tmp_path(path);
    {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Reads a checkpoint written by [`write`]: `None` when the file does not
/// exist, otherwise its entries parsed by `parse`. Any malformed content
/// (wrong version, count that does not match, an entry `parse` refuses) is
/// an error naming the file and the line.
pub fn read<T>(
    path: &Path,
    version: i32,
    mut parse: impl FnMut(&[&str]) -> Option<T>,
) -> Result<Option<Vec<T>>, LogError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let corrupt = |reason: String| LogError::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = text.lines();
    let found_version = lines.next().and_then(|l| l.trim().parse::<i32>().ok());
    if found_version != Some(version) {
        return Err(corrupt(format!(
            "unrecognised version {:?}, expected {version}",
            found_version
        )));
    }
    let count = lines
        .next()
        .and_then(|l| l.trim().parse::<usize>().ok())
        .ok_or_else(|| corrupt("missing or malformed entry count on line 2".to_string()))?;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        match parse(&fields) {
            Some(entry) => out.push(entry),
            None => return Err(corrupt(format!("malformed entry on line {}: {line:?}", i + 3))),
        }
    }
    if out.len() != count {
        return Err(corrupt(format!("expected {count} entries, found {}", out.len())));
    }
    Ok(Some(out))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes a rename (or creation, deletion) in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One line of a per-log-dir offset checkpoint: `topic partition offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

pub fn write_offsets(path: &Path, entries: &[PartitionOffset]) -> io::Result<()> {
    let lines: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {} {}", e.topic, e.partition, e.offset))
        .collect();
    write(path, CHECKPOINT_VERSION, &lines)
}

pub fn read_offsets(path: &Path) -> Result<Vec<PartitionOffset>, LogError> {
    let entries = read(path, CHECKPOINT_VERSION, |f| match f {
        [topic, partition, offset] => Some(PartitionOffset {
            topic: (*topic).to_string(),
            partition: partition.parse().ok()?,
            offset: offset.parse().ok()?,
        }),
        _ => None,
    })?;
    Ok(entries.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_kafkas_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replication-offset-checkpoint");
        assert_eq!(read_offsets(&path).unwrap(), vec![], "a missing file is empty");
        let entries = vec![
            PartitionOffset {
                topic: "orders".into(),
                partition: 0,
                offset: 42,
            },
            PartitionOffset {
                topic: "__consumer_offsets".into(),
                partition: 17,
                offset: 0,
            },
        ];
        write_offsets(&path, &entries).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n2\norders 0 42\n__consumer_offsets 17 0\n"
        );
        assert_eq!(read_offsets(&path).unwrap(), entries);
        assert!(!dir.path().join("replication-offset-checkpoint.tmp").exists());
        write_offsets(&path, &[]).unwrap();
        assert_eq!(read_offsets(&path).unwrap(), vec![]);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recovery-point-offset-checkpoint");
        for bad in [
            "1\n0\n",
            "0\n2\nt 0 1\n",
            "0\n1\nt zero 1\n",
            "0\nx\n",
            "",
            "0\n1\nt 0 1 extra\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = read_offsets(&path).unwrap_err();
            assert!(matches!(err, LogError::CorruptCheckpoint { .. }), "{bad:?}: {err}");
            assert!(err.to_string().contains("recovery-point-offset-checkpoint"), "{err}");
        }
    }
}
