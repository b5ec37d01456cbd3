//! Kafka framing: a 4-byte big-endian size, then the request (header and
//! body). Reading is bounded by `socket.request.max.bytes` and grows the
//! buffer only as bytes arrive, so a hostile size costs nothing up front.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The smallest request header: api key, version, correlation id, client id length.
pub const MIN_REQUEST_SIZE: usize = 10;
/// Read in chunks of at most this much beyond what has arrived.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("request size {size} is outside [{MIN_REQUEST_SIZE}, {max}] (socket.request.max.bytes)")]
    Size { size: i64, max: usize },
    #[error("connection closed mid-frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> Result<Option<Bytes>, FrameError> {
    let mut size_buf = [0u8; 4];
    match reader.read_exact(&mut size_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(size_buf) as i64;
    if size < MIN_REQUEST_SIZE as i64 || size as usize > max {
        return Err(FrameError::Size { size, max });
    }
    let size = size as usize;
    let mut buf = BytesMut::with_capacity(size.min(READ_CHUNK));
    while buf.len() < size {
        let want = (size - buf.len()).min(READ_CHUNK);
        buf.reserve(want);
        let n = reader.read_buf(&mut (&mut buf).limit(want)).await?;
        if n == 0 {
            return Err(FrameError::Truncated);
        }
    }
    Ok(Some(buf.freeze()))
}

/// API key and version, read without consuming the frame.
pub fn peek_key_version(frame: &Bytes) -> (i16, i16) {
    let mut b = &frame[..4];
    (b.get_i16(), b.get_i16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounds_are_enforced() {
        let mut ok: &[u8] = &[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0];
        let f = read_frame(&mut ok, 100).await.unwrap().unwrap();
        assert_eq!(peek_key_version(&f), (18, 0));
        let mut big: &[u8] = &[0, 0, 1, 0];
        assert!(matches!(read_frame(&mut big, 100).await, Err(FrameError::Size { .. })));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut negative, 100).await,
            Err(FrameError::Size { .. })
        ));
        let mut short: &[u8] = &[0, 0, 0, 20, 1, 2];
        assert!(matches!(read_frame(&mut short, 100).await, Err(FrameError::Truncated)));
        let mut empty: &[u8] = &[];
        assert!(read_frame(&mut empty, 100).await.unwrap().is_none());
    }
}
