//! Small durable-file helpers shared by the log store and the state
//! machine: CRC-framed records and atomic whole-file replacement. All of it
//! is blocking I/O, called from `spawn_blocking` (DESIGN.md: no disk I/O on
//! tokio workers).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// `[u32 length][u32 crc32c(body)][body]`, big-endian, as the metadata
/// records themselves are framed.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

pub(crate) fn put_frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
}

/// The body of the frame at the front of `buf` and the bytes it used;
/// `None` for a torn or corrupt frame (the caller cuts there).
pub(crate) fn take_frame(buf: &[u8]) -> Option<(&[u8], usize)> {
    if buf.len() < FRAME_HEADER_BYTES {
        return None;
    }
    let len = u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
    let body = buf.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES.checked_add(len)?)?;
    (crc32c::crc32c(body) == crc).then_some((body, FRAME_HEADER_BYTES + len))
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
