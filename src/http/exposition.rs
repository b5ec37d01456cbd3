//! `/metrics` in Prometheus' text exposition format (version 0.0.4).
//! Counters come from `metrics.rs`, where the request path records them;
//! gauges are read from the broker's state at scrape time: the hosted
//! partitions, the metadata image and the group coordinator.

use std::fmt::Write;

use crate::broker::Broker;
use crate::coordinator::group::state::GroupState;
use crate::handlers;
use crate::metrics::LATENCY_BUCKETS_SECONDS;
use crate::replication::partition::Offsets;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric family, rendered from `broker` now.
pub fn render(broker: &Broker) -> String {
    let mut out = String::with_capacity(16 * 1024);
    requests(broker, &mut out);
    topics(broker, &mut out);
    partitions(broker, &mut out);
    groups(broker, &mut out);
    family(
        &mut out,
        "fjord_connections",
        "gauge",
        "Open client connections on the broker and controller listeners.",
    );
    sample(&mut out, "fjord_connections", &[], broker.metrics.connections());
    out
}

fn requests(broker: &Broker, out: &mut String) {
    let apis: Vec<_> = handlers::APIS
        .iter()
        .filter_map(|&api| Some((api, broker.metrics.api(api as i16)?)))
        .collect();
    family(
        out,
        "fjord_requests_total",
        "counter",
        "Requests answered, by Kafka API (Kafka's RequestsPerSec).",
    );
    for (api, c) in &apis {
        let name = format!("{api:?}");
        sample(
            out,
            "fjord_requests_total",
            &[("request", &name)],
            c.requests.load(relaxed()),
        );
    }
    family(
        out,
        "fjord_request_duration_seconds",
        "histogram",
        "Time from a request's arrival until its response is ready, by Kafka API (Kafka's TotalTimeMs).",
    );
    for (api, c) in &apis {
        let name = format!("{api:?}");
        let buckets = c.cumulative_buckets();
        for (i, count) in buckets.iter().enumerate() {
            let le = LATENCY_BUCKETS_SECONDS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            sample(
                out,
                "fjord_request_duration_seconds_bucket",
                &[("request", &name), ("le", &le)],
                count,
            );
        }
        sample(
            out,
            "fjord_request_duration_seconds_sum",
            &[("request", &name)],
            c.sum_seconds(),
        );
        sample(
            out,
            "fjord_request_duration_seconds_count",
            &[("request", &name)],
            buckets.last().copied().unwrap_or(0),
        );
    }
}

fn topics(broker: &Broker, out: &mut String) {
    let image = broker.metadata.image();
    broker.metrics.retain_topics(|t| image.topics.contains_key(t));
    let topics = broker.metrics.topics();
    let mut names: Vec<&String> = topics.keys().collect();
    names.sort();
    let families = [
        (
            "fjord_topic_bytes_in_total",
            "Record batch bytes appended by producers, by topic (Kafka's BytesInPerSec).",
        ),
        (
            "fjord_topic_records_in_total",
            "Records appended by producers, by topic (Kafka's MessagesInPerSec).",
        ),
        (
            "fjord_topic_bytes_out_total",
            "Record batch bytes returned to consumers, by topic (Kafka's BytesOutPerSec).",
        ),
        (
            "fjord_topic_records_out_total",
            "Records returned to consumers, by topic.",
        ),
    ];
    for (i, (name, help)) in families.iter().enumerate() {
        family(out, name, "counter", help);
        for topic in &names {
            let c = &topics[*topic];
            let value = [&c.bytes_in, &c.records_in, &c.bytes_out, &c.records_out][i].load(relaxed());
            sample(out, name, &[("topic", topic)], value);
        }
    }
}

/// Reads one gauge off a partition's offsets.
type OffsetsGauge = fn(&Offsets) -> i64;

fn partitions(broker: &Broker, out: &mut String) {
    let mut hosted: Vec<_> = broker
        .replicas
        .all()
        .into_iter()
        .map(|p| (p.topic.clone(), p.index, p.offsets()))
        .collect();
    hosted.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let families: [(&str, &str, OffsetsGauge); 4] = [
        (
            "fjord_partition_log_size_bytes",
            "Bytes of a hosted partition's log on disk (Kafka's Log Size).",
            |o| o.size_bytes as i64,
        ),
        (
            "fjord_partition_log_start_offset",
            "A hosted partition's log start offset (Kafka's LogStartOffset).",
            |o| o.log_start_offset,
        ),
        (
            "fjord_partition_log_end_offset",
            "A hosted partition's log end offset (Kafka's LogEndOffset).",
            |o| o.log_end_offset,
        ),
        (
            "fjord_partition_high_watermark",
            "A hosted partition's high watermark: the offset consumers read up to.",
            |o| o.high_watermark,
        ),
    ];
    for (name, help, value) in families {
        family(out, name, "gauge", help);
        for (topic, index, offsets) in &hosted {
            let partition = index.to_string();
            sample(
                out,
                name,
                &[("topic", topic), ("partition", &partition)],
                value(offsets),
            );
        }
    }
    let image = broker.metadata.image();
    let node_id = broker.config.node_id;
    let under_replicated = image
        .topics
        .values()
        .flat_map(|t| t.partitions.values())
        .filter(|p| p.leader == node_id && p.isr.len() < p.replicas.len())
        .count();
    family(
        out,
        "fjord_under_replicated_partitions",
        "gauge",
        "Partitions this broker leads whose ISR is smaller than their replica set (Kafka's UnderReplicatedPartitions).",
    );
    sample(out, "fjord_under_replicated_partitions", &[], under_replicated);
}

fn groups(broker: &Broker, out: &mut String) {
    let groups = broker.groups.list();
    family(
        out,
        "fjord_groups",
        "gauge",
        "Consumer groups this broker coordinates, by state (Kafka's NumGroups<State>).",
    );
    for state in [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
    ] {
        let n = groups.iter().filter(|(_, _, s)| *s == state).count();
        sample(out, "fjord_groups", &[("state", state.name())], n);
    }
    family(
        out,
        "fjord_consumer_group_lag",
        "gauge",
        "High watermark minus the committed offset, per group and partition, for groups this broker coordinates and partitions it hosts.",
    );
    for (group, _, _) in &groups {
        for (topic, partition, committed) in broker.groups.fetch_offsets(group, None, false) {
            let (Ok(Some(committed)), Some(p)) = (committed, broker.replicas.get(&topic, partition)) else {
                continue;
            };
            let lag = (p.offsets().high_watermark - committed.offset).max(0);
            let index = partition.to_string();
            sample(
                out,
                "fjord_consumer_group_lag",
                &[("group", group), ("topic", &topic), ("partition", &index)],
                lag,
            );
        }
    }
}

fn relaxed() -> std::sync::atomic::Ordering {
    std::sync::atomic::Ordering::Relaxed
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The text format's label escaping: backslash, double quote and newline.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("group", "a\"b\\c\nd"), ("x", "y")], 3);
        assert_eq!(out, "m{group=\"a\\\"b\\\\c\\nd\",x=\"y\"} 3\n");
    }
}
