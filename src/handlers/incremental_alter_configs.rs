//! IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on topic
//! configs and dynamic broker configs (APPEND/SUBTRACT only for list-typed
//! configs such as cleanup.policy), committed atomically per resource.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::alter_configs::commit;
use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::broker_configs::{self, ConfigType};
use crate::error::ApiError;
use crate::metadata::records::RESOURCE_BROKER;
use crate::metadata::ClusterImage;
use crate::topic_configs::{default_value, definition, dynamic_defaults, list_items, Kind};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub async fn handle(
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> Result<Option<IncrementalAlterConfigsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let ops: Vec<(String, i8, Option<String>)> = res
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.to_string()),
                )
            })
            .collect();
        let resource_type = res.resource_type;
        let resource = name.clone();
        let b = ctx.broker.clone();
        let outcome = commit(broker, resource_type, &name, req.validate_only, move |image| {
            let current = image
                .resource_config(resource_type, &resource)
                .cloned()
                .unwrap_or_default();
            let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
            for (key, op, value) in &ops {
                if changes.contains_key(key) {
                    return Err(ApiError::new(
                        ResponseError::InvalidRequest,
                        format!("Error due to duplicate config keys : {key}"),
                    ));
                }
                let change = match *op {
                    SET => Some(value.clone().ok_or_else(|| {
                        ApiError::new(
                            ResponseError::InvalidRequest,
                            format!("Null value not supported for : {key}"),
                        )
                    })?),
                    DELETE => None,
                    APPEND | SUBTRACT => {
                        let own = current.get(key);
                        let base = if resource_type == RESOURCE_BROKER {
                            broker_list_base(key, *op, own)?
                        } else {
                            topic_list_base(&b, image, key, *op, own)?
                        };
                        let mut items: Vec<String> = list_items(&base).map(str::to_string).collect();
                        let given: Vec<String> = value
                            .clone()
                            .unwrap_or_default()
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .collect();
                        if *op == APPEND {
                            for g in given {
                                if !items.contains(&g) {
                                    items.push(g);
                                }
                            }
                        } else {
                            items.retain(|i| !given.contains(i));
                        }
                        Some(items.join(","))
                    }
                    other => {
                        return Err(ApiError::new(
                            ResponseError::InvalidRequest,
                            format!("Unknown config operation {other}"),
                        ));
                    }
                };
                changes.insert(key.clone(), change);
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

fn op_name(op: i8) -> &'static str {
    if op == APPEND {
        "APPEND"
    } else {
        "SUBTRACT"
    }
}

/// What APPEND and SUBTRACT start from on a topic: its own value, else
/// the broker-level value the topic follows (dynamic, then static, then
/// default).
fn topic_list_base(
    broker: &Broker,
    image: &ClusterImage,
    key: &str,
    op: i8,
    own: Option<&String>,
) -> Result<String, ApiError> {
    let def = definition(key).filter(|d| matches!(d.kind, Kind::ChoiceList(_) | Kind::ReplicaList));
    let Some(def) = def else {
        return Err(ApiError::new(
            ResponseError::InvalidConfig,
            format!("Can't {} to key {key} because its type is not LIST.", op_name(op)),
        ));
    };
    if let Some(v) = own {
        return Ok(v.clone());
    }
    let dynamic = dynamic_defaults(&image.dynamic_broker_layers(broker.config.node_id));
    Ok(dynamic
        .get(key)
        .cloned()
        .unwrap_or_else(|| default_value(def, &broker.config.log)))
}

/// Kafka's prepareIncrementalConfigs for a broker resource: only LIST
/// configs take APPEND and SUBTRACT, starting from the resource's value,
/// else the config's default.
fn broker_list_base(key: &str, op: i8, own: Option<&String>) -> Result<String, ApiError> {
    let Some(def) = broker_configs::definition(key) else {
        return Err(ApiError::new(
            ResponseError::InvalidConfig,
            format!("Unknown config name: {key}"),
        ));
    };
    if def.ty != ConfigType::List {
        let verb = if op == APPEND { "append" } else { "subtract" };
        return Err(ApiError::new(
            ResponseError::InvalidConfig,
            format!("Config value {verb} is not allowed for config key: {key}"),
        ));
    }
    Ok(own
        .cloned()
        .unwrap_or_else(|| def.default.unwrap_or_default().to_string()))
}
