//! AlterConfigs (the legacy, whole-set form): a topic's overrides, or a
//! broker's (or the cluster-wide default's) dynamic configs, become exactly
//! the listed configs. Also holds the commit step shared with
//! IncrementalAlterConfigs.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::error::ApiError;
use crate::metadata::controller;
use crate::metadata::records::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::metadata::ClusterImage;

pub async fn handle(
    ctx: &RequestContext,
    req: AlterConfigsRequest,
) -> Result<Option<AlterConfigsResponse>, HandlerError> {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let desired: BTreeMap<String, Option<String>> = res
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let resource_type = res.resource_type;
        let resource = name.clone();
        let outcome = commit(&ctx.broker, resource_type, &name, req.validate_only, move |image| {
            let mut changes: BTreeMap<String, Option<String>> = image
                .resource_config(resource_type, &resource)
                .into_iter()
                .flat_map(|c| c.keys().cloned())
                .filter(|k| !desired.contains_key(k))
                .map(|k| (k, None))
                .collect();
            for (k, v) in &desired {
                let v = v.clone().ok_or_else(|| {
                    ApiError::new(
                        ResponseError::InvalidRequest,
                        format!("Null value not supported for : {k}"),
                    )
                })?;
                changes.insert(k.clone(), Some(v));
            }
            Ok(changes)
        })
        .await;
        let mut r = AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err(e) = outcome {
            r.error_code = e.code.code();
            r.error_message = Some(str_bytes(e.message));
        }
        resp.responses.push(r);
    }
    Ok(Some(resp))
}

/// Validates and (unless `validate_only`) commits the config changes that
/// `changes` computes from the current image, for a topic or for dynamic
/// broker configs (one broker, or the cluster-wide default: empty name).
pub async fn commit(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    changes: impl FnOnce(&ClusterImage) -> Result<BTreeMap<String, Option<String>>, ApiError> + Send + 'static,
) -> Result<(), ApiError> {
    match resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => {
            // Requests reach the active controller from any broker: a
            // registered broker id is as good as this node's own.
            let image = broker.metadata.image();
            let registered = name.parse::<i32>().ok().filter(|id| image.brokers.contains_key(id));
            controller::validate_broker_resource(name, registered.unwrap_or(broker.config.node_id))?
        }
        other => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let resource = name.to_string();
    let decide = move |image: &ClusterImage| {
        let c = changes(image)?;
        if resource_type == RESOURCE_TOPIC {
            controller::alter_topic_configs(image, &resource, &c)
        } else {
            controller::alter_broker_configs(&resource, &c)
        }
    };
    if validate_only {
        return decide(&broker.metadata.image()).map(|_| ());
    }
    broker.write_metadata(decide).await.map(|_| {
        if resource_type == RESOURCE_TOPIC {
            tracing::info!(topic = name, "altered topic configs");
        } else {
            tracing::info!(broker = name, "altered dynamic broker configs");
        }
    })
}
