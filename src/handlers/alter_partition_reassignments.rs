//! AlterPartitionReassignments (KIP-455): starts, changes or cancels
//! partition reassignments on the active controller. All partitions of
//! the request are decided against one image and committed together.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::metadata::controller::reassignments::alter_reassignment;

pub async fn handle(
    ctx: &RequestContext,
    req: AlterPartitionReassignmentsRequest,
) -> Result<Option<AlterPartitionReassignmentsResponse>, HandlerError> {
    let mut resp = AlterPartitionReassignmentsResponse::default();
    resp.allow_replication_factor_change = req.allow_replication_factor_change;
    let wanted: Vec<(String, i32, Option<Vec<i32>>)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
                )
            })
        })
        .collect();
    let allow_rf_change = req.allow_replication_factor_change;
    let committed = ctx
        .broker
        .decide_metadata(move |image| {
            let mut records = Vec::new();
            let mut results = Vec::new();
            for (topic, partition, target) in &wanted {
                let outcome = image
                    .topics
                    .get(topic)
                    .and_then(|t| t.partitions.get(partition))
                    .filter(|p| {
                        !allow_rf_change && target.as_ref().is_some_and(|t| t.len() != p.target_replicas().len())
                    })
                    .map(|p| {
                        Err(crate::error::ApiError::new(
                            ResponseError::InvalidReplicationFactor,
                            format!(
                                "The replication factor is changed from {} to {}",
                                p.target_replicas().len(),
                                target.as_ref().map_or(0, Vec::len)
                            ),
                        ))
                    })
                    .unwrap_or_else(|| alter_reassignment(image, topic, *partition, target.as_deref()));
                match outcome {
                    Ok(record) => {
                        records.extend(record);
                        results.push(None);
                    }
                    Err(e) => {
                        tracing::info!(topic, partition, error = %e.message, "unable to alter partition reassignment");
                        results.push(Some(e));
                    }
                }
            }
            Ok((records, results))
        })
        .await;
    // A refused commit (NOT_CONTROLLER, a timeout) is every partition's error.
    let (refused, mut results) = match committed {
        Ok(results) => (None, results.into_iter()),
        Err(e) => (Some(e), Vec::new().into_iter()),
    };
    for t in req.topics {
        let mut tr = ReassignableTopicResponse::default();
        tr.name = t.name;
        for p in t.partitions {
            let mut pr = ReassignablePartitionResponse::default();
            pr.partition_index = p.partition_index;
            let error = match &refused {
                Some(e) => Some(e.clone()),
                None => results.next().flatten(),
            };
            if let Some(e) = error {
                pr.error_code = e.code.code();
                pr.error_message = Some(str_bytes(e.message));
            }
            tr.partitions.push(pr);
        }
        resp.responses.push(tr);
    }
    Ok(Some(resp))
}
