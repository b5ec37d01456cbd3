//! OffsetForLeaderEpoch: the end offset of a leader epoch, which clients
//! use to detect log truncation after a leader change (KIP-320).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::errors::check_current_leader_epoch;
use super::{HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> Result<Option<OffsetForLeaderEpochResponse>, HandlerError> {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for topic in req.topics {
        let mut tr = OffsetForLeaderTopicResult::default();
        tr.topic = topic.topic.clone();
        for p in topic.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = -1;
            e.end_offset = -1;
            match ctx.broker.replicas.get(topic.topic.0.as_str(), p.partition) {
                None => e.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(part) => match check_current_leader_epoch(p.current_leader_epoch, part.leader_epoch()) {
                    Err(code) => e.error_code = code.code(),
                    Ok(()) => {
                        let (epoch, end) = part.end_offset_for_epoch(p.leader_epoch);
                        e.leader_epoch = epoch;
                        e.end_offset = end;
                    }
                },
            }
            tr.partitions.push(e);
        }
        resp.topics.push(tr);
    }
    Ok(Some(resp))
}
