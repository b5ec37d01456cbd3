#!/usr/bin/env python3
"""Checkers and input generators for compat/cli/run.sh (standard library only).

Each checker reads a tool's stdout on stdin and prints nothing when all is
well, or one line saying what is wrong.

  check.py console-input N                    lines for the console producer
  check.py verifiable-producer N ACKED_OUT    check VerifiableProducer events; write "partition offset value" lines
  check.py verifiable-consumer ACKED          check VerifiableConsumer events cover every acked record
  check.py log-dirs TOPIC PARTITIONS MIN_BYTES check LogDirsCommand JSON
  check.py describe-producers SEQ:FROM:TO...  check `kafka-transactions describe-producers`: one producer per
                                              argument, with that last sequence and a last timestamp in [FROM, TO]
  check.py kill-after N DELAY_MS LIMIT_S OUT -- CMD...
                                              run CMD (TransactionalMessageCopier), its stdout to OUT; once a
                                              status line says totalProcessed >= N, wait DELAY_MS and SIGKILL it.
                                              Fails if CMD ends first or N is not reached within LIMIT_S
  check.py copier-done N OUT                  OUT: a copier's stdout; it ended with remaining 0 and processed N
  check.py txn-tables TXN_ID TIMEOUT_MS FROM TO LIST DESCRIBE DP...
                                              check `kafka-transactions list` (file LIST), `describe` (DESCRIBE)
                                              and `describe-producers` of each partition (files DP...) after
                                              TXN_ID committed; FROM..TO brackets its transactions (ms)
  check.py max-timestamp                      stdin: console consumer lines "CreateTime:<ts>\tOffset:<o>\t..."; print
                                              the offset Kafka reports for max-timestamp (first offset with the largest timestamp)
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time


def events(stream):
    for line in stream:
        if line.startswith("{"):
            yield json.loads(line)


def console_input(n):
    # headers<TAB>key<TAB>value; null key/value markers, an empty value,
    # repeated header keys, an empty header value and non-ASCII text
    out = sys.stdout
    for i in range(n):
        key = "<null>" if i % 50 == 7 else "key-%d" % i
        if i % 50 == 9:
            value = "<null>"
        elif i % 50 == 11:
            value = ""
        else:
            value = "value %d \u00fcn\u00efc\u00f6d\u00e9 \u2713 %s" % (i, "x" * (i % 13))
        headers = "idx:%d,dup:a,dup:b,empty:" % i
        out.write("%s\t%s\t%s\n" % (headers, key, value))


def verifiable_producer(n, acked_path):
    acked, errors, tool = [], [], None
    for ev in events(sys.stdin):
        if ev["name"] == "producer_send_success":
            acked.append((ev["partition"], ev["offset"], ev["value"]))
        elif ev["name"] == "producer_send_error":
            errors.append(ev)
        elif ev["name"] == "tool_data":
            tool = ev
    if errors:
        return "%d send errors, first: %s" % (len(errors), errors[0].get("message"))
    if tool is None or tool["sent"] != n or tool["acked"] != n:
        return "tool_data %s, want sent=acked=%d" % (tool, n)
    if sorted(int(v) for _, _, v in acked) != list(range(n)):
        return "acked values are not exactly 0..%d" % (n - 1)
    by_partition = {}
    for p, o, _ in acked:
        by_partition.setdefault(p, set()).add(o)
    for p, offs in by_partition.items():
        if offs != set(range(len(offs))):
            return "partition %d: acked offsets are not 0..%d" % (p, len(offs) - 1)
    if len(by_partition) != 2:
        return "records acked on %d of 2 partitions" % len(by_partition)
    with open(acked_path, "w") as f:
        for p, o, v in sorted(acked):
            f.write("%d %d %s\n" % (p, o, v))
    return None


def verifiable_consumer(acked_path):
    acked = {}
    with open(acked_path) as f:
        for line in f:
            p, o, _ = line.split(" ", 2)
            acked.setdefault(int(p), set()).add(int(o))
    consumed, committed, names = {}, {}, set()
    for ev in events(sys.stdin):
        names.add(ev["name"])
        if ev["name"] == "records_consumed":
            for r in ev["partitions"]:
                consumed.setdefault(r["partition"], set()).update(range(r["minOffset"], r["maxOffset"] + 1))
        elif ev["name"] == "offsets_committed":
            if not ev.get("success"):
                return "offset commit failed: %s" % ev.get("error")
            for r in ev["offsets"]:
                committed[r["partition"]] = max(committed.get(r["partition"], 0), r["offset"])
    for p, offs in sorted(acked.items()):
        missing = offs - consumed.get(p, set())
        if missing:
            return "partition %d: %d acked records not consumed (first offset %d); events seen %s" % (
                p, len(missing), min(missing), sorted(names))
        if committed.get(p) != max(offs) + 1:
            return "partition %d: committed %s, want %d" % (p, committed.get(p), max(offs) + 1)
    return None


def log_dirs(topic, partitions, min_bytes):
    sizes = {}
    docs = list(events(sys.stdin))
    if not docs:
        return "no JSON document in the output"
    for b in docs[0]["brokers"]:
        for d in b["logDirs"]:
            if d.get("error"):
                return "log dir %s: error %s" % (d.get("logDir"), d["error"])
            for p in d["partitions"]:
                sizes[p["partition"]] = p["size"]
    want = {"%s-%d" % (topic, i) for i in range(partitions)}
    if set(sizes) != want:
        return "partitions listed: %s, want %s" % (sorted(sizes), sorted(want))
    if sum(sizes.values()) < min_bytes:
        return "sizes %s add up to less than %d bytes" % (sizes, min_bytes)
    return None


DESCRIBE_PRODUCERS_HEADERS = [
    "ProducerId",
    "ProducerEpoch",
    "LatestCoordinatorEpoch",
    "LastSequence",
    "LastTimestamp",
    "CurrentTransactionStartOffset",
]


def describe_producers(expected):
    # A table: the header row, then one row per producer, in no set order.
    lines = [l.split() for l in sys.stdin.read().splitlines() if l.strip()]
    if not lines or lines[0] != DESCRIBE_PRODUCERS_HEADERS:
        return "header row %s, want %s" % (lines[0] if lines else None, DESCRIBE_PRODUCERS_HEADERS)
    rows = lines[1:]
    if len(rows) != len(expected):
        return "%d producer rows %s, want %d" % (len(rows), rows, len(expected))
    by_seq = {}
    for row in rows:
        if len(row) != len(DESCRIBE_PRODUCERS_HEADERS):
            return "row %s has %d columns" % (row, len(row))
        pid, epoch, coordinator_epoch, last_seq, last_ts, txn_start = row
        if int(pid) < 0 or (epoch, coordinator_epoch, txn_start) != ("0", "-1", "None"):
            return "row %s: want a producer id, epoch 0, coordinator epoch -1 and no transaction" % row
        by_seq[int(last_seq)] = (pid, int(last_ts))
    if len({pid for pid, _ in by_seq.values()}) != len(rows):
        return "producer ids repeat: %s" % rows
    for spec in expected:
        seq, lo, hi = (int(x) for x in spec.split(":"))
        if seq not in by_seq:
            return "no producer with last sequence %d: %s" % (seq, rows)
        if not lo <= by_seq[seq][1] <= hi:
            return "last sequence %d: last timestamp %d outside [%d, %d]" % (seq, by_seq[seq][1], lo, hi)
    return None


def max_timestamp():
    best = None
    for line in sys.stdin:
        fields = dict(f.split(":", 1) for f in line.rstrip("\n").split("\t")[:2])
        ts, off = int(fields["CreateTime"]), int(fields["Offset"])
        if best is None or ts > best[0]:
            best = (ts, off)
    print(best[1] if best else "none")


def kill_after(n, delay_ms, limit_s, out_path, cmd):
    """Runs cmd, copying its stdout to out_path line by line; SIGKILLs it
    delay_ms after the first status line with totalProcessed >= n."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    timer = threading.Timer(limit_s, proc.kill)
    timer.start()
    reached = None
    try:
        with open(out_path, "w") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict) and ev.get("totalProcessed", -1) >= n:
                    reached = ev["totalProcessed"]
                    time.sleep(delay_ms / 1000.0)
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        rc = proc.wait()
    finally:
        timer.cancel()
    if reached is None:
        return "copier ended (status %d) before it had processed %d records (limit %ds)" % (rc, n, limit_s)
    if rc != -signal.SIGKILL:
        return "copier exited with status %d before the SIGKILL" % rc
    print("killed (SIGKILL) %d ms after totalProcessed %d" % (delay_ms, reached), file=sys.stderr)
    return None


def copier_done(n, out_path):
    evs = []
    with open(out_path) as f:
        for line in f:
            if line.startswith("{"):
                evs.append(json.loads(line))
    if not evs:
        return "the copier printed no status line"
    first, last = evs[0], evs[-1]
    if last.get("stage") != "ShutdownComplete" or last.get("remaining") != 0:
        return "the copier's last status is %s, want stage ShutdownComplete with remaining 0" % last
    if first.get("remaining") != n or last.get("totalProcessed") != n:
        return "the copier started with %s remaining and processed %s, want %d" % (
            first.get("remaining"), last.get("totalProcessed"), n)
    return None


def tool_table(path):
    """A kafka-transactions table (tab-separated, padded): the header and rows
    as lists of stripped cells."""
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    rows = [[c.strip() for c in l.split("\t")] for l in lines]
    rows = [r[:-1] if r and r[-1] == "" else r for r in rows]  # each line ends with a tab
    return (rows[0], rows[1:]) if rows else ([], [])


TXN_LIST_HEADERS = ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
TXN_DESCRIBE_HEADERS = ["CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState",
                        "TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs",
                        "TopicPartitions"]


def txn_tables(txn_id, timeout_ms, lo, hi, list_path, describe_path, dp_paths):
    head, rows = tool_table(list_path)
    if head != TXN_LIST_HEADERS:
        return "list: header %s, want %s" % (head, TXN_LIST_HEADERS)
    mine = [r for r in rows if r and r[0] == txn_id]
    if len(mine) != 1:
        return "list: %d rows for %s among %d" % (len(mine), txn_id, len(rows))
    _, coordinator, pid, state = (mine[0] + [""] * 4)[:4]
    if not coordinator.isdigit() or not pid.isdigit() or state != "CompleteCommit":
        return "list: row %s, want a coordinator id, a producer id and CompleteCommit" % mine[0]
    head, rows = tool_table(describe_path)
    if head != TXN_DESCRIBE_HEADERS:
        return "describe: header %s, want %s" % (head, TXN_DESCRIBE_HEADERS)
    if len(rows) != 1:
        return "describe: %d rows" % len(rows)
    row = (rows[0] + [""])[:len(TXN_DESCRIBE_HEADERS)]
    d = dict(zip(TXN_DESCRIBE_HEADERS, row))
    if (d["CoordinatorId"], d["TransactionalId"], d["ProducerId"]) != (coordinator, txn_id, pid):
        return "describe: %s, want coordinator %s, id %s, producer id %s as listed" % (row, coordinator, txn_id, pid)
    if not d["ProducerEpoch"].isdigit() or int(d["ProducerEpoch"]) < 1:
        return "describe: producer epoch %r, want at least 1 (every commit bumps it)" % d["ProducerEpoch"]
    if d["TransactionState"] != "CompleteCommit" or d["TransactionTimeoutMs"] != str(timeout_ms):
        return "describe: state %s, timeout %s, want CompleteCommit and %d" % (
            d["TransactionState"], d["TransactionTimeoutMs"], timeout_ms)
    start = d["CurrentTransactionStartTimeMs"]
    if not start.isdigit() or not lo <= int(start) <= hi:
        return "describe: CurrentTransactionStartTimeMs %r, want the last transaction's start in [%d, %d]" % (start, lo, hi)
    if not d["TransactionDurationMs"].isdigit():
        return "describe: TransactionDurationMs %r" % d["TransactionDurationMs"]
    if d["TopicPartitions"]:
        return "describe: a completed transaction with partitions %s" % d["TopicPartitions"]
    epoch = int(d["ProducerEpoch"])
    for q, path in enumerate(dp_paths):
        head, rows = tool_table(path)
        if head != DESCRIBE_PRODUCERS_HEADERS:
            return "describe-producers partition %d: header %s" % (q, head)
        if len(rows) != 1 or rows[0][0] != pid:
            return "describe-producers partition %d: rows %s, want producer %s alone" % (q, rows, pid)
        if not rows[0][1].isdigit() or int(rows[0][1]) > epoch or rows[0][5] != "None":
            return "describe-producers partition %d: %s, want an epoch <= %d and no open transaction" % (q, rows[0], epoch)
    return None


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "console-input":
        console_input(int(args[0]))
        return
    if cmd == "max-timestamp":
        max_timestamp()
        return
    if cmd == "kill-after":
        sep = args.index("--")
        msg = kill_after(int(args[0]), int(args[1]), int(args[2]), args[3], args[sep + 1:])
        if msg:
            print(msg)
        return
    if cmd == "verifiable-producer":
        msg = verifiable_producer(int(args[0]), args[1])
    elif cmd == "verifiable-consumer":
        msg = verifiable_consumer(args[0])
    elif cmd == "log-dirs":
        msg = log_dirs(args[0], int(args[1]), int(args[2]))
    elif cmd == "describe-producers":
        msg = describe_producers(args)
    elif cmd == "copier-done":
        msg = copier_done(int(args[0]), args[1])
    elif cmd == "txn-tables":
        msg = txn_tables(args[0], int(args[1]), int(args[2]), int(args[3]), args[4], args[5], args[6:])
    else:
        msg = "unknown command %s" % cmd
    if msg:
        print(msg)


if __name__ == "__main__":
    main()
