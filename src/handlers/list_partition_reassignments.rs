//! ListPartitionReassignments (KIP-455): the reassignments in progress,
//! for every topic or for the named partitions, from the active
//! controller's image.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};

use super::{str_bytes, HandlerError, RequestContext};
use crate::metadata::controller::reassignments::{list_reassignments, OngoingReassignment};

pub async fn handle(
    ctx: &RequestContext,
    req: ListPartitionReassignmentsRequest,
) -> Result<Option<ListPartitionReassignmentsResponse>, HandlerError> {
    let image = ctx.broker.metadata.image();
    let wanted: Vec<(String, Option<Vec<i32>>)> = match req.topics {
        None => image.topics.keys().map(|name| (name.clone(), None)).collect(),
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.name.0.to_string(), Some(t.partition_indexes)))
            .collect(),
    };
    let ids = |v: &[i32]| v.iter().map(|&id| BrokerId(id)).collect::<Vec<_>>();
    let mut resp = ListPartitionReassignmentsResponse::default();
    for (name, partitions) in wanted {
        let ongoing = list_reassignments(&image, &name, partitions.as_deref());
        if ongoing.is_empty() {
            continue;
        }
        let mut t = OngoingTopicReassignment::default();
        t.name = TopicName(str_bytes(name));
        t.partitions = ongoing
            .into_iter()
            .map(
                |OngoingReassignment {
                     partition,
                     replicas,
                     adding,
                     removing,
                 }| {
                    let mut p = OngoingPartitionReassignment::default();
                    p.partition_index = partition;
                    p.replicas = ids(&replicas);
                    p.adding_replicas = ids(&adding);
                    p.removing_replicas = ids(&removing);
                    p
                },
            )
            .collect();
        resp.topics.push(t);
    }
    Ok(Some(resp))
}
