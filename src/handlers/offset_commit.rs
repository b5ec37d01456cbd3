//! OffsetCommit: stores a group's committed offsets (with leader epoch and
//! metadata) in `__consumer_offsets`, after the group coordinator checks
//! the member's generation. Simple commits (generation -1) need an Empty group.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::{HandlerError, RequestContext};
use crate::clock::now_ms;
use crate::coordinator::group::state::CommittedOffset;

/// Kafka's `offsets.commit.timeout.ms`: how long a commit waits for the
/// `__consumer_offsets` replicas.
pub(crate) const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why an offset for `partition` of `topic` (absent: unknown topic) may
/// not be committed, if it may not.
pub(crate) fn check_partition(
    topic: Option<&crate::metadata::TopicImage>,
    partition: i32,
    metadata: &str,
    max_metadata: usize,
) -> Option<ResponseError> {
    if topic.is_none_or(|t| !t.partitions.contains_key(&partition)) {
        Some(ResponseError::UnknownTopicOrPartition)
    } else if metadata.len() > max_metadata {
        Some(ResponseError::OffsetMetadataTooLarge)
    } else {
        None
    }
}

pub async fn handle(
    ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> Result<Option<OffsetCommitResponse>, HandlerError> {
    let broker = &ctx.broker;
    let group_id = req.group_id.0.to_string();
    let image = broker.metadata.image();
    let now = now_ms();
    let max_metadata = broker.groups.config.metadata_max_bytes;
    // (topic index, partition index, error) for every partition in the request.
    let mut errors: Vec<Vec<Option<ResponseError>>> = Vec::new();
    let mut valid = Vec::new();
    for topic in &req.topics {
        let known = image.topics.get(topic.name.0.as_str());
        let mut row = Vec::new();
        for p in &topic.partitions {
            let metadata = p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default();
            let error = check_partition(known, p.partition_index, &metadata, max_metadata);
            if error.is_none() {
                valid.push((
                    (topic.name.0.to_string(), p.partition_index),
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: if ctx.version() >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata,
                        commit_timestamp_ms: now,
                    },
                ));
            }
            row.push(error);
        }
        errors.push(row);
    }
    let top = if group_id.is_empty() {
        Some(ResponseError::InvalidGroupId)
    } else {
        let committed = broker.groups.commit(
            &group_id,
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id_or_member_epoch,
            valid,
        );
        match committed {
            Ok(Some(written)) => written.replicated(COMMIT_TIMEOUT).await.err(),
            Ok(None) => None,
            Err(e) => Some(e),
        }
    };
    let mut resp = OffsetCommitResponse::default();
    for (topic, row) in req.topics.into_iter().zip(errors) {
        let mut t = OffsetCommitResponseTopic::default();
        t.name = topic.name;
        t.partitions = topic
            .partitions
            .iter()
            .zip(row)
            .map(|(p, e)| {
                let mut r = OffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = e.or(top).map_or(0, |e| e.code());
                r
            })
            .collect();
        resp.topics.push(t);
    }
    Ok(Some(resp))
}
