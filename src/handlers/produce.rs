//! Produce: appends each partition's record batch verbatim to its log.
//! acks=0 sends no response; acks=1 and acks=all answer once the batch is
//! in the log (on one node the ISR is the leader alone, so the high
//! watermark moves with the append).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::errors::partition_error;
use super::metadata::resolve;
use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::now_ms;
use crate::log::LogError;
use crate::replication::partition::PartitionError;

pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> Result<Option<ProduceResponse>, HandlerError> {
    let broker = &ctx.broker;
    let image = broker.metadata.image();
    let acks = req.acks;
    let now = now_ms();
    let mut resp = ProduceResponse::default();
    for topic in req.topic_data {
        let mut tr = TopicProduceResponse::default();
        tr.name = topic.name.clone();
        tr.topic_id = topic.topic_id;
        let resolved = resolve(&image, topic.name.0.as_str(), &topic.topic_id);
        for pd in topic.partition_data {
            let mut pr = PartitionProduceResponse::default();
            pr.index = pd.index;
            let part = resolved.and_then(|t| broker.replicas.get(&t.name, pd.index));
            let outcome = if !matches!(acks, -1..=1) {
                Err((ResponseError::InvalidRequiredAcks, None))
            } else if let Some(part) = &part {
                match &pd.records {
                    Some(records) => part.append(records, acks, now).map_err(|e| {
                        tracing::debug!(topic = %part.topic, partition = part.index, error = %e, "produce refused");
                        (partition_error(&e), Some(e))
                    }),
                    None => Err((ResponseError::InvalidRecord, None)),
                }
            } else if resolved.is_none() && topic.name.0.is_empty() {
                Err((ResponseError::UnknownTopicId, None))
            } else {
                Err((ResponseError::UnknownTopicOrPartition, None))
            };
            match outcome {
                Ok(info) => {
                    pr.base_offset = info.base_offset;
                    pr.log_append_time_ms = info.log_append_time_ms;
                    pr.log_start_offset = info.log_start_offset;
                }
                Err((code, error)) => {
                    pr.error_code = code.code();
                    pr.base_offset = -1;
                    pr.log_append_time_ms = -1;
                    pr.log_start_offset = -1;
                    if let Some(PartitionError::Log(LogError::RecordErrors(e))) = &error {
                        // KIP-467: the records at fault, by index.
                        pr.log_start_offset = part.as_ref().map_or(-1, |p| p.offsets().log_start_offset);
                        if ctx.version() >= 8 {
                            pr.record_errors = e
                                .errors
                                .iter()
                                .map(|(index, message)| {
                                    let mut r = BatchIndexAndErrorMessage::default();
                                    r.batch_index = *index;
                                    r.batch_index_error_message = Some(str_bytes(message.clone()));
                                    r
                                })
                                .collect();
                        }
                    }
                    if ctx.version() >= 8 {
                        let message = match &error {
                            Some(e) => Some(e.to_string()),
                            None if code == ResponseError::InvalidRecord => Some("records are null".to_string()),
                            None => None,
                        };
                        pr.error_message = message.map(str_bytes);
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    if acks == 0 {
        // With acks=0 the client reads no response: Kafka closes the
        // connection on an error so that the producer notices.
        let failed = resp
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .any(|p| p.error_code != 0);
        if failed {
            return Err(HandlerError("acks=0 produce failed".into()));
        }
        return Ok(None);
    }
    Ok(Some(resp))
}
