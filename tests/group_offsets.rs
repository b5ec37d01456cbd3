//! Committed offsets survive a broker restart, and the replay of
//! `__consumer_offsets` stays bounded: after enough commits the coordinator
//! checkpoints the live state and the log start offset moves past
//! superseded records.

use std::collections::BTreeMap;

use fjord::coordinator::group::state::CommittedOffset;
use fjord::coordinator::group::{TxnProducer, OFFSETS_TOPIC};
use fjord::Config;

fn config(dir: &std::path::Path) -> Config {
    let mut set = BTreeMap::new();
    set.insert("log.dirs".to_string(), dir.display().to_string());
    set.insert("listeners".to_string(), "PLAINTEXT://127.0.0.1:0".to_string());
    set.insert("offsets.topic.num.partitions".to_string(), "3".to_string());
    Config::from_sources(&set).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_survive_restart_and_replay_is_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    broker.ensure_offsets_topic().await.unwrap();
    // A topic to commit offsets for.
    broker
        .write_metadata(|image| {
            let topic = fjord::metadata::controller::NewTopic {
                name: "events",
                num_partitions: 100,
                replication_factor: 1,
                assignments: None,
                configs: BTreeMap::new(),
            };
            fjord::metadata::controller::create_topic(image, &topic, 0)
        })
        .await
        .unwrap();

    let group = "checkpointed-group";
    let rounds = 1_100;
    for round in 0..rounds {
        let offsets = (0..100)
            .map(|p| {
                (
                    ("events".to_string(), p),
                    CommittedOffset {
                        offset: round * 1000 + p as i64,
                        leader_epoch: 0,
                        metadata: format!("round-{round}"),
                        commit_timestamp_ms: fjord::broker::now_ms(),
                    },
                )
            })
            .collect();
        broker.groups.commit(group, "", None, -1, offsets).unwrap();
    }
    let partition = broker.groups.partition_for(group);
    let log = broker.replicas.get(OFFSETS_TOPIC, partition).unwrap().offsets();
    assert!(log.log_start_offset > 0, "a checkpoint moved the log start offset");
    assert!(
        log.log_end_offset - log.log_start_offset < 100_000,
        "replay covers at most one checkpoint interval plus the live state, not all {} records",
        rounds * 100
    );
    drop(broker);
    running.shutdown().await;

    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    let fetched = broker
        .groups
        .fetch_offsets(group, Some(vec![("events".to_string(), (0..100).collect())]), false);
    assert_eq!(fetched.len(), 100);
    for (_, p, o) in fetched {
        let o = o.unwrap().expect("committed offset restored");
        assert_eq!(o.offset, (rounds - 1) * 1000 + p as i64);
        assert_eq!(o.metadata, format!("round-{}", rounds - 1));
    }
}

/// offsets.retention.minutes: an Empty group's offsets expire once the
/// group has been Empty and the offsets uncommitted for the retention; a
/// group left with no offsets is removed (Kafka's cleanupGroupMetadata),
/// and neither comes back when `__consumer_offsets` is replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_offsets_and_their_empty_group_are_removed_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    broker.ensure_offsets_topic().await.unwrap();
    let retention_ms = broker.groups.config.offsets_retention_ms;
    let now = fjord::broker::now_ms();
    let commit = |group: &str, partition: i32, at_ms: i64| {
        let offset = CommittedOffset {
            offset: 42,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: at_ms,
        };
        broker
            .groups
            .commit(group, "", None, -1, vec![(("events".to_string(), partition), offset)])
            .unwrap();
    };
    commit("old-group", 0, now);
    commit("old-group", 1, now);
    commit("mixed-group", 0, now);
    commit("mixed-group", 1, now + retention_ms);

    // Before the retention has passed nothing expires.
    broker.groups.expire_offsets(now + retention_ms - 1);
    assert_eq!(broker.groups.list().len(), 2);

    // Past the retention by a margin: the group became Empty a moment
    // after `now` (its state timestamp is when it was created).
    broker.groups.expire_offsets(now + retention_ms + 1_000);
    let groups: Vec<String> = broker.groups.list().into_iter().map(|g| g.0).collect();
    assert_eq!(
        groups,
        vec!["mixed-group".to_string()],
        "old-group lost its last offsets"
    );
    let mixed = broker.groups.fetch_offsets("mixed-group", None, false);
    assert_eq!(mixed.len(), 1, "only the recent commit is left: {mixed:?}");
    assert_eq!(mixed[0].1, 1);

    drop(broker);
    running.shutdown().await;
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    let groups: Vec<String> = broker.groups.list().into_iter().map(|g| g.0).collect();
    assert_eq!(groups, vec!["mixed-group".to_string()]);
    assert!(broker.groups.fetch_offsets("old-group", None, false).is_empty());
    assert_eq!(broker.groups.fetch_offsets("mixed-group", None, false).len(), 1);
}

/// TxnOffsetCommit: offsets written in a transaction are held back from
/// OffsetFetch (UNSTABLE_OFFSET_COMMIT with `require_stable`) until the
/// transaction's marker lands in `__consumer_offsets`; a commit marker
/// applies them, an abort marker drops them, and a restart in between
/// (the replay of the transactional records and markers) keeps both right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_offsets_wait_for_their_marker_across_restarts() {
    use fjord::log::control::EndTxnMarker;
    use kafka_protocol::error::ResponseError;
    let dir = tempfile::tempdir().unwrap();
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    broker.ensure_offsets_topic().await.unwrap();
    let offset = |o: i64| CommittedOffset {
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp_ms: fjord::broker::now_ms(),
    };
    let tp = |p: i32| ("events".to_string(), p);
    let fetch = |broker: &fjord::broker::Broker, stable: bool| {
        broker
            .groups
            .fetch_offsets("txn-group", Some(vec![("events".to_string(), vec![0, 1])]), stable)
            .into_iter()
            .map(|(_, _, o)| o.map(|o| o.map(|o| o.offset)))
            .collect::<Vec<_>>()
    };
    // The verification (KIP-890) TxnOffsetCommit does before it writes:
    // its guard opens the producer's transaction in `__consumer_offsets`.
    let producer = |pid: i64| {
        let partition = broker.groups.partition_for("txn-group");
        let log = broker.replicas.get(OFFSETS_TOPIC, partition).unwrap();
        TxnProducer {
            id: pid,
            epoch: 0,
            guard: log.verification_needed(pid, 0),
        }
    };
    // A plain commit first, then producer 7 commits partition 0 and
    // producer 8 partition 1, each in its own transaction.
    broker
        .groups
        .commit("txn-group", "", None, -1, vec![(tp(0), offset(5))])
        .unwrap();
    for (pid, p, o) in [(7, 0, 10), (8, 1, 20)] {
        let w = broker
            .groups
            .txn_commit("txn-group", producer(pid), "", None, -1, vec![(tp(p), offset(o))])
            .unwrap()
            .unwrap();
        w.replicated(std::time::Duration::from_secs(5)).await.unwrap();
    }
    assert_eq!(fetch(&broker, false), vec![Ok(Some(5)), Ok(None)]);
    let unstable = Err(ResponseError::UnstableOffsetCommit);
    assert_eq!(fetch(&broker, true), vec![unstable, unstable]);

    // Restart with both transactions open: still held back.
    drop(broker);
    running.shutdown().await;
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    assert_eq!(fetch(&broker, true), vec![unstable, unstable]);

    // Producer 7 commits, producer 8 aborts.
    let partition = broker.groups.partition_for("txn-group");
    for (pid, commit) in [(7, true), (8, false)] {
        let marker = EndTxnMarker {
            commit,
            coordinator_epoch: 0,
        };
        fjord::txn_markers::write_local(&broker, pid, 0, marker, OFFSETS_TOPIC, partition)
            .await
            .unwrap();
    }
    assert_eq!(fetch(&broker, true), vec![Ok(Some(10)), Ok(None)]);

    // And the replay of both markers agrees.
    drop(broker);
    running.shutdown().await;
    let running = fjord::start(config(dir.path())).await.unwrap();
    let broker = running.broker.clone();
    assert_eq!(fetch(&broker, true), vec![Ok(Some(10)), Ok(None)]);
    drop(broker);
    running.shutdown().await;
}
