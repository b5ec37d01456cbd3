#!/usr/bin/env python3
"""Spark Structured Streaming compat suite (PySpark, spark-sql-kafka-0-10).

Usage: suite.py first  <bootstrap> <workdir>   set up every case, run the streaming
                                              job once, run the batch cases
       suite.py second <bootstrap> <workdir>   produce more, run the streaming job
                                              again from its checkpoint, check the sink
       suite.py --list                        print the case names

The two phases run in separate processes (so the second streaming run is a
real restart from the checkpoint); <workdir> carries the checkpoint and the
first phase's state (state.json) between them.

Prints one line per case:  RESULT <case> <pass|fail|xfail> <message>
Everything else (Spark and client logs, progress) goes to stderr.

Env: COMPAT_TARGET (fjord|kafka), COMPAT_SPARK_JARS (comma-separated jars:
the Kafka connector and what it needs, which run.sh resolves),
COMPAT_SPARK_CASE_TIMEOUT_S (bound of one Spark query, default 120),
COMPAT_SPARK_LOG4J (log4j2 configuration for the driver JVM).

Kafka is written and read back here with confluent-kafka (librdkafka), an
independent client: Spark's output is never checked with Spark.
"""

import json
import os
import re
import sys
import threading
import time
import traceback
from collections import Counter

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

TARGET = os.environ.get("COMPAT_TARGET", "fjord")
CASE_TIMEOUT_S = int(os.environ.get("COMPAT_SPARK_CASE_TIMEOUT_S", "120"))
RUN_ID = "%x%04x" % (int(time.time()), os.getpid() & 0xFFFF)
CASES = ["spark-stream-resume", "spark-batch-offsets", "spark-batch-timestamp"]

# Client-side bounds that every Spark Kafka source and sink gets, so a
# broker that does not answer fails a query instead of hanging it.
SOURCE_OPTIONS = {
    "kafka.request.timeout.ms": "20000",
    "kafka.default.api.timeout.ms": "30000",
    "kafkaConsumer.pollTimeoutMs": "30000",
    "fetchOffset.numRetries": "3",
    "fetchOffset.retryIntervalMs": "1000",
}
SINK_OPTIONS = {
    "kafka.request.timeout.ms": "20000",
    "kafka.delivery.timeout.ms": "60000",
    "kafka.max.block.ms": "30000",
}

# An open fjord issue covers these APIs (transactions; fjord implements the
# classic consumer-group APIs, so a failure involving those is a plain fail).
# A case that fails because the broker lacks one of them is xfail on fjord;
# any other failure is a plain fail.
TXN_APIS = "ADD_PARTITIONS_TO_TXN|ADD_OFFSETS_TO_TXN|END_TXN|TXN_OFFSET_COMMIT"
MISSING_TXN = re.compile(r"does not support (%s)\b" % TXN_APIS)


def log(*a):
    print("[spark]", *a, file=sys.stderr, flush=True)


class CaseFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def one_line(e):
    """The failure as one line: for a Java exception, its innermost cause."""
    if isinstance(e, CaseFailed):
        text = str(e)
    else:
        s = str(e)
        causes = [l.strip()[len("Caused by: "):] for l in s.splitlines() if l.strip().startswith("Caused by: ")]
        first = next((l.strip() for l in s.splitlines() if l.strip()), "")
        text = causes[-1] if causes else first
        if not text:
            text = type(e).__name__
        elif not causes and type(e).__name__ not in text:
            text = "%s: %s" % (type(e).__name__, text)
    text = " ".join(text.split())
    return text[:400] + ("..." if len(text) > 400 else "")


def report(case, error):
    """Prints the RESULT line of a case; error is None for a pass."""
    if error is None:
        print("RESULT %s pass" % case, flush=True)
        return
    msg = one_line(error)
    full = error if isinstance(error, str) else "%s\n%s" % (error, "".join(traceback.format_exception(error)))
    if TARGET == "fjord" and (MISSING_TXN.search(msg) or MISSING_TXN.search(str(full))):
        print("RESULT %s xfail %s" % (case, msg), flush=True)
    else:
        print("RESULT %s fail %s" % (case, msg), flush=True)


# --------------------------------------------------------------------------
# Kafka with confluent-kafka


def client_conf(boot, **extra):
    conf = {
        "bootstrap.servers": boot,
        "client.id": "fjord-compat-spark-check",
        "socket.timeout.ms": 10000,
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update(extra)
    return conf


def create_topic(boot, name, partitions, timeout=30):
    a = AdminClient(client_conf(boot))
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                         operation_timeout=timeout, request_timeout=timeout)
    for f in fs.values():
        f.result(timeout=timeout)
    # A KRaft broker can name a leader a moment before that leader serves
    # the partition: wait until every partition answers ListOffsets.
    deadline = time.monotonic() + timeout
    while True:
        try:
            md = a.list_topics(topic=name, timeout=10).topics.get(name)
            check(md is not None and md.error is None and len(md.partitions) == partitions
                  and all(p.leader >= 0 for p in md.partitions.values()), "no leaders yet")
            req = {TopicPartition(name, p): OffsetSpec.latest() for p in range(partitions)}
            for f in a.list_offsets(req, request_timeout=10).values():
                f.result(timeout=10)
            return
        except (KafkaException, CaseFailed) as e:
            if time.monotonic() > deadline:
                raise CaseFailed("partitions of %s not ready: %s" % (name, e))
            time.sleep(0.2)


def produce(boot, topic, records, timeout=60):
    """records: dicts with partition, key, value, and optionally headers
    (list of (key, bytes)) and timestamp (ms). Sends them in order with an
    idempotent producer and returns them with the offset each got."""
    p = Producer(client_conf(boot, **{"enable.idempotence": True, "linger.ms": 5}))
    out = [None] * len(records)
    errors = []

    def cb(i):
        def done(err, msg):
            if err is not None:
                errors.append(err)
            else:
                out[i] = dict(records[i], offset=msg.offset())
        return done

    for i, r in enumerate(records):
        kw = {}
        if r.get("headers"):
            kw["headers"] = r["headers"]
        if r.get("timestamp") is not None:
            kw["timestamp"] = r["timestamp"]
        while True:
            try:
                p.produce(topic, value=r["value"], key=r["key"], partition=r["partition"], on_delivery=cb(i), **kw)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(timeout)
    check(left == 0, "%d records to %s not delivered within %d s" % (left, topic, timeout))
    check(not errors, "producing to %s failed: %s" % (topic, errors[0] if errors else ""))
    return out


def read_all(boot, topic, partitions, timeout=60):
    """Every record of the topic, up to the high watermark of each partition
    at the time of the call, read with assign() (no group protocol)."""
    c = Consumer(client_conf(boot, **{
        # confluent-kafka wants a group.id; with assign() and no commits it is not used
        "group.id": "compat-spark-check-" + RUN_ID,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": 200,
    }))
    try:
        high = {}
        for p in range(partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            high[p] = hi
        out = {p: [] for p in range(partitions)}
        want = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions) if high[p] > 0]
        if not want:
            return out
        c.assign(want)
        deadline = time.monotonic() + timeout
        done = lambda: all((out[p][-1].offset() + 1 if out[p] else 0) >= high[p] for p in out)
        while not done():
            check(time.monotonic() < deadline, "reading %s back timed out: got %s, high watermarks %s" % (
                topic, {p: len(v) for p, v in out.items()}, high))
            for m in c.consume(num_messages=1000, timeout=1.0):
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise CaseFailed("reading %s back: %s" % (topic, m.error()))
                if m.offset() < high[m.partition()]:
                    out[m.partition()].append(m)
        return out
    finally:
        c.close()


# --------------------------------------------------------------------------
# Spark


def spark_session(app):
    from pyspark.sql import SparkSession

    jars = os.environ.get("COMPAT_SPARK_JARS", "")
    check(jars, "COMPAT_SPARK_JARS is empty: no Kafka connector jars")
    b = (SparkSession.builder.appName(app)
         .master("local[2]")
         .config("spark.jars", jars)
         .config("spark.driver.memory", "1g")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC"))
    if os.environ.get("COMPAT_SPARK_LOG4J"):
        b = b.config("spark.driver.extraJavaOptions", "-Dlog4j2.configurationFile=" + os.environ["COMPAT_SPARK_LOG4J"])
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log("Spark %s, Kafka connector jars: %s" % (spark.version, ", ".join(os.path.basename(j) for j in jars.split(","))))
    return spark


def bounded_collect(spark, df, what):
    """df.collect(), cancelled after CASE_TIMEOUT_S (the Kafka client
    options above bound the driver-side offset look-ups on their own)."""
    sc = spark.sparkContext
    group = "compat-%s-%d" % (what, time.monotonic_ns())
    result = {}

    def run():
        try:
            sc.setJobGroup(group, what, interruptOnCancel=True)
            result["rows"] = df.collect()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result["error"] = e

    t = threading.Thread(target=run, name=what, daemon=True)
    t.start()
    t.join(CASE_TIMEOUT_S)
    if t.is_alive():
        sc.cancelJobGroup(group)
        t.join(30)
        raise CaseFailed("%s did not finish within %d s" % (what, CASE_TIMEOUT_S))
    if "error" in result:
        raise result["error"]
    return result["rows"]


def rows_of(spark, df, what):
    """Collects a Kafka DataFrame as comparable tuples:
    (partition, offset, key, value, timestamp ms, timestampType, headers)."""
    df = df.selectExpr("topic", "partition", "offset", "key", "value",
                       "unix_millis(timestamp) AS ts", "timestampType", "headers")
    out = []
    for r in bounded_collect(spark, df, what):
        headers = tuple((h["key"], bytes(h["value"]) if h["value"] is not None else None) for h in (r["headers"] or []))
        out.append((r["topic"], r["partition"], r["offset"],
                    bytes(r["key"]) if r["key"] is not None else None,
                    bytes(r["value"]) if r["value"] is not None else None,
                    r["ts"], r["timestampType"], headers))
    return sorted(out, key=lambda t: (t[1], t[2]))


def expected_rows(topic, delivered, keep):
    out = []
    for d in delivered:
        if keep(d):
            out.append((topic, d["partition"], d["offset"], d["key"], d["value"], d["timestamp"], 0,
                        tuple(d.get("headers") or ())))
    return sorted(out, key=lambda t: (t[1], t[2]))


def compare_rows(got, want, what):
    if got == want:
        return
    gotk = {(g[1], g[2]): g for g in got}
    wantk = {(w[1], w[2]): w for w in want}
    extra = sorted(set(gotk) - set(wantk))
    missing = sorted(set(wantk) - set(gotk))
    differ = sorted(k for k in set(gotk) & set(wantk) if gotk[k] != wantk[k])
    parts = ["%s: %d rows, %d expected" % (what, len(got), len(want))]
    if missing:
        parts.append("missing (partition, offset) %s%s" % (missing[:4], "..." if len(missing) > 4 else ""))
    if extra:
        parts.append("unexpected %s%s" % (extra[:4], "..." if len(extra) > 4 else ""))
    if differ:
        k = differ[0]
        parts.append("%d differ, first at %s: got %r, expected %r" % (len(differ), k, gotk[k][3:], wantk[k][3:]))
    if len(got) != len(gotk):
        parts.append("duplicate (partition, offset) rows")
    raise CaseFailed("; ".join(parts))


# --------------------------------------------------------------------------
# spark-stream-resume: source -> upper-case + suffix -> sink, availableNow,
# twice from the same checkpoint.

RESUME_PARTITIONS = 2
RESUME_FIRST = 600
RESUME_SECOND = 400
SUFFIX = "|SPARK"


def resume_records(run_id, start, count):
    recs = []
    for i in range(start, start + count):
        headers = [("src", b"resume-%d" % i)]
        if i % 7 == 0:
            headers.append(("src", b"again"))  # duplicate header keys must survive, in order
        recs.append({
            "partition": i % RESUME_PARTITIONS,
            "key": b"k-%05d" % i,
            "value": b"resume %s record %05d of the source, mixed Case text" % (run_id.encode(), i),
            "headers": headers,
        })
    return recs


def run_stream(spark, boot, source, sink, checkpoint, label):
    """One run of the streaming job with trigger availableNow; returns the
    number of input rows it processed."""
    opts = dict(SOURCE_OPTIONS, **{
        "kafka.bootstrap.servers": boot,
        "subscribe": source,
        "startingOffsets": "earliest",
        "includeHeaders": "true",
    })
    src = spark.readStream.format("kafka").options(**opts).load()
    out = src.selectExpr("key", "concat(upper(CAST(value AS STRING)), '%s') AS value" % SUFFIX, "headers")
    q = (out.writeStream.format("kafka")
         .options(**dict(SINK_OPTIONS, **{"kafka.bootstrap.servers": boot, "topic": sink}))
         .option("checkpointLocation", checkpoint)
         .queryName("compat_resume_%s" % label)
         .trigger(availableNow=True)
         .start())
    finished = q.awaitTermination(CASE_TIMEOUT_S)
    if not finished:
        q.stop()
        raise CaseFailed("streaming run %s did not end within %d s (status %s)" % (label, CASE_TIMEOUT_S, q.status))
    if q.exception() is not None:
        raise q.exception()
    rows = sum(p.get("numInputRows", 0) for p in q.recentProgress)
    log("streaming run %s: %d input rows in %d batches" % (label, rows, len(q.recentProgress)))
    return rows


def check_sink(boot, sink, source_records, label):
    got = read_all(boot, sink, RESUME_PARTITIONS)
    got = Counter((m.key(), m.value(), tuple(m.headers() or ())) for ms in got.values() for m in ms)
    want = Counter((r["key"], r["value"].upper() + SUFFIX.encode(), tuple(r["headers"])) for r in source_records)
    if got == want:
        return
    missing = want - got
    extra = got - want
    n = sum(got.values())
    msg = "after streaming run %s the sink holds %d records, %d expected" % (label, n, sum(want.values()))
    if missing:
        msg += "; %d missing (e.g. %r)" % (sum(missing.values()), next(iter(missing))[1])
    if extra:
        dup = sum(c for k, c in extra.items() if k in want)
        msg += "; %d extra, %d of them duplicates (e.g. %r)" % (sum(extra.values()), dup, next(iter(extra))[1])
    raise CaseFailed(msg)


# --------------------------------------------------------------------------
# spark-batch-offsets: startingOffsets/endingOffsets as JSON per partition.

OFFSETS_PARTITIONS = 3
OFFSETS_PER_PARTITION = 40
# partition -> (starting, ending); -2 earliest, -1 latest
OFFSETS_RANGES = {0: (5, 25), 1: (-2, 30), 2: (17, -1)}


def offsets_records(run_id, ts_base):
    recs = []
    for p in range(OFFSETS_PARTITIONS):
        for i in range(OFFSETS_PER_PARTITION):
            # binary values with every byte value: nothing may be text-mangled
            body = bytes(((i * 31 + p * 17 + j * 7) & 0xFF) for j in range(64))
            headers = [("n", b"%d" % i)]
            if i % 5 == 0:
                headers += [("dup", b"first"), ("dup", b"second")]
            recs.append({
                "partition": p,
                "key": None if i % 13 == 12 else b"off-%s-p%d-%03d" % (run_id.encode(), p, i),
                "value": b"off-%d-%03d|" % (p, i) + body,
                "headers": headers,
                "timestamp": ts_base + p * 100_000 + i,
            })
    return recs


def case_batch_offsets(spark, boot, st):
    topic = st["offsets_topic"]
    delivered = st["offsets_delivered"]
    starting = {topic: {str(p): s for p, (s, e) in OFFSETS_RANGES.items()}}
    ending = {topic: {str(p): e for p, (s, e) in OFFSETS_RANGES.items()}}
    df = (spark.read.format("kafka")
          .options(**SOURCE_OPTIONS)
          .option("kafka.bootstrap.servers", boot)
          .option("assign", json.dumps({topic: list(range(OFFSETS_PARTITIONS))}))
          .option("startingOffsets", json.dumps(starting))
          .option("endingOffsets", json.dumps(ending))
          .option("includeHeaders", "true")
          .load())
    got = rows_of(spark, df, "batch-offsets")

    def keep(d):
        s, e = OFFSETS_RANGES[d["partition"]]
        lo = 0 if s == -2 else s
        hi = OFFSETS_PER_PARTITION if e == -1 else e
        return lo <= d["offset"] < hi

    want = expected_rows(topic, delivered, keep)
    check(len(want) == 20 + 30 + 23, "test bug: %d expected rows" % len(want))
    compare_rows(got, want, "batch read of %s with startingOffsets %s, endingOffsets %s" % (
        topic, json.dumps(starting[topic]), json.dumps(ending[topic])))


# --------------------------------------------------------------------------
# spark-batch-timestamp: startingTimestamp for all partitions, then
# startingOffsetsByTimestamp / endingOffsetsByTimestamp per partition.

TS_PARTITIONS = 2
TS_PER_PARTITION = 50


def timestamp_records(run_id, ts_base):
    recs = []
    for p in range(TS_PARTITIONS):
        for i in range(TS_PER_PARTITION):
            recs.append({
                "partition": p,
                "key": b"ts-%d-%03d" % (p, i),
                "value": b"ts %s p%d #%03d" % (run_id.encode(), p, i),
                # one record a second; partition 1 half a second later
                "timestamp": ts_base + i * 1000 + p * 500,
            })
    return recs


def case_batch_timestamp(spark, boot, st):
    topic = st["ts_topic"]
    base = st["ts_base"]
    delivered = st["ts_delivered"]

    # 1. startingTimestamp: every record at or after the timestamp, in every partition.
    cutoff = base + 20_000
    df = (spark.read.format("kafka")
          .options(**SOURCE_OPTIONS)
          .option("kafka.bootstrap.servers", boot)
          .option("subscribePattern", re.escape(topic))
          .option("startingTimestamp", str(cutoff))
          .option("includeHeaders", "true")
          .load())
    got = rows_of(spark, df, "batch-starting-timestamp")
    want = expected_rows(topic, delivered, lambda d: d["timestamp"] >= cutoff)
    check(len(want) == 60, "test bug: %d expected rows" % len(want))
    compare_rows(got, want, "batch read with startingTimestamp=%d (base+20 s)" % cutoff)

    # 2. Per partition: from the first record at or after start to the
    # first record at or after end (exclusive).
    ranges = {0: (base + 5_000, base + 30_000), 1: (base + 33_600, base + 45_000)}
    df = (spark.read.format("kafka")
          .options(**SOURCE_OPTIONS)
          .option("kafka.bootstrap.servers", boot)
          .option("subscribe", topic)
          .option("startingOffsetsByTimestamp", json.dumps({topic: {str(p): s for p, (s, e) in ranges.items()}}))
          .option("endingOffsetsByTimestamp", json.dumps({topic: {str(p): e for p, (s, e) in ranges.items()}}))
          .option("includeHeaders", "true")
          .load())
    got = rows_of(spark, df, "batch-offsets-by-timestamp")
    want = expected_rows(topic, delivered, lambda d: ranges[d["partition"]][0] <= d["timestamp"] < ranges[d["partition"]][1])
    check(len(want) == 25 + 11, "test bug: %d expected rows" % len(want))
    compare_rows(got, want, "batch read with startingOffsetsByTimestamp/endingOffsetsByTimestamp (base+5..30 s, base+33.6..45 s)")


# --------------------------------------------------------------------------
# phases


def first(boot, workdir):
    st = {"run_id": RUN_ID}
    errors = {}
    # Set up every case with plain producers before Spark starts.
    try:
        st["resume_source"] = "compat-spark-resume-src-" + RUN_ID
        st["resume_sink"] = "compat-spark-resume-sink-" + RUN_ID
        create_topic(boot, st["resume_source"], RESUME_PARTITIONS)
        create_topic(boot, st["resume_sink"], RESUME_PARTITIONS)
        produce(boot, st["resume_source"], resume_records(RUN_ID, 0, RESUME_FIRST))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        errors["spark-stream-resume"] = e
    # Timestamps a few minutes in the past: inside any retention, and not
    # in the future (Kafka 4 rejects timestamps more than an hour ahead).
    ts_base = (int(time.time()) - 600) * 1000
    try:
        st["offsets_topic"] = "compat-spark-offsets-" + RUN_ID
        create_topic(boot, st["offsets_topic"], OFFSETS_PARTITIONS)
        st["offsets_delivered"] = produce(boot, st["offsets_topic"], offsets_records(RUN_ID, ts_base))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        errors["spark-batch-offsets"] = e
    try:
        st["ts_topic"] = "compat-spark-ts-" + RUN_ID
        st["ts_base"] = ts_base
        create_topic(boot, st["ts_topic"], TS_PARTITIONS)
        st["ts_delivered"] = produce(boot, st["ts_topic"], timestamp_records(RUN_ID, ts_base))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        errors["spark-batch-timestamp"] = e

    try:
        spark = spark_session("compat-spark-first")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        for c in CASES:
            report(c, errors.get(c, e))
        st["resume_failed"] = True
        save(workdir, st)
        return

    # spark-stream-resume, first run: its RESULT comes from the second phase.
    if "spark-stream-resume" not in errors:
        try:
            t0 = time.monotonic()
            n = run_stream(spark, boot, st["resume_source"], st["resume_sink"], os.path.join(workdir, "checkpoint"), "1")
            log("first streaming run took %.1f s" % (time.monotonic() - t0))
            check(n == RESUME_FIRST, "first streaming run read %d rows, %d in the source" % (n, RESUME_FIRST))
            check_sink(boot, st["resume_sink"], resume_records(RUN_ID, 0, RESUME_FIRST), "1")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            errors["spark-stream-resume"] = e
    if "spark-stream-resume" in errors:
        report("spark-stream-resume", errors["spark-stream-resume"])
        st["resume_failed"] = True

    for case, body in (("spark-batch-offsets", case_batch_offsets), ("spark-batch-timestamp", case_batch_timestamp)):
        if case in errors:
            report(case, errors[case])
            continue
        t0 = time.monotonic()
        try:
            body(spark, boot, st)
            log("%s passed in %.1f s" % (case, time.monotonic() - t0))
            report(case, None)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            report(case, e)

    for k in ("offsets_delivered", "ts_delivered"):
        st.pop(k, None)
    save(workdir, st)
    spark.stop()


def second(boot, workdir):
    with open(os.path.join(workdir, "state.json")) as f:
        st = json.load(f)
    if st.get("resume_failed"):
        return  # the first phase reported it
    run_id = st["run_id"]
    try:
        produce(boot, st["resume_source"], resume_records(run_id, RESUME_FIRST, RESUME_SECOND))
        spark = spark_session("compat-spark-second")
        try:
            n = run_stream(spark, boot, st["resume_source"], st["resume_sink"], os.path.join(workdir, "checkpoint"), "2")
            check(n == RESUME_SECOND, "second streaming run (same checkpoint) read %d rows; %d were produced after the first run" % (
                n, RESUME_SECOND))
            check_sink(boot, st["resume_sink"], resume_records(run_id, 0, RESUME_FIRST + RESUME_SECOND), "2")
        finally:
            spark.stop()
        report("spark-stream-resume", None)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        report("spark-stream-resume", e)


def save(workdir, st):
    with open(os.path.join(workdir, "state.json"), "w") as f:
        json.dump(st, f)


def main(argv):
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) != 4 or argv[1] not in ("first", "second"):
        print(__doc__, file=sys.stderr)
        return 2
    phase, boot, workdir = argv[1:]
    log("phase %s against %s (%s), run %s" % (phase, boot, TARGET, RUN_ID))
    if phase == "first":
        first(boot, workdir)
    else:
        second(boot, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
