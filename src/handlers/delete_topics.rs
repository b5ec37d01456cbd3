//! DeleteTopics, by name or (v6+) by topic id.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::{str_bytes, HandlerError, RequestContext};
use crate::error::ApiError;
use crate::metadata::controller;

pub async fn handle(
    ctx: &RequestContext,
    req: DeleteTopicsRequest,
) -> Result<Option<DeleteTopicsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut targets: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    targets.extend(
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    let mut resp = DeleteTopicsResponse::default();
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default();
        r.topic_id = id;
        let image = broker.metadata.image();
        let resolved = match &name {
            Some(n) => Some(n.clone()),
            None => image.topic_by_id(&id).map(|t| t.name.clone()),
        };
        r.name = resolved.clone().or(name.clone()).map(|n| TopicName(str_bytes(n)));
        let outcome = match resolved {
            None => Err(ApiError::new(
                ResponseError::UnknownTopicId,
                "This server does not host this topic ID.",
            )),
            Some(_) if !broker.config.delete_topic_enable => Err(ApiError::new(
                ResponseError::TopicDeletionDisabled,
                "Topic deletion is disabled.",
            )),
            Some(n) => {
                let topic = n.clone();
                broker
                    .write_metadata(move |image| controller::delete_topic(image, &topic))
                    .await
                    .inspect(|_| {
                        tracing::info!(topic = %n, "deleted topic");
                    })
            }
        };
        if let Some(t) = image.topics.get(r.name.as_ref().map_or("", |n| n.0.as_str())) {
            r.topic_id = t.id;
        }
        if let Err(e) = outcome {
            r.error_code = e.code.code();
            if ctx.version() >= 5 {
                r.error_message = Some(str_bytes(e.message));
            }
        }
        resp.responses.push(r);
    }
    Ok(Some(resp))
}
