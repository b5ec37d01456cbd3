//! The one place where layer errors become Kafka error codes.

use kafka_protocol::error::ResponseError;

use crate::log::batch::BatchError;
use crate::log::producer_state::SequenceError;
use crate::log::LogError;
use crate::replication::partition::PartitionError;

pub fn log_error(e: &LogError) -> ResponseError {
    match e {
        LogError::Io(_) | LogError::CorruptCheckpoint { .. } => ResponseError::KafkaStorageError,
        LogError::UnexpectedAppendOffset { .. } => ResponseError::UnknownServerError,
        LogError::Batch(BatchError::Crc { .. }) | LogError::Batch(BatchError::Truncated) | LogError::Corrupt(_) => {
            ResponseError::CorruptMessage
        }
        LogError::Batch(BatchError::Magic(_)) => ResponseError::UnsupportedForMessageFormat,
        LogError::Batch(BatchError::Invalid(_)) => ResponseError::InvalidRecord,
        LogError::Sequence(SequenceError::OutOfOrder { .. }) => ResponseError::OutOfOrderSequenceNumber,
        LogError::Sequence(SequenceError::InvalidEpoch { .. }) => ResponseError::InvalidProducerEpoch,
        LogError::Sequence(SequenceError::CoordinatorFenced { .. }) => ResponseError::TransactionCoordinatorFenced,
        LogError::Sequence(SequenceError::Unverified { .. }) => ResponseError::InvalidTxnState,
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
        PartitionError::NotEnoughReplicasAfterAppend { .. } => ResponseError::NotEnoughReplicasAfterAppend,
        PartitionError::NotLeader => ResponseError::NotLeaderOrFollower,
        PartitionError::Timeout => ResponseError::RequestTimedOut,
    }
}

/// KIP-588: clients older than `first_version` (the request version that
/// introduced PRODUCER_FENCED) get INVALID_PRODUCER_EPOCH instead, which
/// they handle the same way; as Kafka's transactional handlers answer.
pub(crate) fn producer_fenced_for(version: i16, first_version: i16, e: ResponseError) -> ResponseError {
    if e == ResponseError::ProducerFenced && version < first_version {
        ResponseError::InvalidProducerEpoch
    } else {
        e
    }
}

/// Kafka's `checkCurrentLeaderEpoch`, shared by Fetch, ListOffsets and
/// OffsetForLeaderEpoch: -1 (no epoch) skips the check; an epoch ahead of
/// the leader's is UNKNOWN_LEADER_EPOCH (this broker may be behind), any
/// other mismatch FENCED_LEADER_EPOCH (the client is).
pub(crate) fn check_current_leader_epoch(requested: i32, current: i32) -> Result<(), ResponseError> {
    if requested == -1 || requested == current {
        Ok(())
    } else if requested > current {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Err(ResponseError::FencedLeaderEpoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_fenced_is_invalid_producer_epoch_for_old_clients() {
        let fenced = ResponseError::ProducerFenced;
        assert_eq!(producer_fenced_for(1, 2, fenced), ResponseError::InvalidProducerEpoch);
        assert_eq!(producer_fenced_for(2, 2, fenced), fenced);
        let other = ResponseError::InvalidTxnState;
        assert_eq!(producer_fenced_for(0, 2, other), other);
    }

    #[test]
    fn current_leader_epoch_minus_one_is_no_check() {
        assert_eq!(check_current_leader_epoch(-1, 7), Ok(()));
        assert_eq!(check_current_leader_epoch(7, 7), Ok(()));
        assert_eq!(check_current_leader_epoch(8, 7), Err(ResponseError::UnknownLeaderEpoch));
        assert_eq!(check_current_leader_epoch(6, 7), Err(ResponseError::FencedLeaderEpoch));
        // Only -1 means "absent"; other negatives are simply old epochs.
        assert_eq!(check_current_leader_epoch(-2, 0), Err(ResponseError::FencedLeaderEpoch));
    }
}
