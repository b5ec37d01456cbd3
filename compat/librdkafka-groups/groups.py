#!/usr/bin/env python3
"""librdkafka consumer-group suite (confluent-kafka-python).

Usage: groups.py <bootstrap> [case ...]     run all cases, or only the named ones
       groups.py --list                     print the case names, one per line

Prints one line per case:  RESULT <case> <pass|fail> <message>
Everything else (librdkafka logs, progress) goes to stderr. Every case has
its own topic and group and its own deadline. Reuses the topic, producer
and client-configuration helpers of compat/librdkafka/suite.py.
"""

import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "librdkafka"))

import suite as rdk  # noqa: E402  (compat/librdkafka/suite.py)
from suite import CaseFailed, check, client_conf, create_topic, log, produce_all, topic_name, wait_futures  # noqa: E402

from confluent_kafka import (  # noqa: E402
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

PARTITIONS = 6
# Errors a commit may meet while the group rebalances (the next owner
# re-processes from the last commit), or when there is nothing to commit.
COMMIT_RETRIABLE = {
    KafkaError._NO_OFFSET,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError._STATE,
}


def group_name(case):
    return "compat-rdk-groups-%s-%s" % (case.replace("_", "-"), rdk.RUN_ID)


class Tracker:
    """Offsets of each partition processed by any member, and duplicates."""

    def __init__(self, partitions):
        self.lock = threading.Lock()
        self.done = [set() for _ in range(partitions)]
        self.duplicates = 0

    def add(self, p, offset):
        with self.lock:
            if offset in self.done[p]:
                self.duplicates += 1
            else:
                self.done[p].add(offset)

    def covers(self, start, end):
        with self.lock:
            return all(all(o in self.done[p] for o in range(start.get(p, 0), end[p])) for p in end)

    def lowest(self, p):
        with self.lock:
            return min(self.done[p]) if self.done[p] else None

    def describe(self, start, end):
        with self.lock:
            parts = []
            for p in sorted(end):
                missing = [o for o in range(start.get(p, 0), end[p]) if o not in self.done[p]]
                parts.append("p%d %d/%d%s" % (p, end[p] - start.get(p, 0) - len(missing), end[p] - start.get(p, 0),
                                              " (first missing %d)" % missing[0] if missing else ""))
            return ", ".join(parts) + ", %d duplicates" % self.duplicates


class Member(threading.Thread):
    """A group member on its own thread: subscribe, consume, process (record
    offsets), commit synchronously; it keeps what its rebalance callbacks saw."""

    def __init__(self, name, conf, topic, tracker):
        super().__init__(name="member-" + name, daemon=True)
        self.member = name
        self.conf = conf
        self.topic = topic
        self.tracker = tracker
        self.stop = threading.Event()
        self.assignment = set()
        self.assign_calls = 0
        self.revoke_calls = 0
        self.lost_calls = 0
        self.processed = 0
        self.commit_errors = 0
        self.error = None
        self.last = {}
        self.finished = threading.Event()

    def state(self):
        return "%s{owns %s, processed %d, assign/revoke/lost calls %d/%d/%d%s}" % (
            self.member, sorted(self.assignment), self.processed, self.assign_calls, self.revoke_calls,
            self.lost_calls, ", error %s" % self.error if self.error else "")

    def rethrow(self):
        if self.error:
            raise CaseFailed("member %s: %s" % (self.member, self.error))

    def run(self):
        c = None
        try:
            c = Consumer(self.conf)

            def on_assign(consumer, partitions):
                self.assign_calls += 1
                self.assignment |= {tp.partition for tp in partitions}
                log("member %s: assigned %s" % (self.member, sorted(tp.partition for tp in partitions)))

            def on_revoke(consumer, partitions):
                self.revoke_calls += 1
                gone = {tp.partition for tp in partitions}
                log("member %s: revoked %s" % (self.member, sorted(gone)))
                if gone:
                    self._commit(consumer)
                self.assignment -= gone
                for p in gone:
                    self.last.pop(p, None)

            def on_lost(consumer, partitions):
                self.lost_calls += 1
                gone = {tp.partition for tp in partitions}
                log("member %s: lost %s" % (self.member, sorted(gone)))
                self.assignment -= gone
                for p in gone:
                    self.last.pop(p, None)

            c.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
            while not self.stop.is_set():
                msgs = c.consume(num_messages=500, timeout=0.3)
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise CaseFailed("consume error: %s" % err)
                    p, o = m.partition(), m.offset()
                    prev = self.last.get(p)
                    if prev is not None and o != prev + 1:
                        raise CaseFailed("read partition %d offset %d right after offset %d without a rebalance" % (p, o, prev))
                    self.last[p] = o
                    self.tracker.add(p, o)
                    self.processed += 1
                if msgs:
                    self._commit(c)
        except Exception as e:  # noqa: BLE001
            self.error = "%s: %s" % (type(e).__name__, e)
            traceback.print_exc(file=sys.stderr)
        finally:
            if c is not None:
                try:
                    c.close()
                except Exception as e:  # noqa: BLE001
                    log("member %s: close failed: %s" % (self.member, e))
            self.finished.set()

    def _commit(self, c):
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() not in COMMIT_RETRIABLE:
                raise
            self.commit_errors += 1

    def halt(self, timeout=20):
        self.stop.set()
        self.join(timeout)
        if self.is_alive():
            log("member %s did not stop within %ds" % (self.member, timeout))


def member_conf(group, **extra):
    conf = client_conf(**{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "enable.partition.eof": False,
    })
    conf.update(extra)
    return conf


def await_until(secs, what, members, cond, state):
    deadline = time.monotonic() + secs
    while True:
        for m in members:
            m.rethrow()
        if cond():
            return
        if time.monotonic() > deadline:
            raise CaseFailed("%s not reached within %ds: %s" % (what, secs, state()))
        time.sleep(0.2)


def committed_offsets(a, group, topic):
    res = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=20)[group].result(timeout=25)
    return {tp.partition: tp.offset for tp in res.topic_partitions if tp.topic == topic}


def await_done(a, members, tracker, group, topic, end, start=None, secs=90):
    """Until every offset in [start, end) of every partition is processed and
    the group has committed the end offsets."""
    start = start or {}
    last = {}

    def done():
        if not tracker.covers(start, end):
            return False
        last["c"] = committed_offsets(a, group, topic)
        return last["c"] == end

    await_until(secs, "every record processed and the end offsets committed", members, done,
                lambda: "%s; committed %s, end %s; %s" % (tracker.describe(start, end), last.get("c"), end,
                                                         ", ".join(m.state() for m in members)))


def fixture(name, n):
    t = topic_name(name)
    a = create_topic(t, partitions=PARTITIONS)
    delivered = produce_all(client_conf(**{"acks": "all", "enable.idempotence": True, "linger.ms": 10}), t, n)
    end = {p: len(delivered.get(p, [])) for p in range(PARTITIONS)}
    check(all(end.values()), "some partition got no records: %s" % end)
    return t, a, end


def shared_consumption(name, strategy, cooperative):
    """Three members (commit after process) share a 6-partition topic while a
    producer writes 40,000 records; one member leaves, a new one joins; every
    record is processed at least once, offsets of an owned partition never
    jump, and the group commits the end offsets."""
    t = topic_name(name)
    a = create_topic(t, partitions=PARTITIONS)
    group = group_name(name)
    tracker = Tracker(PARTITIONS)
    conf = member_conf(group, **{"partition.assignment.strategy": strategy})
    members = [Member(n, conf, t, tracker) for n in ("a", "b", "c")]
    for m in members:
        m.start()
    await_until(60, "three members with two partitions each", members,
                lambda: all(len(m.assignment) == 2 for m in members)
                and set().union(*(m.assignment for m in members)) == set(range(PARTITIONS)),
                lambda: ", ".join(m.state() for m in members))
    log("group formed: " + ", ".join(m.state() for m in members))

    # The producer writes in chunks while the membership changes.
    produced = {}
    failures = []

    def producer():
        try:
            conf_p = client_conf(**{"acks": "all", "enable.idempotence": True, "linger.ms": 10})
            for chunk in range(8):
                for p, dl in produce_all(conf_p, t, 5000).items():
                    produced[p] = produced.get(p, 0) + len(dl)
                time.sleep(0.5)
        except Exception as e:  # noqa: BLE001
            failures.append("producer: %s" % e)
    more = threading.Thread(target=producer, daemon=True)
    more.start()
    await_until(60, "5,000 records processed", members, lambda: sum(m.processed for m in members) >= 5000,
                lambda: ", ".join(m.state() for m in members))

    a_before, b_before = set(members[0].assignment), set(members[1].assignment)
    a_revokes, b_revokes = members[0].revoke_calls, members[1].revoke_calls
    leaver = members[2]
    leaver.halt()
    check(not leaver.error, "member c: %s" % leaver.error)
    live = members[:2]
    await_until(30, "a and b owning every partition after c left", live,
                lambda: set().union(*(m.assignment for m in live)) == set(range(PARTITIONS)),
                lambda: ", ".join(m.state() for m in live))
    log("after c left: " + ", ".join(m.state() for m in live))
    if cooperative:
        # Cooperative rebalancing moves only c's partitions: a and b keep theirs.
        check(members[0].assignment >= a_before and members[1].assignment >= b_before
              and (members[0].revoke_calls, members[1].revoke_calls) == (a_revokes, b_revokes),
              "cooperative takeover revoked survivors' partitions: %s" % ", ".join(m.state() for m in live))
    d = Member("d", conf, t, tracker)
    d.start()
    live.append(d)
    await_until(60, "a, b and the new member d with two partitions each", live,
                lambda: all(len(m.assignment) == 2 for m in live)
                and set().union(*(m.assignment for m in live)) == set(range(PARTITIONS)),
                lambda: ", ".join(m.state() for m in live))
    log("after d joined: " + ", ".join(m.state() for m in live))
    more.join(120)
    check(not more.is_alive(), "producer did not finish")
    check(not failures, failures[0] if failures else "")
    end = {p: produced.get(p, 0) for p in range(PARTITIONS)}
    check(sum(end.values()) == 40000, "end offsets %s do not add up to 40000" % end)
    await_done(a, live, tracker, group, t, end)
    # The members as the admin API sees them.
    desc = a.describe_consumer_groups([group], request_timeout=20)[group].result(timeout=25)
    check(desc.state == ConsumerGroupState.STABLE and len(desc.members) == 3,
          "describe_consumer_groups: %s with %d members, want STABLE with 3" % (desc.state, len(desc.members)))
    check(desc.partition_assignor == strategy, "partition assignor %r, want %r" % (desc.partition_assignor, strategy))
    assigned = sorted(tp.partition for mem in desc.members for tp in mem.assignment.topic_partitions)
    check(assigned == list(range(PARTITIONS)), "described assignment %s" % assigned)
    for m in live:
        m.halt()
        m.rethrow()
    log("%d records, %d processed twice; commit errors %d" % (
        sum(end.values()), tracker.duplicates, sum(m.commit_errors for m in members + [d])))


CASES = []


def case(fn):
    CASES.append((fn.__name__, fn))
    return fn


@case
def group_range_rebalance_commit(name):
    shared_consumption(name, "range", False)


@case
def group_cooperative_sticky_rebalance_commit(name):
    shared_consumption(name, "cooperative-sticky", True)


@case
def group_resume_from_committed(name):
    """A group commits explicit offsets (the middle of every partition) and
    closes; a new member of the group starts exactly there."""
    t, a, end = fixture(name, 6000)
    group = group_name(name)
    mid = {p: end[p] // 2 for p in range(PARTITIONS)}
    c = Consumer(member_conf(group))
    try:
        c.subscribe([t])
        deadline = time.monotonic() + 60
        while len(c.assignment()) < PARTITIONS:
            check(time.monotonic() < deadline, "the only member was never assigned every partition: %s" % c.assignment())
            c.consume(num_messages=1, timeout=0.3)
        res = c.commit(offsets=[TopicPartition(t, p, mid[p]) for p in range(PARTITIONS)], asynchronous=False)
        check(all(tp.error is None for tp in res), "commit: %s" % [tp.error for tp in res if tp.error])
        got = {tp.partition: tp.offset for tp in c.committed([TopicPartition(t, p) for p in range(PARTITIONS)], timeout=20)}
        check(got == mid, "committed() %s, want %s" % (got, mid))
    finally:
        c.close()
    check(committed_offsets(a, group, t) == mid, "list_consumer_group_offsets after close")
    tracker = Tracker(PARTITIONS)
    m = Member("resumer", member_conf(group), t, tracker)
    m.start()
    try:
        await_done(a, [m], tracker, group, t, end, start=mid)
        for p in range(PARTITIONS):
            check(tracker.lowest(p) == mid[p], "partition %d: first offset read %s, want the committed %d" % (
                p, tracker.lowest(p), mid[p]))
        check(tracker.duplicates == 0, "%d records read twice" % tracker.duplicates)
    finally:
        m.halt()
    m.rethrow()


@case
def group_admin_alter_delete(name):
    """AdminClient on groups: describe an active group (member, client id,
    host, assignment), alter_consumer_group_offsets (refused while it has
    members, then accepted), delete_consumer_groups (refused while it has
    members, then the group is gone)."""
    t, a, end = fixture(name, 3000)
    group = group_name(name)
    tracker = Tracker(PARTITIONS)
    m = Member("admin-member", member_conf(group, **{"client.id": "compat-rdk-groups-admin"}), t, tracker)
    m.start()
    try:
        await_done(a, [m], tracker, group, t, end, secs=60)
        desc = a.describe_consumer_groups([group], request_timeout=20)[group].result(timeout=25)
        check(desc.state == ConsumerGroupState.STABLE and len(desc.members) == 1,
              "describe: %s, %d members" % (desc.state, len(desc.members)))
        mem = desc.members[0]
        check(mem.client_id == "compat-rdk-groups-admin" and mem.host.lstrip("/") == "127.0.0.1"
              and mem.member_id.startswith("compat-rdk-groups-admin-"),
              "member client_id %r host %r member_id %r" % (mem.client_id, mem.host, mem.member_id))
        check(sorted(tp.partition for tp in mem.assignment.topic_partitions) == list(range(PARTITIONS)),
              "member assignment %s" % mem.assignment.topic_partitions)
        # Deleting or altering offsets of a group with members is refused.
        try:
            a.delete_consumer_groups([group], request_timeout=20)[group].result(timeout=25)
            raise CaseFailed("delete_consumer_groups of a group with a member succeeded")
        except KafkaException as e:
            check(e.args[0].code() == KafkaError.NON_EMPTY_GROUP, "delete of an active group: %s" % e)
        req = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, 1) for p in range(PARTITIONS)])
        # (Kafka answers the OffsetCommit with UNKNOWN_MEMBER_ID per partition.)
        refused = (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS)
        try:
            res = a.alter_consumer_group_offsets([req], request_timeout=20)[group].result(timeout=25)
            errs = [tp.error.code() if tp.error else None for tp in res.topic_partitions]
            check(len(errs) == PARTITIONS and all(e in refused for e in errs),
                  "alter_consumer_group_offsets of a group with a member: %s" % res.topic_partitions)
        except KafkaException as e:
            check(e.args[0].code() in refused, "alter offsets of an active group: %s" % e)
    finally:
        m.halt()
    m.rethrow()
    deadline = time.monotonic() + 30
    while a.describe_consumer_groups([group], request_timeout=20)[group].result(timeout=25).state != ConsumerGroupState.EMPTY:
        check(time.monotonic() < deadline, "group not EMPTY 30s after its member closed")
        time.sleep(0.5)
    res = a.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
        group, [TopicPartition(t, p, p) for p in range(PARTITIONS)])], request_timeout=20)[group].result(timeout=25)
    check(all(tp.error is None for tp in res.topic_partitions), "alter offsets: %s" % res.topic_partitions)
    got = committed_offsets(a, group, t)
    check(got == {p: p for p in range(PARTITIONS)}, "offsets after alter_consumer_group_offsets: %s" % got)
    a.delete_consumer_groups([group], request_timeout=20)[group].result(timeout=25)
    listed = a.list_consumer_groups(request_timeout=20).result(timeout=25)
    check(group not in [g.group_id for g in listed.valid], "%s still listed after delete_consumer_groups" % group)
    try:
        a.delete_consumer_groups([group], request_timeout=20)[group].result(timeout=25)
        raise CaseFailed("deleting the deleted group again succeeded")
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND, "second delete: %s" % e)


@case
def group_static_member_restart(name):
    """Static membership: a member with group.instance.id closes (static
    members do not leave) and a new consumer with the same instance id
    starts within the session timeout: it gets the same partitions, and the
    other member's rebalance callbacks are not called."""
    t, a, end = fixture(name, 6000)
    group = group_name(name)
    tracker = Tracker(PARTITIONS)
    confs = [member_conf(group, **{"group.instance.id": "%s-%d" % (group, i), "session.timeout.ms": 20000})
             for i in range(2)]
    members = [Member("s%d" % i, confs[i], t, tracker) for i in range(2)]
    for m in members:
        m.start()
    await_until(60, "two static members with three partitions each", members,
                lambda: all(len(m.assignment) == 3 for m in members), lambda: ", ".join(m.state() for m in members))
    await_done(a, members, tracker, group, t, end)
    time.sleep(2)
    for i in range(2):
        other = members[1 - i]
        calls = (other.assign_calls, other.revoke_calls, other.lost_calls)
        had = set(members[i].assignment)
        members[i].halt()
        members[i].rethrow()
        members[i] = Member("s%d-restarted" % i, confs[i], t, tracker)
        members[i].start()
        restarted = members[i]
        await_until(30, "restarted static member s%d assigned" % i, members,
                    lambda: len(restarted.assignment) > 0, restarted.state)
        check(restarted.assignment == had, "s%d had %s before its restart, got %s" % (i, sorted(had), sorted(restarted.assignment)))
        time.sleep(5)
        check((other.assign_calls, other.revoke_calls, other.lost_calls) == calls,
              "restarting static member s%d rebalanced the group: %s" % (i, other.state()))
    for m in members:
        m.halt()
        m.rethrow()


def main():
    if sys.argv[1:] == ["--list"]:
        for n, _ in CASES:
            print(n)
        return 0
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rdk.BOOT = sys.argv[1]
    only = set(sys.argv[2:])
    log("groups: confluent-kafka %s, librdkafka %s, target %s, run %s" % (
        __import__("confluent_kafka").version(), __import__("confluent_kafka").libversion()[0], rdk.TARGET, rdk.RUN_ID))
    for name, fn in CASES:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn(name)
            status, msg = "pass", ""
        except Exception as e:  # noqa: BLE001 - every failure is a case failure
            if not isinstance(e, CaseFailed):
                traceback.print_exc(file=sys.stderr)
                where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
                at = (" at %s line %d" % (where[-1].name, where[-1].lineno)) if where else ""
                msg = "%s: %s%s" % (type(e).__name__, str(e) or "no answer before the deadline", at)
            else:
                msg = str(e)
            msg = (msg.strip().splitlines() or [""])[0]
            status = "fail"
        log("%s %s in %.1fs" % (name, status, time.monotonic() - t0))
        print(("RESULT %s %s %s" % (name, status, msg)).rstrip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
