//! The storage layer: partition logs of record batches on disk. It knows
//! the record-batch header and nothing else of the Kafka protocol.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod control;
pub mod epoch_cache;
pub mod index;
pub mod manager;
pub mod partition_log;
pub mod producer_snapshot;
pub mod producer_state;
pub(crate) mod roll;
pub mod segment;
pub mod txn_index;
pub mod validate;

pub use checkpoint::PartitionOffset;
pub use config::LogConfig;
pub use manager::LogManager;
pub use manager::{DirCheckpoint, LogCheckpoint};
pub use partition_log::{AppendInfo, FlushJob, LoadParams, PartitionLog, ReadPlan};

use batch::BatchError;
use producer_state::SequenceError;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error("record batch of {size} bytes is larger than max.message.bytes {max}")]
    RecordTooLarge { size: usize, max: i32 },
    #[error("{}", .0.summary())]
    RecordErrors(validate::RecordErrors),
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    /// A follower append whose first batch does not start at the log end
    /// offset (Kafka's UnexpectedAppendOffsetException): the fetcher must
    /// truncate or fetch from `log_end` again.
    #[error("unexpected offset in follower append: first offset {first}, log end offset {log_end}")]
    UnexpectedAppendOffset { first: i64, log_end: i64 },
    #[error("corrupt checkpoint file {}: {reason}", path.display())]
    CorruptCheckpoint { path: std::path::PathBuf, reason: String },
}
