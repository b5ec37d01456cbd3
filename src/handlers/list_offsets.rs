//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), earliest
//! local (-4, the same as earliest without tiered storage), latest tiered
//! (-5, none without tiered storage), or the first offset at or after a
//! timestamp.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::errors::{check_current_leader_epoch, log_error};
use super::{HandlerError, RequestContext};
use crate::replication::Partition;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub async fn handle(
    ctx: &RequestContext,
    req: ListOffsetsRequest,
) -> Result<Option<ListOffsetsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let read_committed = req.isolation_level == 1;
    let mut resp = ListOffsetsResponse::default();
    for topic in req.topics {
        let mut tr = ListOffsetsTopicResponse::default();
        tr.name = topic.name.clone();
        for p in topic.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            match broker.replicas.get(topic.name.0.as_str(), p.partition_index) {
                None => {
                    pr.error_code = ResponseError::UnknownTopicOrPartition.code();
                    pr.timestamp = -1;
                    pr.offset = -1;
                }
                // -1: no epoch to check (Kafka's localLogWithEpochOrThrow).
                Some(part) => match check_current_leader_epoch(p.current_leader_epoch, part.leader_epoch())
                    .and_then(|()| lookup(&part, p.timestamp, read_committed))
                {
                    Ok((offset, timestamp)) => {
                        pr.offset = offset;
                        pr.timestamp = timestamp;
                        pr.leader_epoch = if offset >= 0 && ctx.version() >= 4 {
                            part.leader_epoch()
                        } else {
                            -1
                        };
                    }
                    Err(code) => {
                        pr.error_code = code.code();
                        pr.timestamp = -1;
                        pr.offset = -1;
                    }
                },
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(resp))
}

/// (offset, timestamp) for one partition; -1/-1 when no record matches.
/// In read_committed the latest offset is the last stable offset.
fn lookup(part: &Partition, timestamp: i64, read_committed: bool) -> Result<(i64, i64), ResponseError> {
    let offsets = part.offsets();
    let found = match timestamp {
        LATEST if read_committed => Some((offsets.last_stable_offset, -1)),
        LATEST => Some((offsets.high_watermark, -1)),
        EARLIEST | EARLIEST_LOCAL => Some((offsets.log_start_offset, -1)),
        LATEST_TIERED => Some((-1, -1)),
        MAX_TIMESTAMP => part.offset_of_max_timestamp().map_err(|e| log_error(&e))?,
        t if t >= 0 => part.offset_for_timestamp(t).map_err(|e| log_error(&e))?,
        _ => return Err(ResponseError::InvalidRequest),
    };
    Ok(found.unwrap_or((-1, -1)))
}
