//! DeleteRecords: moves each partition's log start offset forward (offset
//! -1 means the high watermark) and returns the new low watermark.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::errors::log_error;
use super::{HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DeleteRecordsRequest,
) -> Result<Option<DeleteRecordsResponse>, HandlerError> {
    let mut resp = DeleteRecordsResponse::default();
    for topic in req.topics {
        let mut tr = DeleteRecordsTopicResult::default();
        tr.name = topic.name.clone();
        for p in topic.partitions {
            let mut pr = DeleteRecordsPartitionResult::default();
            pr.partition_index = p.partition_index;
            pr.low_watermark = -1;
            match ctx.broker.replicas.get(topic.name.0.as_str(), p.partition_index) {
                None => pr.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(part) => match part.delete_records_before(p.offset) {
                    Ok(low) => {
                        tracing::info!(topic = %part.topic, partition = part.index, log_start_offset = low, "deleted records");
                        pr.low_watermark = low;
                    }
                    Err(e) => pr.error_code = log_error(&e).code(),
                },
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    Ok(Some(resp))
}
