//! `__transaction_state` stays bounded and survives restarts: after enough
//! writes the coordinator rewrites the current record of each
//! transactional id and trims everything older, and a restart replays the
//! rewrite to the same producer ids and epochs.

use std::collections::BTreeMap;

use fjord::coordinator::transaction::TRANSACTION_STATE_TOPIC;
use fjord::Config;

fn config(dir: &std::path::Path) -> Config {
    let mut set = BTreeMap::new();
    set.insert("log.dirs".to_string(), dir.display().to_string());
    set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
    set.insert("transaction.state.log.num.partitions".to_string(), "1".to_string());
    Config::from_sources(&set).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_state_is_checkpointed_and_replayed() {
    const IDS: usize = 5;
    // More than the coordinator's checkpoint threshold (50,000 records).
    const CALLS_PER_ID: usize = 10_010;
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    broker.ensure_transaction_topic().await.unwrap();
    let coordinator = broker.transactions.clone();
    let ids: Vec<String> = (0..IDS).map(|i| format!("checkpointed-{i}")).collect();
    let mut last = BTreeMap::new();
    // The partition becomes coordinated here once the topic is applied.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while coordinator.coordinator_error(&ids[0]).is_some() {
        assert!(std::time::Instant::now() < deadline, "the coordinator loads");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for _ in 0..CALLS_PER_ID {
        for id in &ids {
            let got = coordinator.init_producer_id(id, 60_000, None).await.unwrap();
            last.insert(id.clone(), got);
        }
    }
    let part = broker.replicas.get(TRANSACTION_STATE_TOPIC, 0).unwrap();
    let offsets = part.offsets();
    assert!(
        offsets.log_start_offset > 0,
        "trimmed after the checkpoint: {offsets:?}"
    );
    assert!(
        offsets.log_end_offset - offsets.log_start_offset < 50_000,
        "replay reads less than the threshold: {offsets:?}"
    );
    drop(part);
    drop(coordinator);
    drop(broker);
    running.shutdown().await;

    let running = fjord::start(config(dir.path())).await.unwrap();
    let coordinator = running.broker.transactions.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while coordinator.coordinator_error(&ids[0]).is_some() {
        assert!(std::time::Instant::now() < deadline, "the coordinator loads again");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for id in &ids {
        let d = coordinator.describe(id).unwrap();
        assert_eq!((d.producer_id, d.producer_epoch), last[id], "{id} after the restart");
    }
    drop(coordinator);
    running.shutdown().await;
}
