//! The one place where layer errors become Kafka error codes.

use kafka_protocol::error::ResponseError;

use crate::log::batch::BatchError;
use crate::log::producer_state::SequenceError;
use crate::log::LogError;
use crate::replication::partition::PartitionError;

pub fn log_error(e: &LogError) -> ResponseError {
    match e {
        LogError::Io(_) => ResponseError::KafkaStorageError,
        LogError::Batch(BatchError::Crc { .. }) | LogError::Batch(BatchError::Truncated) | LogError::Corrupt(_) => {
            ResponseError::CorruptMessage
        }
        LogError::Batch(BatchError::Magic(_)) => ResponseError::UnsupportedForMessageFormat,
        LogError::Batch(BatchError::Invalid(_)) => ResponseError::InvalidRecord,
        LogError::Sequence(SequenceError::OutOfOrder { .. }) => ResponseError::OutOfOrderSequenceNumber,
        LogError::Sequence(SequenceError::InvalidEpoch { .. }) => ResponseError::InvalidProducerEpoch,
        LogError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::RecordErrors(e) if e.timestamp => ResponseError::InvalidTimestamp,
        LogError::RecordErrors(_) => ResponseError::InvalidRecord,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
    }
}

pub fn partition_error(e: &PartitionError) -> ResponseError {
    match e {
        PartitionError::Log(l) => log_error(l),
        PartitionError::NotEnoughReplicas { .. } => ResponseError::NotEnoughReplicas,
    }
}
