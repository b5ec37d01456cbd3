#!/usr/bin/env python3
"""Side-by-side run of the same loads against Apache Kafka and fjord.

Started by benches/compare/run.sh (`make bench-compare`), which resolves the
Kafka jars, builds the load harnesses and exports where they are. Each broker
runs alone, pinned to CPU 0 with a fresh data directory under
target/bench/data/; every load generator runs pinned to CPU 1. For each load
the broker's CPU time (utime+stime of /proc/<pid>/stat), its resident set
(VmRSS, VmHWM of /proc/<pid>/status) and the client's CPU time are recorded
next to what the load tool reports.

Writes target/bench/compare.md, compare.csv, results.json and the raw tool
output under target/bench/logs/; prints the table.

`compare.py --report` rewrites the report from target/bench/results.json.

Environment:
  BENCH_SCALE      percent of the default record counts (default 100)
  BENCH_BROKERS    comma-separated subset and order of kafka,fjord (default kafka,fjord)
  BENCH_LOADS      comma-separated subset of load names (default: all)
  BENCH_STARTUPS   start-ups measured per broker (default 3)
"""
import base64
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "bench"
LOGS = OUT / "logs"
DATA = OUT / "data"
HERE = Path(__file__).resolve().parent

BROKER_CPU = "0"
CLIENT_CPU = "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_MIB = 1 << 20
GB = 1e9

SCALE = float(os.environ.get("BENCH_SCALE", "100")) / 100.0
STARTUPS = int(os.environ.get("BENCH_STARTUPS", "3"))

KAFKA_LIBS_CP = os.environ.get("KAFKA_LIBS_CP", str(ROOT / "compat" / ".cache" / "kafka-libs" / "*"))
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "?")
BENCH_CLASSES = os.environ.get("BENCH_CLASSES", str(OUT / "java"))
FRANZ_BENCH = os.environ.get("FRANZ_BENCH", str(OUT / "franz-bench"))
FJORD_BIN = os.environ.get("FJORD_BIN", str(ROOT / "target" / "release" / "fjord"))
JAVA = os.environ.get("JAVA", "java")
CLIENT_LOG4J = HERE / "log4j2-client.properties"
BROKER_LOG4J = ROOT / "compat" / "lib" / "log4j2.properties"

# Kafka's own start scripts' JVM settings (kafka-server-start.sh sets the
# heap, kafka-run-class.sh the rest), so the broker runs as shipped.
KAFKA_JVM = ["-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
             "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
             "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"]
# kafka-producer-perf-test.sh's heap, kafka-run-class.sh's GC settings.
CLIENT_JVM = ["-Xmx512M", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
              "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
              "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
              f"-Dlog4j2.configurationFile={CLIENT_LOG4J}"]

RECORD_1K = 1024
RECORD_100 = 100
PRODUCE_PROPS = ["linger.ms=5", "batch.size=131072", "compression.type=none"]
# The consume load reads the topic of the first produce load: its size is the backlog.
BACKLOG_RECORDS = 2 * 1024 * 1024  # 2 GiB of 1 KiB records
E2E_RATE = 5000
E2E_WARMUP_S = 5
E2E_MEASURE_S = 20
# The transactional load: a transactional producer, one transaction of
# TXN_RECORDS_PER_TXN records at a time, as fast as commits go; a
# read_committed consumer in the same JVM measures end-to-end latency.
TXN_RECORDS_PER_TXN = 100
# Longer than the e2e loads' warm-up: the general warm-up load does not run
# Kafka's transaction paths, whose JIT compilation (on the broker's one CPU)
# took its median end-to-end latency from 43 ms to 5 ms over the first 35 s.
TXN_WARMUP_S = 20
TXN_MEASURE_S = 30
CLIENT_TIMEOUT_S = 300
# After a load its topics are deleted (Kafka with file.delete.delay.ms=0) and
# the brokers get this long to unlink the files. On this kind of VM (guest
# memory handed back to the host through free page reporting) a page-cache
# page that lands in memory the host has taken back costs a host fault on
# first write: writing 1.5 GB with dd costs 0.5 s of system time while the
# page cache reuses freed pages and 5-6 s once it grows into fresh memory.
# Without the deletion each broker's later loads pay that, by how much
# depending on the run, which swamped the brokers' own CPU per GB.
DELETE_SETTLE_S = 2


def scaled(n):
    return max(1000, int(n * SCALE))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# /proc readings


def cpu_seconds(pid):
    """utime + stime of every thread of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds():
    """CPU time of the whole machine that was not idle (all CPUs), in seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cpu_pressure_us():
    """Total microseconds in which some runnable task waited for a CPU (PSI)."""
    try:
        with open("/proc/pressure/cpu") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    disk = subprocess.run(["df", "-h", "--output=source,size,fstype", str(OUT)], capture_output=True, text=True).stdout
    java = subprocess.run([JAVA, "-version"], capture_output=True, text=True).stderr.splitlines()
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    fjord_rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                               capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "kernel": platform.release(),
        "disk": " ".join(disk.splitlines()[-1].split()) if disk else "?",
        "java": java[0] if java else "?",
        "go": go,
        "rustc": rustc,
        "kafka": KAFKA_VERSION,
        "fjord": fjord_rev or "?",
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# ---------------------------------------------------------------------------
# a minimal Kafka client for the start-up probe: Metadata v4, all topics


def metadata_brokers(port, timeout_s=1.0):
    """Number of brokers in a Metadata v4 response, or None if no answer."""
    client_id = b"bench-probe"
    body = struct.pack(">hhih", 3, 4, 7, len(client_id)) + client_id + struct.pack(">ib", -1, 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", read_exact(s, 4))[0]
            resp = read_exact(s, size)
    except (OSError, struct.error):
        return None
    correlation_id, _throttle, brokers = struct.unpack(">iii", resp[:12])
    return brokers if correlation_id == 7 else None


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# brokers


class Broker:
    name = "?"

    def __init__(self):
        self.proc = None
        self.port = None
        self.datadir = None
        self.logfile = None

    def command(self):
        raise NotImplementedError

    def prepare(self):
        """Anything before the timed start (Kafka formats its storage)."""

    def start(self, run):
        """Starts the broker on CPU 0 with a fresh data dir; returns
        (seconds from process start to the first Metadata response naming
        a broker, idle VmRSS in KiB two seconds later)."""
        self.datadir = DATA / f"{self.name}-{run}"
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.datadir.mkdir(parents=True)
        self.port = free_port()
        self.prepare()
        self.logfile = LOGS / f"{self.name}-broker-{run}.log"
        out = open(self.logfile, "wb")
        cmd = ["taskset", "-c", BROKER_CPU] + self.command()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env())
        out.close()
        deadline = t0 + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up; see {self.logfile}")
            brokers = metadata_brokers(self.port, 0.5)
            if brokers:
                startup_s = time.monotonic() - t0
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer Metadata within 180 s; see {self.logfile}")
            time.sleep(0.005)
        time.sleep(2)
        return startup_s, status_kib(self.proc.pid, "VmRSS")

    def env(self):
        return os.environ.copy()

    @property
    def pid(self):
        return self.proc.pid

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def cpu(self):
        return cpu_seconds(self.pid)

    def kib(self, key):
        return status_kib(self.pid, key)

    def death(self):
        return f"{self.name} exited with {self.proc.returncode}; see {self.logfile}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, delete_data=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                log(f"{self.name} pid {self.proc.pid} still running 90 s after SIGTERM; SIGKILL")
                self.proc.kill()
                self.proc.wait(30)
        self.proc = None
        if delete_data and self.datadir is not None:
            shutil.rmtree(self.datadir, ignore_errors=True)


class Kafka(Broker):
    name = "kafka"

    def props_path(self):
        return self.datadir / "server.properties"

    def prepare(self):
        controller_port = free_port()
        while controller_port == self.port:
            controller_port = free_port()
        # The same settings as compat/lib/kafka-start.sh: single-node KRaft,
        # combined mode, replication factors of 1, otherwise Kafka's defaults;
        # file.delete.delay.ms=0 so deleted topics leave as soon as fjord's do
        # (see DELETE_SETTLE_S).
        self.props_path().write_text(f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={self.datadir}/log
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
file.delete.delay.ms=0
""")
        # A Kafka cluster id: 16 random bytes, URL-safe base64 without padding,
        # never starting with '-' (as kafka-storage random-uuid makes them).
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        with open(self.datadir / "format.log", "wb") as f:
            subprocess.run(["taskset", "-c", BROKER_CPU, JAVA, f"-Dlog4j2.configurationFile={BROKER_LOG4J}",
                            "-cp", KAFKA_LIBS_CP, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                            "-c", str(self.props_path())], stdout=f, stderr=subprocess.STDOUT, check=True)

    def command(self):
        return [JAVA] + KAFKA_JVM + [f"-Dlog4j2.configurationFile={BROKER_LOG4J}", f"-Dkafka.logs.dir={self.datadir}",
                                     "-cp", KAFKA_LIBS_CP, "kafka.Kafka", str(self.props_path())]


class Fjord(Broker):
    name = "fjord"

    def env(self):
        # fjord reads KAFKA_* variables as configuration (as the apache/kafka
        # image does); kafka-libs.sh exports KAFKA_LIBS_CP and KAFKA_VERSION.
        return {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}

    def command(self):
        return [FJORD_BIN,
                "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "--override", f"log.dirs={self.datadir}/log",
                "--override", "node.id=1"]


# ---------------------------------------------------------------------------
# clients


class ClientError(RuntimeError):
    pass


def run_client(broker, label, cmd, timeout_s=CLIENT_TIMEOUT_S):
    """Runs one load generator on CPU 1; returns (stdout, measurements)."""
    logpath = LOGS / f"{broker.name}-{label}.log"
    before_cpu = broker.cpu()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_busy = machine_busy_seconds()
    before_pressure = cpu_pressure_us()
    t0 = time.monotonic()
    try:
        p = subprocess.run(["taskset", "-c", CLIENT_CPU] + cmd, capture_output=True, text=True, timeout=timeout_s)
        stdout, stderr, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = f"timeout after {timeout_s}s"
    wall = time.monotonic() - t0
    busy = machine_busy_seconds() - before_busy
    after_pressure = cpu_pressure_us()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(logpath, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n" + stdout + "\n--- stderr ---\n" + stderr)
    if not broker.alive():
        raise ClientError(f"died during {label}: {broker.death()}; see also {logpath}")
    m = {
        "broker_cpu_s": broker.cpu() - before_cpu,
        "client_cpu_s": (after_children.ru_utime + after_children.ru_stime)
        - (before_children.ru_utime + before_children.ru_stime),
        "wall_s": wall,
        "broker_rss_mib": broker.kib("VmRSS") / 1024,
        "broker_hwm_mib": broker.kib("VmHWM") / 1024,
    }
    if rc != 0:
        last = "\n".join((stderr.strip().splitlines() or ["(no stderr)"])[-5:])
        raise ClientError(f"{label} against {broker.name} failed ({rc}): {last} [log: {logpath}]")
    # Everything else that ran meanwhile: the other users of this machine,
    # and kernel threads (page-cache writeback, loopback softirqs).
    m["other_cpu_s"] = max(0.0, busy - m["broker_cpu_s"] - m["client_cpu_s"])
    if before_pressure is not None and after_pressure is not None:
        m["cpu_pressure_pct"] = (after_pressure - before_pressure) / 1e6 / wall * 100
    return stdout, m


def result_line(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise ClientError("no RESULT line in the harness output")


def java_bench(*args):
    return [JAVA] + CLIENT_JVM + ["-cp", f"{BENCH_CLASSES}:{KAFKA_LIBS_CP}", "Bench"] + [str(a) for a in args]


def delete_topics(broker, label, topics):
    """Deletes topics and waits until they are gone, then gives the broker
    DELETE_SETTLE_S to unlink their files (Kafka does that asynchronously)."""
    out, _ = run_client(broker, f"delete-{label}", java_bench("delete-topics", broker.bootstrap, *topics))
    time.sleep(DELETE_SETTLE_S)
    return result_line(out)


def create_topics(broker, label, topics, options=()):
    """Creates [(topic, partitions)] and waits until every partition answers
    (options: Bench.java's --replication-factor N, --config K=V)."""
    out, _ = run_client(broker, f"create-{label}", java_bench("create-topics", broker.bootstrap, *options,
                                                                *[f"{t}:{p}" for t, p in topics]))
    return result_line(out)


PERF_RE = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def producer_perf(broker, label, topic, records, size, acks):
    cmd = [JAVA] + CLIENT_JVM + ["-cp", KAFKA_LIBS_CP, "org.apache.kafka.tools.ProducerPerformance",
                                 "--topic", topic, "--num-records", str(records), "--record-size", str(size),
                                 "--throughput", "-1", "--producer-props",
                                 f"bootstrap.servers=127.0.0.1:{broker.port}", f"acks={acks}"] + PRODUCE_PROPS
    out, m = run_client(broker, label, cmd)
    finals = [PERF_RE.search(line) for line in out.splitlines()]
    finals = [x for x in finals if x]
    if not finals:
        raise ClientError(f"{label}: no summary line from ProducerPerformance; see {LOGS}/{broker.name}-{label}.log")
    g = finals[-1].groups()
    m.update({
        "records": int(g[0]), "records_per_s": float(g[1]), "mib_per_s": float(g[2]),
        "lat_p50_ms": float(g[5]), "lat_p99_ms": float(g[7]), "lat_p999_ms": float(g[8]),
        "bytes": int(g[0]) * size,
    })
    return m


def franz_perf(broker, label, topic, records, size, acks, backdate_ms=0):
    cmd = [FRANZ_BENCH, "produce", broker.bootstrap, topic, str(records), str(size), acks, "5", "131072"]
    if backdate_ms:
        cmd.append(str(backdate_ms))
    out, m = run_client(broker, label, cmd)
    r = result_line(out)
    m.update({
        "records": int(r["records"]), "records_per_s": float(r["records_per_s"]), "mib_per_s": float(r["mib_per_s"]),
        "lat_p50_ms": float(r["p50_ms"]), "lat_p99_ms": float(r["p99_ms"]), "lat_p999_ms": float(r["p999_ms"]),
        "bytes": int(r["records"]) * size,
    })
    return m


# ---------------------------------------------------------------------------
# loads


class Load:
    """One measured load. `topics` are created before it: together with the
    other loads' topics at the start when `early`, else right before it (so
    that 100 and 1,000 partitions do not weigh on the loads before them)."""

    def __init__(self, name, desc, run, topics=(), early=True, records=None, reads=()):
        self.name, self.desc, self.run, self.topics, self.early = name, desc, run, list(topics), early
        self.records = records
        # Topics of other loads that this one reads (the consume backlog).
        self.reads = list(reads)

    def uses(self):
        return {t for t, _ in self.topics} | set(self.reads)


def segment_files(broker, topic):
    """Segment (.log) files of every partition of topic, counted on disk."""
    root = broker.datadir / "log"
    dirs = [d for d in root.glob(f"{topic}-*") if d.is_dir() and d.name[len(topic) + 1:].isdigit()]
    return sum(1 for d in dirs for _ in d.glob("*.log"))


def produce_load(name, desc, partitions, records, size, acks, tool="java", backdate_ms=0):
    def run(broker):
        if tool == "java":
            m = producer_perf(broker, name, name, scaled(records), size, acks)
        else:
            m = franz_perf(broker, name, name, scaled(records), size, acks, backdate_ms)
        m["segments"] = segment_files(broker, name)
        return m
    return Load(name, desc, run, [(name, partitions)], early=partitions <= 8, records=scaled(records))


def consume_load(name, desc, topic):
    def run(broker):
        out, m = run_client(broker, name, java_bench("consume", broker.bootstrap, topic, 240))
        r = result_line(out)
        if r["complete"] != "true":
            raise ClientError(f"consume read {r['records']} of {r['expected']} records before its time limit")
        m.update({"records": int(r["records"]), "records_per_s": float(r["records_per_s"]),
                  "mib_per_s": float(r["mib_per_s"]), "bytes": int(r["bytes"])})
        return m
    return Load(name, desc, run, reads=[topic])


def consumer_perf_load(name, desc, topic):
    """kafka-consumer-perf-test: subscribes with a fresh group.id (so it joins
    a group first) and reads from the earliest offset."""
    def run(broker):
        records = scaled(BACKLOG_RECORDS)
        cmd = [JAVA] + CLIENT_JVM + ["-cp", KAFKA_LIBS_CP, "org.apache.kafka.tools.ConsumerPerformance",
                                     "--bootstrap-server", broker.bootstrap, "--topic", topic,
                                     "--messages", str(records), "--timeout", "60000"]
        out, m = run_client(broker, name, cmd)
        lines = [line for line in out.splitlines() if line.strip()]
        header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
        if header is None or header + 1 >= len(lines):
            raise ClientError(f"{name}: no result line from ConsumerPerformance; see {LOGS}/{broker.name}-{name}.log")
        row = dict(zip([h.strip() for h in lines[header].split(",")], [v.strip() for v in lines[header + 1].split(",")]))
        consumed = int(row["data.consumed.in.nMsg"])
        if consumed < records:
            raise ClientError(f"{name}: consumed {consumed} of {records} records")
        # The fetch phase excludes the group join; the tool's MB is MiB.
        m.update({"records": consumed, "records_per_s": float(row["fetch.nMsg.sec"]),
                  "mib_per_s": float(row["fetch.MB.sec"]), "records_per_s_with_join": float(row["nMsg.sec"]),
                  "group_join_ms": float(row["rebalance.time.ms"]),
                  "bytes": int(float(row["data.consumed.in.MB"]) * (1 << 20))})
        return m
    return Load(name, desc, run, reads=[topic])


def e2e_load(name, desc, tool):
    def run(broker):
        args = [broker.bootstrap, name, E2E_RATE, RECORD_1K, E2E_WARMUP_S, E2E_MEASURE_S]
        cmd = java_bench("e2e", *args) if tool == "java" else [FRANZ_BENCH, "e2e"] + [str(a) for a in args]
        out, m = run_client(broker, name, cmd)
        r = result_line(out)
        if int(r["measured"]) < E2E_RATE * E2E_MEASURE_S or int(r["send_errors"]) > 0:
            raise ClientError(f"e2e: sent {r['sent']}, received {r['received']}, measured {r['measured']}, "
                              f"send errors {r['send_errors']}")
        m.update({"records": int(r["measured"]), "e2e_p50_us": float(r["p50_us"]), "e2e_p99_us": float(r["p99_us"]),
                  "e2e_p999_us": float(r["p999_us"]), "e2e_max_us": float(r["max_us"]),
                  "bytes": int(r["sent"]) * RECORD_1K})
        return m
    return Load(name, desc, run, [(name, 1)])


def txn_load(name, desc):
    """Bench.java txn: transactions of TXN_RECORDS_PER_TXN x 1 KiB into one
    partition, committed one after the other; throughput of the measured
    period and end-to-end latency to a read_committed consumer."""
    def run(broker):
        args = [broker.bootstrap, name, RECORD_1K, TXN_RECORDS_PER_TXN, TXN_WARMUP_S, TXN_MEASURE_S]
        out, m = run_client(broker, name, java_bench("txn", *args))
        r = result_line(out)
        if (int(r["received"]) != int(r["sent"]) or int(r["send_errors"]) > 0 or int(r["disorder"]) > 0
                or int(r["measured"]) <= 0):
            raise ClientError(f"txn: sent {r['sent']}, the read_committed consumer received {r['received']} "
                              f"(out of sequence: {r['disorder']}), send errors {r['send_errors']}")
        m.update({"records": int(r["measured"]), "records_per_s": float(r["records_per_s"]),
                  "mib_per_s": float(r["mib_per_s"]),
                  "txn_per_s": int(r["measured_transactions"]) / float(r["seconds"]),
                  "commit_p50_ms": float(r["commit_p50_us"]) / 1000, "commit_p99_ms": float(r["commit_p99_us"]) / 1000,
                  "e2e_p50_ms": float(r["p50_us"]) / 1000, "e2e_p99_ms": float(r["p99_us"]) / 1000,
                  "e2e_p999_ms": float(r["p999_us"]) / 1000, "e2e_max_ms": float(r["max_us"]) / 1000,
                  "transaction_version": int(r["transaction_version"]),
                  # Broker CPU covers the whole client run, warm-up included.
                  "bytes": int(r["sent"]) * RECORD_1K})
        return m
    return Load(name, desc, run, [(name, 1)])


# How old the back-dated load's CreateTime timestamps are.
BACKDATE_MS = 30 * 24 * 3600 * 1000

# The consume load reads the topic of the first measured produce load.
BACKLOG_TOPIC = "produce-1k-acks1-p1"
LOADS = [
    # Not reported: brings the JVM's JIT (and both brokers' caches) to a steady state.
    produce_load("warmup", "warm-up, 1 KiB acks=1, 8 partitions (not reported)", 8, 300_000, RECORD_1K, "1"),
    produce_load(BACKLOG_TOPIC, "1 KiB, acks=1, 1 partition (also the consume backlog)", 1, BACKLOG_RECORDS, RECORD_1K, "1"),
    consumer_perf_load("consume-perftest", "kafka-consumer-perf-test reads the 1-partition backlog (group)",
                       BACKLOG_TOPIC),
    consume_load("consume-assign", "Bench.java reads the 1-partition backlog with assign()", BACKLOG_TOPIC),
    produce_load("produce-1k-acks1-p8", "1 KiB, acks=1, 8 partitions", 8, 1_000_000, RECORD_1K, "1"),
    produce_load("produce-1k-acksall-p1", "1 KiB, acks=all (idempotent), 1 partition", 1, 1_000_000, RECORD_1K, "all"),
    produce_load("produce-1k-acksall-p8", "1 KiB, acks=all (idempotent), 8 partitions", 8, 1_000_000, RECORD_1K, "all"),
    produce_load("produce-100b-acks1-p1", "100 B, acks=1, 1 partition", 1, 4_000_000, RECORD_100, "1"),
    e2e_load("e2e-java", f"end-to-end latency, Java client, {E2E_RATE} x 1 KiB/s, acks=1, linger.ms=0", "java"),
    e2e_load("e2e-franz", f"end-to-end latency, franz-go client, {E2E_RATE} x 1 KiB/s, acks=1, no linger", "franz"),
    txn_load("txn-java-1k-p1", f"transactional producer, {TXN_RECORDS_PER_TXN} x 1 KiB per transaction, 1 partition, "
             "read_committed consumer (end-to-end latency)"),
    produce_load("franz-1k-acks1-p1", "franz-go producer: 1 KiB, acks=1, 1 partition", 1, 1_500_000, RECORD_1K, "1",
                 tool="franz"),
    produce_load("franz-1k-acks1-p8", "franz-go producer: 1 KiB, acks=1, 8 partitions", 8, 1_500_000, RECORD_1K, "1",
                 tool="franz"),
    # Issue 17: a backfill with CreateTime 30 days old must roll segments as
    # current timestamps do (by size), not one per batch.
    produce_load("franz-1k-acks1-p1-backdated", "franz-go producer: 1 KiB, acks=1, 1 partition, CreateTime 30 days old",
                 1, 1_500_000, RECORD_1K, "1", tool="franz", backdate_ms=BACKDATE_MS),
    produce_load("produce-1k-acks1-p100", "1 KiB, acks=1, 100 partitions", 100, 1_000_000, RECORD_1K, "1"),
    # Fewer records: both brokers run this one at a third of the 8-partition rate.
    produce_load("produce-1k-acks1-p1000", "1 KiB, acks=1, 1000 partitions", 1000, 500_000, RECORD_1K, "1"),
]


# ---------------------------------------------------------------------------
# one broker, all loads


def run_broker(broker, wanted):
    res = {"startup": [], "idle_rss_mib": [], "loads": {}, "errors": {}}
    for run in range(1, STARTUPS + 1):
        log(f"{broker.name}: start-up {run}/{STARTUPS}")
        startup_s, idle_kib = broker.start(run)
        res["startup"].append(startup_s)
        res["idle_rss_mib"].append(idle_kib / 1024)
        log(f"{broker.name}: answered Metadata after {startup_s * 1000:.0f} ms, idle RSS {idle_kib / 1024:.1f} MiB")
        if run < STARTUPS:
            broker.stop()
    loads = [ld for ld in LOADS if not wanted or ld.name in wanted or ld.name == "warmup"]
    try:
        early = [t for ld in loads if ld.early for t in ld.topics]
        if early:
            log(f"{broker.name}: creating {len(early)} topics")
            create_topics(broker, "topics", early)
        for i, ld in enumerate(loads):
            os.sync()
            log(f"{broker.name}: {ld.name}: {ld.desc}")
            try:
                if not ld.early and ld.topics:
                    create_topics(broker, ld.name, ld.topics)
                m = ld.run(broker)
            except (ClientError, subprocess.CalledProcessError) as e:
                log(f"{broker.name}: {ld.name} FAILED: {e}")
                res["errors"][ld.name] = str(e)
                if not broker.alive():
                    break
                continue
            if m.get("bytes") and "broker_cpu_s" in m:
                m["broker_cpu_s_per_gb"] = m["broker_cpu_s"] / (m["bytes"] / GB)
            if ld.name != "warmup":
                res["loads"][ld.name] = m
            summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
            log(f"{broker.name}: {ld.name}: {summary}")
            # Topics no later load needs are deleted, so that page-cache
            # growth does not carry from one load into the next (see
            # DELETE_SETTLE_S).
            later = set().union(*(x.uses() for x in loads[i + 1:]))
            done = sorted(ld.uses() - later)
            if done:
                try:
                    delete_topics(broker, ld.name, done)
                except (ClientError, subprocess.CalledProcessError) as e:
                    log(f"{broker.name}: deleting {done} after {ld.name} FAILED: {e}")
        res["final_hwm_mib"] = status_kib(broker.pid, "VmHWM") / 1024 if broker.alive() else None
    finally:
        if broker.alive():
            broker.stop()
        else:
            res["errors"]["broker"] = f"{broker.name} exited with {broker.proc.returncode}; see {broker.logfile}"
        # Keep the broker's log; the partition data is deleted to free the disk.
        if broker.datadir is not None:
            shutil.rmtree(broker.datadir, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------
# replicated loads: three-node clusters of either target


CLUSTER_LIB = ROOT / "compat" / "lib"
CLUSTER_NODES = 3
REPLICATED_RUNS = int(os.environ.get("BENCH_REPLICATED_RUNS", "1"))
# Kafka nodes get kafka-server-start.sh's flags, as the single node does
# (compat/lib/cluster-node.sh's default CLUSTER_JVM_OPTS is a small test JVM).
CLUSTER_KAFKA_JVM = os.environ.get("BENCH_CLUSTER_JVM_OPTS", " ".join(KAFKA_JVM))
CLUSTER_START_TIMEOUT_S = os.environ.get("CLUSTER_START_TIMEOUT_S", "300")


def proc_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Cluster:
    """A three-node KRaft cluster of one target from compat/lib/cluster-start.sh
    (the same server.properties for both targets), every node pinned to the
    broker CPU. Quacks like Broker for run_client: CPU time and RSS are sums
    over the nodes."""

    def __init__(self, name, run):
        self.name = name
        self.run = run
        self.base = DATA / f"{name}-cluster"
        self.logfile = LOGS / f"{name}-cluster-{run}-start.log"
        self.pids = []
        self.bootstrap = None

    def env(self):
        env = os.environ.copy()
        if self.name == "fjord":
            # fjord reads KAFKA_* variables as configuration (see Fjord.env).
            env = {k: v for k, v in env.items() if not k.startswith("KAFKA_")}
        env["CLUSTER_JVM_OPTS"] = CLUSTER_KAFKA_JVM
        env["CLUSTER_START_TIMEOUT_S"] = CLUSTER_START_TIMEOUT_S
        env["FJORD_BIN"] = FJORD_BIN
        return env

    def start(self):
        """Starts the nodes (taskset is inherited by every node); returns seconds to a cluster
        whose every node lists every broker."""
        t0 = time.monotonic()
        with open(self.logfile, "wb") as out:
            p = subprocess.run(["taskset", "-c", BROKER_CPU, str(CLUSTER_LIB / "cluster-start.sh"), self.name,
                                str(self.base), str(CLUSTER_NODES)], stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT, env=self.env())
        self.pids = [int((self.base / f"node{i}" / "node.pid").read_text())
                     for i in range(1, CLUSTER_NODES + 1) if (self.base / f"node{i}" / "node.pid").exists()]
        if p.returncode != 0 or len(self.pids) != CLUSTER_NODES:
            raise RuntimeError(f"{self.name} cluster did not start (exit {p.returncode}); see {self.logfile}")
        self.bootstrap = (self.base / "bootstrap").read_text().strip()
        return time.monotonic() - t0

    def cpu(self):
        return sum(cpu_seconds(pid) for pid in self.pids)

    def node_cpu(self):
        return [cpu_seconds(pid) for pid in self.pids]

    def kib(self, key):
        return sum(status_kib(pid, key) for pid in self.pids)

    def alive(self):
        return bool(self.pids) and all(proc_alive(pid) for pid in self.pids)

    def death(self):
        dead = [i + 1 for i, pid in enumerate(self.pids) if not proc_alive(pid)]
        return (f"{self.name} cluster node(s) {dead} exited; see "
                f"{LOGS}/{self.name}-cluster-{self.run}-node<id>.log")

    def segments(self, topic):
        """Segment (.log) files of every replica of topic, all nodes."""
        dirs = [d for d in self.base.glob(f"node*/log/{topic}-*") if d.is_dir() and d.name[len(topic) + 1:].isdigit()]
        return sum(1 for d in dirs for _ in d.glob("*.log"))

    def stop(self, delete_data=True):
        """Stops every node (cluster-stop.sh: SIGTERM, SIGKILL after 30 s), keeps
        the nodes' logs under target/bench/logs/ and deletes the data."""
        if (self.base / "cluster.env").exists():
            subprocess.run([str(CLUSTER_LIB / "cluster-stop.sh"), str(self.base)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env())
        for i in range(1, CLUSTER_NODES + 1):
            node_log = self.base / f"node{i}" / "node.log"
            if node_log.exists():
                shutil.copyfile(node_log, LOGS / f"{self.name}-cluster-{self.run}-node{i}.log")
        self.pids = []
        if delete_data:
            shutil.rmtree(self.base, ignore_errors=True)


class ReplicatedLoad:
    """One load against a fresh three-node cluster of each target: a topic of
    `partitions` partitions, replication factor 3, min.insync.replicas=2,
    written by the franz-go producer with acks=all (idempotent)."""

    cluster = True

    def __init__(self, name, desc, partitions, records, size, warmup_records):
        self.name, self.desc, self.partitions, self.records, self.size = name, desc, partitions, scaled(records), size
        self.warmup_records = scaled(warmup_records)

    def run(self, cluster):
        topic = self.name
        warmup = f"{self.name}-warmup"
        out, _ = run_client(cluster, f"{self.name}-{cluster.run}-create", java_bench(
            "create-topics", cluster.bootstrap, "--replication-factor", str(CLUSTER_NODES),
            "--config", "min.insync.replicas=2", f"{topic}:{self.partitions}", f"{warmup}:{self.partitions}"))
        out_created = out
        # The same load into a topic of its own first, not reported: brings
        # the JIT of fresh Kafka nodes to a steady state, as the single-node
        # warm-up does.
        w = franz_perf(cluster, f"{self.name}-{cluster.run}-warmup", warmup, self.warmup_records, self.size, "all")
        log(f"{cluster.name}: warm-up: {w['records_per_s']:,.0f} records/s, broker CPU {w['broker_cpu_s']:.1f} s")
        os.sync()
        before_nodes = cluster.node_cpu()
        m = franz_perf(cluster, f"{self.name}-{cluster.run}", topic, self.records, self.size, "all")
        after_nodes = cluster.node_cpu()
        m["node_cpu_s"] = [a - b for a, b in zip(after_nodes, before_nodes)]
        m["segments"] = cluster.segments(topic)
        m["leaders"] = re.search(rf"topic={re.escape(topic)} (?:\S+ )*?leaders=(\S+)", out_created).group(1)
        m["warmup_records_per_s"] = w["records_per_s"]
        # acks=all waits for the ISR: if a follower fell out of it during the
        # load, fewer than three copies were waited for.
        out, _ = run_client(cluster, f"{self.name}-{cluster.run}-isr", java_bench("isr", cluster.bootstrap, topic))
        after = result_line(out)
        m["isr_after"] = int(after["isr"])
        m["replicas"] = int(after["replicas"])
        return m


REPLICATED_LOADS = [
    ReplicatedLoad("replicated-franz-1k-acksall-p3",
                   "3 nodes, RF=3, min.insync.replicas=2, 3 partitions; franz-go: 1 KiB, acks=all (idempotent)",
                   3, 500_000, RECORD_1K, 150_000),
]
# BENCH_LOADS=replicated selects every replicated load.
LOAD_GROUPS = {"replicated": [ld.name for ld in REPLICATED_LOADS]}
# BENCH_LOADS=txn selects the transactional load(s).
LOAD_GROUPS["txn"] = [ld.name for ld in LOADS if ld.name.startswith("txn")]


def run_replicated(order, loads, results, track):
    """Each replicated load, BENCH_REPLICATED_RUNS times for each target, a
    fresh cluster each time; the targets alternate their order from one run to
    the next. Keeps every run and reports the median. track(cluster) is told
    the cluster about to start (so that a signal handler can stop it)."""
    for ld in loads:
        runs = {b: [] for b in order}
        for run in range(1, REPLICATED_RUNS + 1):
            for b in (order if run % 2 == 1 else list(reversed(order))):
                res = results.setdefault(b, {})
                res.setdefault("loads", {})
                res.setdefault("errors", {})
                cluster = Cluster(b, run)
                track(cluster)
                try:
                    log(f"{b}: {ld.name} run {run}/{REPLICATED_RUNS}: {ld.desc}")
                    start_s = cluster.start()
                    log(f"{b}: cluster of {CLUSTER_NODES} up after {start_s:.1f} s, bootstrap {cluster.bootstrap}")
                    m = ld.run(cluster)
                    m["cluster_start_s"] = start_s
                    m["broker_cpu_s_per_gb"] = m["broker_cpu_s"] / (m["bytes"] / GB)
                    m["run"] = run
                    runs[b].append(m)
                    summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items())
                    log(f"{b}: {ld.name} run {run}: {summary}")
                except (RuntimeError, subprocess.CalledProcessError, OSError, KeyError, ValueError,
                        AttributeError) as e:
                    log(f"{b}: {ld.name} run {run} FAILED: {e}")
                    res["errors"][f"{ld.name} run {run}"] = str(e)
                finally:
                    cluster.stop()
                    track(None)
        for b, ms in runs.items():
            if not ms:
                continue
            res = results[b]
            med = {}
            for key, v in ms[0].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    med[key] = statistics.median(m[key] for m in ms)
            med["isr_after"] = min(m["isr_after"] for m in ms)
            med["runs"] = ms
            res["loads"][ld.name] = med


# ---------------------------------------------------------------------------
# report

# (metric key, label, unit-ish format, higher is better)
PRODUCE_METRICS = [
    ("records_per_s", "records/s", "{:,.0f}", True),
    ("mib_per_s", "MiB/s", "{:.1f}", True),
    ("lat_p50_ms", "produce latency p50 (ms)", "{:.0f}", False),
    ("lat_p99_ms", "produce latency p99 (ms)", "{:.0f}", False),
    ("lat_p999_ms", "produce latency p99.9 (ms)", "{:.0f}", False),
    ("broker_cpu_s", "broker CPU (s)", "{:.1f}", False),
    ("broker_cpu_s_per_gb", "broker CPU s per GB", "{:.2f}", False),
    ("client_cpu_s", "client CPU (s)", "{:.1f}", False),
    ("broker_hwm_mib", "broker peak RSS so far (MiB)", "{:.0f}", False),
    ("segments", "segment files after the load", "{:,.0f}", False),
]
CONSUME_METRICS = [m for m in PRODUCE_METRICS if not m[0].startswith("lat_") and m[0] != "segments"]
CONSUME_METRICS[1:1] = [
    ("records_per_s_with_join", "records/s including the group join", "{:,.0f}", True),
    ("group_join_ms", "group join (ms)", "{:,.0f}", False),
]
# How much else ran meanwhile: the noise floor of the row above.
NOISE_METRICS = [
    ("other_cpu_s", "other processes' CPU (s)", "{:.1f}", False),
    ("cpu_pressure_pct", "CPU pressure, some (%)", "{:.0f}", False),
]
# The replicated rows: sums over the three nodes of each cluster.
REPLICATED_METRICS = [
    ("records_per_s", "records/s", "{:,.0f}", True),
    ("mib_per_s", "MiB/s", "{:.1f}", True),
    ("lat_p50_ms", "produce latency p50 (ms)", "{:.1f}", False),
    ("lat_p99_ms", "produce latency p99 (ms)", "{:.1f}", False),
    ("lat_p999_ms", "produce latency p99.9 (ms)", "{:.1f}", False),
    ("broker_cpu_s", "broker CPU (s), 3 nodes", "{:.1f}", False),
    ("broker_cpu_s_per_gb", "broker CPU s per GB, 3 nodes", "{:.2f}", False),
    ("client_cpu_s", "client CPU (s)", "{:.1f}", False),
    ("broker_hwm_mib", "peak RSS, 3 nodes summed (MiB)", "{:.0f}", False),
    ("segments", "segment files, all replicas", "{:,.0f}", False),
    ("isr_after", "replicas in ISR after the load (of 9)", "{:.0f}", True),
]
E2E_METRICS = [
    ("e2e_p50_us", "end-to-end p50 (µs)", "{:,.0f}", False),
    ("e2e_p99_us", "end-to-end p99 (µs)", "{:,.0f}", False),
    ("e2e_p999_us", "end-to-end p99.9 (µs)", "{:,.0f}", False),
    ("e2e_max_us", "end-to-end max (µs)", "{:,.0f}", False),
    ("broker_cpu_s", "broker CPU (s)", "{:.1f}", False),
    ("broker_hwm_mib", "broker peak RSS so far (MiB)", "{:.0f}", False),
]
TXN_METRICS = [
    ("records_per_s", "records/s", "{:,.0f}", True),
    ("mib_per_s", "MiB/s", "{:.1f}", True),
    ("txn_per_s", "transactions/s", "{:,.0f}", True),
    ("commit_p50_ms", "commitTransaction p50 (ms)", "{:.1f}", False),
    ("commit_p99_ms", "commitTransaction p99 (ms)", "{:.1f}", False),
    ("e2e_p50_ms", "end-to-end p50, read_committed (ms)", "{:.1f}", False),
    ("e2e_p99_ms", "end-to-end p99, read_committed (ms)", "{:.1f}", False),
    ("e2e_p999_ms", "end-to-end p99.9, read_committed (ms)", "{:.1f}", False),
    ("e2e_max_ms", "end-to-end max, read_committed (ms)", "{:.1f}", False),
    ("broker_cpu_s", "broker CPU (s)", "{:.1f}", False),
    ("broker_cpu_s_per_gb", "broker CPU s per GB", "{:.2f}", False),
    ("client_cpu_s", "client CPU (s)", "{:.1f}", False),
    ("broker_hwm_mib", "broker peak RSS so far (MiB)", "{:.0f}", False),
    ("transaction_version", "transaction.version (finalized)", "{:.0f}", True),
]


def rows(results, names):
    """(load, metric, fjord, kafka, ratio, higher_is_better, fmt) for every measured value."""
    out = []
    f, k = results.get("fjord", {}), results.get("kafka", {})

    def add(load, label, fv, kv, fmt, hib):
        ratio = fv / kv if fv is not None and kv not in (None, 0) else None
        out.append((load, label, fv, kv, ratio, hib, fmt))

    def med(r, key):
        return statistics.median(r[key]) if r.get(key) else None

    if f.get("startup") or k.get("startup"):
        add("start-up", "process start to first Metadata (ms)",
            med(f, "startup") and med(f, "startup") * 1000, med(k, "startup") and med(k, "startup") * 1000,
            "{:,.0f}", False)
        add("start-up", "idle RSS (MiB)", med(f, "idle_rss_mib"), med(k, "idle_rss_mib"), "{:.1f}", False)
    for name in names:
        if name == "warmup":
            continue
        fm = f.get("loads", {}).get(name)
        km = k.get("loads", {}).get(name)
        if name.startswith("replicated"):
            metrics = REPLICATED_METRICS
        elif name.startswith("e2e"):
            metrics = E2E_METRICS
        elif name.startswith("txn"):
            metrics = TXN_METRICS
        elif name.startswith("consume"):
            metrics = CONSUME_METRICS
        else:
            metrics = PRODUCE_METRICS
        metrics = metrics + NOISE_METRICS
        for key, label, fmt, hib in metrics:
            fv = fm.get(key) if fm else None
            kv = km.get(key) if km else None
            if fv is None and kv is None:
                continue
            add(name, label, fv, kv, fmt, hib)
    if f.get("final_hwm_mib") is not None or k.get("final_hwm_mib") is not None:
        add("whole run", "broker peak RSS, VmHWM (MiB)", f.get("final_hwm_mib"), k.get("final_hwm_mib"), "{:.0f}",
            False)
    return out


def fmt_value(v, fmt):
    if v is None:
        return "—"
    return fmt.format(v)


def fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def load_metric(results, broker, load, key):
    return results.get(broker, {}).get("loads", {}).get(load, {}).get(key)


def targets(results):
    """The issue's targets: (target, measured, met?)."""
    out = []

    def ratio(load, key):
        f, k = load_metric(results, "fjord", load, key), load_metric(results, "kafka", load, key)
        return f / k if f is not None and k else None

    for load in ["produce-1k-acks1-p1", "produce-1k-acks1-p8", "produce-1k-acksall-p1", "produce-1k-acksall-p8",
                 "produce-100b-acks1-p1", "franz-1k-acks1-p1", "franz-1k-acks1-p8"]:
        r = ratio(load, "records_per_s")
        out.append((f"produce throughput ≥ 1.5× Kafka ({load})", r, r is not None and r >= 1.5, "×"))
    for load in ["consume-perftest", "consume-assign"]:
        r = ratio(load, "records_per_s")
        out.append((f"consume throughput ≥ 1.5× Kafka ({load})", r, r is not None and r >= 1.5, "×"))
    for load in ["produce-1k-acks1-p1", "produce-1k-acks1-p8", "produce-1k-acksall-p8", "franz-1k-acks1-p8"]:
        f, k = (load_metric(results, b, load, "broker_cpu_s_per_gb") for b in ("fjord", "kafka"))
        r = f / k if f is not None and k else None
        out.append((f"broker CPU s per GB produced ≤ 0.5× Kafka ({load})", r, r is not None and r <= 0.5, "×"))
    for load in ["e2e-franz", "e2e-java"]:
        r = ratio(load, "e2e_p99_us")
        out.append((f"end-to-end p99 ≤ 0.5× Kafka ({load})", r, r is not None and r <= 0.5, "×"))
    fi, ki = results.get("fjord", {}).get("idle_rss_mib"), results.get("kafka", {}).get("idle_rss_mib")
    r = statistics.median(fi) / statistics.median(ki) if fi and ki else None
    out.append(("idle RSS ≤ 0.1× Kafka", r, r is not None and r <= 0.1, "×"))
    fs, ks = results.get("fjord", {}).get("startup"), results.get("kafka", {}).get("startup")
    r = statistics.median(fs) / statistics.median(ks) if fs and ks else None
    out.append(("start-up time ≤ 0.05× Kafka", r, r is not None and r <= 0.05, "×"))
    for b in ("fjord", "kafka"):
        p8 = load_metric(results, b, "produce-1k-acks1-p8", "records_per_s")
        p1000 = load_metric(results, b, "produce-1k-acks1-p1000", "records_per_s")
        r = p1000 / p8 if p8 and p1000 is not None else None
        label = "fjord" if b == "fjord" else "Kafka (for reference)"
        out.append((f"{label}: 1,000-partition throughput within 20% of 8 partitions (1000p / 8p)", r,
                    r is not None and r >= 0.8, "×"))
    return out


def replicated_runs_md(results, names):
    """Every run of each replicated load (the table shows their median)."""
    out = []
    for name in names:
        if not name.startswith("replicated"):
            continue
        lines = []
        for b in ("fjord", "kafka"):
            for m in results.get(b, {}).get("loads", {}).get(name, {}).get("runs", []):
                nodes = " / ".join(f"{c:.1f}" for c in m.get("node_cpu_s", []))
                lines.append(f"| {b} | {m['run']} | {m['records_per_s']:,.0f} | {m['mib_per_s']:.1f} | "
                             f"{m['lat_p99_ms']:.1f} | {m['broker_cpu_s_per_gb']:.2f} | {nodes} | "
                             f"{m.get('leaders', '?')} | {m['isr_after']}/{m['replicas']} | "
                             f"{m.get('other_cpu_s', 0):.1f} | {m.get('cpu_pressure_pct', 0):.0f} | "
                             f"{m['cluster_start_s']:.1f} |")
        if lines:
            out += [f"## {name}: every run", "",
                    "The results table holds the median of these runs; runs alternate which target goes first.", "",
                    "| target | run | records/s | MiB/s | produce p99 (ms) | broker CPU s/GB (3 nodes) | "
                    "CPU s per node (1/2/3) | leaders (p0,p1,…) | ISR after | other CPU (s) | CPU pressure (%) | "
                    "cluster start (s) |",
                    "|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|", *lines, ""]
    return out


def write_report(results, info, settings, names, elapsed_s, finished=None):
    table = rows(results, names)
    lines = ["| load | metric | fjord | kafka | fjord/kafka |", "|---|---|---:|---:|---:|"]
    csv = ["load,metric,fjord,kafka,ratio_fjord_over_kafka,higher_is_better"]
    for load, label, fv, kv, r, hib, fmt in table:
        lines.append(f"| {load} | {label} | {fmt_value(fv, fmt)} | {fmt_value(kv, fmt)} | {fmt_ratio(r)} |")
        csv.append(",".join([load, '"' + label + '"', "" if fv is None else f"{fv:.6g}", "" if kv is None else f"{kv:.6g}",
                             "" if r is None else f"{r:.6g}", "1" if hib else "0"]))
    # The targets are about the single-node loads: left out of a run of replicated loads only.
    single = any(r.get("startup") for r in results.values())
    tgt_list = targets(results) if single else []
    tgt = ["| target | fjord/kafka | met |", "|---|---:|---|"]
    for label, r, met, _unit in tgt_list:
        tgt.append(f"| {label} | {fmt_ratio(r)} | {'yes' if met else ('no' if r is not None else 'not measured')} |")
    errors = []
    for b in ("fjord", "kafka"):
        for load, e in results.get(b, {}).get("errors", {}).items():
            errors.append(f"- **{b} / {load}**: {e}")
    md = [
        "# fjord vs Apache Kafka: `make bench-compare`",
        "",
        f"Run finished {finished or time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {elapsed_s / 60:.1f} minutes. "
        "Ratios are fjord divided by Kafka, from this single run. On a shared machine throughput and latency "
        "ratios swing with whatever else runs (see `other processes' CPU` per load); broker CPU per GB, "
        "RSS and start-up are the steady figures.",
        "",
        "## Results",
        "",
        *lines,
        "",
    ]
    if single:
        md += ["## Targets (issue 5)", "", *tgt, ""]
    spread = replicated_runs_md(results, names)
    if spread:
        md += spread
    if errors:
        md += ["## Failures", "", *errors, ""]
    md += ["## Machine", ""] + [f"- {k}: {v}" for k, v in info.items()] + ["", "## Settings", ""] + \
        [f"- {s}" for s in settings] + [""]
    (OUT / "compare.md").write_text("\n".join(md))
    (OUT / "compare.csv").write_text("\n".join(csv) + "\n")
    width = max(len(load) for load, *_ in table) if table else 10
    mw = max(len(label) for _, label, *_ in table) if table else 10
    print(f"{'load':<{width}}  {'metric':<{mw}}  {'fjord':>12}  {'kafka':>12}  {'fjord/kafka':>11}")
    for load, label, fv, kv, r, hib, fmt in table:
        print(f"{load:<{width}}  {label:<{mw}}  {fmt_value(fv, fmt):>12}  {fmt_value(kv, fmt):>12}  {fmt_ratio(r):>11}")
    print()
    for label, r, met, _ in tgt_list:
        print(f"{'MET   ' if met else 'MISSED' if r is not None else 'N/A   '} {label}: {fmt_ratio(r)}")
    if spread and tgt_list:
        print()
    for line in spread:
        print(line)
    for e in errors:
        print(e)


def settings_text():
    counts = "; ".join(f"{ld.name} {ld.records:,}" for ld in LOADS if ld.records)
    backlog_gib = scaled(BACKLOG_RECORDS) * RECORD_1K / (1 << 30)
    return [
        "Broker pinned with `taskset -c 0` from its first instruction (so the JVM and tokio both see one CPU); "
        "every load generator pinned with `taskset -c 1`. Nothing else is pinned: other users of the machine "
        "share both CPUs, which the row `other processes' CPU` shows (all non-idle CPU time of the machine minus "
        "broker and client, so it includes kernel threads such as page-cache writeback). `CPU pressure` is "
        "/proc/pressure/cpu `some`: the share of time any task waited for a CPU, including the broker's and "
        "client's own threads queueing on their single CPU.",
        "Apache Kafka " + KAFKA_VERSION + ": single node, KRaft combined mode (process.roles=broker,controller), "
        "server.properties as compat/lib/kafka-start.sh writes it (replication factors 1), Kafka's defaults "
        "otherwise; JVM flags of kafka-server-start.sh: `" + " ".join(KAFKA_JVM) + "`. Start-up excludes "
        "`kafka-storage format`, which runs before the timed start.",
        "fjord: target/release/fjord, embedded defaults plus listeners/advertised.listeners/log.dirs/node.id overrides.",
        "Each broker's data dir is fresh, under target/bench/data/ (same disk for both); brokers run one after the "
        f"other ({os.environ.get('BENCH_BROKERS', 'kafka,fjord')}); `sync` before every load. After each load the "
        "topics no later load reads are deleted (Kafka runs with `file.delete.delay.ms=0`, the one setting added "
        f"for the bench) and both brokers get {DELETE_SETTLE_S} s to unlink them, so a load's page-cache writes "
        "reuse freed pages instead of VM memory the host has taken back (a host fault per first-written page).",
        f"Start-up: median of {STARTUPS} fresh starts; time from spawning the process to the first Metadata v4 "
        "response naming a broker (probed every 5 ms); idle RSS is VmRSS 2 s later.",
        "Produce loads: org.apache.kafka.tools.ProducerPerformance (kafka-producer-perf-test) "
        f"`--throughput -1 --producer-props acks=… {' '.join(PRODUCE_PROPS)}`, client JVM `{' '.join(CLIENT_JVM[:-1])}`; "
        "acks=all leaves the Java default enable.idempotence=true; acks=1 turns idempotence off. "
        "The tool's MB/s is MiB/s. Produce latency is the tool's send-to-ack latency (ms), mostly client-side "
        "queueing at an unthrottled rate. Topics (Admin, replication factor 1) of up to 8 partitions are created "
        "together before the first load, the 100- and 1,000-partition topics right before their loads. "
        "A 300,000-record warm-up (8 partitions) runs first and is not reported.",
        f"Record counts (BENCH_SCALE={SCALE * 100:.0f}%): {counts}.",
        f"Consume: both loads read the whole 1-partition topic of the first load, {backlog_gib:.2f} GiB, mostly "
        "from the page cache. `consume-perftest`: org.apache.kafka.tools.ConsumerPerformance "
        "(kafka-consumer-perf-test, its defaults: a new group, 1 MiB fetch size, from the earliest offset); "
        "records/s and MiB/s are its fetch-phase figures (fetch.nMsg.sec, fetch.MB.sec), which exclude the "
        "group join. `consume-assign`: benches/compare/java/Bench.java `consume` (KafkaConsumer, assign() + "
        "seekToBeginning, no group, consumer defaults), timed from the first poll.",
        f"End-to-end: one producer (acks=1, no linger, no compression) at {E2E_RATE} records/s of 1 KiB to one "
        "partition, send time in the value, one consumer (assign(), from the end) in the same process, so both "
        f"ends read one clock; {E2E_WARMUP_S} s warm-up, then {E2E_MEASURE_S} s measured. `e2e-java`: Bench.java with "
        "kafka-clients 4.1 (consumer defaults: fetch.min.bytes=1, fetch.max.wait.ms=500); `e2e-franz`: "
        "benches/compare/franz with franz-go v1.22.3 (a lighter client on the shared CPU).",
        f"Transactions (`txn-java-1k-p1`): benches/compare/java/Bench.java `txn`, kafka-clients 4.1: a KafkaProducer "
        f"with a transactional.id (acks=all, idempotent, linger.ms=5, batch.size=131072, no compression) runs "
        f"beginTransaction, {TXN_RECORDS_PER_TXN} sends of 1 KiB to one partition, commitTransaction, one "
        f"transaction after the other as fast as they commit, for {TXN_WARMUP_S} s warm-up + {TXN_MEASURE_S} s "
        "measured (initTransactions before the clock). A KafkaConsumer with isolation.level=read_committed "
        "(assign(), from the end, consumer defaults) in the same JVM records, per record, send() to the poll that "
        "returned it: end-to-end latency including the commit and the marker. Records/s, MiB/s and latency "
        "cover the transactions begun after the warm-up; broker CPU (and so CPU per GB) the whole client run, "
        "serving the consumer included, divided by every record sent. The row fails unless the consumer saw "
        "every record once and in order. `transaction.version` is the finalized level Admin describeFeatures "
        "reports (2: KIP-890 part 2).",
        "franz-go produce rows: benches/compare/franz, linger 5 ms, 128 KiB batches, no compression, acks=1 "
        "with idempotence off; latency is Produce call to promise.",
        "Broker CPU: utime+stime of the broker process from /proc/<pid>/stat around the client run (including "
        "the client JVM's start-up, when the broker idles). CPU per GB: divided by record payload bytes / 1e9. "
        "Client CPU: the load generator's own user+system time. RSS: VmRSS/VmHWM of /proc/<pid>/status.",
        "Replicated loads (" + ", ".join(ld.name for ld in REPLICATED_LOADS) + f"; records: "
        + "; ".join(f"{ld.records:,}" for ld in REPLICATED_LOADS) + "): for each target a fresh three-node KRaft "
        "cluster from compat/lib/cluster-start.sh (three combined broker+controller nodes, the same "
        "server.properties for both targets: compat/lib/common.sh write_node_properties, internal topics RF 3), "
        "started under `taskset -c 0`, so all three nodes share the broker CPU; Kafka nodes with "
        f"CLUSTER_JVM_OPTS=`{CLUSTER_KAFKA_JVM}` (kafka-server-start.sh's flags, a 1 GiB heap each). One topic, "
        "replication factor 3, min.insync.replicas=2, created through Admin (Bench.java create-topics, which "
        "waits until every partition's ISR holds all three replicas); the franz-go producer (as the franz-go "
        "rows, linger 5 ms, 128 KiB batches) with acks=all and idempotence (franz-go's default), seeded with "
        "all three nodes. Before it, a warm-up of " + "; ".join(f"{ld.warmup_records:,}" for ld in REPLICATED_LOADS)
        + " records into a second topic of the same shape on the same cluster (not reported; JIT). Broker CPU is utime+stime summed over the three node processes around the producer "
        "run (not around topic creation); CPU per GB divides it by the record payload (once, not per "
        "replica); peak RSS is the three nodes' VmHWM summed. `replicas in ISR after the load` is the ISR "
        "(Admin describeTopics) right after the producer finished: 9 means acks=all waited for every replica "
        f"throughout. The cluster is stopped (cluster-stop.sh) and its data deleted after each run; "
        f"BENCH_REPLICATED_RUNS={REPLICATED_RUNS} run(s) per target, alternating which target goes first; the "
        "results table shows the median and a section below it every run.",
    ]


def report_only():
    """Rewrites the report from target/bench/results.json (after editing the
    report code, without measuring again)."""
    saved = json.loads((OUT / "results.json").read_text())
    names = [ld.name for ld in LOADS + REPLICATED_LOADS]
    finished = saved.get("finished") or time.strftime(
        "%Y-%m-%d %H:%M:%S %Z", time.localtime((OUT / "results.json").stat().st_mtime))
    write_report(saved["results"], saved["machine"], settings_text(), names, saved.get("elapsed_s", 0), finished)
    return 0


def main():
    if sys.argv[1:] == ["--report"]:
        return report_only()
    for d in (OUT, LOGS, DATA):
        d.mkdir(parents=True, exist_ok=True)
    wanted = [y for x in os.environ.get("BENCH_LOADS", "").split(",") if x for y in LOAD_GROUPS.get(x, [x])]
    names = [ld.name for ld in LOADS + REPLICATED_LOADS if not wanted or ld.name in wanted]
    unknown = [x for x in wanted if x not in names]
    if unknown:
        log(f"BENCH_LOADS: unknown load(s) {unknown}; known: {[ld.name for ld in LOADS + REPLICATED_LOADS]}, "
            f"groups {list(LOAD_GROUPS)}")
        return 2
    single = not wanted or any(ld.name in wanted for ld in LOADS)
    replicated = [ld for ld in REPLICATED_LOADS if not wanted or ld.name in wanted]
    order = [b for b in os.environ.get("BENCH_BROKERS", "kafka,fjord").split(",") if b]
    info = machine()
    log(f"machine: {info}")
    t0 = time.monotonic()
    results = {}
    brokers = {"kafka": Kafka, "fjord": Fjord}
    current = None

    def on_signal(signum, _frame):
        if current is not None:
            current.stop(delete_data=False)
        sys.exit(128 + signum)

    def track(c):
        nonlocal current
        current = c

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for b in order if single else []:
        current = brokers[b]()
        try:
            results[b] = run_broker(current, wanted)
        except RuntimeError as e:
            log(f"{b}: {e}")
            results[b] = {"errors": {"start": str(e)}}
            current.stop()
        current = None
    if replicated:
        run_replicated(order, replicated, results, track)
    elapsed = time.monotonic() - t0
    finished = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    (OUT / "results.json").write_text(json.dumps({"machine": info, "results": results, "elapsed_s": elapsed,
                                                  "finished": finished}, indent=1))
    write_report(results, info, settings_text(), names, elapsed, finished)
    log(f"done in {elapsed / 60:.1f} minutes; wrote {OUT / 'compare.md'} and {OUT / 'compare.csv'}")
    failed = any(r.get("errors") for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
