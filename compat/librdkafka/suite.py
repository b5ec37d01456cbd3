#!/usr/bin/env python3
"""librdkafka compatibility suite (confluent-kafka-python).

Usage: suite.py <bootstrap> [case ...]     run all cases, or only the named ones
       suite.py --list                     print the case names, one per line
       suite.py --list-group | --list-nongroup | --list-txn
                                           only the cases of one phase: consumer groups, neither, transactions
       suite.py --list-xfail-on-fjord      the cases expected to fail on fjord (an open fjord issue)

Prints one line per case:  RESULT <case> <pass|fail|xfail> <message>
Everything else (librdkafka logs, progress) goes to stderr.
Every case has its own uniquely named topic(s) and its own deadline.

Env: COMPAT_RESTART_BOOTSTRAP and COMPAT_KILL_RESTART_CMD (set by run.sh) name
the broker the broker-kill case crashes and restarts, and the shell command
that does it (compat/lib/broker-restart.sh ... kill).
"""

import os
import subprocess
import sys
import time
import traceback

from confluent_kafka import (
    OFFSET_BEGINNING,
    IsolationLevel,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

TARGET = os.environ.get("COMPAT_TARGET", "fjord")
RUN_ID = "%x%04x" % (int(time.time()), os.getpid() & 0xFFFF)
BOOT = None


def log(*a):
    print("[librdkafka]", *a, file=sys.stderr, flush=True)


class CaseFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def topic_name(case):
    return "compat-rdk-%s-%s" % (case.replace("_", "-"), RUN_ID)


def client_conf(**extra):
    conf = {
        "bootstrap.servers": BOOT,
        "client.id": "fjord-compat-librdkafka",
        # keep reconnect storms and metadata waits short so failures show fast
        "socket.timeout.ms": 10000,
        "reconnect.backoff.max.ms": 1000,
    }
    if os.environ.get("COMPAT_RDK_DEBUG"):
        conf["debug"] = os.environ["COMPAT_RDK_DEBUG"]
    conf.update(extra)
    return conf


def admin():
    return AdminClient(client_conf())


def wait_futures(fs, timeout):
    """Resolve a dict of admin futures, raising on the first error."""
    out = {}
    for k, f in fs.items():
        out[k] = f.result(timeout=timeout)
    return out


def create_topic(name, partitions=1, config=None, timeout=30):
    a = admin()
    fs = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    wait_futures(fs, timeout)
    wait_topic_visible(a, name, partitions, timeout)
    wait_partitions_ready(a, name, partitions, timeout)
    return a


def wait_partitions_ready(a, name, partitions, timeout):
    """A KRaft broker can name a leader in metadata a moment before that
    leader serves the partition: wait until every partition answers ListOffsets."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            req = {TopicPartition(name, p): OffsetSpec.latest() for p in range(partitions)}
            wait_futures(a.list_offsets(req, request_timeout=10), 10)
            return
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise CaseFailed("partitions of %s never answered ListOffsets: %s" % (name, e))
            time.sleep(0.2)


def wait_topic_visible(a, name, partitions, timeout):
    deadline = time.monotonic() + timeout
    while True:
        md = a.list_topics(topic=name, timeout=10)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions and all(
            p.leader >= 0 for p in t.partitions.values()
        ):
            return md
        if time.monotonic() > deadline:
            raise CaseFailed("topic %s not visible with %d partitions with leaders in metadata" % (name, partitions))
        time.sleep(0.2)


# --------------------------------------------------------------------------
# deterministic record content


def record(i, size=100):
    key = b"key-%06d" % i
    if i % 1000 == 999:
        value = None  # null value (tombstone-shaped) must survive as null
    elif i % 1000 == 500:
        value = b""  # empty, not null
    else:
        # include every byte value so nothing is text-mangled on the way
        body = bytes(((i * 31 + j * 7) & 0xFF) for j in range(size))
        value = b"value-%06d|" % i + body
    headers = [
        ("idx", b"%d" % i),
        ("dup", b"first"),
        ("dup", b"second"),  # duplicate header keys must both survive, in order
        ("bin", bytes([0, 255, i & 0xFF])),
        ("empty", b""),
    ]
    if i % 7 == 0:
        headers.append(("nullh", None))
    return key, value, headers


def norm_headers(h):
    return [(k, None if v is None else bytes(v)) for k, v in (h or [])]


def produce_all(conf, topic, n, ts_base=None, size=100, timeout=90):
    """Produce n records, return {partition: [(offset, i), ...]} from delivery reports."""
    p = Producer(conf)
    delivered = {}
    errors = []

    def dr(err, msg, i):
        if err is not None:
            errors.append("record %d: %s" % (i, err))
        else:
            delivered.setdefault(msg.partition(), []).append((msg.offset(), i))

    deadline = time.monotonic() + timeout
    for i in range(n):
        key, value, headers = record(i, size)
        kw = {}
        if ts_base is not None:
            kw["timestamp"] = ts_base + i
        while True:
            try:
                p.produce(topic, value=value, key=key, headers=headers,
                          on_delivery=lambda err, msg, i=i: dr(err, msg, i), **kw)
                break
            except BufferError:
                p.poll(0.1)
                if time.monotonic() > deadline:
                    raise CaseFailed("producer queue stayed full")
        if i % 1000 == 0:
            p.poll(0)
    remaining = p.flush(max(1.0, deadline - time.monotonic()))
    check(not errors, "%d delivery errors, first: %s" % (len(errors), errors[0] if errors else ""))
    check(remaining == 0, "%d records not delivered before the deadline" % remaining)
    got = sum(len(v) for v in delivered.values())
    check(got == n, "%d delivery reports for %d records" % (got, n))
    return delivered


def consume_assigned(topic, partitions, expected_counts, timeout=90, extra=None):
    """Read every partition from the beginning with assign() (no group protocol).

    Returns {partition: [msg, ...]} once each partition holds expected_counts[p]
    messages."""
    conf = client_conf(**{
        # confluent-kafka wants a group.id, but with assign() and no commits
        # no group coordination happens
        "group.id": "compat-rdk-assign-" + RUN_ID,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 200,
    })
    conf.update(extra or {})
    c = Consumer(conf)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        deadline = time.monotonic() + timeout
        while any(len(out[p]) < expected_counts.get(p, 0) for p in out):
            if time.monotonic() > deadline:
                raise CaseFailed("timed out reading: got %s of %s" % (
                    {p: len(v) for p, v in out.items()}, expected_counts))
            for m in c.consume(num_messages=2000, timeout=1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise CaseFailed("consume error: %s" % err)
                out[m.partition()].append(m)
        return out
    finally:
        c.close()


def verify_messages(consumed, delivered, size=100, ts_base=None):
    for p, dl in delivered.items():
        msgs = consumed.get(p, [])
        check(len(msgs) == len(dl), "partition %d: consumed %d, delivered %d" % (p, len(msgs), len(dl)))
        dl_sorted = sorted(dl)
        for (off, i), m in zip(dl_sorted, msgs):
            check(m.offset() == off, "partition %d: offset %d where %d expected (order)" % (p, m.offset(), off))
            key, value, headers = record(i, size)
            check(m.key() == key, "partition %d offset %d: key differs" % (p, off))
            check(m.value() == value, "partition %d offset %d: value differs (%r...)" % (
                p, off, (m.value() or b"")[:20]))
            check(norm_headers(m.headers()) == headers, "partition %d offset %d: headers differ: %r" % (
                p, off, m.headers()))
            if ts_base is not None:
                check(m.timestamp() == (TIMESTAMP_CREATE_TIME, ts_base + i),
                      "partition %d offset %d: timestamp %r, expected CreateTime %d" % (p, off, m.timestamp(), ts_base + i))
    for p, msgs in consumed.items():
        if p not in delivered:
            check(not msgs, "partition %d: %d unexpected messages" % (p, len(msgs)))


# --------------------------------------------------------------------------
# cases

CASES = []  # (name, fn, phase, xfail_on_fjord)


def case(needs_group=False, txn=False, xfail_on_fjord=None):
    """Registers a case. needs_group: it runs in the group phase, txn: in the
    transaction phase (each phase is a process of its own; the transaction
    phase may kill and restart the broker, so it runs last). xfail_on_fjord:
    the open fjord issue that makes it expected to fail on fjord (it then
    reports xfail there), or None."""
    phase = "txn" if txn else "group" if needs_group else "nongroup"

    def deco(fn):
        CASES.append((fn.__name__, fn, phase, xfail_on_fjord))
        return fn
    return deco


@case()
def admin_create_topics(name):
    t = topic_name(name)
    a = create_topic(t, partitions=3, config={"retention.ms": "3600000", "max.message.bytes": "2000000"})
    md = a.list_topics(topic=t, timeout=10)
    check(sorted(md.topics[t].partitions) == [0, 1, 2], "partitions %r" % sorted(md.topics[t].partitions))
    # creating it again must fail with TOPIC_ALREADY_EXISTS
    fs = a.create_topics([NewTopic(t, num_partitions=3, replication_factor=1)], request_timeout=20)
    try:
        fs[t].result(timeout=20)
        raise CaseFailed("second create of %s succeeded" % t)
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, "second create: %s" % e)


@case()
def admin_list_topics(name):
    t = topic_name(name)
    create_topic(t, partitions=3)
    md = admin().list_topics(timeout=10)
    check(t in md.topics, "%s missing from list_topics (%d topics)" % (t, len(md.topics)))
    check(len(md.brokers) >= 1, "no brokers in metadata")
    check(md.cluster_id, "no cluster id in metadata")
    for p in md.topics[t].partitions.values():
        check(p.leader in md.brokers, "partition %d leader %d is not a known broker" % (p.id, p.leader))
        check(p.replicas and p.isrs, "partition %d has no replicas/isr" % p.id)
    # describe_cluster and describe_topics (Metadata/DescribeCluster, newer APIs)
    # (keep the AdminClient referenced until its futures resolve: a collected
    # handle cancels them with _DESTROY)
    a = admin()
    cl = a.describe_cluster(request_timeout=20).result(timeout=20)
    check(cl.nodes, "describe_cluster returned no nodes")
    from confluent_kafka import TopicCollection
    dt = a.describe_topics(TopicCollection([t]), request_timeout=20)[t].result(timeout=20)
    check(len(dt.partitions) == 3, "describe_topics: %d partitions" % len(dt.partitions))


@case()
def admin_describe_configs(name):
    t = topic_name(name)
    a = create_topic(t, partitions=1, config={"retention.ms": "3600000", "max.message.bytes": "2000000"})
    res = ConfigResource("topic", t)
    cfg = wait_futures(a.describe_configs([res], request_timeout=20), 20)[res]
    check(cfg["retention.ms"].value == "3600000", "retention.ms=%r" % cfg["retention.ms"].value)
    check(cfg["max.message.bytes"].value == "2000000", "max.message.bytes=%r" % cfg["max.message.bytes"].value)
    check("cleanup.policy" in cfg and cfg["cleanup.policy"].value == "delete",
          "cleanup.policy=%r" % (cfg.get("cleanup.policy") and cfg["cleanup.policy"].value))
    check(not cfg["retention.ms"].is_default, "retention.ms reported as default")
    # broker configs
    bid = str(min(a.list_topics(timeout=10).brokers))
    bres = ConfigResource("broker", bid)
    bcfg = wait_futures(a.describe_configs([bres], request_timeout=20), 20)[bres]
    check(len(bcfg) > 10, "broker %s: only %d configs" % (bid, len(bcfg)))


@case()
def admin_alter_configs(name):
    t = topic_name(name)
    a = create_topic(t, partitions=1)
    res = ConfigResource("topic", t, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET),
    ])
    wait_futures(a.incremental_alter_configs([res], request_timeout=20), 20)
    deadline = time.monotonic() + 20
    while True:
        r = ConfigResource("topic", t)
        cfg = wait_futures(a.describe_configs([r], request_timeout=20), 20)[r]
        if cfg["retention.ms"].value == "7200000" and cfg["cleanup.policy"].value == "compact":
            break
        if time.monotonic() > deadline:
            raise CaseFailed("altered configs not visible: retention.ms=%s cleanup.policy=%s" % (
                cfg["retention.ms"].value, cfg["cleanup.policy"].value))
        time.sleep(0.3)
    res = ConfigResource("topic", t, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    wait_futures(a.incremental_alter_configs([res], request_timeout=20), 20)
    deadline = time.monotonic() + 20
    while True:
        r = ConfigResource("topic", t)
        cfg = wait_futures(a.describe_configs([r], request_timeout=20), 20)[r]
        if cfg["retention.ms"].is_default:
            break
        if time.monotonic() > deadline:
            raise CaseFailed("deleted retention.ms still set: %s" % cfg["retention.ms"].value)
        time.sleep(0.3)


def topic_config(a, t, key):
    r = ConfigResource("topic", t)
    return wait_futures(a.describe_configs([r], request_timeout=20), 20)[r][key].value


def alter_list(a, t, key, op, value):
    res = ConfigResource("topic", t, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=op)])
    wait_futures(a.incremental_alter_configs([res], request_timeout=20), 20)


def expect_config(a, t, key, want):
    deadline = time.monotonic() + 20
    while True:
        got = topic_config(a, t, key)
        if got == want:
            return
        if time.monotonic() > deadline:
            raise CaseFailed("%s: expected %r, got %r" % (key, want, got))
        time.sleep(0.3)


@case()
def admin_list_config_append_subtract(name):
    """APPEND and SUBTRACT on list configs, down to an empty cleanup.policy."""
    t = topic_name(name)
    a = create_topic(t, partitions=1)
    APPEND, SUBTRACT = AlterConfigOpType.APPEND, AlterConfigOpType.SUBTRACT
    steps = [
        ("cleanup.policy", APPEND, "compact", "delete,compact"),
        ("cleanup.policy", APPEND, "compact", "delete,compact"),
        ("cleanup.policy", SUBTRACT, "delete", "compact"),
        ("cleanup.policy", SUBTRACT, "compact", ""),
        ("cleanup.policy", SUBTRACT, "compact", ""),
        ("cleanup.policy", APPEND, "delete", "delete"),
        ("follower.replication.throttled.replicas", APPEND, "0:1", "0:1"),
        ("follower.replication.throttled.replicas", APPEND, "1:1", "0:1,1:1"),
        ("follower.replication.throttled.replicas", SUBTRACT, "0:1", "1:1"),
    ]
    for key, op, value, want in steps:
        alter_list(a, t, key, op, value)
        expect_config(a, t, key, want)
    try:
        alter_list(a, t, "retention.ms", APPEND, "1000")
        raise CaseFailed("APPEND to retention.ms (not a list) was accepted")
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.INVALID_CONFIG, "APPEND to retention.ms: %s" % e)


def produce_batch(t, msgs, **extra):
    """Produces msgs (key, timestamp) as one batch to partition 0 and returns
    each message's delivery error (None when delivered)."""
    conf = client_conf(**{"linger.ms": 1000, "batch.num.messages": 1000,
                          "message.timeout.ms": 20000, "retries": 0}, **extra)
    p = Producer(conf)
    results = [None] * len(msgs)
    done = [False] * len(msgs)

    def cb(i):
        def deliver(err, _msg):
            results[i] = err
            done[i] = True
        return deliver

    for i, (key, ts) in enumerate(msgs):
        p.produce(t, value=b"value", key=key, partition=0, timestamp=ts or 0, on_delivery=cb(i))
    p.flush(30)
    check(all(done), "not every delivery report arrived")
    return results


@case()
def produce_keyless_to_compacted_record_errors(name):
    """KIP-467: the keyless records of a batch sent to a compacted topic fail
    with INVALID_RECORD, the keyed ones with them, nothing is appended."""
    t = topic_name(name)
    create_topic(t, partitions=1, config={"cleanup.policy": "compact"})
    errs = produce_batch(t, [(b"k0", None), (None, None), (b"k2", None), (None, None)])
    for i in (1, 3):
        check(errs[i] is not None and errs[i].code() == KafkaError.INVALID_RECORD,
              "keyless record %d: %s" % (i, errs[i]))
    for i in (0, 2):
        check(errs[i] is not None and errs[i].code() == KafkaError._INVALID_DIFFERENT_RECORD,
              "keyed record %d fails because of the others: %s" % (i, errs[i]))
    ok = produce_batch(t, [(b"k", None)])
    check(ok[0] is None, "a keyed record: %s" % ok[0])
    c = Consumer(client_conf(**{"group.id": "unused-" + t, "enable.auto.commit": False}))
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(t, 0), timeout=20)
        check((lo, hi) == (0, 1), "only the keyed record is in the log: watermarks %s" % ((lo, hi),))
    finally:
        c.close()


@case()
def produce_timestamp_out_of_range_record_errors(name):
    """Records with CreateTime timestamps outside the topic's window fail."""
    t = topic_name(name)
    hour = 3600 * 1000
    create_topic(t, partitions=1, config={"message.timestamp.before.max.ms": str(hour),
                                          "message.timestamp.after.max.ms": str(hour)})
    now = int(time.time() * 1000)
    day = 24 * hour
    errs = produce_batch(t, [(None, now), (None, now - day), (None, now), (None, now + day)])
    for i in (1, 3):
        check(errs[i] is not None and errs[i].code() in (KafkaError.INVALID_TIMESTAMP, KafkaError.INVALID_RECORD),
              "out-of-range record %d: %s" % (i, errs[i]))
    for i in (0, 2):
        check(errs[i] is not None and errs[i].code() == KafkaError._INVALID_DIFFERENT_RECORD,
              "in-range record %d fails because of the others: %s" % (i, errs[i]))
    alone = produce_batch(t, [(None, now - day)])
    check(alone[0] is not None and alone[0].code() == KafkaError.INVALID_TIMESTAMP, "a lone old record: %s" % alone[0])
    ok = produce_batch(t, [(None, now)])
    check(ok[0] is None, "a current record: %s" % ok[0])


@case()
def admin_create_partitions(name):
    t = topic_name(name)
    a = create_topic(t, partitions=1)
    wait_futures(a.create_partitions([NewPartitions(t, 4)], request_timeout=20), 20)
    wait_topic_visible(a, t, 4, 20)


@case()
def admin_delete_topics(name):
    t = topic_name(name)
    a = create_topic(t, partitions=3)
    wait_futures(a.delete_topics([t], operation_timeout=20, request_timeout=20), 25)
    deadline = time.monotonic() + 20
    while t in a.list_topics(timeout=10).topics:
        if time.monotonic() > deadline:
            raise CaseFailed("%s still listed after delete" % t)
        time.sleep(0.3)
    fs = a.delete_topics(["compat-rdk-never-created-" + RUN_ID], request_timeout=20)
    try:
        list(fs.values())[0].result(timeout=20)
        raise CaseFailed("deleting a missing topic succeeded")
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, "delete missing topic: %s" % e)


N_IDEMPOTENT = 50000


def produce_fixture(name, n):
    """A 3-partition topic of this case holding n records (idempotent
    producer, CreateTime timestamps ts_base + i)."""
    t = topic_name(name)
    create_topic(t, partitions=3)
    ts_base = int(time.time() * 1000) - 10 * 60 * 1000
    conf = client_conf(**{"enable.idempotence": True, "acks": "all", "linger.ms": 20})
    return t, produce_all(conf, t, n, ts_base=ts_base), ts_base


@case()
def idempotent_produce(name):
    t = topic_name(name)
    create_topic(t, partitions=3)
    ts_base = int(time.time() * 1000) - 10 * 60 * 1000
    conf = client_conf(**{
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.num.messages": 2000,
    })
    t0 = time.monotonic()
    delivered = produce_all(conf, t, N_IDEMPOTENT, ts_base=ts_base)
    log("produced %d idempotent records in %.1fs over partitions %s" % (
        N_IDEMPOTENT, time.monotonic() - t0, {p: len(v) for p, v in delivered.items()}))
    for p, dl in delivered.items():
        offs = sorted(o for o, _ in dl)
        check(offs == list(range(len(offs))), "partition %d: offsets not 0..%d without gaps" % (p, len(offs) - 1))
        # in-order delivery per partition: record indexes ascend with offsets
        idx = [i for _, i in sorted(dl)]
        check(idx == sorted(idx), "partition %d: records stored out of produce order" % p)
    check(len(delivered) == 3, "keys landed in %d of 3 partitions" % len(delivered))


@case()
def assign_consume(name):
    t, delivered, ts_base = produce_fixture(name, N_IDEMPOTENT)
    t0 = time.monotonic()
    consumed = consume_assigned(t, 3, {p: len(v) for p, v in delivered.items()})
    log("consumed %d records in %.1fs" % (sum(len(v) for v in consumed.values()), time.monotonic() - t0))
    verify_messages(consumed, delivered, ts_base=ts_base)


@case()
def watermarks_and_list_offsets(name):
    t, delivered, ts_base = produce_fixture(name, 3000)
    c = Consumer(client_conf(**{"group.id": "compat-rdk-wm-" + RUN_ID, "enable.auto.commit": False}))
    try:
        for p, dl in delivered.items():
            lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            check((lo, hi) == (0, len(dl)), "partition %d watermarks %r, expected (0, %d)" % (p, (lo, hi), len(dl)))
        # offsets_for_times: the first record with timestamp >= ts of record i
        target = {}
        for p, dl in delivered.items():
            off, i = sorted(dl)[len(dl) // 2]
            target[p] = (off, ts_base + i)
        res = c.offsets_for_times([TopicPartition(t, p, ts) for p, (off, ts) in target.items()], timeout=10)
        for tp in res:
            check(tp.error is None, "offsets_for_times p%d: %s" % (tp.partition, tp.error))
            check(tp.offset == target[tp.partition][0], "offsets_for_times p%d: %d, expected %d" % (
                tp.partition, tp.offset, target[tp.partition][0]))
    finally:
        c.close()
    # AdminClient.list_offsets: earliest, latest, max timestamp
    a = admin()
    req = {TopicPartition(t, p): OffsetSpec.earliest() for p in delivered}
    res = wait_futures(a.list_offsets(req, request_timeout=20), 20)
    for tp, info in res.items():
        check(info.offset == 0, "list_offsets earliest p%d = %d" % (tp.partition, info.offset))
    req = {TopicPartition(t, p): OffsetSpec.latest() for p in delivered}
    res = wait_futures(a.list_offsets(req, request_timeout=20), 20)
    for tp, info in res.items():
        check(info.offset == len(delivered[tp.partition]), "list_offsets latest p%d = %d, expected %d" % (
            tp.partition, info.offset, len(delivered[tp.partition])))
    req = {TopicPartition(t, p): OffsetSpec.max_timestamp() for p in delivered}
    res = wait_futures(a.list_offsets(req, request_timeout=20), 20)
    for tp, info in res.items():
        off, i = max(delivered[tp.partition])
        check(info.offset == off and info.timestamp == ts_base + i,
              "list_offsets max_timestamp p%d = (%d, %d), expected (%d, %d)" % (
                  tp.partition, info.offset, info.timestamp, off, ts_base + i))


def compression_case(codec):
    def fn(name):
        t = topic_name(name)
        create_topic(t, partitions=1)
        n = 5000
        conf = client_conf(**{
            "compression.codec": codec,
            "acks": "all",
            "linger.ms": 50,
            "batch.num.messages": 1000,
        })
        delivered = produce_all(conf, t, n, size=200)
        consumed = consume_assigned(t, 1, {0: n})
        verify_messages(consumed, delivered, size=200)
    fn.__name__ = "compression_" + codec
    case()(fn)


for _codec in ("gzip", "snappy", "lz4", "zstd"):
    compression_case(_codec)


@case(needs_group=True)
def group_subscribe_commit(name):
    t = topic_name(name)
    create_topic(t, partitions=3)
    n = 3000
    delivered = produce_all(client_conf(acks="all", **{"linger.ms": 10}), t, n)
    group = "compat-rdk-group-" + RUN_ID
    c = Consumer(client_conf(**{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "partition.assignment.strategy": "cooperative-sticky",
    }))
    closed = False
    try:
        c.subscribe([t])
        seen = {p: 0 for p in range(3)}
        deadline = time.monotonic() + 60
        while sum(seen.values()) < n:
            if time.monotonic() > deadline:
                raise CaseFailed("group consumer read %d of %d records (assignment %s)" % (
                    sum(seen.values()), n, [tp.partition for tp in c.assignment()]))
            for m in c.consume(num_messages=1000, timeout=1.0):
                if m.error():
                    raise CaseFailed("consume error: %s" % m.error())
                seen[m.partition()] += 1
        expect = {p: len(dl) for p, dl in delivered.items()}
        check(seen == {p: expect.get(p, 0) for p in range(3)}, "read %r, expected %r" % (seen, expect))
        c.commit(asynchronous=False)
        committed = c.committed([TopicPartition(t, p) for p in range(3)], timeout=10)
        got = {tp.partition: tp.offset for tp in committed}
        check(got == {p: expect.get(p, 0) for p in range(3)}, "committed %r, expected %r" % (got, expect))
        # the group as the admin API sees it while the member is active
        a = admin()
        desc = a.describe_consumer_groups([group], request_timeout=20)[group].result(timeout=20)
        check(len(desc.members) == 1, "describe_consumer_groups: %d members" % len(desc.members))
        c.close()
        closed = True
        deadline = time.monotonic() + 20
        while True:
            listed = a.list_consumer_groups(request_timeout=20).result(timeout=20)
            if group in [g.group_id for g in listed.valid]:
                break
            if time.monotonic() > deadline:
                raise CaseFailed("group %s missing from list_consumer_groups" % group)
            time.sleep(0.5)
        from confluent_kafka import ConsumerGroupTopicPartitions
        offs = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=20)
        res = offs[group].result(timeout=20)
        got = {tp.partition: tp.offset for tp in res.topic_partitions if tp.topic == t}
        check(got == {p: expect.get(p, 0) for p in range(3)}, "list_consumer_group_offsets %r" % got)
    finally:
        if not closed:
            c.close()


COMMIT_ROUNDS = 4
COMMITS_PER_ROUND = 50


@case(needs_group=True)
def commit_async_in_order(name):
    """commit(message=m, asynchronous=True) after every message (issue 15):
    librdkafka sends each commit at once, so a round's commits go out
    pipelined on the coordinator connection with rising offsets and must take
    effect in the order sent; once every on_commit has fired, committed() is
    the last message's offset + 1. (A bare commit(asynchronous=True) would
    not do: it takes the stored offset when librdkafka's thread gets to it, so
    a fast loop sends the first offset and then the last one 49 times.) A
    broker that reorders commits is caught only when the last commit of a
    burst loses the race, hence several rounds."""
    t = topic_name(name)
    create_topic(t, partitions=1)
    done = {"callbacks": 0, "errors": []}

    def on_commit(err, partitions):
        done["callbacks"] += 1
        if err is not None:
            done["errors"].append(str(err))
        for tp in partitions or []:
            if tp.error is not None:
                done["errors"].append("partition %d: %s" % (tp.partition, tp.error))

    c = Consumer(client_conf(**{
        "group.id": "compat-rdk-commit-async-" + RUN_ID,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "on_commit": on_commit,
    }))
    try:
        tp = TopicPartition(t, 0)
        c.assign([tp])
        # also finds the coordinator, so the first commit goes out at once
        first = c.committed([tp], timeout=10)[0].offset
        check(first < 0, "a new group already has committed offset %d" % first)
        deadline = time.monotonic() + 60
        issued = 0
        next_offset = 0
        for rnd in range(1, COMMIT_ROUNDS + 1):
            # this round's messages are produced only now, so the waits for
            # on_commit below never return messages of the next round
            produce_all(client_conf(acks="all"), t, COMMITS_PER_ROUND, timeout=20)
            end = next_offset + COMMITS_PER_ROUND
            while next_offset < end:
                check(time.monotonic() < deadline, "round %d: read up to offset %d of %d" % (rnd, next_offset, end))
                m = c.poll(0.2)
                if m is None:
                    continue
                check(m.error() is None, "consume error: %s" % m.error())
                check(m.offset() == next_offset, "read offset %d, expected %d" % (m.offset(), next_offset))
                next_offset += 1
                c.commit(message=m, asynchronous=True)
                issued += 1
            # on_commit runs in poll()
            while done["callbacks"] < issued:
                check(time.monotonic() < deadline, "round %d: %d of %d on_commit callbacks fired" % (
                    rnd, done["callbacks"], issued))
                m = c.poll(0.05)
                check(m is None, "message past the end of round %d" % rnd)
            check(not done["errors"], "async commit failed: %s" % (done["errors"][:1],))
            got = c.committed([tp], timeout=10)[0].offset
            check(got == end, "committed() = %d after round %d of %d pipelined async commits, "
                  "expected %d (the last one's offset)" % (got, rnd, COMMITS_PER_ROUND, end))
    finally:
        c.close()

N_BACK_DATED = 500
DAY_MS = 86400 * 1000


@case()
def back_dated_one_segment(name):
    """Issue 17: 500 single-record batches with CreateTime timestamps a month
    old stay in one segment (Kafka rolls by the records' own time, measured
    from the segment's first batch), so a consumer reads them back in a few
    fetches, not one fetch per batch."""
    t = topic_name(name)
    create_topic(t, partitions=1)
    ts_base = int(time.time() * 1000) - 30 * DAY_MS
    p = Producer(client_conf(**{"linger.ms": 0, "acks": "all"}))
    delivered = {}
    errors = []

    def dr(err, msg, i):
        if err is not None:
            errors.append("record %d: %s" % (i, err))
        else:
            delivered.setdefault(msg.partition(), []).append((msg.offset(), i))

    deadline = time.monotonic() + 60
    for i in range(N_BACK_DATED):
        key, value, headers = record(i)
        p.produce(t, value=value, key=key, headers=headers, timestamp=ts_base + i * 10,
                  on_delivery=lambda err, msg, i=i: dr(err, msg, i))
        # one record per batch: wait for each before sending the next
        check(p.flush(max(1.0, deadline - time.monotonic())) == 0, "record %d not delivered in time" % i)
    check(not errors, "%d delivery errors, first: %s" % (len(errors), errors[0] if errors else ""))

    fetches = []

    def stats(js):
        import json
        st = json.loads(js)
        fetches.append(sum(b.get("req", {}).get("Fetch", 0) for b in st["brokers"].values() if b.get("nodeid", -1) >= 0))

    consumed = consume_assigned(t, 1, {0: N_BACK_DATED}, extra={
        "statistics.interval.ms": 100, "stats_cb": stats, "fetch.wait.max.ms": 500})
    n_fetch = fetches[-1] if fetches else None
    log("%d back-dated records read back with %s Fetch requests" % (N_BACK_DATED, n_fetch))
    for (off, i), m in zip(sorted(delivered[0]), consumed[0]):
        check(m.offset() == off and m.timestamp() == (TIMESTAMP_CREATE_TIME, ts_base + i * 10),
              "offset %d: %r, expected CreateTime %d" % (off, m.timestamp(), ts_base + i * 10))
    check(n_fetch is not None, "no statistics from the consumer")
    # one segment: a handful of fetches (the rest are empty long polls);
    # one segment per batch needed ~500
    check(n_fetch < 50, "%d Fetch requests to read %d back-dated records" % (n_fetch, N_BACK_DATED))



# --------------------------------------------------------------------------
# transactions (phase "txn")


def txn_conf(txn_id, **extra):
    conf = client_conf(**{
        "transactional.id": txn_id,
        "acks": "all",
        "linger.ms": 5,
    })
    conf.update(extra)
    return conf


def txn_record(tag, i):
    """Key and value of record i of a transaction tagged tag (unique in the case)."""
    return b"%s-%04d" % (tag.encode(), i), b"value|%s|%04d" % (tag.encode(), i)


def produce_txn(p, topic, tag, n, partitions):
    """Produces n records of a transaction (record i to partition i %
    partitions) and flushes: every record is acknowledged, so it is in the log
    whatever becomes of the transaction. Returns [(partition, offset, key, value)]."""
    out, errors = [], []

    def dr(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

    for i in range(n):
        key, value = txn_record(tag, i)
        p.produce(topic, key=key, value=value, partition=i % partitions, on_delivery=dr)
    remaining = p.flush(30)
    check(not errors, "transaction %s: %d delivery errors, first: %s" % (tag, len(errors), errors[:1]))
    check(remaining == 0 and len(out) == n, "transaction %s: %d of %d records delivered" % (tag, len(out), n))
    return out


def list_offsets_map(a, topic, partitions, isolation):
    req = {TopicPartition(topic, q): OffsetSpec.latest() for q in range(partitions)}
    res = wait_futures(a.list_offsets(req, isolation_level=isolation, request_timeout=10), 15)
    return {tp.partition: info.offset for tp, info in res.items()}


def wait_stable(a, topic, partitions, want_end=None, timeout=20):
    """Waits until every partition's last stable offset (ListOffsets latest,
    read_committed) equals its end offset (read_uncommitted): no transaction
    is open on it and its markers are written. With want_end, the end
    offsets must also be those. Returns the end offsets."""
    deadline = time.monotonic() + timeout
    end = lso = None
    while True:
        try:
            end = list_offsets_map(a, topic, partitions, IsolationLevel.READ_UNCOMMITTED)
            lso = list_offsets_map(a, topic, partitions, IsolationLevel.READ_COMMITTED)
        except KafkaException as e:
            # a broker that has just started may answer with a retriable
            # error (UNKNOWN_LEADER_EPOCH, NOT_LEADER...) for a moment
            end = lso = "error %s" % e.args[0].str()
        if end == lso and (want_end is None or end == want_end):
            return end
        if time.monotonic() > deadline:
            raise CaseFailed("after %ds: end offsets %s, last stable offsets %s%s" % (
                timeout, end, lso, "" if want_end is None else ", want end offsets %s" % want_end))
        time.sleep(0.3)


def read_all(topic, partitions, end, isolation, timeout=30):
    """Reads every partition with assign() from the beginning until the
    consumer reaches end[p] (partition EOF at that offset). Returns
    {partition: [(offset, key, value), ...]}."""
    c = Consumer(client_conf(**{
        "group.id": "compat-rdk-txn-read-" + RUN_ID,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 200,
        "isolation.level": isolation,
    }))
    try:
        c.assign([TopicPartition(topic, q, OFFSET_BEGINNING) for q in range(partitions)])
        out = {q: [] for q in range(partitions)}
        at_end = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            if time.monotonic() > deadline:
                raise CaseFailed("%s read did not reach the end offsets %s in %ds (partitions at the end: %s, read %s)" % (
                    isolation, end, timeout, sorted(at_end), {q: len(v) for q, v in out.items()}))
            for m in c.consume(num_messages=1000, timeout=0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= end[m.partition()]:
                            at_end.add(m.partition())
                        continue
                    raise CaseFailed("%s consume error: %s" % (isolation, err))
                out[m.partition()].append((m.offset(), m.key(), m.value()))
        return out
    finally:
        c.close()


def expect_read(got, records, what):
    """got: read_all's result; records: [(partition, offset, key, value)] that
    must be exactly what was read, per partition in offset order."""
    want = {}
    for q, off, key, value in sorted(records):
        want.setdefault(q, []).append((off, key, value))
    for q in sorted(set(got) | set(want)):
        g, w = got.get(q, []), want.get(q, [])
        if g == w:
            continue
        extra = [r for r in g if r not in w]
        missing = [r for r in w if r not in g]
        raise CaseFailed("%s, partition %d: read %d records, want %d (%d unexpected, first %s; %d missing, first %s)" % (
            what, q, len(g), len(w), len(extra), extra[:1], len(missing), missing[:1]))


TXN_PARTITIONS = 3
TXN_COUNT = 10
TXN_RECORDS = 30


@case(txn=True)
def txn_commit_abort_interleaved(name):
    """One transactional producer runs 10 transactions of 30 records over a
    3-partition topic (record i to partition i % 3), every record flushed and
    acknowledged before the transaction ends; the even ones are committed, the
    odd ones aborted. End offsets: the records plus one marker per
    transaction and partition; read_committed reads exactly the committed
    records (at their acknowledged offsets, in order), read_uncommitted all."""
    t = topic_name(name)
    a = create_topic(t, partitions=TXN_PARTITIONS)
    p = Producer(txn_conf("compat-rdk-txn-ca-" + RUN_ID))
    p.init_transactions(30)
    committed, everything = [], []
    for k in range(TXN_COUNT):
        p.begin_transaction()
        recs = produce_txn(p, t, "t%02d" % k, TXN_RECORDS, TXN_PARTITIONS)
        everything += recs
        if k % 2 == 0:
            p.commit_transaction(30)
            committed += recs
        else:
            p.abort_transaction(30)
    log("%d transactions over %d partitions: %d records, %d committed" % (
        TXN_COUNT, TXN_PARTITIONS, len(everything), len(committed)))
    per_partition = TXN_COUNT * TXN_RECORDS // TXN_PARTITIONS + TXN_COUNT
    end = wait_stable(a, t, TXN_PARTITIONS, {q: per_partition for q in range(TXN_PARTITIONS)})
    expect_read(read_all(t, TXN_PARTITIONS, end, "read_committed"), committed, "read_committed")
    expect_read(read_all(t, TXN_PARTITIONS, end, "read_uncommitted"), everything, "read_uncommitted")


KILL_PARTITIONS = 2
KILL_TXN_TIMEOUT_MS = 5000


@case(txn=True)
def txn_broker_kill_open_txn(name):
    """A transactional producer P1 (transaction.timeout.ms 5000) commits a
    transaction A, begins B and writes records that are flushed and
    acknowledged, and leaves B open; the broker is killed with SIGKILL and
    started again on the same data dir. Afterwards A is still there and
    visible; B, an open transaction of a broker that crashed, must be aborted
    by the transaction timeout (within 45 s of the restart): until then
    read_committed sees only A, then the last stable offset reaches the end
    of the log and read_committed reads exactly A. P1's commit of B must then
    fail (its transaction was aborted and its epoch fenced). A new producer P2
    with the same transactional.id initializes and commits C: read_committed
    reads exactly A and C, read_uncommitted A, B and C (B was acknowledged
    before the crash, so it survives it)."""
    global BOOT
    restart_cmd = os.environ.get("COMPAT_KILL_RESTART_CMD")
    check(restart_cmd, "no broker to kill and restart (run.sh sets COMPAT_KILL_RESTART_CMD)")
    t = topic_name(name)
    # every client of this case talks to the broker that is restarted
    saved_boot, BOOT = BOOT, os.environ.get("COMPAT_RESTART_BOOTSTRAP") or BOOT
    try:
        a = create_topic(t, partitions=KILL_PARTITIONS)
        txn_id = "compat-rdk-txn-kill-" + RUN_ID
        # librdkafka wants message.timeout.ms <= transaction.timeout.ms and
        # socket.timeout.ms <= transaction.timeout.ms + 100
        tconf = txn_conf(txn_id, **{"transaction.timeout.ms": KILL_TXN_TIMEOUT_MS,
                                    "message.timeout.ms": KILL_TXN_TIMEOUT_MS,
                                    "socket.timeout.ms": KILL_TXN_TIMEOUT_MS})
        p1 = Producer(tconf)
        p1.init_transactions(30)
        p1.begin_transaction()
        rec_a = produce_txn(p1, t, "A", 20, KILL_PARTITIONS)
        p1.commit_transaction(30)
        p1.begin_transaction()
        rec_b = produce_txn(p1, t, "B", 20, KILL_PARTITIONS)
        lso = list_offsets_map(a, t, KILL_PARTITIONS, IsolationLevel.READ_COMMITTED)
        first_b = {}
        for q, off, _, _ in rec_b:
            first_b[q] = min(off, first_b.get(q, off))
        check(lso == first_b, "with B open, last stable offsets %s, want B's first offsets %s" % (lso, first_b))
        del a  # its connections die with the broker
        log("B open with %d acknowledged records; killing the broker: %s" % (len(rec_b), restart_cmd))
        t0 = time.monotonic()
        r = subprocess.run(["bash", "-c", restart_cmd + " 1>&2"], timeout=200)
        check(r.returncode == 0, "broker kill and restart exited with %d" % r.returncode)
        log("broker killed and restarted in %.1fs" % (time.monotonic() - t0))
        a = admin()
        # B must be aborted by its timeout: the last stable offsets reach the
        # end offsets, which hold A, B and one marker per transaction and partition.
        per_partition = {q: 20 // KILL_PARTITIONS * 2 + 2 for q in range(KILL_PARTITIONS)}
        end = wait_stable(a, t, KILL_PARTITIONS, per_partition, timeout=45)
        log("B aborted %.1fs after the restart began" % (time.monotonic() - t0))
        expect_read(read_all(t, KILL_PARTITIONS, end, "read_committed"), rec_a, "read_committed after the abort of B")
        # P1 (the same instance, which lived through the crash) must not be
        # able to commit B any more.
        try:
            p1.commit_transaction(20)
            raise CaseFailed("P1's commit of B succeeded after B was aborted")
        except KafkaException as e:
            log("P1 commit of B after the abort: %s" % e)
        del p1
        p2 = Producer(tconf)
        p2.init_transactions(30)
        p2.begin_transaction()
        rec_c = produce_txn(p2, t, "C", 20, KILL_PARTITIONS)
        p2.commit_transaction(30)
        want_end = {q: n + 20 // KILL_PARTITIONS + 1 for q, n in per_partition.items()}
        end = wait_stable(a, t, KILL_PARTITIONS, want_end)
        expect_read(read_all(t, KILL_PARTITIONS, end, "read_committed"), rec_a + rec_c, "read_committed")
        expect_read(read_all(t, KILL_PARTITIONS, end, "read_uncommitted"), rec_a + rec_b + rec_c, "read_uncommitted")
    finally:
        BOOT = saved_boot

# --------------------------------------------------------------------------


def main():
    global BOOT
    if sys.argv[1:] in (["--list"], ["--list-group"], ["--list-nongroup"], ["--list-txn"]):
        for n, _, phase, _ in CASES:
            if sys.argv[1] in ("--list", "--list-" + phase):
                print(n)
        return 0
    if sys.argv[1:] == ["--list-xfail-on-fjord"]:
        for n, _, _, x in CASES:
            if x is not None:
                print(n)
        return 0
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    BOOT = sys.argv[1]
    only = set(sys.argv[2:])
    log("confluent-kafka %s, librdkafka %s, target %s, run %s" % (
        __import__("confluent_kafka").version(), __import__("confluent_kafka").libversion()[0], TARGET, RUN_ID))
    for name, fn, _, xfail_on_fjord in CASES:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        expect_fail = xfail_on_fjord is not None and TARGET == "fjord"
        try:
            fn(name)
            status, msg = ("xfail", "unexpected-pass") if expect_fail else ("pass", "")
        except Exception as e:  # noqa: BLE001 - every failure is a case failure
            if not isinstance(e, CaseFailed):
                traceback.print_exc(file=sys.stderr)
            if isinstance(e, CaseFailed):
                msg = str(e)
            else:
                # where in this file it happened, for exceptions without text
                # (a future's TimeoutError has none)
                where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
                at = (" at %s line %d: %s" % (where[-1].name, where[-1].lineno, where[-1].line)) if where else ""
                msg = "%s: %s%s" % (type(e).__name__, str(e) or "no answer before the deadline", at)
            msg = (msg.strip().splitlines() or [""])[0]
            status = "xfail" if expect_fail else "fail"
        log("%s %s in %.1fs" % (name, status, time.monotonic() - t0))
        print(("RESULT %s %s %s" % (name, status, msg)).rstrip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
