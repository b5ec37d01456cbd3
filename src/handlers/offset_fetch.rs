//! OffsetFetch: a group's committed offsets, for named partitions or (null
//! topics) all of them; one group per request up to v7, several from v8.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::group::coordinator::FetchedOffset;

type Fetched = Vec<(String, Vec<(i32, FetchedOffset)>)>;

/// Offsets grouped by topic, in request order (or name order for "all").
fn fetch(
    ctx: &RequestContext,
    group_id: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Fetched {
    let mut out: Fetched = Vec::new();
    for (topic, partition, offset) in ctx.broker.groups.fetch_offsets(group_id, wanted, require_stable) {
        match out.last_mut() {
            Some((t, ps)) if *t == topic => ps.push((partition, offset)),
            _ => out.push((topic, vec![(partition, offset)])),
        }
    }
    out
}

/// (offset, leader epoch, metadata, error code) of one partition.
fn fields(o: &FetchedOffset) -> (i64, i32, String, i16) {
    match o {
        Ok(Some(o)) => (o.offset, o.leader_epoch, o.metadata.clone(), 0),
        Ok(None) => (-1, -1, String::new(), 0),
        Err(e) => (-1, -1, String::new(), e.code()),
    }
}

pub async fn handle(
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> Result<Option<OffsetFetchResponse>, HandlerError> {
    let mut resp = OffsetFetchResponse::default();
    if ctx.version() < 8 {
        let group_id = req.group_id.0.to_string();
        let wanted = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect()
        });
        if group_id.is_empty() {
            resp.error_code = ResponseError::InvalidGroupId.code();
            return Ok(Some(resp));
        }
        if let Some(e) = ctx.broker.groups.coordinator_error(&group_id) {
            resp.error_code = e.code();
            return Ok(Some(resp));
        }
        for (topic, partitions) in fetch(ctx, &group_id, wanted, req.require_stable) {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = TopicName(str_bytes(topic));
            t.partitions = partitions
                .iter()
                .map(|(p, o)| {
                    let (offset, epoch, metadata, error) = fields(o);
                    let mut r = OffsetFetchResponsePartition::default();
                    r.partition_index = *p;
                    r.error_code = error;
                    r.committed_offset = offset;
                    if ctx.version() >= 5 {
                        r.committed_leader_epoch = epoch;
                    }
                    r.metadata = Some(str_bytes(metadata));
                    r
                })
                .collect();
            resp.topics.push(t);
        }
        return Ok(Some(resp));
    }
    for g in req.groups {
        let group_id = g.group_id.0.to_string();
        let mut out = OffsetFetchResponseGroup::default();
        out.group_id = g.group_id;
        if group_id.is_empty() {
            out.error_code = ResponseError::InvalidGroupId.code();
            resp.groups.push(out);
            continue;
        }
        if let Some(e) = ctx.broker.groups.coordinator_error(&group_id) {
            out.error_code = e.code();
            resp.groups.push(out);
            continue;
        }
        let wanted = g.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes))
                .collect()
        });
        for (topic, partitions) in fetch(ctx, &group_id, wanted, req.require_stable) {
            let mut t = OffsetFetchResponseTopics::default();
            t.name = TopicName(str_bytes(topic));
            t.partitions = partitions
                .iter()
                .map(|(p, o)| {
                    let (offset, epoch, metadata, error) = fields(o);
                    let mut r = OffsetFetchResponsePartitions::default();
                    r.partition_index = *p;
                    r.error_code = error;
                    r.committed_offset = offset;
                    r.committed_leader_epoch = epoch;
                    r.metadata = Some(str_bytes(metadata));
                    r
                })
                .collect();
            out.topics.push(t);
        }
        resp.groups.push(out);
    }
    Ok(Some(resp))
}
