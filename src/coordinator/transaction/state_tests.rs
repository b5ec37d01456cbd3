//! The transaction state machine, request by request, without a log: each
//! prepared record is "written" by completing it.

use super::*;
use crate::coordinator::transaction::records;

const PID: i64 = 1000;
const NEXT_PID: i64 = 2000;

fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

fn no_new_pid() -> Result<i64, ResponseError> {
    panic!("no new producer id expected")
}

/// Writes the record (completes it), returning it.
fn write(m: &mut TxnMetadata, t: TxnTransition) -> TxnTransition {
    m.complete(&t).expect("the prepared record completes");
    t
}

fn init(m: &mut TxnMetadata, expected: Option<(i64, i16)>, now: i64) -> TxnTransition {
    match m.init_producer_id(60_000, expected, 0, now, no_new_pid).unwrap() {
        InitStep::Write(t) => write(m, t),
        other => panic!("expected a write, got {other:?}"),
    }
}

/// A transactional id with an initialized producer (epoch 0), in `version`.
fn ready() -> TxnMetadata {
    let mut m = TxnMetadata::new("tx", PID, 60_000, 10);
    init(&mut m, None, 10);
    m
}

fn begin(m: &mut TxnMetadata, parts: &[(&str, i32)], now: i64) {
    let t = m
        .add_partitions(m.current.producer_id, m.current.producer_epoch, &tps(parts), now)
        .unwrap()
        .expect("a record to write");
    write(m, t);
}

/// EndTxn through its prepare record, the markers and the complete record.
fn end(m: &mut TxnMetadata, commit: bool, version: i16, now: i64) {
    let (pid, epoch) = (m.current.producer_id, m.current.producer_epoch);
    match m.end_txn(pid, epoch, commit, version, now, || Ok(NEXT_PID)).unwrap() {
        EndStep::Write(t) => write(m, t),
        other => panic!("expected a write, got {other:?}"),
    };
    let t = m.prepare_complete(now + 1).unwrap();
    write(m, t);
}

#[test]
fn state_ids_are_kafkas() {
    for (id, name) in [
        (0, "Empty"),
        (1, "Ongoing"),
        (2, "PrepareCommit"),
        (3, "PrepareAbort"),
        (4, "CompleteCommit"),
        (5, "CompleteAbort"),
        (6, "Dead"),
        (7, "PrepareEpochFence"),
    ] {
        let s = TxnState::from_id(id).unwrap();
        assert_eq!((s.id(), s.name()), (id, name));
    }
    assert_eq!(TxnState::from_id(8), None);
    assert_eq!(TxnState::from_id(-1), None);
}

#[test]
fn a_new_producer_gets_epoch_zero() {
    let m = ready();
    assert_eq!(
        (m.current.producer_id, m.current.producer_epoch, m.current.state),
        (PID, 0, TxnState::Empty)
    );
    assert_eq!(m.pending, None);
}

#[test]
fn commit_runs_through_prepare_and_complete() {
    let mut m = ready();
    begin(&mut m, &[("a", 0), ("b", 1)], 100);
    assert_eq!((m.current.state, m.current.start_ms), (TxnState::Ongoing, 100));
    // Adding more keeps the start time; adding what is there writes nothing.
    begin(&mut m, &[("a", 1)], 150);
    assert_eq!(m.current.start_ms, 100);
    assert_eq!(m.add_partitions(PID, 0, &tps(&[("a", 0)]), 160).unwrap(), None);
    assert_eq!(m.current.partitions, tps(&[("a", 0), ("a", 1), ("b", 1)]));

    let EndStep::Write(prepare) = m.end_txn(PID, 0, true, 0, 200, no_new_pid).unwrap() else {
        panic!("expected a write")
    };
    assert_eq!(prepare.state, TxnState::PrepareCommit);
    assert_eq!(prepare.partitions, m.current.partitions);
    write(&mut m, prepare);
    // The markers go to these partitions while the completion is pending.
    let complete = m.prepare_complete(210).unwrap();
    assert_eq!(m.current.partitions.len(), 3);
    assert_eq!((complete.state, complete.producer_epoch), (TxnState::CompleteCommit, 0));
    assert!(complete.partitions.is_empty());
    write(&mut m, complete);
    assert_eq!(m.current.state, TxnState::CompleteCommit);
    assert!(m.current.partitions.is_empty());

    // A retried commit succeeds; an abort of the committed one is refused.
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 220, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: PID,
            producer_epoch: 0
        }
    );
    assert_eq!(
        m.end_txn(PID, 0, false, 0, 220, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    // The next transaction starts from CompleteCommit.
    begin(&mut m, &[("c", 0)], 300);
    assert_eq!((m.current.state, m.current.start_ms), (TxnState::Ongoing, 300));
}

#[test]
fn a_pending_change_refuses_others() {
    let mut m = ready();
    let t = m.add_partitions(PID, 0, &tps(&[("a", 0)]), 100).unwrap().unwrap();
    assert_eq!(
        m.add_partitions(PID, 0, &tps(&[("b", 0)]), 101),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
    assert_eq!(
        m.init_producer_id(60_000, None, 0, 101, no_new_pid),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 101, no_new_pid),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
    write(&mut m, t);
    // While the prepare record is in force, a retry waits.
    let EndStep::Write(p) = m.end_txn(PID, 0, true, 0, 200, no_new_pid).unwrap() else {
        panic!()
    };
    write(&mut m, p);
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 201, no_new_pid),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
    assert_eq!(
        m.add_partitions(PID, 0, &tps(&[("b", 0)]), 201),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
}

#[test]
fn a_failed_write_is_abandoned_and_can_be_retried() {
    let mut m = ready();
    let t = m.add_partitions(PID, 0, &tps(&[("a", 0)]), 100).unwrap().unwrap();
    m.abandon(false);
    assert_eq!((m.current.state, m.pending), (TxnState::Empty, None));
    assert!(m.complete(&t).is_err(), "an abandoned change is not completed");
    begin(&mut m, &[("a", 0)], 110);
    assert_eq!(m.current.state, TxnState::Ongoing);
}

#[test]
fn wrong_producer_id_and_stale_epoch_are_refused() {
    let mut m = ready();
    assert_eq!(
        m.add_partitions(PID + 1, 0, &tps(&[("a", 0)]), 100),
        Err(TxnError::Api(ResponseError::InvalidProducerIdMapping))
    );
    init(&mut m, None, 50); // a new producer instance: epoch 1
    assert_eq!(m.current.producer_epoch, 1);
    assert_eq!(
        m.add_partitions(PID, 0, &tps(&[("a", 0)]), 100),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    begin(&mut m, &[("a", 0)], 100);
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 200, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    assert_eq!(
        m.end_txn(PID + 1, 1, true, 0, 200, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidProducerIdMapping))
    );
}

#[test]
fn end_without_a_transaction_is_an_invalid_state() {
    let mut m = ready();
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 100, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    assert_eq!(
        m.end_txn(PID, 0, false, 0, 100, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
}

#[test]
fn a_new_producer_fences_an_ongoing_transaction_by_aborting_it() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 100);
    let InitStep::AbortFenced(abort) = m.init_producer_id(60_000, None, 0, 200, no_new_pid).unwrap() else {
        panic!("expected a fence")
    };
    assert_eq!((abort.state, abort.producer_epoch), (TxnState::PrepareAbort, 1));
    assert_eq!(abort.partitions, tps(&[("a", 0)]));
    // The old producer is fenced at once, before the abort is written.
    assert_eq!(
        m.add_partitions(PID, 0, &tps(&[("b", 0)]), 201),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    write(&mut m, abort);
    let t = m.prepare_complete(210).unwrap();
    write(&mut m, t);
    assert_eq!(m.current.state, TxnState::CompleteAbort);
    // The new producer's retry bumps the epoch again and gets it.
    init(&mut m, None, 220);
    assert_eq!(
        (m.current.producer_id, m.current.producer_epoch, m.current.state),
        (PID, 2, TxnState::Empty)
    );
}

#[test]
fn a_fence_whose_write_failed_keeps_its_epoch() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 100);
    let InitStep::AbortFenced(first) = m.init_producer_id(60_000, None, 0, 200, no_new_pid).unwrap() else {
        panic!()
    };
    m.abandon(true);
    assert_eq!(m.current.producer_epoch, 1);
    let InitStep::AbortFenced(second) = m.init_producer_id(60_000, None, 0, 300, no_new_pid).unwrap() else {
        panic!()
    };
    assert_eq!(second.producer_epoch, first.producer_epoch);
    write(&mut m, second);
    let t = m.prepare_complete(310).unwrap();
    write(&mut m, t);
    assert!(!m.failed_epoch_fence);
}

#[test]
fn the_timeout_aborts_with_a_fenced_epoch() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 1_000);
    assert!(!m.timed_out(61_000));
    assert!(m.timed_out(61_001));
    let abort = m.fence_and_abort(0, 61_001).unwrap();
    assert_eq!((abort.state, abort.producer_epoch), (TxnState::PrepareAbort, 1));
    assert!(!m.timed_out(70_000), "a pending abort is not timed out again");
    write(&mut m, abort);
    // The fenced producer's commit is refused.
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 61_002, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
}

#[test]
fn under_transaction_version_2_the_timeout_raises_the_epoch_once() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 1_000);
    let abort = m.fence_and_abort(2, 61_001).unwrap();
    assert_eq!((abort.state, abort.producer_epoch), (TxnState::PrepareAbort, 1));
    write(&mut m, abort);
    let t = m.prepare_complete(61_010).unwrap();
    write(&mut m, t);
    assert_eq!(
        (m.current.state, m.current.producer_epoch),
        (TxnState::CompleteAbort, 1)
    );
    // The fenced producer's EndTxn v5 (epoch 0, one below) reads as a retry
    // of an end that went the other way: INVALID_TXN_STATE, as Kafka answers.
    assert_eq!(
        m.end_txn(PID, 0, true, 2, 61_020, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
}

#[test]
fn kip_360_recovery_bumps_the_epoch_once() {
    let mut m = ready();
    // The producer at epoch 0 recovers from an error: epoch 1, last 0.
    init(&mut m, Some((PID, 0)), 100);
    assert_eq!((m.current.producer_epoch, m.current.last_producer_epoch), (1, 0));
    // Its retry (the answer was lost) gets the same epoch back.
    let t = init(&mut m, Some((PID, 0)), 110);
    assert_eq!((t.producer_epoch, t.last_producer_epoch), (1, 0));
    // A producer that is neither current nor last is fenced.
    init(&mut m, Some((PID, 1)), 120);
    assert_eq!(m.current.producer_epoch, 2);
    assert_eq!(
        m.init_producer_id(60_000, Some((PID, 0)), 0, 130, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    assert_eq!(
        m.init_producer_id(60_000, Some((PID + 7, 2)), 0, 130, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
}

#[test]
fn exhausted_epochs_rotate_the_producer_id() {
    let mut m = ready();
    m.current.producer_epoch = i16::MAX - 1;
    let InitStep::Write(t) = m.init_producer_id(60_000, None, 0, 100, || Ok(NEXT_PID)).unwrap() else {
        panic!()
    };
    assert_eq!(
        (t.producer_id, t.producer_epoch, t.last_producer_epoch),
        (NEXT_PID, 0, -1)
    );
    write(&mut m, t);
    assert_eq!(
        (
            m.current.producer_id,
            m.current.previous_producer_id,
            m.current.producer_epoch
        ),
        (NEXT_PID, PID, 0)
    );
    // A recovering producer on the old id with the exhausted epoch is let in.
    let mut m = ready();
    m.current.producer_epoch = i16::MAX - 1;
    let InitStep::Write(t) = m
        .init_producer_id(60_000, Some((PID, i16::MAX - 1)), 0, 100, || Ok(NEXT_PID))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (t.producer_id, t.producer_epoch, t.last_producer_epoch),
        (NEXT_PID, 0, i16::MAX - 1)
    );
    write(&mut m, t);
    // Its retry (the answer was lost) gets the same id and epoch again.
    let again = init(&mut m, Some((PID, i16::MAX - 1)), 110);
    assert_eq!((again.producer_id, again.producer_epoch), (NEXT_PID, 0));
}

#[test]
fn transaction_version_2_bumps_the_epoch_at_every_end() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 100);
    let EndStep::Write(p) = m.end_txn(PID, 0, true, 2, 200, no_new_pid).unwrap() else {
        panic!()
    };
    assert_eq!((p.producer_epoch, p.last_producer_epoch, p.client_version), (1, 0, 2));
    write(&mut m, p);
    assert_eq!(m.current.producer_epoch, 1);
    // A retry with the epoch the client sent waits for the markers...
    assert_eq!(
        m.end_txn(PID, 0, true, 2, 201, no_new_pid),
        Err(TxnError::Api(ResponseError::ConcurrentTransactions))
    );
    let c = m.prepare_complete(210).unwrap();
    assert_eq!((c.producer_epoch, c.last_producer_epoch), (1, 1));
    write(&mut m, c);
    // ...and once complete, gets the bumped epoch.
    assert_eq!(
        m.end_txn(PID, 0, true, 2, 220, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: PID,
            producer_epoch: 1
        }
    );
    // The next transaction runs at the bumped epoch; the old one is fenced.
    assert_eq!(
        m.add_partitions(PID, 0, &tps(&[("a", 0)]), 300),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    begin(&mut m, &[("a", 0)], 300);
    end(&mut m, false, 2, 400);
    assert_eq!(
        (m.current.state, m.current.producer_epoch),
        (TxnState::CompleteAbort, 2)
    );
}

/// A producer that resumes a transaction by its id and epoch, without
/// InitProducerId (Flink's KafkaSink committer on recovery), ends it with
/// EndTxn v4 even where transaction version 2 is finalized. Kafka judges a
/// request by its own version (endTransactionWithTV1 below v5): the epoch
/// must be the current one, also after a version 2 end bumped it.
#[test]
fn a_version_1_end_txn_names_the_current_epoch_after_a_version_2_end() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 100);
    end(&mut m, true, 2, 200);
    assert_eq!(
        (m.current.state, m.current.producer_epoch),
        (TxnState::CompleteCommit, 1)
    );
    // The epoch before the bump is fenced for a version 1 request...
    assert_eq!(
        m.end_txn(PID, 0, true, 0, 300, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
    // ...which may repeat the completed commit at the current epoch...
    assert_eq!(
        m.end_txn(PID, 1, true, 0, 300, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: PID,
            producer_epoch: 1
        }
    );
    // ...while for a version 2 request the epoch before the bump is a retry.
    assert_eq!(
        m.end_txn(PID, 0, true, 2, 300, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: PID,
            producer_epoch: 1
        }
    );
    // An ongoing transaction that a version 2 producer began is ended by
    // a version 1 EndTxn at its epoch, without a bump.
    begin(&mut m, &[("a", 0)], 400);
    let EndStep::Write(p) = m.end_txn(PID, 1, true, 0, 500, no_new_pid).unwrap() else {
        panic!()
    };
    assert_eq!((p.producer_epoch, p.client_version), (1, 0));
}

/// Kafka's table for EndTxn under transaction version 2 (endTransaction):
/// a producer that aborts a transaction none of whose records reached a
/// partition (Flink's KafkaSink writer closing after a task failure) sends
/// EndTxn v5 abort at its current epoch to a transaction that is Empty or
/// completed. Kafka bumps the epoch through PrepareAbort and CompleteAbort
/// without partitions; a commit there is INVALID_TXN_STATE.
#[test]
fn transaction_version_2_aborts_a_transaction_without_partitions() {
    // Empty, just initialized.
    let mut m = ready();
    assert_eq!(
        m.end_txn(PID, 0, true, 2, 100, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    let EndStep::Write(p) = m.end_txn(PID, 0, false, 2, 100, no_new_pid).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.state, p.producer_epoch, p.last_producer_epoch, p.start_ms),
        (TxnState::PrepareAbort, 1, 0, 100)
    );
    assert!(p.partitions.is_empty());
    write(&mut m, p);
    let c = m.prepare_complete(101).unwrap();
    assert_eq!(
        (c.state, c.producer_epoch, c.start_ms),
        (TxnState::CompleteAbort, 1, 100)
    );
    write(&mut m, c);
    // Under version 1 an Empty transaction has nothing to abort.
    let mut v1 = ready();
    assert_eq!(
        v1.end_txn(PID, 0, false, 0, 100, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );

    // CompleteAbort at epoch 1: its repeat (epoch 0) is answered, an abort
    // at the current epoch is a new one, a commit is refused.
    assert_eq!(
        m.end_txn(PID, 0, false, 2, 200, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: PID,
            producer_epoch: 1
        }
    );
    assert_eq!(
        m.end_txn(PID, 1, true, 2, 200, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    end(&mut m, false, 2, 200);
    assert_eq!(
        (m.current.state, m.current.producer_epoch),
        (TxnState::CompleteAbort, 2)
    );

    // CompleteCommit at epoch 3: a commit at the current epoch is refused,
    // the abort's repeat (the epoch before the bump) is the wrong outcome,
    // an abort at the current epoch bumps.
    begin(&mut m, &[("a", 0)], 300);
    end(&mut m, true, 2, 400);
    assert_eq!(
        (m.current.state, m.current.producer_epoch),
        (TxnState::CompleteCommit, 3)
    );
    assert_eq!(
        m.end_txn(PID, 3, true, 2, 500, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    assert_eq!(
        m.end_txn(PID, 2, false, 2, 500, no_new_pid),
        Err(TxnError::Api(ResponseError::InvalidTxnState))
    );
    end(&mut m, false, 2, 500);
    assert_eq!(
        (m.current.state, m.current.producer_epoch, m.current.start_ms),
        (TxnState::CompleteAbort, 4, 500)
    );
    // An older epoch is fenced.
    assert_eq!(
        m.end_txn(PID, 2, false, 2, 600, no_new_pid),
        Err(TxnError::Api(ResponseError::ProducerFenced))
    );
}

#[test]
fn transaction_version_2_replaces_an_exhausted_producer_id_at_the_end() {
    let mut m = ready();
    m.current.producer_epoch = i16::MAX - 1;
    m.current.client_version = 2;
    begin(&mut m, &[("a", 0)], 100);
    let EndStep::Write(p) = m.end_txn(PID, i16::MAX - 1, true, 2, 200, || Ok(NEXT_PID)).unwrap() else {
        panic!()
    };
    assert_eq!((p.producer_epoch, p.next_producer_id), (i16::MAX, NEXT_PID));
    write(&mut m, p);
    let c = m.prepare_complete(210).unwrap();
    assert_eq!(
        (c.producer_id, c.producer_epoch, c.previous_producer_id),
        (NEXT_PID, 0, PID)
    );
    write(&mut m, c);
    assert_eq!(
        (
            m.current.producer_id,
            m.current.producer_epoch,
            m.current.previous_producer_id
        ),
        (NEXT_PID, 0, PID)
    );
    // The client's retry on the old id and epoch learns the new ones.
    assert_eq!(
        m.end_txn(PID, i16::MAX - 1, true, 2, 220, no_new_pid).unwrap(),
        EndStep::Done {
            producer_id: NEXT_PID,
            producer_epoch: 0
        }
    );
}

#[test]
fn only_idle_finished_ids_expire() {
    let mut m = ready();
    begin(&mut m, &[("a", 0)], 100);
    assert_eq!(
        m.prepare_expire(10_000_000, 1_000),
        None,
        "an ongoing transaction stays"
    );
    end(&mut m, true, 0, 200);
    assert_eq!(m.prepare_expire(1_000, 1_000), None, "not idle long enough");
    let dead = m.prepare_expire(1_201, 1_000).expect("expires");
    assert_eq!(dead.state, TxnState::Dead);
    assert!(m.complete(&dead).is_err(), "an expiry removes the id instead");
}

#[test]
fn only_the_prepared_record_completes() {
    let mut m = ready();
    let t = m.add_partitions(PID, 0, &tps(&[("a", 0)]), 100).unwrap().unwrap();
    let other = TxnTransition {
        producer_epoch: 5,
        ..t.clone()
    };
    assert!(m.complete(&other).is_err());
    let earlier = TxnTransition {
        last_update_ms: 1,
        ..t.clone()
    };
    assert!(m.complete(&earlier).is_err());
    write(&mut m, t);
}

#[test]
fn a_loaded_record_restores_the_transaction() {
    let mut m = ready();
    begin(&mut m, &[("a", 0), ("b", 3)], 100);
    let EndStep::Write(p) = m.end_txn(PID, 0, false, 2, 200, no_new_pid).unwrap() else {
        panic!()
    };
    write(&mut m, p.clone());
    let loaded = records::decode_value(&records::encode_value(&p, 2)).unwrap();
    let restored = TxnMetadata::from_record("tx", loaded);
    assert_eq!(restored.current.state, TxnState::PrepareAbort);
    assert_eq!(restored.current.partitions, m.current.partitions);
    assert_eq!(
        (restored.current.producer_id, restored.current.producer_epoch),
        (m.current.producer_id, m.current.producer_epoch)
    );
    assert_eq!(restored.current.last_producer_epoch, NO_PRODUCER_EPOCH);
    // A restored prepared transaction completes once its markers are out.
    let mut restored = restored;
    let c = restored.prepare_complete(300).unwrap();
    assert_eq!(c.state, TxnState::CompleteAbort);
}
