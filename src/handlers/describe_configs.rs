//! DescribeConfigs for topics and the broker, with each value's source and
//! synonyms as Kafka reports them: a topic override is DYNAMIC_TOPIC_CONFIG,
//! a broker key set at start-up STATIC_BROKER_CONFIG, otherwise DEFAULT_CONFIG.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::config::ConfigSource;
use crate::log::config::{default_value, Kind, TOPIC_CONFIGS};
use crate::metadata::records::{RESOURCE_BROKER, RESOURCE_TOPIC};

/// Kafka's DescribeConfigsResponse.ConfigSource ids.
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

/// One described config, before it is put in a response type.
pub struct Entry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    pub config_type: i8,
    /// (name, value, source), most specific first.
    pub synonyms: Vec<(String, String, i8)>,
}

fn config_type(kind: Kind) -> i8 {
    match kind {
        Kind::Bool => 1,
        Kind::Str | Kind::Choice(_) => 2,
        Kind::Int => 3,
        Kind::Long => 5,
        Kind::Double => 6,
        Kind::ChoiceList(_) => 7,
    }
}

/// Every topic config with its effective value, given the topic's overrides.
pub fn topic_entries(broker: &Broker, overrides: &BTreeMap<String, String>) -> Vec<Entry> {
    TOPIC_CONFIGS
        .iter()
        .map(|def| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(def.name) {
                synonyms.push((def.name.to_string(), v.clone(), SOURCE_TOPIC));
            }
            if let Some(syn) = def.broker_synonym {
                if let Some((v, ConfigSource::Static)) = broker.config.described.get(syn) {
                    synonyms.push((syn.to_string(), v.clone(), SOURCE_STATIC_BROKER));
                }
            }
            let default = default_value(def, &broker.config.log);
            synonyms.push((
                def.broker_synonym.unwrap_or(def.name).to_string(),
                default.clone(),
                SOURCE_DEFAULT,
            ));
            let (value, source) = match overrides.get(def.name) {
                Some(v) => (v.clone(), SOURCE_TOPIC),
                None => match def.broker_synonym.and_then(|s| broker.config.described.get(s)) {
                    Some((_, ConfigSource::Static)) => (default, SOURCE_STATIC_BROKER),
                    _ => (default, SOURCE_DEFAULT),
                },
            };
            Entry {
                name: def.name.to_string(),
                value: Some(value),
                source,
                read_only: false,
                sensitive: def.sensitive,
                config_type: config_type(def.kind),
                synonyms,
            }
        })
        .collect()
}

fn broker_entries(broker: &Broker) -> Vec<Entry> {
    broker
        .config
        .described
        .iter()
        .map(|(name, (value, source))| {
            let source = match source {
                ConfigSource::Static => SOURCE_STATIC_BROKER,
                ConfigSource::Default => SOURCE_DEFAULT,
            };
            Entry {
                name: name.clone(),
                value: (!value.is_empty()).then(|| value.clone()),
                source,
                read_only: true,
                sensitive: false,
                config_type: 2,
                synonyms: vec![(name.clone(), value.clone(), source)],
            }
        })
        .collect()
}

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeConfigsRequest,
) -> Result<Option<DescribeConfigsResponse>, HandlerError> {
    let broker = &ctx.broker;
    let image = broker.metadata.image();
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let name = res.resource_name.to_string();
        let entries = match res.resource_type {
            RESOURCE_TOPIC if image.topics.contains_key(&name) => Ok(topic_entries(broker, &image.topic_config(&name))),
            RESOURCE_TOPIC => Err((
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist."),
            )),
            RESOURCE_BROKER if name.is_empty() || name == broker.config.node_id.to_string() => {
                Ok(broker_entries(broker))
            }
            RESOURCE_BROKER => Err((
                ResponseError::InvalidRequest,
                format!(
                    "Unexpected broker id, expected {} but received {name}",
                    broker.config.node_id
                ),
            )),
            other => Err((
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            )),
        };
        match entries {
            Ok(entries) => {
                let wanted = res
                    .configuration_keys
                    .as_ref()
                    .map(|keys| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
                r.configs = entries
                    .into_iter()
                    .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(&e.name)))
                    .map(|e| to_result(e, req.include_synonyms, ctx.version()))
                    .collect();
            }
            Err((code, message)) => {
                r.error_code = code.code();
                r.error_message = Some(str_bytes(message));
            }
        }
        resp.results.push(r);
    }
    Ok(Some(resp))
}

fn to_result(e: Entry, include_synonyms: bool, version: i16) -> DescribeConfigsResourceResult {
    let mut c = DescribeConfigsResourceResult::default();
    c.name = str_bytes(e.name);
    c.value = e.value.map(str_bytes);
    c.read_only = e.read_only;
    c.config_source = e.source;
    c.is_sensitive = e.sensitive;
    c.documentation = None; // Kafka sends null unless include_documentation asks for it
    if version >= 3 {
        c.config_type = e.config_type;
    }
    if include_synonyms {
        c.synonyms = e
            .synonyms
            .into_iter()
            .map(|(name, value, source)| {
                let mut s = DescribeConfigsSynonym::default();
                s.name = str_bytes(name);
                s.value = Some(str_bytes(value));
                s.source = source;
                s
            })
            .collect();
    }
    c
}
