//! Wire conformance: every API and version fjord advertises, driven over
//! TCP with kafka-protocol's encoders against a broker started in-process,
//! plus Kafka's error codes for bad input, the reaction to malformed
//! frames, and response ordering on a pipelined connection.
//!
//! `PER_VERSION_TESTS` below names, for each advertised API, the test that
//! walks all of its versions; an API added to the handler table without one
//! fails `every_advertised_api_has_a_per_version_test`.
//!
//! Run with `cargo test --test proto`.

/// The broker binary's allocator, installed here too: `malformed.rs` sends
/// hostile array counts to the in-process broker, and the protocol crate
/// reserves what a count asks for before it sees the frame is short. The
/// library no longer installs an allocator for every program that links it.
#[global_allocator]
static ALLOCATOR: fjord::alloc::BrokerAllocator = fjord::alloc::BrokerAllocator;

mod codes;
mod harness;
mod ops;
mod records;

mod cluster;
mod configs;
mod errors;
mod fetch;
mod fetch_sessions;
mod groups;
mod leaders;
mod malformed;
mod offsets;
mod pipelining;
mod produce;
mod producers;
mod quorum;
mod topics;
mod transactions;

use std::collections::BTreeSet;

use kafka_protocol::messages::ApiKey;

/// Each API and the test that walks every version fjord advertises for it.
const PER_VERSION_TESTS: &[(ApiKey, &str)] = &[
    (ApiKey::Produce, "produce::produce_every_version"),
    (ApiKey::Fetch, "fetch::fetch_every_version"),
    (ApiKey::ListOffsets, "offsets::list_offsets_every_version"),
    (ApiKey::Metadata, "cluster::metadata_every_version"),
    (ApiKey::OffsetCommit, "groups::offset_commit_every_version"),
    (ApiKey::OffsetFetch, "groups::offset_fetch_every_version"),
    (ApiKey::FindCoordinator, "groups::find_coordinator_every_version"),
    (ApiKey::JoinGroup, "groups::join_group_every_version"),
    (ApiKey::Heartbeat, "groups::heartbeat_every_version"),
    (ApiKey::LeaveGroup, "groups::leave_group_every_version"),
    (ApiKey::SyncGroup, "groups::sync_group_every_version"),
    (ApiKey::DescribeGroups, "groups::describe_groups_every_version"),
    (ApiKey::ListGroups, "groups::list_groups_every_version"),
    (ApiKey::DeleteRecords, "offsets::delete_records_every_version"),
    (ApiKey::InitProducerId, "cluster::init_producer_id_every_version"),
    (
        ApiKey::OffsetForLeaderEpoch,
        "offsets::offset_for_leader_epoch_every_version",
    ),
    (ApiKey::ApiVersions, "cluster::api_versions_every_version"),
    (ApiKey::CreateTopics, "topics::create_topics_every_version"),
    (ApiKey::DeleteTopics, "topics::delete_topics_every_version"),
    (ApiKey::DescribeConfigs, "configs::describe_configs_every_version"),
    (ApiKey::AlterConfigs, "configs::alter_configs_every_version"),
    (ApiKey::DescribeLogDirs, "configs::describe_log_dirs_every_version"),
    (ApiKey::CreatePartitions, "topics::create_partitions_every_version"),
    (ApiKey::DeleteGroups, "groups::delete_groups_every_version"),
    (
        ApiKey::IncrementalAlterConfigs,
        "configs::incremental_alter_configs_every_version",
    ),
    (ApiKey::OffsetDelete, "groups::offset_delete_every_version"),
    (ApiKey::DescribeCluster, "cluster::describe_cluster_every_version"),
    (ApiKey::DescribeQuorum, "quorum::describe_quorum_every_version"),
    (ApiKey::BrokerRegistration, "quorum::broker_registration_every_version"),
    (ApiKey::BrokerHeartbeat, "quorum::broker_heartbeat_every_version"),
    (
        ApiKey::AllocateProducerIds,
        "quorum::allocate_producer_ids_every_version",
    ),
    (ApiKey::AlterPartition, "quorum::alter_partition_every_version"),
    (ApiKey::ElectLeaders, "leaders::elect_leaders_every_version"),
    (
        ApiKey::AlterPartitionReassignments,
        "leaders::alter_partition_reassignments_every_version",
    ),
    (
        ApiKey::ListPartitionReassignments,
        "leaders::list_partition_reassignments_every_version",
    ),
    (ApiKey::DescribeProducers, "producers::describe_producers_every_version"),
    (
        ApiKey::DescribeTopicPartitions,
        "leaders::describe_topic_partitions_every_version",
    ),
    (
        ApiKey::AddPartitionsToTxn,
        "transactions::add_partitions_to_txn_every_version",
    ),
    (
        ApiKey::AddOffsetsToTxn,
        "transactions::add_offsets_to_txn_every_version",
    ),
    (ApiKey::EndTxn, "transactions::end_txn_every_version"),
    (ApiKey::WriteTxnMarkers, "transactions::write_txn_markers_every_version"),
    (ApiKey::TxnOffsetCommit, "transactions::txn_offset_commit_every_version"),
    (
        ApiKey::DescribeTransactions,
        "transactions::describe_transactions_every_version",
    ),
    (
        ApiKey::ListTransactions,
        "transactions::list_transactions_every_version",
    ),
];

/// An API added to the handler table without a conformance test here
/// fails this test, and so does a table entry naming no test.
#[test]
fn every_advertised_api_has_a_per_version_test() {
    let advertised: BTreeSet<i16> = fjord::handlers::APIS.iter().map(|a| *a as i16).collect();
    let tested: BTreeSet<i16> = PER_VERSION_TESTS.iter().map(|(a, _)| *a as i16).collect();
    let missing: Vec<ApiKey> = fjord::handlers::APIS
        .iter()
        .copied()
        .filter(|a| !tested.contains(&(*a as i16)))
        .collect();
    assert!(
        missing.is_empty(),
        "advertised APIs without a per-version test: {missing:?}"
    );
    assert_eq!(
        tested, advertised,
        "per-version tests for APIs fjord does not advertise"
    );

    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .arg("--list")
        .output()
        .expect("list tests");
    let listed = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<&str> = listed.lines().filter_map(|l| l.strip_suffix(": test")).collect();
    for (api, test) in PER_VERSION_TESTS {
        assert!(names.contains(test), "{api:?}: no test named {test}");
    }
}
