//! The counters the request path records into, lock-free: per-API request
//! counts and latency histograms, per-topic bytes and records in and out,
//! and the connection count. Everything else Prometheus is shown (partition
//! offsets and sizes, under-replicated partitions, groups, consumer lag) is
//! read from the broker's state when `/metrics` is scraped
//! (`http/exposition.rs`), so nothing is kept twice.
//!
//! Recording is a few relaxed atomic adds; a topic's counters are found
//! through a copy-on-write map (`ArcSwap`) that readers load without a lock.
//! Only the first record for a new topic takes the writers' mutex.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

/// Upper bounds of the request latency buckets, in seconds (Prometheus'
/// convention); the last, implicit bucket is `+Inf`.
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Kafka API keys are small numbers; one slot per key up to this bound.
/// fjord's private raft key (32000) is not a Kafka API and is not counted.
const API_KEY_SLOTS: usize = 128;

/// The request count and latency histogram of one API.
#[derive(Default)]
pub struct ApiCounters {
    pub requests: AtomicU64,
    /// Requests per latency bucket (not cumulative; the last is `+Inf`).
    buckets: [AtomicU64; LATENCY_BUCKETS_SECONDS.len() + 1],
    sum_micros: AtomicU64,
}

impl ApiCounters {
    fn record(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS_SECONDS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(LATENCY_BUCKETS_SECONDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, one per `LATENCY_BUCKETS_SECONDS` entry
    /// and a last one for `+Inf`.
    pub fn cumulative_buckets(&self) -> Vec<u64> {
        let mut total = 0;
        self.buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Kafka's BrokerTopicMetrics for one topic: client traffic only (a
/// follower's fetches are replication, not consumption).
#[derive(Default)]
pub struct TopicCounters {
    pub bytes_in: AtomicU64,
    pub records_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub records_out: AtomicU64,
}

/// Every counter the request path records into; one per broker.
pub struct Metrics {
    apis: Box<[ApiCounters]>,
    topics: ArcSwap<HashMap<String, Arc<TopicCounters>>>,
    /// Serializes the rare writers of `topics` (a topic seen for the first
    /// time, a deleted topic dropped at scrape time).
    topics_writer: Mutex<()>,
    connections: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            apis: (0..API_KEY_SLOTS).map(|_| ApiCounters::default()).collect(),
            topics: ArcSwap::from_pointee(HashMap::new()),
            topics_writer: Mutex::new(()),
            connections: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// One request of `api_key` took `elapsed` from its arrival until its
    /// response was ready.
    pub fn record_request(&self, api_key: i16, elapsed: Duration) {
        if let Some(counters) = usize::try_from(api_key).ok().and_then(|k| self.apis.get(k)) {
            counters.record(elapsed);
        }
    }

    /// The counters of `api_key` (None for keys outside the Kafka range).
    pub fn api(&self, api_key: i16) -> Option<&ApiCounters> {
        usize::try_from(api_key).ok().and_then(|k| self.apis.get(k))
    }

    /// A produce appended `records` records in `bytes` bytes to `topic`.
    pub fn record_produce(&self, topic: &str, bytes: u64, records: u64) {
        let t = self.topic(topic);
        t.bytes_in.fetch_add(bytes, Ordering::Relaxed);
        t.records_in.fetch_add(records, Ordering::Relaxed);
    }

    /// A consumer fetch returned `records` records in `bytes` bytes of `topic`.
    pub fn record_fetch(&self, topic: &str, bytes: u64, records: u64) {
        let t = self.topic(topic);
        t.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        t.records_out.fetch_add(records, Ordering::Relaxed);
    }

    fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        if let Some(t) = self.topics.load().get(topic) {
            return t.clone();
        }
        let _writer = self.topics_writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.topics.load_full();
        if let Some(t) = current.get(topic) {
            return t.clone();
        }
        let mut next = (*current).clone();
        let counters = Arc::new(TopicCounters::default());
        next.insert(topic.to_string(), counters.clone());
        self.topics.store(Arc::new(next));
        counters
    }

    /// Every topic's counters, by name.
    pub fn topics(&self) -> Arc<HashMap<String, Arc<TopicCounters>>> {
        self.topics.load_full()
    }

    /// Drops the counters of topics that no longer exist, as Kafka removes a
    /// deleted topic's metrics.
    pub fn retain_topics(&self, exists: impl Fn(&str) -> bool) {
        if self.topics.load().keys().all(|t| exists(t)) {
            return;
        }
        let _writer = self.topics_writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (*self.topics.load_full()).clone();
        next.retain(|t, _| exists(t));
        self.topics.store(Arc::new(next));
    }

    /// Counts an open client connection until the guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// An open connection, counted in `Metrics::connections` while it lives.
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Records and bytes in a run of record batches as a fetch returns them;
/// a batch cut short at the end (Kafka returns partial batches) is not counted.
pub fn count_records(batches: &[u8]) -> u64 {
    crate::log::batch::BatchIter::new(batches, false)
        .map(|(_, h)| h.records_count.max(0) as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_into_cumulative_buckets() {
        let m = Metrics::default();
        m.record_request(0, Duration::from_micros(300));
        m.record_request(0, Duration::from_millis(3));
        m.record_request(0, Duration::from_secs(60));
        m.record_request(32000, Duration::from_millis(1));
        let api = m.api(0).unwrap();
        assert_eq!(api.requests.load(Ordering::Relaxed), 3);
        let b = api.cumulative_buckets();
        assert_eq!(b[0], 1, "0.5 ms");
        assert_eq!(b[3], 2, "5 ms");
        assert_eq!(b[LATENCY_BUCKETS_SECONDS.len() - 1], 2, "10 s");
        assert_eq!(*b.last().unwrap(), 3, "+Inf");
        assert!((api.sum_seconds() - 60.0033).abs() < 1e-6);
        assert!(m.api(32000).is_none());
    }

    #[test]
    fn topics_are_counted_apart_and_dropped_when_deleted() {
        let m = Metrics::default();
        m.record_produce("a", 100, 2);
        m.record_produce("a", 50, 1);
        m.record_fetch("b", 10, 1);
        let topics = m.topics();
        assert_eq!(topics["a"].bytes_in.load(Ordering::Relaxed), 150);
        assert_eq!(topics["a"].records_in.load(Ordering::Relaxed), 3);
        assert_eq!(topics["b"].records_out.load(Ordering::Relaxed), 1);
        m.retain_topics(|t| t == "a");
        assert!(!m.topics().contains_key("b"));
    }

    #[test]
    fn connections_are_counted_while_open() {
        let m = Arc::new(Metrics::default());
        let a = m.connection_opened();
        let b = m.connection_opened();
        assert_eq!(m.connections(), 2);
        drop(a);
        drop(b);
        assert_eq!(m.connections(), 0);
    }

    #[test]
    fn records_are_counted_from_batch_headers() {
        let one = crate::log::batch::test_support::batch(3, -1, -1, -1, 0);
        let mut two = one.to_vec();
        two.extend_from_slice(&one);
        assert_eq!(count_records(&two), 6);
        // A batch cut short is not counted.
        assert_eq!(count_records(&two[..two.len() - 1]), 3);
    }
}
