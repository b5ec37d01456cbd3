//! DescribeConfigs for topics and brokers, with each value's source and
//! synonyms as Kafka reports them (its ConfigHelper): a topic override is
//! TOPIC_CONFIG; otherwise the value comes from the topic config's broker
//! synonym, looked up per-broker dynamic (DYNAMIC_BROKER_CONFIG), then
//! cluster-wide dynamic (DYNAMIC_DEFAULT_BROKER_CONFIG), then the broker's
//! own settings (STATIC_BROKER_CONFIG), then the default (DEFAULT_CONFIG).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::broker::Broker;
use crate::broker_configs::{self, ConfigType, BROKER_CONFIGS};
use crate::metadata::records::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::metadata::ClusterImage;
use crate::topic_configs::{default_value, Kind, TopicConfigDef, TOPIC_CONFIGS};

/// Kafka's DescribeConfigsResponse.ConfigSource ids.
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_DYNAMIC_BROKER: i8 = 2;
pub const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
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
    pub documentation: &'static str,
    /// (name, value, source), most specific first.
    pub synonyms: Vec<Synonym>,
}

pub type Synonym = (String, Option<String>, i8);

fn topic_config_type(kind: Kind) -> ConfigType {
    match kind {
        Kind::Bool => ConfigType::Boolean,
        Kind::Str | Kind::Choice(_) => ConfigType::String,
        Kind::Int => ConfigType::Int,
        Kind::Long => ConfigType::Long,
        Kind::Double => ConfigType::Double,
        Kind::ChoiceList(_) | Kind::ReplicaList => ConfigType::List,
    }
}

/// Where broker-level values come from, most specific first.
pub struct Layers<'a> {
    per_broker: Option<&'a BTreeMap<String, String>>,
    cluster_default: Option<&'a BTreeMap<String, String>>,
    static_configs: &'a BTreeMap<String, String>,
}

impl<'a> Layers<'a> {
    pub fn new(broker: &'a Broker, image: &'a ClusterImage) -> Self {
        let [per_broker, cluster_default] = image.dynamic_broker_layers(broker.config.node_id);
        Layers {
            per_broker,
            cluster_default,
            static_configs: &broker.config.log.static_configs,
        }
    }

    /// Kafka's configSynonyms: the values every layer holds for `name` and
    /// its synonyms, layer by layer, starting at the first value of `name`
    /// itself (so a value set only through another unit is not listed).
    fn synonyms(&self, name: &str) -> Vec<Synonym> {
        let names = broker_configs::synonyms(name);
        let mut out = Vec::new();
        let layers = [
            (self.per_broker, SOURCE_DYNAMIC_BROKER),
            (self.cluster_default, SOURCE_DYNAMIC_DEFAULT_BROKER),
            (Some(self.static_configs), SOURCE_STATIC_BROKER),
        ];
        for (layer, source) in layers {
            for n in &names {
                if let Some(v) = layer.and_then(|l| l.get(*n)) {
                    out.push((n.to_string(), Some(v.clone()), source));
                }
            }
        }
        for n in &names {
            if let Some(v) = broker_configs::definition(n).and_then(|d| d.default) {
                out.push((n.to_string(), Some(v.to_string()), SOURCE_DEFAULT));
            }
        }
        let first = out.iter().position(|(n, _, _)| n == name).unwrap_or(out.len());
        out.split_off(first)
    }
}

fn topic_entry(def: &TopicConfigDef, overrides: &BTreeMap<String, String>, layers: &Layers, broker: &Broker) -> Entry {
    let mut synonyms: Vec<Synonym> = Vec::new();
    if let Some(v) = overrides.get(def.name) {
        synonyms.push((def.name.to_string(), Some(v.clone()), SOURCE_TOPIC));
    }
    if let Some(primary) = def.broker_synonym {
        synonyms.extend(layers.synonyms(primary));
    }
    let (value, source) = match synonyms.first() {
        Some((_, v, source)) => (v.clone(), *source),
        None => (Some(default_value(def, &broker.config.log)), SOURCE_DEFAULT),
    };
    Entry {
        name: def.name.to_string(),
        value,
        source,
        read_only: false,
        sensitive: def.sensitive,
        config_type: topic_config_type(def.kind) as i8,
        documentation: def.doc,
        synonyms,
    }
}

/// Every topic config with its effective value, given the topic's overrides.
pub fn topic_entries(broker: &Broker, image: &ClusterImage, overrides: &BTreeMap<String, String>) -> Vec<Entry> {
    let layers = Layers::new(broker, image);
    TOPIC_CONFIGS
        .iter()
        .map(|def| topic_entry(def, overrides, &layers, broker))
        .collect()
}

/// A broker's configs (`per_broker`), or the cluster-wide dynamic defaults
/// alone (the resource with an empty name), as Kafka lists them.
fn broker_entries(broker: &Broker, image: &ClusterImage, per_broker: bool) -> Vec<Entry> {
    let layers = Layers::new(broker, image);
    let cluster_default = image.broker_config("");
    BROKER_CONFIGS
        .iter()
        .filter(|def| per_broker || cluster_default.is_some_and(|c| c.contains_key(def.name)))
        .map(|def| {
            let synonyms: Vec<Synonym> = layers
                .synonyms(def.name)
                .into_iter()
                .filter(|(_, _, source)| per_broker || *source == SOURCE_DYNAMIC_DEFAULT_BROKER)
                .collect();
            let (value, source) = match synonyms.first() {
                Some((_, v, source)) => (v.clone(), *source),
                None => (None, SOURCE_DEFAULT),
            };
            Entry {
                name: def.name.to_string(),
                value,
                source,
                read_only: !def.dynamic,
                sensitive: false,
                config_type: def.ty as i8,
                documentation: def.doc,
                synonyms,
            }
        })
        .chain(custom_entries(&layers, per_broker))
        .collect()
}

/// Dynamic configs fjord does not know, stored as Kafka stores custom
/// broker configs: Kafka describes them as sensitive, with no value.
fn custom_entries(layers: &Layers, per_broker: bool) -> Vec<Entry> {
    let mut sources = vec![(layers.cluster_default, SOURCE_DYNAMIC_DEFAULT_BROKER)];
    if per_broker {
        sources.insert(0, (layers.per_broker, SOURCE_DYNAMIC_BROKER));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (layer, source) in sources {
        for name in layer.into_iter().flat_map(|l| l.keys()) {
            if broker_configs::definition(name).is_some() || !seen.insert(name.clone()) {
                continue;
            }
            out.push(Entry {
                name: name.clone(),
                value: None,
                source,
                read_only: false,
                sensitive: true,
                config_type: 0,
                documentation: "",
                synonyms: vec![(name.clone(), None, source)],
            });
        }
    }
    out
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
            RESOURCE_TOPIC if image.topics.contains_key(&name) => {
                Ok(topic_entries(broker, &image, &image.topic_config(&name)))
            }
            RESOURCE_TOPIC => Err((
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist."),
            )),
            RESOURCE_BROKER if name.is_empty() => Ok(broker_entries(broker, &image, false)),
            RESOURCE_BROKER if name == broker.config.node_id.to_string() => Ok(broker_entries(broker, &image, true)),
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
                    .map(|e| to_result(e, req.include_synonyms, req.include_documentation, ctx.version()))
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

fn to_result(
    e: Entry,
    include_synonyms: bool,
    include_documentation: bool,
    version: i16,
) -> DescribeConfigsResourceResult {
    let mut c = DescribeConfigsResourceResult::default();
    c.name = str_bytes(e.name);
    c.value = e.value.map(str_bytes);
    c.read_only = e.read_only;
    c.config_source = e.source;
    c.is_sensitive = e.sensitive;
    if version >= 3 {
        c.config_type = e.config_type;
        // Kafka sends null unless the request asks for documentation, and
        // for custom configs, which have none.
        c.documentation = (include_documentation && !e.documentation.is_empty()).then(|| str_bytes(e.documentation));
    }
    if include_synonyms {
        c.synonyms = e
            .synonyms
            .into_iter()
            .map(|(name, value, source)| {
                let mut s = DescribeConfigsSynonym::default();
                s.name = str_bytes(name);
                s.value = value.map(str_bytes);
                s.source = source;
                s
            })
            .collect();
    }
    c
}
