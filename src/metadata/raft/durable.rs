//! Small durable-file helpers shared by the log store and the state
//! machine: CRC-framed records and atomic whole-file replacement. All of it
//! is blocking I/O, called from `spawn_blocking` (DESIGN.md: no disk I/O on
//! tokio workers).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub(crate) use crate::metadata::records::put_frame;

/// The body of the frame at the front of `buf` and the bytes it used;
/// `None` for a torn or corrupt frame (the caller cuts there).
pub(crate) fn take_frame(buf: &[u8]) -> Option<(&[u8], usize)> {
    crate::metadata::records::split_frame(buf).ok().flatten()
}

/// Makes a rename or create in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes`: write a temporary file, fsync it,
/// rename it over the old one, fsync the directory. A crash leaves either
/// the old or the new contents, never a mix.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Reads `dir/name`, `None` when it does not exist.
pub(crate) fn read_optional(dir: &Path, name: &str) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(dir.join(name)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs blocking file work off the tokio workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("blocking metadata I/O task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_detected() {
        let mut buf = Vec::new();
        put_frame(&mut buf, b"hello");
        assert_eq!(take_frame(&buf), Some((&b"hello"[..], 13)));
        assert_eq!(take_frame(&buf[..12]), None);
        buf[10] ^= 1;
        assert_eq!(take_frame(&buf), None);
        let huge = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert_eq!(take_frame(&huge), None);
    }
}
