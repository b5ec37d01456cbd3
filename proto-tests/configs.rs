//! Configuration and log directories, every advertised version:
//! DescribeConfigs, AlterConfigs (whole-set), IncrementalAlterConfigs,
//! DescribeLogDirs.

use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::incremental_alter_configs_request as incremental;
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, DescribeConfigsRequest, DescribeLogDirsRequest, IncrementalAlterConfigsRequest,
};

use crate::codes::*;
use crate::harness::{each_version, no_message, now_ms, str_bytes, topic_name, Client, TestBroker};
use crate::ops::{create_topic, produce, topic_configs, Described, RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::records::batch;

async fn describe(
    c: &mut Client,
    version: i16,
    resource_type: i8,
    name: &str,
    keys: Option<&[&str]>,
    include_synonyms: bool,
) -> DescribeConfigsResult {
    let mut res = DescribeConfigsResource::default();
    res.resource_type = resource_type;
    res.resource_name = str_bytes(name);
    res.configuration_keys = keys.map(|ks| ks.iter().map(|k| str_bytes(k)).collect());
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![res];
    req.include_synonyms = include_synonyms;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.results.len(), 1, "v{version}: one result");
    let r = resp.results[0].clone();
    assert_eq!(r.resource_type, resource_type, "v{version}: resource type echo");
    assert_eq!(r.resource_name.as_str(), name, "v{version}: resource name echo");
    r
}

fn entry<'a>(r: &'a DescribeConfigsResult, key: &str, version: i16) -> &'a DescribeConfigsResourceResult {
    r.configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .unwrap_or_else(|| panic!("v{version}: config {key} is described"))
}

fn value(e: &DescribeConfigsResourceResult) -> Option<&str> {
    e.value.as_ref().map(|v| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_configs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeConfigs, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("describe-configs-v{v}");
            create_topic(&mut c, &name, 1, &[("retention.ms", "1234")]).await;
            // config_type and documentation exist from v3.
            let typed = |t: i8| if v >= 3 { t } else { 0 };

            let r = describe(&mut c, v, RESOURCE_TOPIC, &name, None, true).await;
            assert_eq!(r.error_code, NONE, "v{v}: error ({:?})", r.error_message);
            assert!(
                no_message(&r.error_message),
                "v{v}: error message {:?}",
                r.error_message
            );
            let retention = entry(&r, "retention.ms", v);
            assert_eq!(value(retention), Some("1234"), "v{v}: retention.ms override");
            assert_eq!(
                retention.config_source, SOURCE_DYNAMIC_TOPIC_CONFIG,
                "v{v}: retention.ms source"
            );
            assert!(
                !retention.read_only && !retention.is_sensitive,
                "v{v}: retention.ms flags"
            );
            assert_eq!(retention.config_type, typed(TYPE_LONG), "v{v}: retention.ms type");
            let documentation = if v >= 3 {
                None
            } else {
                DescribeConfigsResourceResult::default().documentation
            };
            assert_eq!(
                retention.documentation, documentation,
                "v{v}: documentation not requested"
            );
            let first = &retention.synonyms[0];
            assert_eq!(
                (
                    first.name.as_str(),
                    first.value.as_ref().map(|s| s.as_str()),
                    first.source
                ),
                ("retention.ms", Some("1234"), SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: the most specific synonym comes first"
            );
            assert_eq!(
                retention.synonyms.len(),
                1,
                "v{v}: log.retention.ms has no default of its own (Kafka's synonyms)"
            );

            let max = entry(&r, "max.message.bytes", v);
            assert_eq!(value(max), Some("1048588"), "v{v}: max.message.bytes default");
            assert_eq!(
                max.config_source, SOURCE_DEFAULT_CONFIG,
                "v{v}: max.message.bytes source"
            );
            assert_eq!(max.config_type, typed(TYPE_INT), "v{v}: max.message.bytes type");
            let last = max.synonyms.last().expect("synonyms");
            assert_eq!(
                (last.name.as_str(), last.source),
                ("message.max.bytes", SOURCE_DEFAULT_CONFIG),
                "v{v}: the least specific synonym is the broker default"
            );
            let min_isr = entry(&r, "min.insync.replicas", v);
            assert_eq!(
                (value(min_isr), min_isr.config_source),
                (Some("1"), SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG),
                "v{v}: min.insync.replicas is a cluster-wide dynamic default (KIP-966)"
            );
            let cleanup = entry(&r, "cleanup.policy", v);
            assert_eq!(value(cleanup), Some("delete"), "v{v}: cleanup.policy default");
            assert_eq!(cleanup.config_type, typed(TYPE_LIST), "v{v}: cleanup.policy type");

            // Only the named keys, and no synonyms unless asked.
            let r = describe(
                &mut c,
                v,
                RESOURCE_TOPIC,
                &name,
                Some(&["retention.ms", "max.message.bytes"]),
                false,
            )
            .await;
            let mut names: Vec<&str> = r.configs.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            assert_eq!(
                names,
                vec!["max.message.bytes", "retention.ms"],
                "v{v}: only the requested keys"
            );
            assert!(
                r.configs.iter().all(|c| c.synonyms.is_empty()),
                "v{v}: no synonyms unless requested"
            );

            let r = describe(&mut c, v, RESOURCE_TOPIC, &format!("missing-v{v}"), None, false).await;
            assert_eq!(r.error_code, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
            assert!(r.configs.is_empty(), "v{v}: no configs for an unknown topic");

            // The broker resource: log.dirs was set by the test, num.partitions was not.
            let r = describe(&mut c, v, RESOURCE_BROKER, "1", None, false).await;
            assert_eq!(r.error_code, NONE, "v{v}: broker resource ({:?})", r.error_message);
            let dirs = entry(&r, "log.dirs", v);
            assert_eq!(
                value(dirs),
                Some(ctx.log_dir.to_str().expect("utf-8 path")),
                "v{v}: log.dirs"
            );
            assert_eq!(dirs.config_source, SOURCE_STATIC_BROKER_CONFIG, "v{v}: log.dirs source");
            let partitions = entry(&r, "num.partitions", v);
            assert_eq!(
                (value(partitions), partitions.config_source),
                (Some("1"), SOURCE_DEFAULT_CONFIG),
                "v{v}: num.partitions"
            );
        }
    })
    .await;
    broker.stop().await;
}

fn described(value: &str, source: i8) -> Described {
    Described {
        value: Some(value.to_string()),
        source,
    }
}

async fn alter_configs(
    c: &mut Client,
    version: i16,
    name: &str,
    configs: &[(&str, &str)],
    validate_only: bool,
) -> (i16, Option<String>) {
    let mut res = AlterConfigsResource::default();
    res.resource_type = RESOURCE_TOPIC;
    res.resource_name = str_bytes(name);
    res.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = AlterableConfig::default();
            c.name = str_bytes(k);
            c.value = Some(str_bytes(v));
            c
        })
        .collect();
    let mut req = AlterConfigsRequest::default();
    req.resources = vec![res];
    req.validate_only = validate_only;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.responses.len(), 1, "v{version}: one result");
    let r = &resp.responses[0];
    assert_eq!(
        (r.resource_type, r.resource_name.as_str()),
        (RESOURCE_TOPIC, name),
        "v{version}: resource echo"
    );
    (
        r.error_code,
        r.error_message
            .as_ref()
            .filter(|m| !m.is_empty())
            .map(|m| m.to_string()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_configs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::AlterConfigs, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("alter-configs-v{v}");
            create_topic(&mut c, &name, 1, &[("max.message.bytes", "2000")]).await;

            let r = alter_configs(
                &mut c,
                v,
                &name,
                &[("retention.ms", "5555"), ("cleanup.policy", "compact")],
                false,
            )
            .await;
            assert_eq!(r, (NONE, None), "v{v}: alter");
            let configs = topic_configs(&mut c, &name).await;
            assert_eq!(
                configs["retention.ms"],
                described("5555", SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: retention.ms set"
            );
            assert_eq!(
                configs["cleanup.policy"],
                described("compact", SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: cleanup.policy set"
            );
            // The whole-set form drops overrides it does not list.
            assert_eq!(
                configs["max.message.bytes"],
                described("1048588", SOURCE_DEFAULT_CONFIG),
                "v{v}: unlisted override removed"
            );

            let r = alter_configs(&mut c, v, &name, &[("retention.ms", "1")], true).await;
            assert_eq!(r, (NONE, None), "v{v}: validate only");
            assert_eq!(
                topic_configs(&mut c, &name).await,
                configs,
                "v{v}: validate_only changed nothing"
            );

            let r = alter_configs(&mut c, v, &name, &[("retention.ms", "soon")], false).await;
            assert_eq!(r.0, INVALID_CONFIG, "v{v}: invalid value");
            assert_eq!(
                topic_configs(&mut c, &name).await,
                configs,
                "v{v}: a refused alter changed nothing"
            );

            let r = alter_configs(&mut c, v, &format!("missing-v{v}"), &[("retention.ms", "1")], false).await;
            assert_eq!(r.0, UNKNOWN_TOPIC_OR_PARTITION, "v{v}: unknown topic");
        }
    })
    .await;
    broker.stop().await;
}

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// IncrementalAlterConfigs of one resource: (key, operation, value) each.
fn incremental_request(
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> IncrementalAlterConfigsRequest {
    let mut res = incremental::AlterConfigsResource::default();
    res.resource_type = resource_type;
    res.resource_name = str_bytes(name);
    res.configs = ops
        .iter()
        .map(|(k, op, v)| {
            let mut c = incremental::AlterableConfig::default();
            c.name = str_bytes(k);
            c.config_operation = *op;
            c.value = v.map(str_bytes);
            c
        })
        .collect();
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![res];
    req
}

async fn incremental_alter(
    c: &mut Client,
    version: i16,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> i16 {
    let mut req = incremental_request(RESOURCE_TOPIC, name, ops);
    req.validate_only = validate_only;
    let resp = c.call(version, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.responses.len(), 1, "v{version}: one result");
    let r = &resp.responses[0];
    assert_eq!(
        (r.resource_type, r.resource_name.as_str()),
        (RESOURCE_TOPIC, name),
        "v{version}: resource echo"
    );
    if r.error_code == NONE {
        assert!(
            no_message(&r.error_message),
            "v{version}: no message without an error: {:?}",
            r.error_message
        );
    }
    r.error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_alter_configs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::IncrementalAlterConfigs, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("incremental-v{v}");
            create_topic(
                &mut c,
                &name,
                1,
                &[("max.message.bytes", "2000"), ("retention.ms", "1234")],
            )
            .await;

            let ops = [
                ("retention.ms", SET, Some("7777")),
                ("max.message.bytes", DELETE, None),
                ("cleanup.policy", APPEND, Some("compact")),
            ];
            assert_eq!(
                incremental_alter(&mut c, v, &name, &ops, false).await,
                NONE,
                "v{v}: set, delete, append"
            );
            let configs = topic_configs(&mut c, &name).await;
            assert_eq!(
                configs["retention.ms"],
                described("7777", SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: SET"
            );
            assert_eq!(
                configs["max.message.bytes"],
                described("1048588", SOURCE_DEFAULT_CONFIG),
                "v{v}: DELETE"
            );
            assert_eq!(
                configs["cleanup.policy"],
                described("delete,compact", SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: APPEND"
            );

            let ops = [("cleanup.policy", SUBTRACT, Some("delete"))];
            assert_eq!(
                incremental_alter(&mut c, v, &name, &ops, false).await,
                NONE,
                "v{v}: subtract"
            );
            let configs = topic_configs(&mut c, &name).await;
            assert_eq!(
                configs["cleanup.policy"],
                described("compact", SOURCE_DYNAMIC_TOPIC_CONFIG),
                "v{v}: SUBTRACT"
            );

            let ops = [("retention.ms", SET, Some("1"))];
            assert_eq!(
                incremental_alter(&mut c, v, &name, &ops, true).await,
                NONE,
                "v{v}: validate only"
            );
            assert_eq!(
                topic_configs(&mut c, &name).await,
                configs,
                "v{v}: validate_only changed nothing"
            );

            let ops = [("retention.ms", SET, Some("soon"))];
            assert_eq!(
                incremental_alter(&mut c, v, &name, &ops, false).await,
                INVALID_CONFIG,
                "v{v}: invalid value"
            );
            assert_eq!(
                topic_configs(&mut c, &name).await,
                configs,
                "v{v}: a refused alter changed nothing"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_log_dirs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::DescribeLogDirs, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let name = format!("log-dirs-v{v}");
            let topic = create_topic(&mut c, &name, 2, &[]).await;
            let records = batch(3, now_ms());
            produce(&mut c, &topic, 0, records.clone()).await;

            let mut t = DescribableLogDirTopic::default();
            t.topic = topic_name(&name);
            t.partitions = vec![0, 1];
            let mut req = DescribeLogDirsRequest::default();
            req.topics = Some(vec![t]);
            let resp = c.call(v, &req).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.error_code, NONE, "v{v}: top-level error");
            assert_eq!(resp.results.len(), 1, "v{v}: one log dir");
            let dir = &resp.results[0];
            assert_eq!(dir.error_code, NONE, "v{v}: log dir error");
            assert_eq!(
                dir.log_dir.as_str(),
                ctx.log_dir.to_str().expect("utf-8 path"),
                "v{v}: log dir path"
            );
            if v >= 4 {
                assert!(dir.total_bytes > 0, "v{v}: total bytes {}", dir.total_bytes);
                assert!(
                    (0..=dir.total_bytes).contains(&dir.usable_bytes),
                    "v{v}: usable bytes {}",
                    dir.usable_bytes
                );
            } else {
                assert_eq!(
                    (dir.total_bytes, dir.usable_bytes),
                    (-1, -1),
                    "v{v}: no space figures before v4"
                );
            }
            assert_eq!(dir.topics.len(), 1, "v{v}: only the requested topic");
            assert_eq!(dir.topics[0].name.0.as_str(), name, "v{v}: topic name");
            let parts: Vec<(i32, i64, i64, bool)> = dir.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.partition_size, p.offset_lag, p.is_future_key))
                .collect();
            assert_eq!(
                parts,
                vec![(0, records.len() as i64, 0, false), (1, 0, 0, false)],
                "v{v}: partition sizes"
            );

            // A null topic list describes every partition in the dir.
            let mut req = DescribeLogDirsRequest::default();
            req.topics = None;
            let resp = c.call(v, &req).await;
            let all = &resp.results[0].topics;
            let ours = all
                .iter()
                .find(|t| t.name.0.as_str() == name)
                .unwrap_or_else(|| panic!("v{v}: {name} listed"));
            assert_eq!(ours.partitions.len(), 2, "v{v}: both partitions listed");
        }
    })
    .await;
    broker.stop().await;
}

/// IncrementalAlterConfigs on a BROKER resource: the error code and message.
async fn alter_broker(
    c: &mut Client,
    version: i16,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> (i16, Option<String>) {
    let req = incremental_request(RESOURCE_BROKER, name, ops);
    let resp = c.call(version, &req).await;
    let r = &resp.responses[0];
    let message = (!no_message(&r.error_message)).then(|| r.error_message.as_ref().map(|m| m.to_string()));
    (r.error_code, message.flatten())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_broker_configs_every_version() {
    let broker = TestBroker::start().await;
    let ctx = broker.ctx.clone();
    each_version(ApiKey::IncrementalAlterConfigs, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let flush = "log.flush.interval.messages";
            let ops = [(flush, SET, Some("1234")), ("custom.setting", SET, Some("x"))];
            assert_eq!(alter_broker(&mut c, v, "1", &ops).await, (NONE, None), "v{v}: set");
            let r = describe(&mut c, 3, RESOURCE_BROKER, "1", None, true).await;
            let e = entry(&r, flush, v);
            assert_eq!(
                (value(e), e.config_source),
                (Some("1234"), SOURCE_DYNAMIC_BROKER_CONFIG),
                "v{v}: dynamic"
            );
            assert_eq!(e.synonyms.len(), 2, "v{v}: the dynamic value, then the default");
            let custom = entry(&r, "custom.setting", v);
            assert!(
                custom.is_sensitive && custom.value.is_none(),
                "v{v}: custom configs are sensitive"
            );

            let ops = [("log.retention.ms", SET, Some("86400000"))];
            assert_eq!(
                alter_broker(&mut c, v, "", &ops).await,
                (NONE, None),
                "v{v}: cluster default"
            );
            let topic = format!("follows-default-v{v}");
            create_topic(&mut c, &topic, 1, &[]).await;
            let configs = topic_configs(&mut c, &topic).await;
            assert_eq!(
                configs["retention.ms"],
                described("86400000", SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG),
                "v{v}: a topic without its own value follows the default"
            );

            let (code, message) = alter_broker(&mut c, v, "1", &[("log.retention.hours", SET, Some("1"))]).await;
            assert_eq!(code, INVALID_REQUEST, "v{v}: not dynamic");
            assert_eq!(
                message.as_deref(),
                Some("Cannot update these configs dynamically: Set(log.retention.hours)")
            );
            let (code, _) = alter_broker(&mut c, v, "2", &[(flush, SET, Some("1"))]).await;
            assert_eq!(code, INVALID_REQUEST, "v{v}: another broker's id");

            let ops = [(flush, DELETE, None), ("custom.setting", DELETE, None)];
            assert_eq!(alter_broker(&mut c, v, "1", &ops).await, (NONE, None), "v{v}: delete");
            let ops = [("log.retention.ms", DELETE, None)];
            assert_eq!(
                alter_broker(&mut c, v, "", &ops).await,
                (NONE, None),
                "v{v}: delete default"
            );
            let r = describe(&mut c, 3, RESOURCE_BROKER, "1", Some(&[flush]), false).await;
            assert_eq!(
                entry(&r, flush, v).config_source,
                SOURCE_DEFAULT_CONFIG,
                "v{v}: deleted"
            );
            let configs = topic_configs(&mut c, &topic).await;
            assert_eq!(
                configs["retention.ms"],
                described("604800000", SOURCE_DEFAULT_CONFIG),
                "v{v}: back to the static default"
            );
        }
    })
    .await;
}
