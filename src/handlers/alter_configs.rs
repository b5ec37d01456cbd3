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
use crate::metadata::controller::{self, ApiError};
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
        let outcome = commit(&ctx.broker, res.resource_type, &name, req.validate_only, |image| {
            let mut changes: BTreeMap<String, Option<String>> = image
                .resource_config(res.resource_type, &name)
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
        });
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
pub fn commit(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    changes: impl FnOnce(&ClusterImage) -> Result<BTreeMap<String, Option<String>>, ApiError>,
) -> Result<(), ApiError> {
    match resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => controller::validate_broker_resource(name, broker.config.node_id)?,
        other => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let decide = |image: &ClusterImage| {
        let c = changes(image)?;
        if resource_type == RESOURCE_TOPIC {
            controller::alter_topic_configs(image, name, &c)
        } else {
            controller::alter_broker_configs(name, &c)
        }
    };
    if validate_only {
        return decide(&broker.metadata.image()).map(|_| ());
    }
    broker.write_metadata(decide).map(|_| {
        if resource_type == RESOURCE_TOPIC {
            tracing::info!(topic = name, "altered topic configs");
        } else {
            tracing::info!(broker = name, "altered dynamic broker configs");
        }
    })
}
