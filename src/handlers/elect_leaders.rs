//! ElectLeaders (KIP-460): preferred or unclean leader elections, decided
//! per partition by the active controller and committed together.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};

use super::{str_bytes, HandlerError, RequestContext};
use crate::error::ApiError;
use crate::metadata::controller::reassignments::{elect_leader, ElectionType};

/// A topic's partitions and each one's error (none: elected).
type TopicOutcome = (String, Vec<(i32, Option<ApiError>)>);

pub async fn handle(
    ctx: &RequestContext,
    req: ElectLeadersRequest,
) -> Result<Option<ElectLeadersResponse>, HandlerError> {
    let mut resp = ElectLeadersResponse::default();
    // v0 has no election type: preferred.
    let Some(kind) = ElectionType::from_wire(if ctx.version() == 0 { 0 } else { req.election_type }) else {
        resp.error_code = ResponseError::InvalidRequest.code();
        return Ok(Some(resp));
    };
    // Null partitions: every partition, and only those whose election
    // did something other than ELECTION_NOT_NEEDED are reported.
    let all = req.topic_partitions.is_none();
    let requested: Option<Vec<(String, Vec<i32>)>> = req
        .topic_partitions
        .map(|ts| ts.into_iter().map(|t| (t.topic.0.to_string(), t.partitions)).collect());
    let committed = ctx
        .broker
        .decide_metadata(move |image| {
            let wanted = requested.unwrap_or_else(|| {
                image
                    .topics
                    .iter()
                    .map(|(name, t)| (name.clone(), t.partitions.keys().copied().collect()))
                    .collect()
            });
            let mut records = Vec::new();
            let mut results: Vec<TopicOutcome> = Vec::new();
            for (topic, partitions) in wanted {
                let mut per = Vec::new();
                for partition in partitions {
                    match elect_leader(image, &topic, partition, kind) {
                        Ok(record) => {
                            records.push(record);
                            per.push((partition, None));
                        }
                        Err(e) if all && e.code == ResponseError::ElectionNotNeeded => {}
                        Err(e) => per.push((partition, Some(e))),
                    }
                }
                results.push((topic, per));
            }
            Ok((records, results))
        })
        .await;
    let results = match committed {
        Ok(results) => results,
        Err(e) => {
            resp.error_code = e.code.code();
            return Ok(Some(resp));
        }
    };
    for (topic, per) in results {
        let mut t = ReplicaElectionResult::default();
        t.topic = TopicName(str_bytes(topic));
        for (partition, error) in per {
            let mut p = PartitionResult::default();
            p.partition_id = partition;
            if let Some(e) = error {
                p.error_code = e.code.code();
                p.error_message = Some(str_bytes(e.message));
            }
            t.partition_result.push(p);
        }
        resp.replica_election_results.push(t);
    }
    Ok(Some(resp))
}
