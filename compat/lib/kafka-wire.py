#!/usr/bin/env python3
"""Two raw Kafka requests sent to exactly one node, for the cluster scripts.

A Java Admin client picks its own node after bootstrapping; these go to the
address given and nowhere else, so "Metadata from node 3" means node 3.

Usage:
  kafka-wire.py metadata HOST:PORT [TOPIC ...]
      Metadata v4 (all topics unless some are named); prints one JSON object:
      {"cluster_id", "controller_id", "brokers": {id: "host:port"},
       "topics": {name: {"error": code, "partitions": {index:
                 {"error", "leader", "replicas", "isr"}}}}}
  kafka-wire.py create-topic HOST:PORT NAME PARTITIONS RF
      CreateTopics v4 sent to that node (which forwards it to the controller);
      exit 0 if the topic was created, else prints the error and exits 1.
  kafka-wire.py propagate VIA_HOST:PORT TO_HOST:PORT NAME PARTITIONS DEADLINE_S
      CreateTopics (RF 1) through VIA, then polls TO's Metadata until the topic
      is there with a leader for every partition; prints the milliseconds from
      the CreateTopics response to that Metadata response (exit 1 after DEADLINE_S).
  kafka-wire.py find-group HOST:PORT PREFIX NODE_ID [DEADLINE_S]
      FindCoordinator v1 (group) for PREFIX0, PREFIX1, ... until that node
      answers NODE_ID; prints that group id (exit 1 if none of 200 does;
      COORDINATOR_NOT_AVAILABLE is retried until DEADLINE_S, default 30).

Exit status 3 when the node cannot be reached or answers garbage. Requests use
the non-flexible versions that Kafka 4.x still accepts (Metadata v4,
CreateTopics v4, FindCoordinator v1), request header v1, response header v0.
"""
import json
import socket
import struct
import sys
import time

TIMEOUT_S = 5.0


class Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return vals[0] if len(vals) == 1 else vals

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def array(self, item):
        n = self.take(">i")
        return [] if n < 0 else [item() for _ in range(n)]


def s16(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def call(addr: str, api_key: int, version: int, body: bytes) -> Reader:
    host, _, port = addr.rpartition(":")
    req = struct.pack(">hhi", api_key, version, 7) + s16("fjord-cluster-test") + body
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.sendall(struct.pack(">i", len(req)) + req)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        if not 4 <= size <= 64 << 20:
            raise ValueError(f"bad response size {size}")
        r = Reader(read_exact(sock, size))
    if r.take(">i") != 7:
        raise ValueError("correlation id mismatch")
    return r


def read_exact(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def metadata(addr: str, topics) -> dict:
    if topics:
        body = struct.pack(">i", len(topics)) + b"".join(s16(t) for t in topics)
    else:
        body = struct.pack(">i", -1)
    body += b"\x00"  # allow_auto_topic_creation=false
    r = call(addr, 3, 4, body)
    r.take(">i")  # throttle_time_ms
    brokers = {}
    for node_id, host, port, _rack in r.array(lambda: (r.take(">i"), r.string(), r.take(">i"), r.string())):
        brokers[node_id] = f"{host}:{port}"
    cluster_id = r.string()
    controller_id = r.take(">i")

    def partition():
        err, idx, leader = r.take(">hii")
        replicas = r.array(lambda: r.take(">i"))
        isr = r.array(lambda: r.take(">i"))
        return idx, {"error": err, "leader": leader, "replicas": replicas, "isr": isr}

    def topic():
        err = r.take(">h")
        name = r.string()
        r.take(">b")  # is_internal
        return name, {"error": err, "partitions": dict(r.array(partition))}

    return {"cluster_id": cluster_id, "controller_id": controller_id, "brokers": brokers,
            "topics": dict(r.array(topic))}


def create_topic(addr: str, name: str, partitions: int, rf: int) -> int:
    body = struct.pack(">i", 1) + s16(name) + struct.pack(">ihii", partitions, rf, 0, 0)
    body += struct.pack(">i", 15000) + b"\x00"  # timeout_ms, validate_only=false
    r = call(addr, 19, 4, body)
    r.take(">i")  # throttle_time_ms
    for tname, err, msg in r.array(lambda: (r.string(), r.take(">h"), r.string())):
        if err != 0:
            print(f"create-topic {tname} via {addr}: error {err}: {msg}", file=sys.stderr)
            return 1
    return 0


def find_coordinator(addr: str, group: str):
    r = call(addr, 10, 1, s16(group) + b"\x00")  # key_type 0: group
    r.take(">i")  # throttle_time_ms
    err = r.take(">h")
    msg = r.string()
    node_id = r.take(">i")
    return err, msg, node_id


def find_group(addr: str, prefix: str, want: int, deadline_s: float) -> int:
    deadline = time.monotonic() + deadline_s
    seen = {}
    for i in range(200):
        group = f"{prefix}{i}"
        while True:
            err, msg, node_id = find_coordinator(addr, group)
            if err == 0:
                break
            if err not in (14, 15) or time.monotonic() > deadline:  # LOAD_IN_PROGRESS, NOT_AVAILABLE
                print(f"find-group: FindCoordinator {group} via {addr}: error {err}: {msg}", file=sys.stderr)
                return 1
            time.sleep(0.25)
        seen[node_id] = seen.get(node_id, 0) + 1
        if node_id == want:
            print(group)
            return 0
    print(f"find-group: no group {prefix}N has coordinator {want}; coordinators seen {seen}", file=sys.stderr)
    return 1


def propagate(via: str, to: str, name: str, partitions: int, deadline_s: float) -> int:
    if create_topic(via, name, partitions, 1) != 0:
        return 1
    t0 = time.monotonic()
    while True:
        t = metadata(to, [name])["topics"].get(name)
        elapsed_ms = int((time.monotonic() - t0) * 1000)
        if t and t["error"] == 0 and len(t["partitions"]) == partitions \
                and all(p["leader"] >= 0 for p in t["partitions"].values()):
            print(elapsed_ms)
            return 0
        if elapsed_ms > deadline_s * 1000:
            print(f"propagate: {name} not in {to}'s Metadata after {elapsed_ms} ms: {t}", file=sys.stderr)
            return 1
        time.sleep(0.01)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, addr = sys.argv[1], sys.argv[2]
    try:
        if cmd == "metadata":
            print(json.dumps(metadata(addr, sys.argv[3:]), sort_keys=True))
            return 0
        if cmd == "create-topic" and len(sys.argv) == 6:
            return create_topic(addr, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        if cmd == "propagate" and len(sys.argv) == 7:
            return propagate(addr, sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
        if cmd == "find-group" and len(sys.argv) in (5, 6):
            deadline_s = float(sys.argv[5]) if len(sys.argv) == 6 else 30.0
            return find_group(addr, sys.argv[3], int(sys.argv[4]), deadline_s)
    except (OSError, ConnectionError, ValueError, struct.error) as e:
        print(f"kafka-wire {cmd} {addr}: {e}", file=sys.stderr)
        return 3
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
