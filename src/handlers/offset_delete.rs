//! OffsetDelete: drops a group's committed offsets for partitions of
//! topics its members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC
//! otherwise).

use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::{HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: OffsetDeleteRequest,
) -> Result<Option<OffsetDeleteResponse>, HandlerError> {
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index))
        })
        .collect();
    let mut resp = OffsetDeleteResponse::default();
    match ctx.broker.groups.delete_offsets(req.group_id.0.as_str(), &partitions) {
        Err(e) => resp.error_code = e.code(),
        Ok(results) => {
            let mut results = results.into_iter();
            for t in req.topics {
                let mut out = OffsetDeleteResponseTopic::default();
                out.name = t.name;
                for p in t.partitions {
                    let mut r = OffsetDeleteResponsePartition::default();
                    r.partition_index = p.partition_index;
                    r.error_code = results.next().flatten().map_or(0, |e| e.code());
                    out.partitions.push(r);
                }
                resp.topics.push(out);
            }
        }
    }
    Ok(Some(resp))
}
