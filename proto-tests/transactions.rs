//! Transactions, every advertised version: AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, TxnOffsetCommit, WriteTxnMarkers,
//! DescribeTransactions and ListTransactions, plus FindCoordinator and
//! InitProducerId for transactional ids. Each test checks what the API
//! does: the partitions a transaction holds, the markers that end it in
//! the log (what a read_committed Fetch sees: last stable offset, aborted
//! transactions), the offsets it commits, and Kafka's error codes.
//! Set-up steps use fixed versions (InitProducerId v4, AddPartitionsToTxn
//! v3, AddOffsetsToTxn v3, EndTxn v4: a transaction version 0 client);
//! the version under test is the one each test walks.
//!
//! Markers are written after EndTxn answers, so what they change is polled
//! for (`SETTLE`).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::{AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction};
use kafka_protocol::messages::add_partitions_to_txn_response::AddPartitionsToTxnTopicResult;
use kafka_protocol::messages::describe_transactions_response::TransactionState as DescribedTxn;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, PartitionData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, BrokerId, DescribeTransactionsRequest, EndTxnRequest,
    EndTxnResponse, FindCoordinatorRequest, InitProducerIdRequest, InitProducerIdResponse, ListTransactionsRequest,
    ListTransactionsResponse, OffsetFetchResponse, ProducerId, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::records::RecordBatchDecoder;

use crate::codes::*;
use crate::groups::{group_id, join_and_sync, offset_fetch_request};
use crate::harness::{
    each_version, now_ms, str_bytes, topic_name, Client, Ctx, TestBroker, ADVERTISED_HOST, ADVERTISED_PORT, NODE_ID,
};
use crate::ops::{create_topic, fetch_request, init_producer_id, metadata_topic, produce_request, Topic};
use crate::records::{transactional_batch, Producer};

/// Few internal partitions, so the internal topics are quick to create; no
/// initial rebalance delay, so a lone member's join completes at once.
const TXN_SETTINGS: &[(&str, &str)] = &[
    ("transaction.state.log.num.partitions", "3"),
    ("offsets.topic.num.partitions", "3"),
    ("group.initial.rebalance.delay.ms", "0"),
];
const TXN_STATE_PARTITIONS: i32 = 3;
const OFFSETS_PARTITIONS: i32 = 3;
const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
const OFFSETS_TOPIC: &str = "__consumer_offsets";
const TXN_TIMEOUT_MS: i32 = 60_000;
/// The longest wait for something the coordinator does in the background
/// (loading its partitions, writing markers).
const SETTLE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);
/// FindCoordinator's key type for transactional ids.
const KEY_TYPE_TRANSACTION: i8 = 1;

async fn start_txn_broker() -> (TestBroker, Ctx) {
    let broker = TestBroker::start_with(TXN_SETTINGS).await;
    let ctx = broker.ctx.clone();
    (broker, ctx)
}

/// Java's `String.hashCode`, by which Kafka places a key in a partition of
/// an internal topic (`Utils.abs(hash) % partitions`).
fn partition_for(key: &str, partitions: i32) -> i32 {
    let hash = key
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    (hash & 0x7fff_ffff) % partitions
}

/// A transactional producer: its id and the producer id and epoch its
/// coordinator gave it.
#[derive(Clone, Debug)]
struct Txn {
    id: String,
    pid: i64,
    epoch: i16,
}

impl Txn {
    /// Produces (v9, acks=all) a batch of `count` records of this
    /// producer's transaction, as its client does: the request names the
    /// transactional id, so the leader verifies the partition with the
    /// coordinator (KIP-890). Must succeed; returns the base offset.
    async fn produce(&self, c: &mut Client, topic: &Topic, partition: i32, count: usize, base_sequence: i32) -> i64 {
        let mut req = produce_request(9, topic, partition, self.batch(count, base_sequence), -1);
        req.transactional_id = Some(TransactionalId(str_bytes(&self.id)));
        let resp = c.call(9, &req).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code, NONE,
            "set-up: {} produces to {}-{partition}: {:?}",
            self.id, topic.name, p.error_message
        );
        p.base_offset
    }

    /// A batch of this producer's transaction.
    fn batch(&self, count: usize, base_sequence: i32) -> Bytes {
        transactional_batch(
            count,
            now_ms(),
            Producer {
                id: self.pid,
                epoch: self.epoch,
                base_sequence,
            },
        )
    }
}

/// The error a client of `version` gets for a fenced producer epoch: from
/// `first_new` on PRODUCER_FENCED, before it INVALID_PRODUCER_EPOCH, which
/// older clients understand (KIP-588).
fn fenced(version: i16, first_new: i16) -> i16 {
    if version >= first_new {
        PRODUCER_FENCED
    } else {
        INVALID_PRODUCER_EPOCH
    }
}

/// FindCoordinator v3 for a transactional id: this node.
async fn find_txn_coordinator(c: &mut Client, id: &str) {
    let mut req = FindCoordinatorRequest::default();
    req.key = str_bytes(id);
    req.key_type = KEY_TYPE_TRANSACTION;
    let resp = c.call(3, &req).await;
    assert_eq!(
        resp.error_code, NONE,
        "set-up: FindCoordinator for transactional id {id}: {:?}",
        resp.error_message
    );
    assert_eq!(resp.node_id, BrokerId(NODE_ID));
}

fn init_request(version: i16, id: &str, timeout_ms: i32, expected: Option<(i64, i16)>) -> InitProducerIdRequest {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = Some(TransactionalId(str_bytes(id)));
    req.transaction_timeout_ms = timeout_ms;
    if let Some((pid, epoch)) = expected {
        assert!(version >= 3, "v{version}: no producer id and epoch before v3");
        req.producer_id = ProducerId(pid);
        req.producer_epoch = epoch;
    }
    req
}

/// InitProducerId for `id` at `version`, retried while the coordinator
/// loads its partition or ends (after a fence) an earlier transaction, as
/// clients do.
async fn init_retrying(c: &mut Client, version: i16, id: &str) -> InitProducerIdResponse {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let resp = c.call(version, &init_request(version, id, TXN_TIMEOUT_MS, None)).await;
        let retriable = [
            COORDINATOR_LOAD_IN_PROGRESS,
            COORDINATOR_NOT_AVAILABLE,
            NOT_COORDINATOR,
            CONCURRENT_TRANSACTIONS,
        ];
        if !retriable.contains(&resp.error_code) || tokio::time::Instant::now() > deadline {
            return resp;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A transactional producer ready to begin: FindCoordinator, then
/// InitProducerId v4.
async fn init_txn(c: &mut Client, id: &str) -> Txn {
    find_txn_coordinator(c, id).await;
    let resp = init_retrying(c, 4, id).await;
    assert_eq!(resp.error_code, NONE, "set-up: InitProducerId for {id}");
    Txn {
        id: id.to_string(),
        pid: resp.producer_id.0,
        epoch: resp.producer_epoch,
    }
}

fn apt_topics(partitions: &[(&str, &[i32])]) -> Vec<AddPartitionsToTxnTopic> {
    partitions
        .iter()
        .map(|(t, ps)| {
            let mut topic = AddPartitionsToTxnTopic::default();
            topic.name = topic_name(t);
            topic.partitions = ps.to_vec();
            topic
        })
        .collect()
}

/// AddPartitionsToTxn up to v3: one transaction.
fn apt_request(txn: &Txn, partitions: &[(&str, &[i32])]) -> AddPartitionsToTxnRequest {
    let mut req = AddPartitionsToTxnRequest::default();
    req.v3_and_below_transactional_id = TransactionalId(str_bytes(&txn.id));
    req.v3_and_below_producer_id = ProducerId(txn.pid);
    req.v3_and_below_producer_epoch = txn.epoch;
    req.v3_and_below_topics = apt_topics(partitions);
    req
}

/// AddPartitionsToTxn v4+: one transaction of a batch.
fn apt_transaction(txn: &Txn, verify_only: bool, partitions: &[(&str, &[i32])]) -> AddPartitionsToTxnTransaction {
    let mut t = AddPartitionsToTxnTransaction::default();
    t.transactional_id = TransactionalId(str_bytes(&txn.id));
    t.producer_id = ProducerId(txn.pid);
    t.producer_epoch = txn.epoch;
    t.verify_only = verify_only;
    t.topics = apt_topics(partitions);
    t
}

/// (topic, partition, error) of each partition of a response.
type PartitionErrors = Vec<(String, i32, i16)>;

/// (topic, partition, error), sorted: Kafka answers from a map.
fn apt_results(results: &[AddPartitionsToTxnTopicResult]) -> PartitionErrors {
    let mut out: PartitionErrors = results
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index, p.partition_error_code))
        })
        .collect();
    out.sort();
    out
}

/// The same error for every partition named, sorted.
fn every(partitions: &[(&str, &[i32])], error: i16) -> PartitionErrors {
    let mut out: PartitionErrors = partitions
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.to_string(), *p, error)))
        .collect();
    out.sort();
    out
}

/// AddPartitionsToTxn v3 that must succeed.
async fn add_partitions(c: &mut Client, txn: &Txn, partitions: &[(&str, &[i32])]) {
    let resp = c.call(3, &apt_request(txn, partitions)).await;
    assert_eq!(
        apt_results(&resp.results_by_topic_v3_and_below),
        every(partitions, NONE),
        "set-up: {} adds {partitions:?}",
        txn.id
    );
}

fn add_offsets_request(txn: &Txn, group: &str) -> AddOffsetsToTxnRequest {
    let mut req = AddOffsetsToTxnRequest::default();
    req.transactional_id = TransactionalId(str_bytes(&txn.id));
    req.producer_id = ProducerId(txn.pid);
    req.producer_epoch = txn.epoch;
    req.group_id = group_id(group);
    req
}

/// AddOffsetsToTxn v3 that must succeed.
async fn add_offsets(c: &mut Client, txn: &Txn, group: &str) {
    let resp = c.call(3, &add_offsets_request(txn, group)).await;
    assert_eq!(resp.error_code, NONE, "set-up: {} adds the offsets of {group}", txn.id);
}

fn end_request(txn: &Txn, commit: bool) -> EndTxnRequest {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(str_bytes(&txn.id));
    req.producer_id = ProducerId(txn.pid);
    req.producer_epoch = txn.epoch;
    req.committed = commit;
    req
}

/// EndTxn v4 that must succeed, then the wait for its markers.
async fn end_txn(c: &mut Client, txn: &Txn, commit: bool) {
    let resp = c.call(4, &end_request(txn, commit)).await;
    assert_eq!(resp.error_code, NONE, "set-up: {} ends (commit: {commit})", txn.id);
    await_state(c, &txn.id, if commit { "CompleteCommit" } else { "CompleteAbort" }).await;
}

async fn describe_all(c: &mut Client, ids: &[&str]) -> Vec<DescribedTxn> {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = ids.iter().map(|id| TransactionalId(str_bytes(id))).collect();
    let resp = c.call(0, &req).await;
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.transaction_states.len(), ids.len(), "one state per id");
    resp.transaction_states
}

/// DescribeTransactions v0 of one id, which must succeed.
async fn describe(c: &mut Client, id: &str) -> DescribedTxn {
    let s = describe_all(c, &[id]).await.remove(0);
    assert_eq!(s.error_code, NONE, "describe {id}");
    assert_eq!(s.transactional_id.0.as_str(), id, "describe {id}: id echo");
    s
}

/// Polls DescribeTransactions until `id` is in `state` (the markers of an
/// ended transaction are written after EndTxn answers).
async fn await_state(c: &mut Client, id: &str, state: &str) -> DescribedTxn {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let s = describe(c, id).await;
        if s.transaction_state.as_str() == state {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still {} after {SETTLE:?}, expected {state}",
            s.transaction_state.as_str()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// (topic, sorted partitions) of a described transaction, sorted by topic.
fn described_partitions(s: &DescribedTxn) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = s
        .topics
        .iter()
        .map(|t| {
            let mut ps = t.partitions.clone();
            ps.sort_unstable();
            (t.topic.0.to_string(), ps)
        })
        .collect();
    out.sort();
    out
}

fn partitions_of(partitions: &[(&str, &[i32])]) -> Vec<(String, Vec<i32>)> {
    partitions.iter().map(|(t, ps)| (t.to_string(), ps.to_vec())).collect()
}

/// A read_committed Fetch (v12) of one partition from `offset`.
async fn fetch_committed(c: &mut Client, topic: &Topic, offset: i64) -> PartitionData {
    let mut req = fetch_request(12, topic, 0, offset);
    req.isolation_level = 1;
    let mut resp = c.call(12, &req).await;
    assert_eq!(resp.error_code, NONE, "read_committed fetch");
    let mut t = resp.responses.remove(0);
    let p = t.partitions.remove(0);
    assert_eq!(p.error_code, NONE, "read_committed fetch of {}", topic.name);
    p
}

/// Polls read_committed fetches until no transaction holds the partition
/// open (the last stable offset reaches the high watermark).
async fn await_stable(c: &mut Client, topic: &Topic) -> PartitionData {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let p = fetch_committed(c, topic, 0).await;
        if p.last_stable_offset == p.high_watermark {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: last stable offset {} still below the high watermark {} after {SETTLE:?}",
            topic.name,
            p.last_stable_offset,
            p.high_watermark
        );
        tokio::time::sleep(POLL).await;
    }
}

/// What one offset of a fetched log holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// A transactional data record of a producer.
    Data { offset: i64, pid: i64 },
    /// A transaction marker (control record) of a producer and epoch.
    Marker {
        offset: i64,
        pid: i64,
        epoch: i16,
        commit: bool,
    },
}

/// Decodes fetched batches into their records.
fn entries(records: &Option<Bytes>) -> Vec<Entry> {
    let mut buf = records.clone().unwrap_or_default();
    let sets = RecordBatchDecoder::decode_all(&mut buf).expect("decode fetched batches");
    sets.iter()
        .flat_map(|s| &s.records)
        .map(|r| {
            assert!(r.transactional, "offset {}: a transactional record", r.offset);
            if r.control {
                // Key: version (int16), type (int16: 0 abort, 1 commit).
                let key = r.key.as_ref().expect("a control record has a key");
                assert_eq!(key.len(), 4, "offset {}: control record key", r.offset);
                Entry::Marker {
                    offset: r.offset,
                    pid: r.producer_id,
                    epoch: r.producer_epoch,
                    commit: i16::from_be_bytes([key[2], key[3]]) == 1,
                }
            } else {
                Entry::Data {
                    offset: r.offset,
                    pid: r.producer_id,
                }
            }
        })
        .collect()
}

fn data(pid: i64, offsets: std::ops::Range<i64>) -> Vec<Entry> {
    offsets.map(|offset| Entry::Data { offset, pid }).collect()
}

fn aborted(pid: i64, first_offset: i64) -> AbortedTransaction {
    let mut a = AbortedTransaction::default();
    a.producer_id = ProducerId(pid);
    a.first_offset = first_offset;
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_transaction_coordinator_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::FindCoordinator, move |v| {
        let ctx = ctx.clone();
        async move {
            if v == 0 {
                // v0 has no key type: it finds group coordinators only.
                return;
            }
            let mut c = Client::connect(ctx.addr).await;
            let ids = [format!("fc-a-v{v}"), format!("fc-b-v{v}")];
            let mut req = FindCoordinatorRequest::default();
            req.key_type = KEY_TYPE_TRANSACTION;
            if v < 4 {
                req.key = str_bytes(&ids[0]);
                let resp = c.call(v, &req).await;
                assert_eq!(resp.throttle_time_ms, 0);
                assert_eq!(resp.error_code, NONE, "v{v}: error ({:?})", resp.error_message);
                assert_eq!(
                    (resp.node_id, resp.host.as_str(), resp.port),
                    (BrokerId(NODE_ID), ADVERTISED_HOST, ADVERTISED_PORT),
                    "v{v}: the transaction coordinator"
                );
            } else {
                req.coordinator_keys = ids.iter().map(|k| str_bytes(k)).collect();
                let resp = c.call(v, &req).await;
                assert_eq!(resp.throttle_time_ms, 0);
                let got: Vec<(&str, i16, BrokerId, &str, i32)> = resp
                    .coordinators
                    .iter()
                    .map(|co| (co.key.as_str(), co.error_code, co.node_id, co.host.as_str(), co.port))
                    .collect();
                let want: Vec<(&str, i16, BrokerId, &str, i32)> = ids
                    .iter()
                    .map(|k| (k.as_str(), NONE, BrokerId(NODE_ID), ADVERTISED_HOST, ADVERTISED_PORT))
                    .collect();
                assert_eq!(got, want, "v{v}: one coordinator per transactional id, in order");
            }
            // The lookup created __transaction_state with the configured
            // partitions, each led here.
            let t = metadata_topic(&mut c, TRANSACTION_STATE_TOPIC).await;
            assert_eq!(t.error_code, NONE, "v{v}: {TRANSACTION_STATE_TOPIC} exists");
            assert!(t.is_internal, "v{v}: {TRANSACTION_STATE_TOPIC} is internal");
            assert_eq!(t.partitions.len() as i32, TXN_STATE_PARTITIONS, "v{v}: its partitions");
            assert!(
                t.partitions.iter().all(|p| p.leader_id == BrokerId(NODE_ID)),
                "v{v}: led by this node"
            );
            // And the coordinator it named serves the id.
            let resp = init_retrying(&mut c, 4, &ids[0]).await;
            assert_eq!(resp.error_code, NONE, "v{v}: InitProducerId at the coordinator");
        }
    })
    .await;
    broker.stop().await;
}

/// InitProducerId with a transactional id (the idempotent form is
/// `cluster::init_producer_id_every_version`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_producer_id_transactional_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::InitProducerId, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let id = format!("init-v{v}");
            find_txn_coordinator(&mut c, &id).await;
            let first = init_retrying(&mut c, v, &id).await;
            assert_eq!(first.throttle_time_ms, 0);
            assert_eq!(first.error_code, NONE, "v{v}: first InitProducerId");
            assert!(first.producer_id.0 >= 0, "v{v}: a producer id");
            assert_eq!(
                first.producer_epoch, 0,
                "v{v}: a new transactional id starts at epoch 0"
            );
            let pid = first.producer_id;

            // A new instance of the producer fences the old: same id, next epoch.
            let second = c.call(v, &init_request(v, &id, TXN_TIMEOUT_MS, None)).await;
            assert_eq!(
                (second.error_code, second.producer_id, second.producer_epoch),
                (NONE, pid, 1),
                "v{v}: a second InitProducerId bumps the epoch"
            );
            let mut epoch = 1;

            if v >= 3 {
                // KIP-360: the current producer recovers, naming its id and epoch.
                let r = c.call(v, &init_request(v, &id, TXN_TIMEOUT_MS, Some((pid.0, 1)))).await;
                assert_eq!(
                    (r.error_code, r.producer_id, r.producer_epoch),
                    (NONE, pid, 2),
                    "v{v}: recovery with the current epoch bumps it"
                );
                epoch = 2;
                let r = c.call(v, &init_request(v, &id, TXN_TIMEOUT_MS, Some((pid.0, 0)))).await;
                assert_eq!(r.error_code, fenced(v, 4), "v{v}: recovery with a fenced epoch");
                let r = c
                    .call(v, &init_request(v, &id, TXN_TIMEOUT_MS, Some((pid.0 + 1000, epoch))))
                    .await;
                assert_eq!(r.error_code, fenced(v, 4), "v{v}: recovery with another producer id");
            }

            let r = c.call(v, &init_request(v, &id, 0, None)).await;
            assert_eq!(r.error_code, INVALID_TRANSACTION_TIMEOUT, "v{v}: a zero timeout");
            let r = c.call(v, &init_request(v, &id, i32::MAX, None)).await;
            assert_eq!(
                r.error_code, INVALID_TRANSACTION_TIMEOUT,
                "v{v}: a timeout above transaction.max.timeout.ms"
            );

            // A new instance while a transaction is open: the coordinator
            // fences the open one and aborts it; the client retries
            // CONCURRENT_TRANSACTIONS until the abort is done.
            let topic = create_topic(&mut c, &format!("init-topic-v{v}"), 1, &[]).await;
            let txn = Txn {
                id: id.clone(),
                pid: pid.0,
                epoch,
            };
            add_partitions(&mut c, &txn, &[(&topic.name, &[0])]).await;
            let r = c.call(v, &init_request(v, &id, TXN_TIMEOUT_MS, None)).await;
            assert_eq!(
                r.error_code, CONCURRENT_TRANSACTIONS,
                "v{v}: InitProducerId while a transaction is open"
            );
            let r = init_retrying(&mut c, v, &id).await;
            assert_eq!(
                (r.error_code, r.producer_id, r.producer_epoch),
                (NONE, pid, epoch + 2),
                "v{v}: after the fenced transaction's abort (one bump to fence, one for the new instance)"
            );
            let s = describe(&mut c, &id).await;
            assert_eq!(
                (s.transaction_state.as_str(), s.producer_epoch),
                ("Empty", epoch + 2),
                "v{v}: described after the fence"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_partitions_to_txn_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::AddPartitionsToTxn, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("apt-v{v}"), 2, &[]).await;
            let t = topic.name.as_str();
            let missing = format!("apt-missing-v{v}");
            if v < 4 {
                let txn = init_txn(&mut c, &format!("apt-v{v}")).await;

                let resp = c.call(v, &apt_request(&txn, &[(t, &[0])])).await;
                assert_eq!(resp.throttle_time_ms, 0);
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    every(&[(t, &[0])], NONE),
                    "v{v}: partition 0 added"
                );
                let s = describe(&mut c, &txn.id).await;
                assert_eq!(s.transaction_state.as_str(), "Ongoing", "v{v}: the transaction began");
                assert_eq!(
                    described_partitions(&s),
                    partitions_of(&[(t, &[0])]),
                    "v{v}: its partitions"
                );

                // One unknown partition fails the whole request: it gets
                // UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED.
                let resp = c
                    .call(v, &apt_request(&txn, &[(t, &[1, 7]), (missing.as_str(), &[0])]))
                    .await;
                let want = {
                    let mut w = vec![
                        (t.to_string(), 1, OPERATION_NOT_ATTEMPTED),
                        (t.to_string(), 7, UNKNOWN_TOPIC_OR_PARTITION),
                        (missing.clone(), 0, UNKNOWN_TOPIC_OR_PARTITION),
                    ];
                    w.sort();
                    w
                };
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    want,
                    "v{v}: unknown partitions"
                );
                let s = describe(&mut c, &txn.id).await;
                assert_eq!(
                    described_partitions(&s),
                    partitions_of(&[(t, &[0])]),
                    "v{v}: nothing added by the failed request"
                );

                let both: &[(&str, &[i32])] = &[(t, &[0, 1])];
                let stale = Txn {
                    epoch: txn.epoch + 1,
                    ..txn.clone()
                };
                let resp = c.call(v, &apt_request(&stale, both)).await;
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    every(both, fenced(v, 2)),
                    "v{v}: another epoch"
                );
                let other_pid = Txn {
                    pid: txn.pid + 1000,
                    ..txn.clone()
                };
                let resp = c.call(v, &apt_request(&other_pid, both)).await;
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    every(both, INVALID_PRODUCER_ID_MAPPING),
                    "v{v}: another producer id"
                );
                let unknown = Txn {
                    id: format!("apt-nobody-v{v}"),
                    ..txn.clone()
                };
                let resp = c.call(v, &apt_request(&unknown, both)).await;
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    every(both, INVALID_PRODUCER_ID_MAPPING),
                    "v{v}: a transactional id without a producer"
                );

                let resp = c.call(v, &apt_request(&txn, both)).await;
                assert_eq!(
                    apt_results(&resp.results_by_topic_v3_and_below),
                    every(both, NONE),
                    "v{v}: adding partition 1 (0 again)"
                );
                let s = describe(&mut c, &txn.id).await;
                assert_eq!(described_partitions(&s), partitions_of(both), "v{v}: both partitions");
            } else {
                // Brokers batch transactions and verify before appending (KIP-890).
                let a = init_txn(&mut c, &format!("apt-a-v{v}")).await;
                let b = init_txn(&mut c, &format!("apt-b-v{v}")).await;
                let batch = |txns: Vec<AddPartitionsToTxnTransaction>| {
                    let mut req = AddPartitionsToTxnRequest::default();
                    req.transactions = txns;
                    req
                };
                let results = |resp: &kafka_protocol::messages::AddPartitionsToTxnResponse| {
                    assert_eq!(resp.throttle_time_ms, 0);
                    assert_eq!(resp.error_code, NONE, "v{v}: top-level error");
                    assert!(resp.results_by_topic_v3_and_below.is_empty());
                    resp.results_by_transaction
                        .iter()
                        .map(|r| (r.transactional_id.0.to_string(), apt_results(&r.topic_results)))
                        .collect::<Vec<_>>()
                };

                let resp = c
                    .call(
                        v,
                        &batch(vec![
                            apt_transaction(&a, false, &[(t, &[0])]),
                            apt_transaction(&b, false, &[(t, &[1])]),
                        ]),
                    )
                    .await;
                assert_eq!(
                    results(&resp),
                    vec![
                        (a.id.clone(), every(&[(t, &[0])], NONE)),
                        (b.id.clone(), every(&[(t, &[1])], NONE)),
                    ],
                    "v{v}: two transactions added to"
                );
                for (txn, p) in [(&a, 0), (&b, 1)] {
                    let s = describe(&mut c, &txn.id).await;
                    assert_eq!(s.transaction_state.as_str(), "Ongoing", "v{v}: {} began", txn.id);
                    assert_eq!(
                        described_partitions(&s),
                        partitions_of(&[(t, &[p])]),
                        "v{v}: {}",
                        txn.id
                    );
                }

                // verify_only: added partitions pass, the others are
                // INVALID_TXN_STATE, and nothing is added.
                let stale_b = Txn {
                    epoch: b.epoch + 1,
                    ..b.clone()
                };
                let resp = c
                    .call(
                        v,
                        &batch(vec![
                            apt_transaction(&a, true, &[(t, &[0, 1])]),
                            apt_transaction(&stale_b, true, &[(t, &[1])]),
                        ]),
                    )
                    .await;
                assert_eq!(
                    results(&resp),
                    vec![
                        (
                            a.id.clone(),
                            vec![(t.to_string(), 0, NONE), (t.to_string(), 1, INVALID_TXN_STATE)]
                        ),
                        (b.id.clone(), every(&[(t, &[1])], PRODUCER_FENCED)),
                    ],
                    "v{v}: verify only"
                );
                let s = describe(&mut c, &a.id).await;
                assert_eq!(
                    described_partitions(&s),
                    partitions_of(&[(t, &[0])]),
                    "v{v}: verifying added nothing"
                );

                let resp = c
                    .call(
                        v,
                        &batch(vec![apt_transaction(&a, false, &[(t, &[1]), (missing.as_str(), &[0])])]),
                    )
                    .await;
                let mut want = vec![
                    (t.to_string(), 1, OPERATION_NOT_ATTEMPTED),
                    (missing.clone(), 0, UNKNOWN_TOPIC_OR_PARTITION),
                ];
                want.sort();
                assert_eq!(results(&resp), vec![(a.id.clone(), want)], "v{v}: an unknown topic");
            }
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_offsets_to_txn_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::AddOffsetsToTxn, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let txn = init_txn(&mut c, &format!("ao-v{v}")).await;
            let groups = [format!("ao-group-v{v}"), format!("ao-other-group-v{v}")];
            for g in &groups {
                let resp = c.call(v, &add_offsets_request(&txn, g)).await;
                assert_eq!(resp.throttle_time_ms, 0);
                assert_eq!(resp.error_code, NONE, "v{v}: add the offsets of {g}");
            }
            // The transaction holds each group's __consumer_offsets partition.
            let s = describe(&mut c, &txn.id).await;
            assert_eq!(s.transaction_state.as_str(), "Ongoing", "v{v}: the transaction began");
            let mut want: Vec<i32> = groups.iter().map(|g| partition_for(g, OFFSETS_PARTITIONS)).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(
                described_partitions(&s),
                vec![(OFFSETS_TOPIC.to_string(), want)],
                "v{v}: the groups' offsets partitions"
            );

            let stale = Txn {
                epoch: txn.epoch + 1,
                ..txn.clone()
            };
            let resp = c.call(v, &add_offsets_request(&stale, &groups[0])).await;
            assert_eq!(resp.error_code, fenced(v, 2), "v{v}: another epoch");
            let other = Txn {
                pid: txn.pid + 1000,
                ..txn.clone()
            };
            let resp = c.call(v, &add_offsets_request(&other, &groups[0])).await;
            assert_eq!(
                resp.error_code, INVALID_PRODUCER_ID_MAPPING,
                "v{v}: another producer id"
            );
            let unknown = Txn {
                id: format!("ao-nobody-v{v}"),
                ..txn.clone()
            };
            let resp = c.call(v, &add_offsets_request(&unknown, &groups[0])).await;
            assert_eq!(
                resp.error_code, INVALID_PRODUCER_ID_MAPPING,
                "v{v}: a transactional id without a producer"
            );

            // The commit's marker lands in the offsets partitions.
            end_txn(&mut c, &txn, true).await;
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_txn_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::EndTxn, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("end-v{v}"), 1, &[]).await;
            let t = topic.name.as_str();
            let mut txn = init_txn(&mut c, &format!("end-v{v}")).await;
            let pid = txn.pid;
            // From v5 (transaction version 2) every end bumps the epoch and
            // the answer carries it (KIP-890).
            let bumps = v >= 5;
            let answer = |resp: &EndTxnResponse, txn: &Txn| {
                let d = EndTxnResponse::default();
                let want = if bumps {
                    (ProducerId(txn.pid), txn.epoch + 1)
                } else {
                    (d.producer_id, d.producer_epoch)
                };
                assert_eq!(
                    (resp.producer_id, resp.producer_epoch),
                    want,
                    "v{v}: the producer id and epoch to go on with"
                );
            };

            // A committed transaction.
            add_partitions(&mut c, &txn, &[(t, &[0])]).await;
            assert_eq!(txn.produce(&mut c, &topic, 0, 3, 0).await, 0);
            let p = fetch_committed(&mut c, &topic, 0).await;
            assert_eq!(
                (p.high_watermark, p.last_stable_offset),
                (3, 0),
                "v{v}: the open transaction holds the last stable offset"
            );
            assert_eq!(entries(&p.records), vec![], "v{v}: read_committed sees nothing yet");

            let resp = c.call(v, &end_request(&txn, true)).await;
            assert_eq!(resp.throttle_time_ms, 0);
            assert_eq!(resp.error_code, NONE, "v{v}: commit");
            answer(&resp, &txn);
            let commit_epoch = if bumps { txn.epoch + 1 } else { txn.epoch };
            let s = await_state(&mut c, &txn.id, "CompleteCommit").await;
            assert_eq!(s.producer_epoch, commit_epoch, "v{v}: epoch after the commit");
            assert!(s.topics.is_empty(), "v{v}: a complete transaction holds no partitions");
            let p = await_stable(&mut c, &topic).await;
            assert_eq!(p.high_watermark, 4, "v{v}: three records and the commit marker");
            assert_eq!(p.aborted_transactions, Some(vec![]), "v{v}: nothing aborted");
            let mut want = data(pid, 0..3);
            want.push(Entry::Marker {
                offset: 3,
                pid,
                epoch: commit_epoch,
                commit: true,
            });
            assert_eq!(
                entries(&p.records),
                want,
                "v{v}: the committed records and their marker"
            );

            // An aborted transaction.
            txn.epoch = commit_epoch;
            add_partitions(&mut c, &txn, &[(t, &[0])]).await;
            let sequence = if bumps { 0 } else { 3 };
            assert_eq!(txn.produce(&mut c, &topic, 0, 2, sequence).await, 4);
            let p = fetch_committed(&mut c, &topic, 0).await;
            assert_eq!((p.high_watermark, p.last_stable_offset), (6, 4), "v{v}: open again");
            let resp = c.call(v, &end_request(&txn, false)).await;
            assert_eq!(resp.error_code, NONE, "v{v}: abort");
            answer(&resp, &txn);
            let abort_epoch = if bumps { txn.epoch + 1 } else { txn.epoch };
            await_state(&mut c, &txn.id, "CompleteAbort").await;
            let p = await_stable(&mut c, &topic).await;
            assert_eq!(p.high_watermark, 7, "v{v}: two records and the abort marker");
            assert_eq!(
                p.aborted_transactions,
                Some(vec![aborted(pid, 4)]),
                "v{v}: read_committed learns the aborted transaction"
            );
            want.extend(data(pid, 4..6));
            want.push(Entry::Marker {
                offset: 6,
                pid,
                epoch: abort_epoch,
                commit: false,
            });
            assert_eq!(entries(&p.records), want, "v{v}: the aborted records and their marker");
            // The list holds the aborted transactions the fetched range
            // overlaps: from inside the transaction still, past its marker not.
            let p = fetch_committed(&mut c, &topic, 5).await;
            assert_eq!(
                p.aborted_transactions,
                Some(vec![aborted(pid, 4)]),
                "v{v}: fetching from inside the aborted transaction"
            );
            let p = fetch_committed(&mut c, &topic, 7).await;
            assert_eq!(p.aborted_transactions, Some(vec![]), "v{v}: fetching past it");

            // A retried abort succeeds again; the other outcome is refused.
            let resp = c.call(v, &end_request(&txn, false)).await;
            assert_eq!(resp.error_code, NONE, "v{v}: a retried abort");
            answer(&resp, &txn);
            let resp = c.call(v, &end_request(&txn, true)).await;
            assert_eq!(resp.error_code, INVALID_TXN_STATE, "v{v}: commit after the abort");

            let other = Txn {
                pid: pid + 1000,
                ..txn.clone()
            };
            let resp = c.call(v, &end_request(&other, true)).await;
            assert_eq!(
                resp.error_code, INVALID_PRODUCER_ID_MAPPING,
                "v{v}: another producer id"
            );
            let unknown = Txn {
                id: format!("end-nobody-v{v}"),
                ..txn.clone()
            };
            let resp = c.call(v, &end_request(&unknown, true)).await;
            assert_eq!(
                resp.error_code, INVALID_PRODUCER_ID_MAPPING,
                "v{v}: a transactional id without a producer"
            );
            let stale = Txn {
                epoch: abort_epoch + 5,
                ..txn.clone()
            };
            let resp = c.call(v, &end_request(&stale, true)).await;
            assert_eq!(resp.error_code, fenced(v, 2), "v{v}: another epoch");

            // No transaction to end.
            let idle = init_txn(&mut c, &format!("end-idle-v{v}")).await;
            let resp = c.call(v, &end_request(&idle, true)).await;
            assert_eq!(resp.error_code, INVALID_TXN_STATE, "v{v}: no open transaction");
            // An abort there: under transaction version 2 it ends a
            // transaction with no partitions and bumps the epoch (a client
            // aborting one none of whose records reached the broker, as
            // Flink's sink writer does after a task failure); before, there
            // is nothing to abort.
            let resp = c.call(v, &end_request(&idle, false)).await;
            if bumps {
                assert_eq!(resp.error_code, NONE, "v{v}: an abort with nothing open");
                answer(&resp, &idle);
                await_state(&mut c, &idle.id, "CompleteAbort").await;
            } else {
                assert_eq!(resp.error_code, INVALID_TXN_STATE, "v{v}: an abort with nothing open");
            }
        }
    })
    .await;
    broker.stop().await;
}

fn txn_commit_request(
    version: i16,
    txn: &Txn,
    group: &str,
    member: Option<(&str, i32)>,
    offsets: &[(&str, &[(i32, i64)])],
) -> TxnOffsetCommitRequest {
    let mut req = TxnOffsetCommitRequest::default();
    req.transactional_id = TransactionalId(str_bytes(&txn.id));
    req.group_id = group_id(group);
    req.producer_id = ProducerId(txn.pid);
    req.producer_epoch = txn.epoch;
    if let Some((member_id, generation)) = member {
        req.member_id = str_bytes(member_id);
        req.generation_id = generation;
    }
    req.topics = offsets
        .iter()
        .map(|(t, ps)| {
            let mut topic = TxnOffsetCommitRequestTopic::default();
            topic.name = topic_name(t);
            topic.partitions = ps
                .iter()
                .map(|(p, offset)| {
                    let mut cp = TxnOffsetCommitRequestPartition::default();
                    cp.partition_index = *p;
                    cp.committed_offset = *offset;
                    if version >= 2 {
                        cp.committed_leader_epoch = 3;
                    }
                    cp.committed_metadata = Some(str_bytes(&format!("meta-{p}")));
                    cp
                })
                .collect();
            topic
        })
        .collect();
    req
}

/// (topic, partition, error) in response order.
fn txn_commit_errors(resp: &TxnOffsetCommitResponse) -> PartitionErrors {
    assert_eq!(resp.throttle_time_ms, 0);
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.to_string(), p.partition_index, p.error_code))
        })
        .collect()
}

/// Per partition: (partition, offset, leader epoch, metadata, error), from
/// OffsetFetch v8.
type Fetched = Vec<(i32, i64, i32, String, i16)>;

async fn offsets(c: &mut Client, group: &str, topic: &str, partitions: &[i32], require_stable: bool) -> Fetched {
    let mut req = offset_fetch_request(group, topic, partitions);
    req.require_stable = require_stable;
    let resp: OffsetFetchResponse = c.call(8, &req).await;
    assert_eq!(resp.groups[0].error_code, NONE, "OffsetFetch {group}");
    resp.groups[0]
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                p.error_code,
            )
        })
        .collect()
}

/// Polls OffsetFetch with require_stable until no transaction holds an
/// offset of the group back (its marker has been written).
async fn await_stable_offsets(c: &mut Client, group: &str, topic: &str, partitions: &[i32]) -> Fetched {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let got = offsets(c, group, topic, partitions, true).await;
        if got.iter().all(|p| p.4 != UNSTABLE_OFFSET_COMMIT) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{group}: offsets still unstable after {SETTLE:?}: {got:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_offset_commit_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::TxnOffsetCommit, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("toc-v{v}"), 2, &[]).await;
            let t = topic.name.as_str();
            let group = format!("toc-group-v{v}");
            let missing = format!("toc-missing-v{v}");
            let txn = init_txn(&mut c, &format!("toc-v{v}")).await;
            let epoch = if v >= 2 { 3 } else { -1 };
            let none = |p: i32| (p, -1i64, -1i32, String::new(), NONE);

            // Committed in a transaction: held back until its marker.
            add_offsets(&mut c, &txn, &group).await;
            let req = txn_commit_request(
                v,
                &txn,
                &group,
                None,
                &[(t, &[(0, 5), (1, 7)][..]), (&missing, &[(0, 1)][..])],
            );
            let resp = c.call(v, &req).await;
            assert_eq!(
                txn_commit_errors(&resp),
                vec![
                    (t.to_string(), 0, NONE),
                    (t.to_string(), 1, NONE),
                    (missing.clone(), 0, UNKNOWN_TOPIC_OR_PARTITION),
                ],
                "v{v}: transactional commit"
            );
            let unstable = |p: i32| (p, -1i64, -1i32, String::new(), UNSTABLE_OFFSET_COMMIT);
            assert_eq!(
                offsets(&mut c, &group, t, &[0, 1], true).await,
                vec![unstable(0), unstable(1)],
                "v{v}: require_stable while the transaction is open"
            );
            assert_eq!(
                offsets(&mut c, &group, t, &[0, 1], false).await,
                vec![none(0), none(1)],
                "v{v}: not committed yet"
            );
            end_txn(&mut c, &txn, true).await;
            let committed = vec![
                (0, 5, epoch, "meta-0".to_string(), NONE),
                (1, 7, epoch, "meta-1".to_string(), NONE),
            ];
            assert_eq!(
                await_stable_offsets(&mut c, &group, t, &[0, 1]).await,
                committed,
                "v{v}: committed with the transaction"
            );

            // Aborted: dropped.
            add_offsets(&mut c, &txn, &group).await;
            let resp = c
                .call(v, &txn_commit_request(v, &txn, &group, None, &[(t, &[(0, 11)])]))
                .await;
            assert_eq!(
                txn_commit_errors(&resp),
                vec![(t.to_string(), 0, NONE)],
                "v{v}: commit to abort"
            );
            end_txn(&mut c, &txn, false).await;
            assert_eq!(
                await_stable_offsets(&mut c, &group, t, &[0, 1]).await,
                committed,
                "v{v}: the aborted offset is dropped"
            );

            if v >= 3 {
                // KIP-447: a consumer group member's commit is checked
                // against the group's generation.
                let member_group = format!("toc-member-v{v}");
                let m = join_and_sync(&mut c, &member_group, t).await;
                add_offsets(&mut c, &txn, &member_group).await;
                let attempt =
                    |member: (&str, i32)| txn_commit_request(v, &txn, &member_group, Some(member), &[(t, &[(0, 2)])]);
                let resp = c.call(v, &attempt((&m.member_id, m.generation_id + 1))).await;
                assert_eq!(
                    txn_commit_errors(&resp),
                    vec![(t.to_string(), 0, ILLEGAL_GENERATION)],
                    "v{v}: a wrong generation"
                );
                let resp = c.call(v, &attempt(("nobody", m.generation_id))).await;
                assert_eq!(
                    txn_commit_errors(&resp),
                    vec![(t.to_string(), 0, UNKNOWN_MEMBER_ID)],
                    "v{v}: an unknown member"
                );
                let resp = c.call(v, &attempt((&m.member_id, m.generation_id))).await;
                assert_eq!(
                    txn_commit_errors(&resp),
                    vec![(t.to_string(), 0, NONE)],
                    "v{v}: the member's commit"
                );
                end_txn(&mut c, &txn, true).await;
                assert_eq!(
                    await_stable_offsets(&mut c, &member_group, t, &[0]).await,
                    vec![(0, 2, epoch, "meta-0".to_string(), NONE)],
                    "v{v}: the member's offset committed"
                );
            }
        }
    })
    .await;
    broker.stop().await;
}

fn marker(
    txn: &Txn,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    partitions: &[(&str, &[i32])],
) -> WritableTxnMarker {
    let mut m = WritableTxnMarker::default();
    m.producer_id = ProducerId(txn.pid);
    m.producer_epoch = epoch;
    m.transaction_result = commit;
    m.coordinator_epoch = coordinator_epoch;
    m.topics = partitions
        .iter()
        .map(|(t, ps)| {
            let mut wt = WritableTxnMarkerTopic::default();
            wt.name = topic_name(t);
            wt.partition_indexes = ps.to_vec();
            wt
        })
        .collect();
    m
}

/// Per marker: (producer id, [(topic, partition, error)]), in order.
fn marker_results(resp: &WriteTxnMarkersResponse) -> Vec<(i64, PartitionErrors)> {
    resp.markers
        .iter()
        .map(|m| {
            let errors = m
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(move |p| (t.name.0.to_string(), p.partition_index, p.error_code))
                })
                .collect();
            (m.producer_id.0, errors)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_txn_markers_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::WriteTxnMarkers, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("wtm-v{v}"), 1, &[]).await;
            let t = topic.name.as_str();
            let missing = format!("wtm-missing-v{v}");
            let id = format!("wtm-v{v}");
            init_txn(&mut c, &id).await;
            // A second instance: epoch 1, so that epoch 0 is a fenced one.
            let txn = init_txn(&mut c, &id).await;
            assert_eq!(txn.epoch, 1);
            add_partitions(&mut c, &txn, &[(t, &[0])]).await;
            assert_eq!(txn.produce(&mut c, &topic, 0, 3, 0).await, 0);
            let p = fetch_committed(&mut c, &topic, 0).await;
            assert_eq!((p.high_watermark, p.last_stable_offset), (3, 0), "v{v}: open");

            // What the transaction coordinator of `id` sends: its partition
            // of __transaction_state's leader epoch is its coordinator epoch.
            let state = metadata_topic(&mut c, TRANSACTION_STATE_TOPIC).await;
            let coordinator_epoch = state.partitions[partition_for(&id, TXN_STATE_PARTITIONS) as usize].leader_epoch;
            let write = |markers: Vec<WritableTxnMarker>| {
                let mut req = WriteTxnMarkersRequest::default();
                req.markers = markers;
                req
            };

            let resp = c
                .call(v, &write(vec![marker(&txn, 0, false, coordinator_epoch, &[(t, &[0])])]))
                .await;
            assert_eq!(
                marker_results(&resp),
                vec![(txn.pid, vec![(t.to_string(), 0, INVALID_PRODUCER_EPOCH)])],
                "v{v}: a marker of a fenced producer epoch"
            );
            let p = fetch_committed(&mut c, &topic, 0).await;
            assert_eq!((p.high_watermark, p.last_stable_offset), (3, 0), "v{v}: still open");

            // Two markers in one request: this producer's abort (and a
            // partition that does not exist), and a commit for an
            // idempotent producer with nothing open, written all the same.
            let (other_pid, other_epoch) = init_producer_id(&mut c).await;
            let other = Txn {
                id: String::new(),
                pid: other_pid,
                epoch: other_epoch,
            };
            let resp = c
                .call(
                    v,
                    &write(vec![
                        marker(
                            &txn,
                            txn.epoch,
                            false,
                            coordinator_epoch,
                            &[(t, &[0]), (missing.as_str(), &[0])],
                        ),
                        marker(&other, other_epoch, true, coordinator_epoch, &[(t, &[0])]),
                    ]),
                )
                .await;
            assert_eq!(resp.markers.len(), 2);
            assert_eq!(
                marker_results(&resp),
                vec![
                    (
                        txn.pid,
                        vec![
                            (t.to_string(), 0, NONE),
                            (missing.clone(), 0, UNKNOWN_TOPIC_OR_PARTITION)
                        ]
                    ),
                    (other_pid, vec![(t.to_string(), 0, NONE)]),
                ],
                "v{v}: markers written"
            );
            let p = fetch_committed(&mut c, &topic, 0).await;
            assert_eq!(
                (p.high_watermark, p.last_stable_offset),
                (5, 5),
                "v{v}: the abort ended the transaction"
            );
            assert_eq!(
                p.aborted_transactions,
                Some(vec![aborted(txn.pid, 0)]),
                "v{v}: the aborted transaction"
            );
            let mut want = data(txn.pid, 0..3);
            want.push(Entry::Marker {
                offset: 3,
                pid: txn.pid,
                epoch: txn.epoch,
                commit: false,
            });
            want.push(Entry::Marker {
                offset: 4,
                pid: other_pid,
                epoch: other_epoch,
                commit: true,
            });
            assert_eq!(entries(&p.records), want, "v{v}: the records and both markers");

            // A coordinator older than the one that wrote the last marker.
            let resp = c
                .call(
                    v,
                    &write(vec![marker(
                        &txn,
                        txn.epoch,
                        false,
                        coordinator_epoch - 1,
                        &[(t, &[0])],
                    )]),
                )
                .await;
            assert_eq!(
                marker_results(&resp),
                vec![(txn.pid, vec![(t.to_string(), 0, TRANSACTION_COORDINATOR_FENCED)])],
                "v{v}: a marker from an older coordinator"
            );

            // The coordinator ends its transaction too; its own marker,
            // of the same coordinator epoch, is written after ours.
            end_txn(&mut c, &txn, false).await;
            let p = await_stable(&mut c, &topic).await;
            assert_eq!(p.high_watermark, 6, "v{v}: the coordinator's marker");
            assert_eq!(
                entries(&p.records).last(),
                Some(&Entry::Marker {
                    offset: 5,
                    pid: txn.pid,
                    epoch: txn.epoch,
                    commit: false
                }),
                "v{v}: the coordinator's abort marker"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_transactions_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::DescribeTransactions, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let a = create_topic(&mut c, &format!("dt-a-v{v}"), 1, &[]).await;
            let b = create_topic(&mut c, &format!("dt-b-v{v}"), 2, &[]).await;
            let txn = init_txn(&mut c, &format!("dt-v{v}")).await;
            let unknown = format!("dt-nobody-v{v}");
            let describe_at = |ids: &[&str]| {
                let mut req = DescribeTransactionsRequest::default();
                req.transactional_ids = ids.iter().map(|id| TransactionalId(str_bytes(id))).collect();
                req
            };

            let resp = c.call(v, &describe_at(&[&txn.id, &unknown, ""])).await;
            assert_eq!(resp.throttle_time_ms, 0);
            let got: Vec<(&str, i16)> = resp
                .transaction_states
                .iter()
                .map(|s| (s.transactional_id.0.as_str(), s.error_code))
                .collect();
            assert_eq!(
                got,
                vec![
                    (txn.id.as_str(), NONE),
                    (unknown.as_str(), TRANSACTIONAL_ID_NOT_FOUND),
                    ("", INVALID_REQUEST),
                ],
                "v{v}: one state per id, in order"
            );
            let s = &resp.transaction_states[0];
            assert_eq!(
                (
                    s.transaction_state.as_str(),
                    s.producer_id.0,
                    s.producer_epoch,
                    s.transaction_timeout_ms,
                    s.transaction_start_time_ms
                ),
                ("Empty", txn.pid, txn.epoch, TXN_TIMEOUT_MS, -1),
                "v{v}: a producer without a transaction"
            );
            assert!(s.topics.is_empty(), "v{v}: no partitions");

            let before = now_ms();
            add_partitions(&mut c, &txn, &[(&b.name, &[1, 0]), (&a.name, &[0])]).await;
            let after = now_ms();
            let resp = c.call(v, &describe_at(&[&txn.id])).await;
            let s = &resp.transaction_states[0];
            assert_eq!(s.error_code, NONE);
            assert_eq!(
                (s.transaction_state.as_str(), s.producer_id.0, s.producer_epoch),
                ("Ongoing", txn.pid, txn.epoch),
                "v{v}: an open transaction"
            );
            let started = s.transaction_start_time_ms;
            assert!(
                (before..=after).contains(&started),
                "v{v}: started {started}, between {before} and {after}"
            );
            assert_eq!(
                described_partitions(s),
                partitions_of(&[(&a.name, &[0]), (&b.name, &[0, 1])]),
                "v{v}: its partitions"
            );

            let resp = c.call(4, &end_request(&txn, true)).await;
            assert_eq!(resp.error_code, NONE, "v{v}: commit");
            // Until the markers are written: PrepareCommit, then CompleteCommit.
            let deadline = tokio::time::Instant::now() + SETTLE;
            let s = loop {
                let resp = c.call(v, &describe_at(&[&txn.id])).await;
                let s = resp.transaction_states[0].clone();
                match s.transaction_state.as_str() {
                    "CompleteCommit" => break s,
                    "PrepareCommit" => {
                        assert_eq!(
                            described_partitions(&s).len(),
                            2,
                            "v{v}: preparing, the partitions stay"
                        )
                    }
                    other => panic!("v{v}: {other} after EndTxn commit"),
                }
                assert!(tokio::time::Instant::now() < deadline, "v{v}: commit not complete");
                tokio::time::sleep(POLL).await;
            };
            assert!(s.topics.is_empty(), "v{v}: a complete transaction holds no partitions");
            assert_eq!(
                (s.producer_id.0, s.producer_epoch, s.transaction_start_time_ms),
                (txn.pid, txn.epoch, started),
                "v{v}: the completed transaction"
            );
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_transactions_every_version() {
    let (broker, ctx) = start_txn_broker().await;
    each_version(ApiKey::ListTransactions, move |v| {
        let ctx = ctx.clone();
        async move {
            let mut c = Client::connect(ctx.addr).await;
            let topic = create_topic(&mut c, &format!("lt-v{v}"), 1, &[]).await;
            let prefix = format!("lt-v{v}-");
            let empty = init_txn(&mut c, &format!("{prefix}empty")).await;
            let ongoing = init_txn(&mut c, &format!("{prefix}ongoing")).await;
            add_partitions(&mut c, &ongoing, &[(&topic.name, &[0])]).await;
            let done = init_txn(&mut c, &format!("{prefix}done")).await;
            add_partitions(&mut c, &done, &[(&topic.name, &[0])]).await;
            end_txn(&mut c, &done, true).await;

            let list = |states: &[&str], pids: &[i64], duration: Option<i64>| {
                let mut req = ListTransactionsRequest::default();
                req.state_filters = states.iter().map(|s| str_bytes(s)).collect();
                req.producer_id_filters = pids.iter().map(|p| ProducerId(*p)).collect();
                if let Some(d) = duration {
                    req.duration_filter = d;
                }
                req
            };
            // (id, producer id, state) of this version's ids, sorted, and
            // the unknown state filters.
            let ours = |resp: &ListTransactionsResponse| {
                assert_eq!(resp.throttle_time_ms, 0);
                assert_eq!(resp.error_code, NONE, "v{v}: error");
                let mut got: Vec<(String, i64, String)> = resp
                    .transaction_states
                    .iter()
                    .filter(|s| s.transactional_id.0.starts_with(&prefix))
                    .map(|s| {
                        (
                            s.transactional_id.0.to_string(),
                            s.producer_id.0,
                            s.transaction_state.to_string(),
                        )
                    })
                    .collect();
                got.sort();
                let unknown: Vec<String> = resp.unknown_state_filters.iter().map(|s| s.to_string()).collect();
                (got, unknown)
            };
            let row = |t: &Txn, state: &str| (t.id.clone(), t.pid, state.to_string());
            let no_unknown: Vec<String> = Vec::new();

            let resp = c.call(v, &list(&[], &[], None)).await;
            assert_eq!(
                ours(&resp),
                (
                    vec![
                        row(&done, "CompleteCommit"),
                        row(&empty, "Empty"),
                        row(&ongoing, "Ongoing")
                    ],
                    no_unknown.clone()
                ),
                "v{v}: no filter"
            );

            let resp = c.call(v, &list(&["Ongoing"], &[], None)).await;
            assert!(
                resp.transaction_states
                    .iter()
                    .all(|s| s.transaction_state.as_str() == "Ongoing"),
                "v{v}: only Ongoing transactions"
            );
            assert_eq!(
                ours(&resp),
                (vec![row(&ongoing, "Ongoing")], no_unknown.clone()),
                "v{v}: state Ongoing"
            );

            let resp = c.call(v, &list(&["Empty", "CompleteCommit"], &[], None)).await;
            assert_eq!(
                ours(&resp),
                (
                    vec![row(&done, "CompleteCommit"), row(&empty, "Empty")],
                    no_unknown.clone()
                ),
                "v{v}: two states"
            );

            let resp = c.call(v, &list(&["Ongoing", "Bogus"], &[], None)).await;
            assert_eq!(
                ours(&resp),
                (vec![row(&ongoing, "Ongoing")], vec!["Bogus".to_string()]),
                "v{v}: a known and an unknown state"
            );
            let resp = c.call(v, &list(&["Bogus"], &[], None)).await;
            assert!(
                resp.transaction_states.is_empty(),
                "v{v}: only an unknown state matches nothing: {:?}",
                resp.transaction_states
            );
            assert_eq!(ours(&resp).1, vec!["Bogus".to_string()], "v{v}: the unknown state");

            let resp = c.call(v, &list(&[], &[empty.pid, done.pid], None)).await;
            let all: Vec<i64> = resp.transaction_states.iter().map(|s| s.producer_id.0).collect();
            assert!(
                all.iter().all(|p| [empty.pid, done.pid].contains(p)),
                "v{v}: only the producer ids asked for: {all:?}"
            );
            assert_eq!(
                ours(&resp),
                (
                    vec![row(&done, "CompleteCommit"), row(&empty, "Empty")],
                    no_unknown.clone()
                ),
                "v{v}: two producer ids"
            );
            let resp = c.call(v, &list(&["Ongoing"], &[empty.pid, ongoing.pid], None)).await;
            assert_eq!(
                ours(&resp),
                (vec![row(&ongoing, "Ongoing")], no_unknown.clone()),
                "v{v}: producer ids and a state"
            );

            if v >= 1 {
                // KIP-994: transactions that have run longer than the filter.
                // As Kafka's filter: an Empty id has no start time (-1),
                // so it counts as having run since then and is listed.
                let resp = c.call(v, &list(&[], &[], Some(3_600_000))).await;
                assert_eq!(
                    ours(&resp).0,
                    vec![row(&empty, "Empty")],
                    "v{v}: none has run for an hour but the Empty id"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
                let resp = c.call(v, &list(&["Ongoing", "CompleteCommit"], &[], Some(10))).await;
                assert_eq!(
                    ours(&resp).0,
                    vec![row(&done, "CompleteCommit"), row(&ongoing, "Ongoing")],
                    "v{v}: begun more than 10 ms ago"
                );
            }
        }
    })
    .await;
    broker.stop().await;
}
