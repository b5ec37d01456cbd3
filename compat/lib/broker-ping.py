#!/usr/bin/env python3
"""Exit 0 if a Kafka-protocol broker at HOST:PORT answers an ApiVersions request.

Usage: broker-ping.py HOST:PORT [timeout_s]

Sends ApiVersions v0 (request header v1) and accepts any well-formed response
that echoes the correlation id, whatever its error code: the point is that the
broker is up and processing requests, not which versions it supports.
"""
import socket
import struct
import sys

API_VERSIONS_KEY = 18
CORRELATION_ID = 0x0F0D


def ping(host: str, port: int, timeout_s: float) -> bool:
    client_id = b"compat-ping"
    body = struct.pack(">hhih", API_VERSIONS_KEY, 0, CORRELATION_ID, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        if not 6 <= size <= 1 << 20:
            return False
        # Read the whole response so that closing the socket is a clean FIN,
        # not a reset that the broker would log.
        body = _read_exact(sock, size)
        (correlation_id,) = struct.unpack(">i", body[:4])
        return correlation_id == CORRELATION_ID


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def main() -> int:
    host, _, port = sys.argv[1].rpartition(":")
    timeout_s = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    try:
        return 0 if ping(host, int(port), timeout_s) else 1
    except (OSError, ConnectionError, struct.error):
        return 1


if __name__ == "__main__":
    sys.exit(main())
