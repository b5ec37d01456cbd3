#!/usr/bin/env python3
"""Unit tests of fault/check.py on synthetic segment files: a clean cluster
passes, and each counter fires on the fault it names (python3 -m unittest
discover fault, or python3 fault/test_check.py)."""
import contextlib
import io
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

TOPIC = "fault-t"


def zigzag(n):
    raw = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = raw & 0x7F
        raw >>= 7
        if raw:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_bytes(b):
    return zigzag(-1) if b is None else zigzag(len(b)) + b


def batch(base_offset, values, pid=7, epoch=0, base_seq=0, attrs=0, bad_crc=False, leader_epoch=0):
    """A record batch v2 (uncompressed) holding VALUES at BASE_OFFSET.."""
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + zigzag(0) + zigzag(i) + enc_bytes(str(i).encode()) + enc_bytes(v) + zigzag(0)
        recs += zigzag(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", attrs, len(values) - 1, 1000, 1000, pid, epoch, base_seq, len(values)) + recs
    crc = check.crc32c(after_crc) ^ (1 if bad_crc else 0)
    rest = struct.pack(">ibI", leader_epoch, 2, crc) + after_crc
    return struct.pack(">qi", base_offset, len(rest)) + rest


def vals(name, seqs):
    return [f"{name}:{s}".encode() for s in seqs]


class Cluster:
    """Three nodes' log dirs in a temp dir; partitions written per node."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.dirs = {n: os.path.join(tmp, f"node{n}") for n in (1, 2, 3)}
        self.acked = os.path.join(tmp, "acked")
        self.seen = os.path.join(tmp, "seen")
        open(self.acked, "w").close()
        open(self.seen, "w").close()

    def segment(self, node, partition, data, base=0):
        d = os.path.join(self.dirs[node], f"{TOPIC}-{partition}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{base:020d}.log"), "ab") as f:
            f.write(data)

    def everywhere(self, partition, data, base=0):
        for n in self.dirs:
            self.segment(n, partition, data, base)

    def ack(self, partition, offset, value):
        with open(self.acked, "a") as f:
            f.write(f"A {partition} {offset} {value}\n")

    def saw(self, partition, offset, value):
        with open(self.seen, "a") as f:
            f.write(f"S {partition} {offset} {value}\n")

    def run(self):
        return check.check(TOPIC, self.dirs, [self.acked], [self.seen])


class CheckTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.c = Cluster(self._tmp.name)
        # The healthy base: partition 0 holds p:0..4 (two batches), partition
        # 1 holds p:5..6; all acknowledged and seen.
        self.c.everywhere(0, batch(0, vals("p", [0, 1, 2])) + batch(3, vals("p", [3, 4]), base_seq=3))
        self.c.everywhere(1, batch(0, vals("p", [5, 6]), base_seq=0))
        for p, off, s in [(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 3, 3), (0, 4, 4), (1, 0, 5), (1, 1, 6)]:
            self.c.ack(p, off, f"p:{s}")
            self.c.saw(p, off, f"p:{s}")

    def tearDown(self):
        self._tmp.cleanup()

    def counts(self):
        rep = self.c.run()
        return {k: v for k, v in rep.counts.items() if v}, rep

    def test_crc32c(self):
        self.assertEqual(check.crc32c(b"123456789"), 0xE3069283)

    def test_clean(self):
        counts, rep = self.counts()
        self.assertEqual(counts, {})
        self.assertEqual(rep.info["records"], 7)
        self.assertEqual(rep.info["acked"], 7)
        self.assertEqual(rep.info["partitions"], 2)
        self.assertEqual(rep.info["replicas"], 6)

    def test_lost_absent(self):
        self.c.ack(0, 5, "p:9")  # acknowledged at an offset no replica has
        counts, _ = self.counts()
        self.assertEqual(counts, {"lost": 1})

    def test_lost_elsewhere(self):
        self.c.ack(0, 1, "p:5")  # p:5 is in the log, but at partition 1 offset 0
        counts, rep = self.counts()
        self.assertEqual(counts, {"lost": 1})
        self.assertIn("found at [(1, 0)]", rep.examples["lost"][0])

    def test_duplicated(self):
        self.c.everywhere(0, batch(5, vals("p", [4]), base_seq=5))
        counts, _ = self.counts()
        # p:4 twice: one duplicate, and the second copy comes after nothing higher (not reordered)
        self.assertEqual(counts, {"duplicated": 1})

    def test_reordered(self):
        self.c.everywhere(0, batch(5, vals("p", [2]), base_seq=5))
        counts, _ = self.counts()
        self.assertEqual(counts, {"reordered": 1, "duplicated": 1})
        self.c.everywhere(1, batch(2, vals("q", [3, 1]), pid=8))
        counts, _ = self.counts()
        self.assertEqual(counts, {"reordered": 2, "duplicated": 1})

    def test_divergent(self):
        # node 3's partition 1 has another record at offset 1, node 1 and 2 the acknowledged one
        d = os.path.join(self.c.dirs[3], f"{TOPIC}-1")
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        self.c.segment(3, 1, batch(0, vals("p", [5])) + batch(1, vals("x", [1]), pid=9))
        counts, rep = self.counts()
        self.assertEqual(counts, {"divergent": 1})
        self.assertIn("offset 1", rep.examples["divergent"][0])

    def test_divergent_gap(self):
        # node 2 lacks offsets 3..4 but has a later record at 5: a hole, not a lag
        d = os.path.join(self.c.dirs[2], f"{TOPIC}-0")
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        self.c.segment(2, 0, batch(0, vals("p", [0, 1, 2])) + batch(5, vals("z", [0]), pid=3))
        counts, _ = self.counts()
        self.assertEqual(counts, {"divergent": 2})

    def test_lagging_replica_is_not_divergent(self):
        self.c.segment(1, 0, batch(5, vals("p", [7]), base_seq=5))  # only node 1 has offset 5
        counts, rep = self.counts()
        self.assertEqual(counts, {})
        self.assertIn("node2-1", rep.info["lagging"])

    def test_divergent_producer_metadata(self):
        # same value, but another producer id at the same offset: not the same batch
        d = os.path.join(self.c.dirs[2], f"{TOPIC}-1")
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        self.c.segment(2, 1, batch(0, vals("p", [5, 6]), pid=99))
        counts, _ = self.counts()
        self.assertEqual(counts, {"divergent": 2})

    def test_unread(self):
        self.c.saw(1, 2, "p:7")  # a consumer saw offset 2 of partition 1, which no longer exists
        self.c.saw(0, 0, "p:3")  # and something else at offset 0
        counts, _ = self.counts()
        self.assertEqual(counts, {"unread": 2})

    def test_torn_tail_is_the_end(self):
        self.c.everywhere(0, batch(5, vals("p", [5]))[:-3])
        counts, rep = self.counts()
        self.assertEqual(counts, {})
        self.assertEqual(rep.info["records"], 7)

    def test_zero_tail_is_the_end(self):
        self.c.everywhere(0, b"\x00" * 100)
        counts, _ = self.counts()
        self.assertEqual(counts, {})

    def test_corrupt_crc(self):
        self.c.segment(1, 0, batch(5, vals("p", [5]), bad_crc=True))
        counts, _ = self.counts()
        self.assertEqual(counts, {"corrupt": 1})

    def test_control_batch_skipped(self):
        self.c.everywhere(0, batch(5, [b"\x00\x00\x00\x00"], attrs=0x30))
        counts, rep = self.counts()
        self.assertEqual(counts, {})
        self.assertEqual(rep.info["records"], 7)

    def test_second_segment(self):
        self.c.everywhere(0, batch(5, vals("p", [7, 8]), base_seq=5), base=5)
        self.c.ack(0, 6, "p:8")
        counts, rep = self.counts()
        self.assertEqual(counts, {})
        self.assertEqual(rep.info["records"], 9)

    def test_main_exit_status(self):
        args = ["--topic", TOPIC, "--acked", self.c.acked, "--seen", self.c.seen]
        for n in (1, 2, 3):
            args += ["--data", f"{n}={self.c.dirs[n]}"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            self.assertEqual(check.main(args), 0)
            self.c.ack(1, 7, "p:77")
            self.assertEqual(check.main(args), 1)
            self.assertEqual(check.main(["--topic", "nothing", "--data", self.c.dirs[1]]), 2)
        lines = out.getvalue().splitlines()
        self.assertTrue(lines[0].startswith("fault-check: lost=0 duplicated=0 reordered=0 divergent=0 unread=0 corrupt=0"))
        self.assertIn("p:77", lines[1])
        self.assertTrue(lines[2].startswith("fault-check: lost=1 "))


if __name__ == "__main__":
    unittest.main()
