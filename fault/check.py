#!/usr/bin/env python3
"""The fault harness's checker (fault/README.md): reads every replica of every
partition of a topic straight from the nodes' data directories and holds them
against what the producers were told was acknowledged and what the consumers
saw.

Usage:
  check.py --topic T --data NODE_LOG_DIR [--data ...] [--acked FILE ...] [--seen FILE ...]

  --data      a node's log.dirs directory (holds T-0/, T-1/, ...); the node is
              named by its position (1, 2, ...) or as ID=DIR
  --acked     a producer's file: "A PARTITION OFFSET VALUE" per acknowledged
              record ("F VALUE ERROR" lines, failed sends, are ignored)
  --seen      a consumer's file: "S PARTITION OFFSET VALUE" per record received

Values are "PRODUCER:SEQ"; one producer's SEQ rises by one per send.

The log of a partition is its longest replica (the most records); then
  lost        acknowledged records that are not at their acknowledged offset
              in the log (absent, or somewhere else)
  duplicated  extra copies of a value anywhere in the topic's logs
  reordered   records whose SEQ is below an earlier SEQ of the same producer
              in the same partition's log
  divergent   offsets, up to a replica's end, where the replica holds something
              else than the log (another value, or no record there)
  unread      records a consumer saw at (partition, offset) that the log does
              not hold there: seen, then gone
  corrupt     batches whose CRC-32C does not match, or that cannot be parsed,
              before a replica's end (a torn last batch is the end, not corrupt)

The last line is "fault-check: lost=N duplicated=N reordered=N divergent=N
unread=N corrupt=N (...)"; exit status 1 when any of those is not 0, 2 on a
usage error or when there is nothing to check.

Segment files are Kafka's record batch format v2 (magic 2), the format fjord
writes too. Only uncompressed batches are decoded (the harness's producers
send compression none); a compressed batch is counted corrupt. Control
batches (transaction markers) carry no records of ours and are skipped.
"""
import argparse
import os
import re
import struct
import sys
from collections import defaultdict

# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected, polynomial 0x82F63B78


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------
# record batch v2

BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")  # 61 bytes
HEADER_LEN = BATCH_HEADER.size
assert HEADER_LEN == 61


class Corrupt(Exception):
    pass


def _varint(buf, pos):
    """A zigzag varint (Kafka's varint/varlong) at pos: (value, new pos)."""
    shift = 0
    raw = 0
    while True:
        if pos >= len(buf):
            raise Corrupt("varint past the end of the batch")
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise Corrupt("varint too long")
    return (raw >> 1) ^ -(raw & 1), pos


def _bytes(buf, pos):
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    if pos + n > len(buf):
        raise Corrupt("field past the end of the batch")
    return bytes(buf[pos:pos + n]), pos + n


class Record:
    __slots__ = ("offset", "key", "value", "producer_id", "producer_epoch", "sequence")

    def __init__(self, offset, key, value, producer_id, producer_epoch, sequence):
        self.offset = offset
        self.key = key
        self.value = value
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.sequence = sequence

    def identity(self):
        """What must be equal between two replicas holding this offset."""
        return (self.key, self.value, self.producer_id, self.producer_epoch, self.sequence)


def parse_batches(data: bytes):
    """Yields the records of every batch in a segment file's bytes; returns
    (records, corrupt_count). Parsing stops at a batch that runs past the end
    of the data (a torn write, or a preallocated zero tail) or that cannot be
    parsed; a complete batch with a wrong CRC is counted corrupt and skipped."""
    records = []
    corrupt = 0
    pos = 0
    n = len(data)
    while pos + 12 <= n:
        base_offset, batch_len = struct.unpack_from(">qi", data, pos)
        if batch_len == 0 and base_offset == 0 and not any(data[pos:pos + 12]):
            break  # zero-filled (preallocated) tail
        end = pos + 12 + batch_len
        if batch_len < HEADER_LEN - 12 or end > n:
            break  # torn tail: the segment's end
        (base_offset, _len, _leader_epoch, magic, crc, attrs, last_delta, _base_ts, _max_ts,
         pid, pepoch, base_seq, count) = BATCH_HEADER.unpack_from(data, pos)
        if magic != 2:
            corrupt += 1
            break
        if crc32c(data[pos + 21:end]) != crc:
            corrupt += 1
            pos = end
            continue
        if attrs & 0x20:  # control batch
            pos = end
            continue
        if attrs & 0x07:
            corrupt += 1  # compressed: not decoded here
            pos = end
            continue
        try:
            rpos = pos + HEADER_LEN
            got = []
            for i in range(count):
                length, rpos = _varint(data, rpos)
                rend = rpos + length
                if rend > end:
                    raise Corrupt("record past the end of its batch")
                rpos += 1  # attributes
                _ts, rpos = _varint(data, rpos)
                delta, rpos = _varint(data, rpos)
                key, rpos = _bytes(data, rpos)
                value, rpos = _bytes(data, rpos)
                seq = base_seq + i if base_seq >= 0 else -1
                got.append(Record(base_offset + delta, key, value, pid, pepoch, seq))
                rpos = rend  # headers are not ours to check
            if got and got[-1].offset != base_offset + last_delta:
                raise Corrupt("last offset delta does not match the records")
            records.extend(got)
        except Corrupt:
            corrupt += 1
        pos = end
    return records, corrupt


def read_replica(partition_dir: str):
    """Every record of one replica, in offset order, from its *.log segments."""
    records = []
    corrupt = 0
    for name in sorted(f for f in os.listdir(partition_dir) if re.fullmatch(r"\d{20}\.log", f)):
        with open(os.path.join(partition_dir, name), "rb") as f:
            recs, bad = parse_batches(f.read())
        records.extend(recs)
        corrupt += bad
    records.sort(key=lambda r: r.offset)
    return records, corrupt


# ---------------------------------------------------------------------------
# the check


def parse_value(value):
    """b"NAME:SEQ" -> (NAME, SEQ), or None for a value that is not ours."""
    if value is None:
        return None
    try:
        s = value.decode()
        name, seq = s.rsplit(":", 1)
        return name, int(seq)
    except (UnicodeDecodeError, ValueError):
        return None


def read_lines(path, tag):
    """(partition, offset, value bytes) of every TAG line of a client file."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            parts = raw.rstrip(b"\n").split(b" ", 3)
            if len(parts) == 4 and parts[0] == tag.encode():
                try:
                    out.append((int(parts[1]), int(parts[2]), parts[3]))
                except ValueError:
                    pass  # a line torn by a kill: the file's last, never acknowledged
    return out


class Report:
    COUNTS = ("lost", "duplicated", "reordered", "divergent", "unread", "corrupt")

    def __init__(self):
        self.counts = {c: 0 for c in self.COUNTS}
        self.examples = defaultdict(list)
        self.info = {}

    def add(self, what, example, n=1):
        self.counts[what] += n
        if len(self.examples[what]) < 10:
            self.examples[what].append(example)

    def failed(self):
        return any(self.counts.values())

    def line(self):
        counts = " ".join(f"{c}={self.counts[c]}" for c in self.COUNTS)
        info = ", ".join(f"{k} {v}" for k, v in self.info.items())
        return f"fault-check: {counts} ({info})"


def check(topic, data_dirs, acked_files, seen_files):
    """data_dirs: {node id: log dir}. Returns a Report."""
    rep = Report()
    # replicas[partition][node] = [Record...]
    replicas = defaultdict(dict)
    pat = re.compile(re.escape(topic) + r"-(\d+)")
    for node, d in sorted(data_dirs.items()):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            m = pat.fullmatch(name)
            if not m:
                continue
            recs, bad = read_replica(os.path.join(d, name))
            p = int(m.group(1))
            replicas[p][node] = recs
            if bad:
                rep.add("corrupt", f"partition {p} node {node}: {bad} bad batches", bad)

    logs = {}  # partition -> {offset: Record}, the longest replica
    for p, reps in sorted(replicas.items()):
        leader_node = max(sorted(reps), key=lambda nd: len(reps[nd]))
        log = {}
        for r in reps[leader_node]:
            log.setdefault(r.offset, r)
        logs[p] = log
        ends = {nd: (recs[-1].offset + 1 if recs else 0) for nd, recs in reps.items()}
        for nd, recs in sorted(reps.items()):
            if nd == leader_node:
                continue
            # Up to the shorter of the two ends, every offset either replica
            # holds must be held by both, with the same record.
            common = min(ends[nd], ends[leader_node])
            mine = {r.offset: r for r in recs if r.offset < common}
            for off in sorted(set(mine) | {o for o in log if o < common}):
                a, b = mine.get(off), log.get(off)
                if a is None or b is None or a.identity() != b.identity():
                    rep.add("divergent",
                            f"partition {p} offset {off}: node {nd} has {a.value if a else None!r}, "
                            f"node {leader_node} has {b.value if b else None!r}")
        rep.info.setdefault("replicas", 0)
        rep.info["replicas"] += len(reps)
        lag = {nd: ends[leader_node] - e for nd, e in ends.items() if e < ends[leader_node]}
        if lag:
            rep.info.setdefault("lagging", [])
            rep.info["lagging"].append(f"{p}:" + ",".join(f"node{nd}-{n}" for nd, n in sorted(lag.items())))

    rep.info["partitions"] = len(logs)
    rep.info["records"] = sum(len(log) for log in logs.values())

    # duplicated and reordered, over the logs
    where = defaultdict(list)
    batch_of = {}  # (partition, offset) -> "pid/epoch/seq", for the examples
    for p, log in sorted(logs.items()):
        high = {}
        for off in sorted(log):
            r = log[off]
            where[r.value].append((p, off))
            batch_of[(p, off)] = f"{r.producer_id}/{r.producer_epoch}/{r.sequence}"
            pv = parse_value(r.value)
            if pv is None:
                continue
            name, seq = pv
            if name in high and seq < high[name]:
                rep.add("reordered", f"partition {p} offset {off}: {name} seq {seq} after seq {high[name]}")
            high[name] = max(seq, high.get(name, seq))
    for value, places in where.items():
        if len(places) > 1:
            ids = ", ".join(batch_of[x] for x in places)
            rep.add("duplicated", f"{value!r} at {places} (producer id/epoch/sequence {ids})", len(places) - 1)

    # lost
    n_acked = 0
    for f in acked_files:
        for p, off, value in read_lines(f, "A"):
            n_acked += 1
            r = logs.get(p, {}).get(off)
            if r is None or r.value != value:
                got = where.get(value)
                rep.add("lost", f"{value!r} acknowledged at partition {p} offset {off}; "
                        + (f"found at {got}" if got else "in no log") + f" ({os.path.basename(f)})")
    rep.info["acked"] = n_acked

    # unread
    n_seen = 0
    acked_values = set()
    for f in acked_files:
        acked_values.update(v for _, _, v in read_lines(f, "A"))
    for f in seen_files:
        saw = set()
        for p, off, value in read_lines(f, "S"):
            n_seen += 1
            saw.add(value)
            r = logs.get(p, {}).get(off)
            if r is None or r.value != value:
                rep.add("unread", f"{value!r} seen at partition {p} offset {off}, the log has "
                        f"{r.value if r else None!r} ({os.path.basename(f)})")
        # informational: a consumer that stopped early is a harness problem, not a broker's
        rep.info[f"acked-not-seen-by-{os.path.basename(f)}"] = len(acked_values - saw)
    rep.info["seen"] = n_seen
    if "lagging" in rep.info:
        rep.info["lagging"] = " ".join(rep.info["lagging"])
    return rep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--topic", required=True)
    ap.add_argument("--data", action="append", default=[])
    ap.add_argument("--acked", action="append", default=[])
    ap.add_argument("--seen", action="append", default=[])
    a = ap.parse_args(argv)
    dirs = {}
    for i, d in enumerate(a.data, 1):
        if "=" in d:
            k, d = d.split("=", 1)
            dirs[int(k)] = d
        else:
            dirs[i] = d
    rep = check(a.topic, dirs, a.acked, a.seen)
    if not rep.info.get("partitions"):
        print(f"fault-check: no partition of {a.topic} in {list(dirs.values())}", file=sys.stderr)
        print(rep.line())
        return 2
    for what in Report.COUNTS:
        for e in rep.examples[what]:
            print(f"  {what}: {e}")
        if rep.counts[what] > len(rep.examples[what]):
            print(f"  {what}: ... {rep.counts[what] - len(rep.examples[what])} more")
    print(rep.line())
    return 1 if rep.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
