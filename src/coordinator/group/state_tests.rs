//! The group state machine, transition by transition, without sockets.

use super::*;

fn cfg() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    }
}

fn req(member_id: &str, instance: Option<&str>, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member_id.to_string(),
        group_instance_id: instance.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(p.to_string())))
            .collect(),
        require_known_member_id: false,
    }
}

fn join(g: &mut Group, r: JoinRequest, now: i64) -> (oneshot::Receiver<JoinResult>, Vec<Timer>) {
    let (tx, rx) = oneshot::channel();
    let timers = g.join(r, tx, &cfg(), now);
    (rx, timers)
}

fn sync(
    g: &mut Group,
    member: &str,
    gen: i32,
    assignments: Vec<(String, Bytes)>,
) -> (oneshot::Receiver<SyncResult>, bool) {
    let (tx, rx) = oneshot::channel();
    let (_, stable) = g.sync(member, None, gen, Some("consumer"), None, assignments, tx, 0);
    (rx, stable)
}

/// One member joins and syncs: Empty -> PreparingRebalance -> CompletingRebalance -> Stable.
fn stable_group_of_one() -> (Group, String) {
    let mut g = Group::new("g", 0);
    assert_eq!(g.state, GroupState::Empty);
    let (mut rx, _) = join(&mut g, req("", None, &["range"]), 0);
    let r = rx.try_recv().expect("a lone member completes the join at once");
    assert_eq!(r.error, None);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(g.state, GroupState::CompletingRebalance);
    let (mut srx, stable) = sync(
        &mut g,
        &r.member_id,
        1,
        vec![(r.member_id.clone(), Bytes::from_static(b"a"))],
    );
    assert!(stable);
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(srx.try_recv().unwrap().assignment, Bytes::from_static(b"a"));
    (g, r.member_id)
}

#[test]
fn empty_to_stable() {
    stable_group_of_one();
}

#[test]
fn kip_394_member_id_required() {
    let mut g = Group::new("g", 0);
    let mut r = req("", None, &["range"]);
    r.require_known_member_id = true;
    let (mut rx, _) = join(&mut g, r, 0);
    let first = rx.try_recv().unwrap();
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    assert!(!first.member_id.is_empty());
    assert_eq!(g.state, GroupState::Empty);
    let (mut rx, _) = join(&mut g, req(&first.member_id, None, &["range"]), 0);
    assert_eq!(rx.try_recv().unwrap().member_id, first.member_id);
}

#[test]
fn second_member_triggers_rebalance_and_leader_gets_metadata() {
    let (mut g, a) = stable_group_of_one();
    let (mut brx, _) = join(&mut g, req("", None, &["range"]), 1);
    assert_eq!(g.state, GroupState::PreparingRebalance);
    assert!(brx.try_recv().is_err(), "waits for the existing member to rejoin");
    // The existing member learns of the rebalance through its heartbeat.
    assert_eq!(g.heartbeat(&a, None, 1, 2).0, Some(ResponseError::RebalanceInProgress));
    let (mut arx, _) = join(&mut g, req(&a, None, &["range"]), 3);
    let ra = arx.try_recv().unwrap();
    let rb = brx.try_recv().unwrap();
    assert_eq!(ra.generation_id, 2);
    assert_eq!(ra.leader, a);
    assert_eq!(ra.members.len(), 2);
    assert!(rb.members.is_empty());
    assert_eq!(g.state, GroupState::CompletingRebalance);
    // Follower syncs first and waits for the leader's assignment.
    let (mut fb, _) = sync(&mut g, &rb.member_id, 2, vec![]);
    assert!(fb.try_recv().is_err());
    let (mut fa, stable) = sync(
        &mut g,
        &a,
        2,
        vec![
            (a.clone(), Bytes::from_static(b"p0")),
            (rb.member_id.clone(), Bytes::from_static(b"p1")),
        ],
    );
    assert!(stable);
    assert_eq!(fa.try_recv().unwrap().assignment, Bytes::from_static(b"p0"));
    assert_eq!(fb.try_recv().unwrap().assignment, Bytes::from_static(b"p1"));
}

#[test]
fn error_paths() {
    let (mut g, a) = stable_group_of_one();
    assert_eq!(
        g.heartbeat("nobody", None, 1, 0).0,
        Some(ResponseError::UnknownMemberId)
    );
    assert_eq!(g.heartbeat(&a, None, 7, 0).0, Some(ResponseError::IllegalGeneration));
    assert_eq!(g.heartbeat(&a, None, 1, 0).0, None);
    let (mut rx, _) = sync(&mut g, &a, 9, vec![]);
    assert_eq!(rx.try_recv().unwrap().error, Some(ResponseError::IllegalGeneration));
    let (mut rx, _) = join(&mut g, req("", None, &["roundrobin"]), 0);
    assert_eq!(
        rx.try_recv().unwrap().error,
        Some(ResponseError::InconsistentGroupProtocol)
    );
    let mut bad = req("", None, &["range"]);
    bad.session_timeout_ms = 10;
    let (mut rx, _) = join(&mut g, bad, 0);
    assert_eq!(rx.try_recv().unwrap().error, Some(ResponseError::InvalidSessionTimeout));
    let (mut rx, _) = join(&mut g, req("ghost", None, &["range"]), 0);
    assert_eq!(rx.try_recv().unwrap().error, Some(ResponseError::UnknownMemberId));
    assert_eq!(
        g.check_commit("", None, -1, 0).unwrap_err(),
        ResponseError::UnknownMemberId
    );
    assert!(g.check_commit(&a, None, 1, 0).is_ok());
    assert_eq!(
        g.leave("nobody", None, &cfg(), 0).0,
        Some(ResponseError::UnknownMemberId)
    );
    let mut small = cfg();
    small.max_size = 1;
    let (tx, mut rx) = oneshot::channel();
    g.join(req("", None, &["range"]), tx, &small, 0);
    assert_eq!(rx.try_recv().unwrap().error, Some(ResponseError::GroupMaxSizeReached));
    g.mark_dead(0);
    assert_eq!(
        g.heartbeat(&a, None, 1, 0).0,
        Some(ResponseError::CoordinatorNotAvailable)
    );
    let (mut rx, _) = join(&mut g, req("", None, &["range"]), 0);
    assert_eq!(
        rx.try_recv().unwrap().error,
        Some(ResponseError::CoordinatorNotAvailable)
    );
}

#[test]
fn leave_and_session_expiry_go_back_to_empty() {
    let (mut g, a) = stable_group_of_one();
    let (err, _) = g.leave(&a, None, &cfg(), 5);
    assert_eq!(err, None);
    assert_eq!(g.state, GroupState::Empty);
    assert_eq!(g.generation_id, 2);
    assert!(
        g.check_commit("", None, -1, 0).is_ok(),
        "simple commits are allowed on Empty groups"
    );

    let (mut g, a) = stable_group_of_one();
    let epoch = match g.heartbeat(&a, None, 1, 10).1 {
        Some(Timer::Session { heartbeat_epoch, .. }) => heartbeat_epoch,
        other => panic!("{other:?}"),
    };
    // A stale timer (an older heartbeat) does nothing; the current one expires the member.
    assert!(g.on_session_timer(&a, epoch - 1, &cfg(), 100).is_empty());
    assert_eq!(g.state, GroupState::Stable);
    g.on_session_timer(&a, epoch, &cfg(), 100);
    assert_eq!(g.state, GroupState::Empty);
}

#[test]
fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let (mut g, a) = stable_group_of_one();
    let (mut brx, timers) = join(&mut g, req("", None, &["range"]), 0);
    let (epoch, deadline) = timers
        .iter()
        .find_map(|t| match t {
            Timer::Rebalance {
                rebalance_epoch,
                deadline_ms,
            } => Some((*rebalance_epoch, *deadline_ms)),
            _ => None,
        })
        .unwrap();
    g.on_rebalance_timer(epoch, deadline, deadline);
    let rb = brx.try_recv().unwrap();
    assert_eq!(rb.error, None);
    assert!(g.member(&a).is_none());
    assert_eq!(rb.leader, rb.member_id);
    assert_eq!(g.state, GroupState::CompletingRebalance);
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let mut g = Group::new("g", 0);
    let delayed = GroupConfig {
        initial_rebalance_delay_ms: 3000,
        ..GroupConfig::default()
    };
    let (tx, mut rx) = oneshot::channel();
    let timers = g.join(req("", None, &["range"]), tx, &delayed, 0);
    assert!(rx.try_recv().is_err());
    let (epoch, at) = timers
        .iter()
        .find_map(|t| match t {
            Timer::Rebalance {
                rebalance_epoch,
                deadline_ms,
            } if *deadline_ms == 3000 => Some((*rebalance_epoch, *deadline_ms)),
            _ => None,
        })
        .unwrap();
    g.on_rebalance_timer(epoch, at, at);
    assert_eq!(rx.try_recv().unwrap().generation_id, 1);
}

#[test]
fn static_member_restart_skips_rebalance_and_duplicate_is_fenced() {
    let mut g = Group::new("g", 0);
    let (mut rx, _) = join(&mut g, req("", Some("i-1"), &["range"]), 0);
    let first = rx.try_recv().unwrap();
    sync(
        &mut g,
        &first.member_id,
        1,
        vec![(first.member_id.clone(), Bytes::from_static(b"x"))],
    );
    assert_eq!(g.state, GroupState::Stable);
    // Same instance id, new process, even with different subscription bytes
    // (the Java consumer's carry its last generation): new member id, same
    // generation, no rebalance, and the leader named as before the restart.
    let mut restarted = req("", Some("i-1"), &["range"]);
    restarted.protocols[0].1 = Bytes::from_static(b"range-with-new-user-data");
    let (mut rx, _) = join(&mut g, restarted, 1);
    let second = rx.try_recv().unwrap();
    assert_eq!(second.generation_id, 1);
    assert_ne!(second.member_id, first.member_id);
    assert_eq!(second.leader, first.member_id, "the restarted leader does not reassign");
    assert_eq!(g.state, GroupState::Stable);
    let (mut srx, _) = sync(&mut g, &second.member_id, 1, vec![]);
    assert_eq!(srx.try_recv().unwrap().assignment, Bytes::from_static(b"x"));
    // The old process is fenced.
    assert_eq!(
        g.heartbeat(&first.member_id, Some("i-1"), 1, 2).0,
        Some(ResponseError::FencedInstanceId)
    );
    assert_eq!(g.leave("", Some("i-1"), &cfg(), 3).0, None);
    assert_eq!(g.state, GroupState::Empty);
}

#[test]
fn protocol_selection_takes_the_common_preferred_one() {
    let mut g = Group::new("g", 0);
    let delayed = GroupConfig {
        initial_rebalance_delay_ms: 10,
        ..GroupConfig::default()
    };
    let (t1, mut r1) = oneshot::channel();
    let timers = g.join(req("", None, &["cooperative-sticky", "range"]), t1, &delayed, 0);
    let (t2, mut r2) = oneshot::channel();
    g.join(req("", None, &["range", "cooperative-sticky"]), t2, &delayed, 0);
    let (t3, mut r3) = oneshot::channel();
    g.join(req("", None, &["cooperative-sticky"]), t3, &delayed, 0);
    let (epoch, at) = timers
        .iter()
        .find_map(|t| match t {
            Timer::Rebalance {
                rebalance_epoch,
                deadline_ms,
            } if *deadline_ms == 10 => Some((*rebalance_epoch, *deadline_ms)),
            _ => None,
        })
        .unwrap();
    g.on_rebalance_timer(epoch, at, at);
    for r in [&mut r1, &mut r2, &mut r3] {
        assert_eq!(
            r.try_recv().unwrap().protocol_name.as_deref(),
            Some("cooperative-sticky")
        );
    }
}

#[test]
fn subscription_topics_parse() {
    // version 1, topics ["a", "bc"], no user data
    let meta = [0u8, 1, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        parse_subscription_topics(&meta),
        vec!["a".to_string(), "bc".to_string()]
    );
}

#[test]
fn calls_during_a_rebalance_are_told_so() {
    let (mut g, a) = stable_group_of_one();
    // A second member starts a rebalance: the first member's sync for the
    // old generation and its commits are refused until it rejoins.
    let (mut brx, _) = join(&mut g, req("", None, &["range"]), 0);
    let (mut srx, _) = sync(&mut g, &a, 1, vec![]);
    assert_eq!(srx.try_recv().unwrap().error, Some(ResponseError::RebalanceInProgress));
    let (mut arx, _) = join(&mut g, req(&a, None, &["range"]), 0);
    let ra = arx.try_recv().unwrap();
    brx.try_recv().unwrap();
    assert_eq!(g.state, GroupState::CompletingRebalance);
    assert_eq!(
        g.check_commit(&a, None, ra.generation_id, 0).unwrap_err(),
        ResponseError::RebalanceInProgress
    );
    // A member whose JoinGroup answer was lost gets the same generation again.
    let (mut again, _) = join(&mut g, req(&a, None, &["range"]), 0);
    assert_eq!(again.try_recv().unwrap().generation_id, ra.generation_id);
    // A static member id with the wrong instance id is fenced.
    let (mut rx, _) = join(&mut g, req(&a, Some("someone-else"), &["range"]), 0);
    assert_eq!(rx.try_recv().unwrap().error, Some(ResponseError::FencedInstanceId));
}

/// Empty -> Dead (DeleteGroups, or the last offsets expiring): every call
/// after that is told to find the coordinator again, as Kafka's classic
/// coordinator answers a group that is being removed.
#[test]
fn dead_group_refuses_every_call() {
    let (mut g, a) = stable_group_of_one();
    g.leave(&a, None, &cfg(), 5);
    assert_eq!(g.state, GroupState::Empty);
    g.mark_dead(6);
    assert_eq!(g.state, GroupState::Dead);
    let (mut rx, _) = join(&mut g, req("", None, &["range"]), 7);
    assert_eq!(
        rx.try_recv().unwrap().error,
        Some(ResponseError::CoordinatorNotAvailable)
    );
    let (mut rx, stable) = sync(&mut g, &a, 2, vec![]);
    assert!(!stable);
    assert_eq!(
        rx.try_recv().unwrap().error,
        Some(ResponseError::CoordinatorNotAvailable)
    );
    assert_eq!(
        g.heartbeat(&a, None, 2, 7).0,
        Some(ResponseError::CoordinatorNotAvailable)
    );
    assert_eq!(
        g.leave(&a, None, &cfg(), 7).0,
        Some(ResponseError::CoordinatorNotAvailable)
    );
    assert_eq!(
        g.check_commit("", None, -1, 7).unwrap_err(),
        ResponseError::CoordinatorNotAvailable
    );
    assert_eq!(g.state, GroupState::Dead, "nothing brings a dead group back");
}
