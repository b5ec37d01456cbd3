//! rust-rdkafka compat suite: the `rdkafka` crate's AdminClient (librdkafka
//! built from source) altering and describing dynamic broker configs and
//! refusing a bad CreatePartitions assignment.
//!
//! Usage: rust-rdkafka-compat <bootstrap> [case ...]; prints
//! "RESULT <case> <pass|fail> <message>" per case, diagnostics on stderr.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

type Admin = AdminClient<DefaultClientContext>;
type CaseResult = Result<String, String>;
type Case = for<'a> fn(&'a Admin, i32, &'a str) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

const TIMEOUT: Duration = Duration::from_secs(20);
const KEY: &str = "log.flush.interval.messages";

fn opts() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(TIMEOUT))
}

/// (value, source) of one config of broker `id`.
async fn describe(admin: &Admin, id: i32, key: &str) -> Result<(Option<String>, ConfigSource), String> {
    let results = admin
        .describe_configs(&[ResourceSpecifier::Broker(id)], &opts())
        .await
        .map_err(|e| format!("describe_configs: {e}"))?;
    let resource = results
        .into_iter()
        .next()
        .ok_or("no describe result")?
        .map_err(|e| format!("describe_configs: {e:?}"))?;
    let entry = resource
        .entries
        .into_iter()
        .find(|e| e.name == key)
        .ok_or(format!("{key} is not described"))?;
    Ok((entry.value, entry.source))
}

/// Legacy AlterConfigs (all librdkafka offers): the broker's dynamic
/// configs become exactly `set`. Returns the resource's error code, if any.
async fn alter(admin: &Admin, id: i32, set: &[(&str, &str)]) -> Result<Option<RDKafkaErrorCode>, String> {
    let mut config = AlterConfig::new(ResourceSpecifier::Broker(id));
    for (k, v) in set {
        config = config.set(k, v);
    }
    let results = admin
        .alter_configs(&[config], &opts())
        .await
        .map_err(|e| format!("alter_configs: {e}"))?;
    match results.into_iter().next().ok_or("no alter result")? {
        Ok(_) => Ok(None),
        Err((_, code)) => Ok(Some(code)),
    }
}

/// (value, source) of one config of broker `id` once `settled` holds for
/// them: Kafka commits a change on the controller and its broker applies
/// the metadata a moment later.
async fn describe_settled(
    admin: &Admin,
    id: i32,
    key: &str,
    settled: impl Fn(Option<&str>, &ConfigSource) -> bool,
) -> Result<(Option<String>, ConfigSource), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (value, source) = describe(admin, id, key).await?;
        if settled(value.as_deref(), &source) || tokio::time::Instant::now() > deadline {
            return Ok((value, source));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn broker_config_alter_describe<'a>(
    admin: &'a Admin,
    id: i32,
    _: &'a str,
) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>> {
    Box::pin(async move {
        if let Some(code) = alter(admin, id, &[(KEY, "1234")]).await? {
            return Err(format!("altering {KEY} on broker {id}: {code:?}"));
        }
        let set = |v: Option<&str>, s: &ConfigSource| v == Some("1234") && *s == ConfigSource::DynamicBroker;
        let (value, source) = describe_settled(admin, id, KEY, set).await?;
        if !set(value.as_deref(), &source) {
            return Err(format!("after the alter: {value:?} from {source:?}"));
        }
        if let Some(code) = alter(admin, id, &[]).await? {
            return Err(format!("clearing broker {id}'s dynamic configs: {code:?}"));
        }
        let cleared = |_: Option<&str>, s: &ConfigSource| *s != ConfigSource::DynamicBroker;
        let (value, source) = describe_settled(admin, id, KEY, cleared).await?;
        if !cleared(value.as_deref(), &source) {
            return Err(format!("still dynamic after the delete: {value:?}"));
        }
        Ok(format!(
            "{KEY}=1234 DYNAMIC_BROKER_CONFIG, then back to {value:?} from {source:?}"
        ))
    })
}

/// The rdkafka crate (0.37) drops the per-resource error of an
/// AlterConfigs result (AlterConfigsFuture returns Ok for every resource),
/// so the refusal is seen in DescribeConfigs: the value stays static.
fn broker_config_not_dynamic<'a>(
    admin: &'a Admin,
    id: i32,
    _: &'a str,
) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>> {
    Box::pin(async move {
        if let Some(code) = alter(admin, id, &[("log.retention.hours", "1")]).await? {
            if code != RDKafkaErrorCode::InvalidRequest {
                return Err(format!("expected INVALID_REQUEST, got {code:?}"));
            }
        }
        let (value, source) = describe(admin, id, "log.retention.hours").await?;
        if value.as_deref() == Some("1") || source == ConfigSource::DynamicBroker {
            return Err(format!("log.retention.hours became {value:?} from {source:?}"));
        }
        Ok(format!("log.retention.hours refused: still {value:?} from {source:?}"))
    })
}

fn create_partitions_bad_assignment<'a>(
    admin: &'a Admin,
    id: i32,
    run: &'a str,
) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>> {
    Box::pin(async move {
        let topic = format!("rdkafka-assign-{run}");
        let created = admin
            .create_topics(&[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))], &opts())
            .await
            .map_err(|e| format!("create_topics: {e}"))?;
        if let Some(Err((_, code))) = created.into_iter().next() {
            return Err(format!("create_topics: {code:?}"));
        }
        let duplicate: &[&[i32]] = &[&[id, id]];
        let unknown: &[&[i32]] = &[&[id + 1000]];
        let too_many: &[&[i32]] = &[&[id], &[id]];
        let mut seen = Vec::new();
        for (what, assignment) in [
            ("duplicate", duplicate),
            ("unknown broker", unknown),
            ("count", too_many),
        ] {
            let result = admin
                .create_partitions(&[NewPartitions::new(&topic, 2).assign(assignment)], &opts())
                .await
                .map_err(|e| format!("create_partitions: {e}"))?;
            match result.into_iter().next() {
                Some(Err((_, RDKafkaErrorCode::InvalidReplicaAssignment))) => seen.push(what),
                other => return Err(format!("{what}: expected INVALID_REPLICA_ASSIGNMENT, got {other:?}")),
            }
        }
        Ok(format!("INVALID_REPLICA_ASSIGNMENT for {}", seen.join(", ")))
    })
}

const CASES: &[(&str, Case)] = &[
    ("broker_config_alter_describe", broker_config_alter_describe),
    ("broker_config_not_dynamic", broker_config_not_dynamic),
    ("create_partitions_bad_assignment", create_partitions_bad_assignment),
];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for (name, _) in CASES {
            println!("{name}");
        }
        return;
    }
    let Some(bootstrap) = args.first() else {
        eprintln!("usage: rust-rdkafka-compat <bootstrap> [case ...]");
        std::process::exit(2);
    };
    let only = &args[1..];
    let admin: Admin = match ClientConfig::new().set("bootstrap.servers", bootstrap).create() {
        Ok(a) => a,
        Err(e) => {
            for (name, _) in CASES {
                println!("RESULT {name} fail cannot create the AdminClient: {e}");
            }
            return;
        }
    };
    let id = match admin.inner().fetch_metadata(None, TIMEOUT) {
        Ok(m) => m.brokers().first().map_or(1, |b| b.id()),
        Err(e) => {
            for (name, _) in CASES {
                println!("RESULT {name} fail metadata: {e}");
            }
            return;
        }
    };
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    for (name, case) in CASES {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(90), case(&admin, id, &run)).await {
            Ok(Ok(msg)) => println!("RESULT {name} pass {msg}"),
            Ok(Err(msg)) => println!("RESULT {name} fail {msg}"),
            Err(_) => println!("RESULT {name} fail timed out after 90s"),
        }
    }
}
