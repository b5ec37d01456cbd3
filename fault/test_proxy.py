#!/usr/bin/env python3
"""Tests of `faultkit proxy` (fault/kit): forwarding, cut (refused, then
healed), delay, one-way drop (and the broken connection closed on heal),
against an echo server on loopback. FAULTKIT names the binary; without it
the test builds fault/kit into a temporary directory. Ports: FAULT_TEST_PORT
(default 39490) and the next one, on 127.0.0.2 and 127.0.0.3."""
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("FAULT_TEST_PORT", "39490"))
ECHO = ("127.0.0.3", PORT)
LISTEN = ("127.0.0.2", PORT + 1)


def echo_server(stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(ECHO)
    srv.listen(16)
    srv.settimeout(0.2)

    def serve(c):
        with c:
            while True:
                try:
                    b = c.recv(4096)
                except OSError:
                    return
                if not b:
                    return
                c.sendall(b)

    while not stop.is_set():
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    srv.close()


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        binary = os.environ.get("FAULTKIT")
        if not binary:
            binary = os.path.join(cls.tmp.name, "faultkit")
            subprocess.run(["go", "build", "-o", binary, "."], cwd=os.path.join(HERE, "kit"), check=True,
                           env=dict(os.environ, GOFLAGS="-mod=readonly"), timeout=600)
        cls.stop = threading.Event()
        cls.echo = threading.Thread(target=echo_server, args=(cls.stop,), daemon=True)
        cls.echo.start()
        spec = os.path.join(cls.tmp.name, "spec")
        with open(spec, "w") as f:
            f.write(f"{LISTEN[0]}:{LISTEN[1]} {ECHO[0]}:{ECHO[1]} 1 2\n")
        cls.p = subprocess.Popen([binary, "proxy", spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        assert cls.p.stdout.readline().strip() == "ready"

    @classmethod
    def tearDownClass(cls):
        cls.p.stdin.close()
        cls.p.wait(10)
        cls.stop.set()
        cls.echo.join(5)
        cls.tmp.cleanup()

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().strip()
        self.assertTrue(reply.startswith("ok"), reply)
        return reply

    def conn(self):
        s = socket.create_connection(LISTEN, timeout=3)
        s.settimeout(3)
        return s

    def roundtrip(self, s, data=b"hello"):
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(4096)
            if not b:
                break
            got += b
        return got

    def tearDown(self):
        self.cmd("healall")

    def test_forward(self):
        with self.conn() as s:
            self.assertEqual(self.roundtrip(s, b"x" * 100000), b"x" * 100000)
        self.assertIn("1>2:data=", self.cmd("stats"))

    def test_cut_refuses_then_heals(self):
        s = self.conn()
        self.assertEqual(self.roundtrip(s), b"hello")
        self.assertIn("closed=1", self.cmd("cut 1 2"))
        s.settimeout(3)
        try:
            self.assertEqual(s.recv(10), b"")  # the open connection was closed
        except ConnectionResetError:
            pass
        s.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(LISTEN, timeout=3)
        self.cmd("heal 1 2")
        with self.conn() as s:
            self.assertEqual(self.roundtrip(s), b"hello")

    def test_class_selector(self):
        self.assertIn("paths=1", self.cmd("delay 1 2:data 0"))
        self.p.stdin.write("cut 1 2:ctl\n")
        self.p.stdin.flush()
        self.assertTrue(self.p.stdout.readline().startswith("err no path"))

    def test_delay(self):
        with self.conn() as s:
            self.cmd("delay 1 2 300")
            t = time.monotonic()
            self.assertEqual(self.roundtrip(s), b"hello")
            self.assertGreaterEqual(time.monotonic() - t, 0.55)  # 300 ms each way
            self.cmd("delay 1 2 0")
            t = time.monotonic()
            self.assertEqual(self.roundtrip(s), b"hello")
            self.assertLess(time.monotonic() - t, 0.3)

    def test_one_way_drop(self):
        s = self.conn()
        self.assertEqual(self.roundtrip(s), b"hello")
        self.cmd("drop 1 2 rev")  # the echo's replies vanish; the connection stays open
        s.sendall(b"lost")
        s.settimeout(0.7)
        with self.assertRaises(socket.timeout):
            s.recv(10)
        self.assertIn("closed=1", self.cmd("drop 1 2 none"))  # its stream lost bytes: closed
        s.settimeout(3)
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        s.close()
        with self.conn() as s2:
            self.cmd("drop 1 2 fwd")  # requests vanish
            s2.sendall(b"gone")
            s2.settimeout(0.7)
            with self.assertRaises(socket.timeout):
                s2.recv(10)


if __name__ == "__main__":
    unittest.main()
