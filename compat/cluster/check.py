#!/usr/bin/env python3
"""Checks the output (on stdin) of a Kafka CLI tool run against a cluster.

Exit 0 if it has the expected structure, else print one line saying what is
wrong and exit 1. Only invariants are checked, never values that differ from
run to run (which voter leads, epochs, offsets, ports).

  check.py status VOTERS                  kafka-metadata-quorum describe --status
  check.py replication VOTERS             kafka-metadata-quorum describe --replication
  check.py topic NAME PARTITIONS NODES    kafka-topics --describe (RF 1 topic)
  check.py cluster-id ID                  kafka-cluster cluster-id
  check.py api-versions ID=ADDR,...       kafka-broker-api-versions
  check.py features NAMES TARGET          kafka-features describe
  check.py assignment NAME P REPLICAS [LEADER]
                                          kafka-topics --describe: partition P has exactly
                                          REPLICAS (in order), all in sync, led by one of
                                          them (by LEADER when given)
  check.py under-replicated NAME COUNT    kafka-topics --describe --under-replicated-partitions:
                                          COUNT partitions of NAME listed, each with an ISR
                                          smaller than its replicas
  check.py offsets NAME TOTAL             kafka-get-offsets: NAME's end offsets add up to TOTAL

VOTERS and NODES are comma-separated node ids, e.g. 1,2,3.
"""
import json
import re
import sys


def ids(csv):
    return sorted(int(x) for x in csv.split(","))


def fail(msg):
    print(msg)
    sys.exit(1)


def status(text, voters):
    fields = dict(re.findall(r"^(\w+):\s*(.*?)\s*$", text, re.M))
    for key in ("ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
                "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"):
        if key not in fields:
            fail(f"describe --status has no {key} line")
    if not fields["ClusterId"] or fields["ClusterId"] == "null":
        fail("ClusterId is empty")
    leader = int(fields["LeaderId"])
    if leader not in voters:
        fail(f"LeaderId {leader} is not one of the voters {voters}")
    if int(fields["LeaderEpoch"]) < 1:
        fail(f"LeaderEpoch {fields['LeaderEpoch']} < 1")
    if int(fields["HighWatermark"]) < 1:
        fail(f"HighWatermark {fields['HighWatermark']} < 1")
    cur = json.loads(fields["CurrentVoters"])
    if sorted(v["id"] for v in cur) != voters:
        fail(f"CurrentVoters {fields['CurrentVoters']} are not {voters}")
    for v in cur:
        if not v.get("endpoints") or not all(e.startswith("CONTROLLER://") for e in v["endpoints"]):
            fail(f"voter {v['id']} has no CONTROLLER endpoint: {v}")
    observers = json.loads(fields["CurrentObservers"])
    if any(o["id"] in voters for o in observers):
        fail(f"a voter is listed as an observer: {fields['CurrentObservers']}")


def replication(text, voters):
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines or lines[0].split()[:1] != ["NodeId"]:
        fail("describe --replication has no NodeId header")
    header = lines[0].split()
    for col in ("NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"):
        if col not in header:
            fail(f"describe --replication has no {col} column")
    rows = [dict(zip(header, l.split())) for l in lines[1:]]
    roles = {int(r["NodeId"]): r["Status"] for r in rows}
    if sorted(n for n, s in roles.items() if s in ("Leader", "Follower")) != voters:
        fail(f"voters (Leader/Follower rows) are {roles}, want {voters}")
    if list(roles.values()).count("Leader") != 1:
        fail(f"not exactly one Leader: {roles}")
    bad = {n: s for n, s in roles.items() if s not in ("Leader", "Follower", "Observer")}
    if bad:
        fail(f"unknown Status: {bad}")
    for r in rows:
        if int(r["LogEndOffset"]) < 1 or int(r["Lag"]) < 0:
            fail(f"node {r['NodeId']}: LogEndOffset {r['LogEndOffset']}, Lag {r['Lag']}")


def topic(text, name, partitions, nodes):
    rows = re.findall(r"Topic:\s*(\S+)\s+Partition:\s*(\d+)\s+Leader:\s*(-?\d+|none)\s+Replicas:\s*([\d,]*)"
                      r"\s+Isr:\s*([\d,]*)", text)
    rows = [r for r in rows if r[0] == name]
    if sorted(int(r[1]) for r in rows) != list(range(partitions)):
        fail(f"{name}: partitions {[r[1] for r in rows]}, want 0..{partitions - 1}")
    if not re.search(rf"Topic:\s*{re.escape(name)}\s+TopicId:\s*\S+\s+PartitionCount:\s*{partitions}\s+"
                     r"ReplicationFactor:\s*1\b", text):
        fail(f"{name}: no summary line with PartitionCount {partitions} and ReplicationFactor 1")
    leaders = set()
    for _, p, leader, replicas, isr in rows:
        if leader == "none" or int(leader) not in nodes:
            fail(f"{name}-{p}: Leader {leader} is not a live node {nodes}")
        if replicas != leader or isr != leader:
            fail(f"{name}-{p}: Leader {leader}, Replicas {replicas}, Isr {isr}: want all the same node")
        leaders.add(int(leader))
    if sorted(leaders) != nodes:
        fail(f"{name}: leaders on {sorted(leaders)}, want spread over {nodes}")


def partition_rows(text, name):
    rows = re.findall(r"Topic:\s*(\S+)\s+Partition:\s*(\d+)\s+Leader:\s*(-?\d+|none)\s+Replicas:\s*([\d,]*)"
                      r"\s+Isr:\s*([\d,]*)", text)
    return {int(p): (leader, replicas, isr) for t, p, leader, replicas, isr in rows if t == name}


def assignment(text, name, partition, replicas, leader=None):
    rows = partition_rows(text, name)
    if partition not in rows:
        fail(f"{name}-{partition} is not listed")
    got_leader, got_replicas, got_isr = rows[partition]
    if got_replicas != replicas:
        fail(f"{name}-{partition}: Replicas {got_replicas}, want {replicas}")
    if sorted(got_isr.split(",")) != sorted(replicas.split(",")):
        fail(f"{name}-{partition}: Isr {got_isr}, want all of {replicas}")
    if got_leader not in replicas.split(","):
        fail(f"{name}-{partition}: Leader {got_leader} is not one of {replicas}")
    if leader is not None and got_leader != leader:
        fail(f"{name}-{partition}: Leader {got_leader}, want the preferred replica {leader}")


def under_replicated(text, name, count):
    rows = partition_rows(text, name)
    if len(rows) != count:
        fail(f"{name}: {len(rows)} under-replicated partitions listed ({sorted(rows)}), want {count}")
    for p, (_, replicas, isr) in rows.items():
        if not set(isr.split(",")) < set(replicas.split(",")):
            fail(f"{name}-{p}: Isr {isr} is not smaller than Replicas {replicas}")


def offsets(text, name, total):
    ends = [int(o) for t, o in re.findall(r"^(\S+):\d+:(\d+)$", text, re.M) if t == name]
    if not ends:
        fail(f"no end offsets for {name}")
    if sum(ends) != total:
        fail(f"{name}: end offsets {ends} add up to {sum(ends)}, want {total}")


def cluster_id(text, want):
    m = re.search(r"^Cluster ID:\s*(\S+)\s*$", text, re.M)
    if not m:
        fail("no 'Cluster ID:' line")
    if m.group(1) != want:
        fail(f"Cluster ID {m.group(1)}, but Metadata says {want}")


def api_versions(text, want):
    want = dict(x.split("=", 1) for x in want.split(","))
    got = {m.group(2): m.group(1)
           for m in re.finditer(r"^(\S+) \(id: (\d+) rack: \S+(?: isFenced: \w+)?\) -> \(", text, re.M)}
    if got != want:
        fail(f"brokers listed {got}, want {want}")
    if text.count("Produce(0)") != len(want):
        fail(f"{text.count('Produce(0)')} Produce(0) lines for {len(want)} brokers")


FEATURE_LINE = re.compile(r"Feature: (\S+)\tSupportedMinVersion: (\S+)\tSupportedMaxVersion: (\S+)"
                          r"\tFinalizedVersionLevel: (\S+)\tEpoch: (\S+)")
METADATA_VERSION = re.compile(r"(\d+)\.(\d+)-IV(\d+)")

# What fjord promises (src/metadata/features.rs): metadata.version at
# 4.1-IV1 only, transaction.version 0..2 finalized at 2, every other
# feature at level 0 only.
FJORD_FEATURES = {
    "metadata.version": ("4.1-IV1", "4.1-IV1", "4.1-IV1"),
    "transaction.version": ("0", "2", "2"),
}


def features(text, names, target):
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines:
        fail("describe printed no features")
    rows = {}
    epochs = set()
    for line in lines:
        m = FEATURE_LINE.fullmatch(line)
        if not m:
            fail(f"not a feature line: {line!r}")
        name, lo, hi, fin, epoch = m.groups()
        if name in rows:
            fail(f"{name} listed twice")
        rows[name] = (lo, hi, fin)
        epochs.add(epoch)
    if list(rows) != sorted(rows):
        fail(f"features not sorted by name: {list(rows)}")
    if sorted(rows) != sorted(names):
        fail(f"features {sorted(rows)}, want {sorted(names)}")
    if len(epochs) != 1 or not next(iter(epochs)).isdigit() or int(next(iter(epochs))) < 1:
        fail(f"Epoch {sorted(epochs)}: want one metadata offset >= 1")
    for name, (lo, hi, fin) in rows.items():
        if name == "metadata.version":
            levels = [METADATA_VERSION.fullmatch(x) for x in (lo, hi, fin)]
            if not all(levels):
                fail(f"metadata.version {lo} {hi} {fin}: not all versions like 4.1-IV1")
            lo_v, hi_v, fin_v = (tuple(int(g) for g in x.groups()) for x in levels)
        else:
            if not all(re.fullmatch(r"\d+", x) for x in (lo, hi, fin)):
                fail(f"{name} {lo} {hi} {fin}: levels are not numbers")
            lo_v, hi_v, fin_v = int(lo), int(hi), int(fin)
        if not lo_v <= fin_v <= hi_v:
            fail(f"{name}: finalized {fin} outside the supported {lo}..{hi}")
        if target == "fjord" and rows[name] != FJORD_FEATURES.get(name, ("0", "0", "0")):
            want = FJORD_FEATURES.get(name, ("0", "0", "0"))
            fail(f"{name}: {lo}..{hi} finalized {fin} on fjord, want {want[0]}..{want[1]} finalized {want[2]}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    text = sys.stdin.read()
    what, args = sys.argv[1], sys.argv[2:]
    if what == "status":
        status(text, ids(args[0]))
    elif what == "replication":
        replication(text, ids(args[0]))
    elif what == "topic":
        topic(text, args[0], int(args[1]), ids(args[2]))
    elif what == "cluster-id":
        cluster_id(text, args[0])
    elif what == "api-versions":
        api_versions(text, args[0])
    elif what == "features":
        features(text, args[0].split(","), args[1])
    elif what == "assignment":
        assignment(text, args[0], int(args[1]), args[2], args[3] if len(args) > 3 else None)
    elif what == "under-replicated":
        under_replicated(text, args[0], int(args[1]))
    elif what == "offsets":
        offsets(text, args[0], int(args[1]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
