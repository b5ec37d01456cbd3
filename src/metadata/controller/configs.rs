//! Config decisions: topic config changes, dynamic broker configs
//! (KIP-226) and the records the controller writes when it becomes active.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use crate::broker_configs;
use crate::error::ApiError;
use crate::metadata::records::{MetadataRecord, RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::metadata::ClusterImage;
use crate::topic_configs as topic_config;

/// What the controller writes when it becomes active. As Kafka 4.1 does
/// (KIP-966, for eligible leader replicas), the cluster-wide
/// `min.insync.replicas` is recorded once as a dynamic default, taken from
/// the broker's own setting, so that changing it later is an ordinary
/// cluster config change.
pub fn activation_records(image: &ClusterImage, static_min_insync_replicas: i32) -> Vec<MetadataRecord> {
    const KEY: &str = "min.insync.replicas";
    if image.broker_config("").is_some_and(|c| c.contains_key(KEY)) {
        return Vec::new();
    }
    vec![MetadataRecord::Config {
        resource_type: RESOURCE_BROKER,
        resource_name: String::new(),
        name: KEY.to_string(),
        value: Some(static_min_insync_replicas.to_string()),
    }]
}

pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in configs {
        topic_config::validate(k, v).map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
    }
    Ok(())
}

/// Config changes on a topic: `Some` sets, `None` deletes.
pub fn alter_topic_configs(
    image: &ClusterImage,
    name: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<Vec<MetadataRecord>, ApiError> {
    if !image.topics.contains_key(name) {
        return Err(ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    }
    let mut records = Vec::new();
    for (k, v) in changes {
        match v {
            Some(value) => topic_config::validate(k, value),
            None => topic_config::definition(k)
                .map(|_| ())
                .ok_or_else(|| format!("Unknown topic config name: {k}")),
        }
        .map_err(|m| ApiError::new(ResponseError::InvalidConfig, m))?;
        records.push(MetadataRecord::Config {
            resource_type: RESOURCE_TOPIC,
            resource_name: name.to_string(),
            name: k.clone(),
            value: v.clone(),
        });
    }
    Ok(records)
}

/// Kafka's check of a BROKER resource name in AlterConfigs and
/// IncrementalAlterConfigs (ConfigAdminManager.validateResourceNameIsCurrentNodeId):
/// empty for the cluster-wide default, else this node's id.
pub fn validate_broker_resource(name: &str, node_id: i32) -> Result<(), ApiError> {
    if name.is_empty() {
        return Ok(());
    }
    let id: i32 = name.parse().map_err(|_| {
        ApiError::new(
            ResponseError::InvalidRequest,
            format!("Node id must be an integer, but it is: {name}"),
        )
    })?;
    if id != node_id {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unexpected broker id, expected {node_id}, but received {name}"),
        ));
    }
    Ok(())
}

/// Dynamic broker config changes (KIP-226) for one broker (`name` = its
/// node id) or the cluster-wide default (`name` empty): `Some` sets, `None`
/// deletes (back to the static value). Kafka's DynamicBrokerConfig.validateConfigs
/// decides; its ConfigExceptions reach the client as INVALID_REQUEST
/// (ConfigAdminManager, KAFKA-13609). Names fjord does not know are stored
/// as Kafka stores custom configs.
pub fn alter_broker_configs(
    name: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<Vec<MetadataRecord>, ApiError> {
    let invalid = |m: String| ApiError::new(ResponseError::InvalidRequest, m);
    let set: Vec<(&String, &String)> = changes.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))).collect();
    let listed = |keys: Vec<&str>| format!("Set({})", keys.join(", "));
    let static_only: Vec<&str> = set
        .iter()
        .filter(|(k, _)| !broker_configs::is_dynamic(k))
        .map(|(k, _)| k.as_str())
        .collect();
    if !static_only.is_empty() {
        return Err(invalid(format!(
            "Cannot update these configs dynamically: {}",
            listed(static_only)
        )));
    }
    for (k, v) in &set {
        let Some(def) = broker_configs::definition(k) else {
            continue;
        };
        broker_configs::parse_value(def, v).map_err(invalid)?;
        // The topic config a broker config defaults is validated as
        // Kafka's LogConfig validates it, named by the broker key.
        if let Some(t) = topic_config::TOPIC_CONFIGS
            .iter()
            .find(|t| t.broker_synonym == Some(def.name))
        {
            topic_config::validate(t.name, v).map_err(|m| {
                invalid(m.replace(
                    &format!("configuration {}:", t.name),
                    &format!("configuration {}:", def.name),
                ))
            })?;
        }
    }
    if name.is_empty() {
        let per_broker: Vec<&str> = set
            .iter()
            .filter(|(k, _)| broker_configs::PER_BROKER_ONLY.contains(&k.as_str()))
            .map(|(k, _)| k.as_str())
            .collect();
        if !per_broker.is_empty() {
            return Err(invalid(format!(
                "Cannot update these configs at default cluster level, broker id must be specified: {}",
                listed(per_broker)
            )));
        }
    }
    Ok(changes
        .iter()
        .map(|(k, v)| MetadataRecord::Config {
            resource_type: RESOURCE_BROKER,
            resource_name: name.to_string(),
            name: k.clone(),
            value: v.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_configs_follow_kafkas_dynamic_rules() {
        let set = |k: &str, v: &str| BTreeMap::from([(k.to_string(), Some(v.to_string()))]);
        let err = |name: &str, c| alter_broker_configs(name, &c).unwrap_err();
        assert_eq!(
            err("1", set("log.retention.hours", "1")).message,
            "Cannot update these configs dynamically: Set(log.retention.hours)"
        );
        assert_eq!(
            err("1", set("broker.rack", "r1")).message,
            "Cannot update these configs dynamically: Set(broker.rack)"
        );
        assert_eq!(
            err("1", set("log.retention.hours", "1")).code,
            ResponseError::InvalidRequest
        );
        assert_eq!(
            err("1", set("log.retention.ms", "soon")).message,
            "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"
        );
        assert!(err("", set("log.cleanup.policy", "sometimes"))
            .message
            .starts_with("Invalid value sometimes for configuration log.cleanup.policy:"));
        assert_eq!(
            err("", set("listeners", "PLAINTEXT://:9093")).message,
            "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)"
        );
        assert!(alter_broker_configs("1", &set("listeners", "PLAINTEXT://:9093")).is_ok());
        let records = alter_broker_configs("", &set("log.retention.ms", "1000")).unwrap();
        let mut image = ClusterImage::default();
        image.apply(&records[0]);
        assert_eq!(image.broker_config("").unwrap()["log.retention.ms"], "1000");
        let deleted = alter_broker_configs("", &BTreeMap::from([("log.retention.ms".to_string(), None)])).unwrap();
        image.apply(&deleted[0]);
        assert!(image.broker_config("").is_none());
        assert_eq!(
            validate_broker_resource("x", 1).unwrap_err().message,
            "Node id must be an integer, but it is: x"
        );
        assert_eq!(
            validate_broker_resource("2", 1).unwrap_err().message,
            "Unexpected broker id, expected 1, but received 2"
        );
    }
}
