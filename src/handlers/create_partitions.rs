//! CreatePartitions: grows topics, or only validates with `validate_only`.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::placement_seed;
use crate::metadata::controller;

pub async fn handle(
    ctx: &RequestContext,
    req: CreatePartitionsRequest,
) -> Result<Option<CreatePartitionsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut resp = CreatePartitionsResponse::default();
    for t in req.topics {
        let name = t.name.0.to_string();
        let assignments: Option<Vec<Vec<i32>>> = t
            .assignments
            .as_ref()
            .map(|a| a.iter().map(|a| a.broker_ids.iter().map(|b| b.0).collect()).collect());
        let count = t.count;
        let outcome = if req.validate_only {
            controller::create_partitions(
                &broker.metadata.image(),
                &name,
                count,
                assignments.as_deref(),
                placement_seed(),
            )
            .map(|_| ())
        } else {
            let topic = name.clone();
            broker
                .write_metadata(move |image| {
                    controller::create_partitions(image, &topic, count, assignments.as_deref(), placement_seed())
                })
                .await
                .map(|_| tracing::info!(topic = %name, count, "created partitions"))
        };
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name;
        if let Err(e) = outcome {
            r.error_code = e.code.code();
            r.error_message = Some(str_bytes(e.message));
        }
        resp.results.push(r);
    }
    Ok(Some(resp))
}
