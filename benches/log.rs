//! The storage hot path: batch validation, append, index lookups and the
//! fetch read path (plan under the partition lock, then read the bytes).
//!
//! `cargo bench --bench log` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fjord::log::batch;
use fjord::log::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use fjord::log::{LoadParams, LogConfig, PartitionLog};

use common::{batch_16k, now_ms};

/// Appends between fresh logs in the append bench: bounds the bytes one
/// measurement writes (16 KiB x this = 64 MiB), which are deleted before
/// the page cache needs to write them back.
const APPENDS_PER_LOG: u64 = 4096;
/// Entries in the index lookup benches: about 40 MB of log at Kafka's
/// default of one entry per 4 KiB.
const INDEX_ENTRIES: u32 = 10_000;
/// Batches in the read-path log: 4096 x 16 KiB = 64 MiB.
const READ_LOG_BATCHES: usize = 4096;
/// A consumer's default `max.partition.fetch.bytes`.
const FETCH_MAX_BYTES: usize = 1 << 20;

/// A small deterministic pseudo-random sequence (64-bit LCG), so lookups
/// do not hit the same index slot every iteration.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    /// Next value in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn log_config() -> LogConfig {
    LogConfig::new(&fjord::Config::embedded().log, &Default::default())
}

fn bench_validation(c: &mut Criterion) {
    let b = batch_16k(now_ms());
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Bytes(b.len() as u64));
    g.bench_function("single_batch_16KiB", |bench| {
        bench.iter(|| batch::single_batch(black_box(&b)).expect("valid batch"))
    });
    g.bench_function("validate_16KiB", |bench| {
        bench.iter(|| batch::validate(black_box(&b)).expect("valid batch"))
    });
    g.bench_function("header_parse", |bench| {
        bench.iter(|| batch::BatchHeader::parse(black_box(&b)).expect("valid header"))
    });
    g.finish();
}

fn bench_append(c: &mut Criterion) {
    let b = batch_16k(now_ms());
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Bytes(b.len() as u64));
    g.bench_function("partition_log_16KiB", |bench| {
        bench.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut log =
                    PartitionLog::open(dir.path(), log_config(), now_ms(), LoadParams::default()).expect("open log");
                let n = APPENDS_PER_LOG.min(iters - done);
                let now = now_ms();
                let start = Instant::now();
                for _ in 0..n {
                    black_box(log.append(&b, 0, now).expect("append"));
                }
                spent += start.elapsed();
                done += n;
            }
            spent
        })
    });
    // The first append to a new partition: the first writes into its
    // pre-sized, memory-mapped index files fault their first pages in. With
    // 1,000 partitions this cost is paid 1,000 times.
    g.bench_function("first_append_new_partition_16KiB", |bench| {
        bench.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let log =
                    PartitionLog::open(dir.path(), log_config(), now_ms(), LoadParams::default()).expect("open log");
                (dir, log)
            },
            |(dir, mut log)| {
                black_box(log.append(&b, 0, now_ms()).expect("append"));
                (dir, log)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn filled_offset_index(dir: &Path) -> OffsetIndex {
    let mut idx = OffsetIndex::open(&dir.join("0.index"), 10 << 20).expect("open index");
    for i in 0..INDEX_ENTRIES {
        idx.append(OffsetEntry {
            relative_offset: i * 4,
            position: i * 4096,
        })
        .expect("append entry");
    }
    idx
}

fn filled_time_index(dir: &Path) -> TimeIndex {
    let mut idx = TimeIndex::open(&dir.join("0.timeindex"), 10 << 20).expect("open index");
    for i in 0..INDEX_ENTRIES {
        idx.append(TimeEntry {
            timestamp: 1_700_000_000_000 + i as i64 * 10,
            relative_offset: i * 4,
        })
        .expect("append entry");
    }
    idx
}

fn bench_index(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let offsets = filled_offset_index(dir.path());
    let times = filled_time_index(dir.path());
    let max_key = INDEX_ENTRIES as u64 * 4;
    let mut g = c.benchmark_group("index");
    let mut rng = Lcg::new(1);
    g.bench_function("offset_floor_10k_entries", |bench| {
        bench.iter(|| offsets.floor(black_box(rng.below(max_key) as i64)))
    });
    let mut rng = Lcg::new(2);
    g.bench_function("time_floor_10k_entries", |bench| {
        bench.iter(|| times.floor(black_box(1_700_000_000_000 + rng.below(max_key * 10 / 4) as i64)))
    });
    g.bench_function("offset_append_10k_entries", |bench| {
        bench.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |d| filled_offset_index(d.path()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let b = batch_16k(now);
    let mut log = PartitionLog::open(dir.path(), log_config(), now, LoadParams::default()).expect("open log");
    let mut records_per_batch = 0;
    for _ in 0..READ_LOG_BATCHES {
        let info = log.append(&b, 0, now).expect("append");
        records_per_batch = info.last_offset - info.base_offset + 1;
    }
    let end = log.log_end_offset();
    assert_eq!(end, READ_LOG_BATCHES as i64 * records_per_batch);
    let mut g = c.benchmark_group("read");
    let mut rng = Lcg::new(3);
    g.bench_function("plan_read_1MiB", |bench| {
        bench.iter(|| {
            let offset = rng.below(end as u64) as i64;
            log.plan_read(black_box(offset), FETCH_MAX_BYTES, end, true)
                .expect("in range")
        })
    });
    g.throughput(Throughput::Bytes(FETCH_MAX_BYTES as u64));
    let mut rng = Lcg::new(4);
    g.bench_function("plan_and_read_1MiB", |bench| {
        bench.iter(|| {
            let offset = rng.below(end as u64) as i64;
            let plan = log
                .plan_read(black_box(offset), FETCH_MAX_BYTES, end, true)
                .expect("in range")
                .expect("data below the end");
            plan.read().expect("read")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_validation, bench_append, bench_index, bench_read);
criterion_main!(benches);
