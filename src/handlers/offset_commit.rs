//! OffsetCommit: stores a group's committed offsets (with leader epoch and
//! metadata) in `__consumer_offsets`, after the group coordinator checks
//! the member's generation. Simple commits (generation -1) need an Empty group.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::protocol::StrBytes;

use super::{HandlerError, RequestContext};
use crate::clock::now_ms;
use crate::coordinator::group::state::CommittedOffset;

/// Kafka's `offsets.commit.timeout.ms`: how long a commit waits for the
/// `__consumer_offsets` replicas.
pub(crate) const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One partition's offset as OffsetCommit and TxnOffsetCommit carry it.
pub(crate) struct OffsetToCommit<'a> {
    pub partition: i32,
    pub offset: i64,
    /// -1 below the versions that carry it.
    pub leader_epoch: i32,
    pub metadata: Option<&'a StrBytes>,
}

/// Per topic, per partition: why each offset may not be committed (an
/// unknown topic or partition, metadata over `offset.metadata.max.bytes`),
/// and the offsets that may.
pub(crate) type CheckedOffsets = (Vec<Vec<Option<ResponseError>>>, Vec<((String, i32), CommittedOffset)>);

pub(crate) fn check_offsets<'a>(
    ctx: &RequestContext,
    topics: impl Iterator<Item = (&'a str, Vec<OffsetToCommit<'a>>)>,
) -> CheckedOffsets {
    let image = ctx.broker.metadata.image();
    let now = now_ms();
    let max_metadata = ctx.broker.groups.config.metadata_max_bytes;
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for (name, partitions) in topics {
        let known = image.topics.get(name);
        let mut row = Vec::new();
        for p in partitions {
            let metadata = p.metadata.map(|m| m.to_string()).unwrap_or_default();
            let error = if known.is_none_or(|t| !t.partitions.contains_key(&p.partition)) {
                Some(ResponseError::UnknownTopicOrPartition)
            } else if metadata.len() > max_metadata {
                Some(ResponseError::OffsetMetadataTooLarge)
            } else {
                None
            };
            if error.is_none() {
                let offset = CommittedOffset {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata,
                    commit_timestamp_ms: now,
                };
                valid.push(((name.to_string(), p.partition), offset));
            }
            row.push(error);
        }
        errors.push(row);
    }
    (errors, valid)
}

pub async fn handle(
    ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> Result<Option<OffsetCommitResponse>, HandlerError> {
    let broker = &ctx.broker;
    let group_id = req.group_id.0.to_string();
    let epochs = ctx.version() >= 6;
    let (errors, valid) = check_offsets(
        ctx,
        req.topics.iter().map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| OffsetToCommit {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if epochs { p.committed_leader_epoch } else { -1 },
                    metadata: p.committed_metadata.as_ref(),
                })
                .collect();
            (t.name.0.as_str(), partitions)
        }),
    );
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
