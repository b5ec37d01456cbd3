//! The storage layer: partition logs of record batches on disk. It knows
//! the record-batch header and nothing else of the Kafka protocol.

pub mod batch;
pub mod config;
pub mod index;
pub mod manager;
pub mod partition_log;
pub mod producer_state;
pub(crate) mod roll;
pub mod segment;
pub mod validate;

pub use config::LogConfig;
pub use manager::LogManager;
pub use partition_log::{AppendInfo, PartitionLog, ReadPlan};

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
}
