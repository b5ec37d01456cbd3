//! A read-only view of a record batch (magic v2) header, the only part of
//! client data the broker interprets on the hot path.

use bytes::{Buf, Bytes};

/// Bytes before the batch body: base offset (8) + batch length (4).
pub const LOG_OVERHEAD: usize = 12;
/// The full v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// CRC-32C covers everything from the attributes field to the end.
const CRC_START: usize = 21;

pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;

pub const NO_PRODUCER_ID: i64 = -1;

/// Why a batch was refused; mapped to a Kafka error code by the handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch is truncated")]
    Truncated,
    #[error("unsupported record batch magic {0}")]
    Magic(i8),
    #[error("record batch CRC mismatch: stored {stored:#x}, computed {computed:#x}")]
    Crc { stored: u32, computed: u32 },
    #[error("invalid record batch: {0}")]
    Invalid(&'static str),
}

/// The fields of a v2 batch header, parsed from its first 61 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the length field; the batch spans `LOG_OVERHEAD + batch_length`.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses a header; `buf` must hold at least `HEADER_SIZE` bytes.
    pub fn parse(mut buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_SIZE {
            return Err(BatchError::Truncated);
        }
        let h = BatchHeader {
            base_offset: buf.get_i64(),
            batch_length: buf.get_i32(),
            partition_leader_epoch: buf.get_i32(),
            magic: buf.get_i8(),
            crc: buf.get_u32(),
            attributes: buf.get_i16(),
            last_offset_delta: buf.get_i32(),
            base_timestamp: buf.get_i64(),
            max_timestamp: buf.get_i64(),
            producer_id: buf.get_i64(),
            producer_epoch: buf.get_i16(),
            base_sequence: buf.get_i32(),
            records_count: buf.get_i32(),
        };
        if h.magic != 2 {
            return Err(BatchError::Magic(h.magic));
        }
        if (h.batch_length as i64) < (HEADER_SIZE - LOG_OVERHEAD) as i64 {
            return Err(BatchError::Invalid("batch length shorter than its header"));
        }
        Ok(h)
    }

    /// Total bytes of the batch including offset and length fields.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        // Sequences wrap at i32::MAX (Kafka's DefaultRecordBatch.incrementSequence).
        let last = self.base_sequence as i64 + self.last_offset_delta as i64;
        (last % (i32::MAX as i64 + 1)) as i32
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// Computes the CRC-32C a batch should carry.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START..])
}

/// Validates one complete batch as it arrives from a client or from disk:
/// magic 2, consistent length, CRC-32C, a sane record count.
pub fn validate(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_size() != batch.len() {
        return Err(BatchError::Invalid("batch length does not match the bytes sent"));
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::Crc {
            stored: header.crc,
            computed,
        });
    }
    if header.records_count <= 0 {
        return Err(BatchError::Invalid("record batch has no records"));
    }
    if header.last_offset_delta < 0 || header.last_offset_delta + 1 < header.records_count {
        return Err(BatchError::Invalid("record count does not match last offset delta"));
    }
    Ok(header)
}

/// Splits a produce request's `records` into exactly one batch, as Kafka
/// requires of Produce v3 and later.
pub fn single_batch(records: &Bytes) -> Result<BatchHeader, BatchError> {
    if records.len() < HEADER_SIZE {
        return Err(BatchError::Truncated);
    }
    let header = BatchHeader::parse(records)?;
    if header.total_size() > records.len() {
        return Err(BatchError::Truncated);
    }
    if header.total_size() < records.len() {
        return Err(BatchError::Invalid(
            "produce requests with version 3 and above must contain exactly one record batch",
        ));
    }
    validate(records)
}

/// Walks the batches in a byte range (for recovery and scans), stopping at
/// the first incomplete or invalid batch; `verify_crc` also checks CRCs.
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    verify_crc: bool,
    pub error: Option<BatchError>,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8], verify_crc: bool) -> Self {
        BatchIter {
            buf,
            pos: 0,
            verify_crc,
            error: None,
        }
    }

    /// Byte position just after the last good batch.
    pub fn valid_bytes(&self) -> usize {
        self.pos
    }
}

impl Iterator for BatchIter<'_> {
    /// (position in the buffer, header)
    type Item = (usize, BatchHeader);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        let size = header.total_size();
        if size > rest.len() {
            self.error = Some(BatchError::Truncated);
            return None;
        }
        if self.verify_crc {
            if let Err(e) = validate(&rest[..size]) {
                self.error = Some(e);
                return None;
            }
        }
        let at = self.pos;
        self.pos += size;
        Some((at, header))
    }
}

#[cfg(test)]
pub mod test_support {
    use bytes::{BufMut, BytesMut};

    /// The header of a batch of `count` records of producer `pid` at
    /// `base_offset`, for producer-state tests that need no bytes.
    pub fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> super::BatchHeader {
        super::BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    /// Builds a valid uncompressed v2 batch with `count` small records.
    pub fn batch(count: i32, producer_id: i64, epoch: i16, base_sequence: i32, ts: i64) -> bytes::Bytes {
        let mut records = BytesMut::new();
        for i in 0..count {
            let mut body = BytesMut::new();
            body.put_i8(0); // attributes
            put_varlong(&mut body, 0); // timestamp delta
            put_varlong(&mut body, i as i64); // offset delta
            put_varlong(&mut body, -1); // null key
            put_varlong(&mut body, 1); // value length
            body.put_u8(b'a' + (i % 26) as u8);
            put_varlong(&mut body, 0); // headers
            put_varlong(&mut records, body.len() as i64);
            records.put_slice(&body);
        }
        let mut b = BytesMut::new();
        b.put_i64(0);
        b.put_i32((super::HEADER_SIZE - super::LOG_OVERHEAD + records.len()) as i32);
        b.put_i32(-1);
        b.put_i8(2);
        b.put_u32(0);
        b.put_i16(0);
        b.put_i32(count - 1);
        b.put_i64(ts);
        b.put_i64(ts);
        b.put_i64(producer_id);
        b.put_i16(epoch);
        b.put_i32(base_sequence);
        b.put_i32(count);
        b.put_slice(&records);
        let crc = super::compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b.freeze()
    }

    fn put_varlong(buf: &mut BytesMut, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            buf.put_u8((z as u8) | 0x80);
            z >>= 7;
        }
        buf.put_u8(z as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_batch_parses_and_corruption_is_caught() {
        let b = test_support::batch(3, 7, 0, 0, 1000);
        let h = single_batch(&b).unwrap();
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.last_sequence(), 2);
        let mut bad = b.to_vec();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        assert!(matches!(validate(&bad), Err(BatchError::Crc { .. })));
        assert_eq!(single_batch(&b.slice(..40)), Err(BatchError::Truncated));
    }

    #[test]
    fn iterator_stops_at_a_torn_tail() {
        let a = test_support::batch(2, -1, -1, -1, 1);
        let mut buf = a.to_vec();
        buf.extend_from_slice(&a[..30]);
        let mut it = BatchIter::new(&buf, true);
        assert_eq!(it.by_ref().count(), 1);
        assert_eq!(it.valid_bytes(), a.len());
        assert!(it.error.is_some());
    }
}
