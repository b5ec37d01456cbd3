#!/usr/bin/env python3
"""fault/run.py — what `make fault-test` runs (fault/README.md).

Starts the fault proxy and a 3- or 5-node cluster of TARGET laid out behind
it (compat/lib/cluster-start.sh with CLUSTER_FAULT_BASE_PORT), creates an
RF=3, min.insync.replicas=2 topic, runs two idempotent acks=all producers
(Java client, franz-go) and two group consumers (Java, franz-go), applies a
random schedule of faults drawn from FAULT_SEED, then heals everything,
waits for full ISRs, stops the cluster cleanly and runs fault/check.py on
the nodes' data directories. Exit status: check.py's (0 clean, 1 when any
count is not zero), 2 on a setup failure, 3 on an interruption.

Environment:
  TARGET          fjord (default) or kafka
  FAULT_SEED      the schedule's seed (default: random; always printed)
  FAULT_PROFILE   default (>= 30 faults, about 5 minutes of faults) or short
                  (10 faults, about 90 s)
  FAULT_NODES     3 (default) or 5
  FAULT_BASE_PORT first of 100 ports used on 127.0.0.1..N (default 39400)
  FAULT_RATE      records/s per producer (default 200)
  FAULT_PLANT     show that the checker fails (fault/README.md):
                  unclean   the topic has min.insync.replicas=1 and the nodes
                            unclean.leader.election.enable=true and
                            replica.lag.time.max.ms=3000, a setup that can lose
                            acknowledged records under these faults
                  unclean-control  the same schedule with the safe settings
                            (min ISR 2, no unclean election): must pass
                  diverge   after the clean stop, node 2's copy of the first
                            record of partition 0 gets another value (CRC fixed)
                  truncate  after the clean stop, the last batch of partition 0
                            is cut off every replica before the check
  FAULT_WORK      work dir (default target/fault-test/<target>)
  FAULT_TIMEOUT_S the whole run's bound (default 1500): then it stops
                  everything and exits 3
"""
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "compat", "lib")

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


_print_lock = threading.Lock()


def say(msg):
    with _print_lock:
        print(f"[{now():6.1f}s] {msg}", flush=True)


class Setup(Exception):
    pass


# ---------------------------------------------------------------------------
# the schedule

NODE_KINDS = ("kill", "pause", "restart")
LINK_KINDS = ("isolate", "data-isolate", "cut", "delay", "drop", "client-cut")
KINDS = NODE_KINDS + LINK_KINDS

PROFILES = {
    # faults, seconds between planned starts (min, max), fault duration (min, max), fault-phase budget
    "default": dict(faults=34, gap=(4.0, 9.0), dur=(3.0, 10.0), budget=480),
    "short": dict(faults=10, gap=(3.0, 6.0), dur=(2.0, 6.0), budget=150),
}


def make_schedule(seed, profile, nodes):
    """The list of faults, each a dict(kind, at, dur, ...), from SEED alone."""
    rng = random.Random(seed)
    prof = PROFILES[profile]
    kinds = list(KINDS)
    while len(kinds) < prof["faults"]:
        kinds.append(rng.choice(KINDS))
    rng.shuffle(kinds)
    ids = list(range(1, nodes + 1))
    out = []
    at = 8.0  # let the clients get going first
    for n, kind in enumerate(kinds, 1):
        f = dict(n=n, kind=kind, at=round(at, 1), dur=round(rng.uniform(*prof["dur"]), 1))
        if kind in NODE_KINDS or kind in ("isolate", "data-isolate", "client-cut"):
            f["node"] = rng.choice(ids)
        else:
            a, b = rng.sample(ids, 2)
            f["a"], f["b"] = a, b
        if kind == "delay":
            f["ms"] = rng.choice((20, 50, 100, 200, 400))
        out.append(f)
        at += rng.uniform(*prof["gap"])
    return out


# FAULT_PLANT=unclean: with min.insync.replicas=1, unclean leader election and
# replica.lag.time.max.ms=3000, node 1's followers stop fetching (its
# inter-broker links are cut, its KRaft links are not), so the ISRs of the
# partitions it leads shrink to node 1 alone and it acknowledges records
# nobody else has; then node 1 is killed and stays down long enough to be
# fenced, so a stale replica is elected (uncleanly) and node 1, restarted,
# truncates to it: acknowledged records are lost.
PLANT_UNCLEAN = [
    dict(n=1, kind="data-isolate", node=1, at=8.0, dur=30.0),
    dict(n=2, kind="kill", node=1, at=18.0, dur=30.0),
]


def describe(f):
    k = f["kind"]
    if k == "kill":
        return f"SIGKILL node {f['node']}, restart after {f['dur']}s"
    if k == "pause":
        return f"SIGSTOP node {f['node']} for {f['dur']}s"
    if k == "restart":
        return f"SIGTERM node {f['node']} (clean stop), restart after {f['dur']}s"
    if k == "isolate":
        return f"cut every link between node {f['node']} and its peers for {f['dur']}s"
    if k == "data-isolate":
        return (f"cut the inter-broker links between node {f['node']} and its peers for {f['dur']}s "
                "(KRaft links stay: ISRs shrink)")
    if k == "cut":
        return f"cut the links between nodes {f['a']} and {f['b']} for {f['dur']}s"
    if k == "delay":
        return f"delay the links between nodes {f['a']} and {f['b']} by {f['ms']} ms for {f['dur']}s"
    if k == "drop":
        return f"drop every byte from node {f['a']} to node {f['b']} (one way) for {f['dur']}s"
    if k == "client-cut":
        return f"cut the clients' link to node {f['node']} for {f['dur']}s"
    return str(f)


# ---------------------------------------------------------------------------
# processes


class Proxy:
    def __init__(self, binary, spec, log):
        self.lock = threading.Lock()
        self.log = open(log, "ab")
        self.p = subprocess.Popen([binary, "proxy", spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, start_new_session=True)
        line = self.p.stdout.readline().strip()
        if line != "ready":
            raise Setup(f"the proxy did not start (see {log})")

    def cmd(self, line):
        with self.lock:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            reply = self.p.stdout.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError(f"proxy: {line}: {reply or 'no answer'}")
        return reply

    def stop(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
                self.p.wait(5)
            except Exception:
                self.p.kill()
                self.p.wait()


class Harness:
    def __init__(self):
        self.target = os.environ.get("TARGET", "fjord")
        if self.target not in ("fjord", "kafka"):
            raise Setup("TARGET must be fjord or kafka")
        self.profile = os.environ.get("FAULT_PROFILE", "default")
        if self.profile not in PROFILES:
            raise Setup(f"FAULT_PROFILE must be one of {', '.join(PROFILES)}")
        self.nodes = int(os.environ.get("FAULT_NODES", "3"))
        if self.nodes not in (3, 5):
            raise Setup("FAULT_NODES must be 3 or 5")
        seed = os.environ.get("FAULT_SEED", "")
        self.seed = int(seed) if seed else random.SystemRandom().randrange(1, 2**31)
        self.base_port = int(os.environ.get("FAULT_BASE_PORT", "39400"))
        self.rate = int(os.environ.get("FAULT_RATE", "200"))
        self.plant = os.environ.get("FAULT_PLANT", "")
        if self.plant not in ("", "unclean", "unclean-control", "truncate", "diverge"):
            raise Setup("FAULT_PLANT must be empty, unclean, unclean-control, truncate or diverge")
        self.work = os.environ.get("FAULT_WORK") or os.path.join(ROOT, "target", "fault-test", self.target)
        self.cluster = os.path.join(self.work, "cluster")
        self.topic = f"fault-{self.seed}"
        self.procs = {}  # name -> Popen (clients)
        self.proxy = None
        self.cluster_started = False
        self.down = {}  # node -> "killed" | "stopped" | "paused"
        self.down_lock = threading.Lock()
        self.errors = []

    # -- helpers --

    def run(self, args, timeout, env=None, check=True, capture=True):
        e = dict(os.environ)
        if env:
            e.update(env)
        with open(self.log_path, "ab") as log:
            log.write(f"# {now():.1f}s $ {' '.join(shlex.quote(a) for a in args)}\n".encode())
            log.flush()
            try:
                r = subprocess.run(args, stdout=subprocess.PIPE if capture else log, stderr=log, text=True,
                                   timeout=timeout, env=e)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"timed out after {timeout}s: {' '.join(args[:3])} ...")
        out = (r.stdout or "").strip() if capture else ""
        if capture:
            with open(self.log_path, "a") as log:
                log.write(out + "\n")
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])} ... exited {r.returncode}: {out.splitlines()[-1] if out else ''}")
        return r.returncode, out

    def java(self, *args, timeout=120, check=True):
        return self.run(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xms32m", "-Xmx256m",
                         "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", self.java_cp,
                         "dev.fjord.compat.FaultClient", *args], timeout, check=check)

    def node(self, action, i, timeout=150):
        env = {"CLUSTER_NODE_TIMEOUT_S": "120", "CLUSTER_STOP_TIMEOUT_S": "30"}
        return self.run([os.path.join(LIB, "cluster-node.sh"), self.cluster, action, str(i)], timeout, env=env,
                        check=False, capture=False)[0]

    def bootstrap(self):
        with open(os.path.join(self.cluster, "bootstrap")) as f:
            return f.read().strip()

    # -- set-up --

    def build(self):
        kit_dir = os.path.join(HERE, "kit")
        self.kit = os.path.join(ROOT, "target", "fault-test", "faultkit")
        os.makedirs(os.path.dirname(self.kit), exist_ok=True)
        srcs = [os.path.join(kit_dir, f) for f in os.listdir(kit_dir)]
        if not os.path.exists(self.kit) or any(os.path.getmtime(s) > os.path.getmtime(self.kit) for s in srcs):
            say("building fault/kit (go build)")
            self.run(["sh", "-c", f"cd {shlex.quote(kit_dir)} && GOFLAGS=-mod=readonly go build -trimpath "
                      f"-o {shlex.quote(self.kit)}.tmp . && mv {shlex.quote(self.kit)}.tmp {shlex.quote(self.kit)}"],
                     600)
        _, cp = self.run([os.path.join(ROOT, "compat", "java", "run.sh"), "--classpath"], 900)
        self.java_cp = cp.splitlines()[-1]
        if self.target == "fjord":
            fj = os.environ.get("FJORD_BIN", os.path.join(ROOT, "target", "release", "fjord"))
            if not os.access(fj, os.X_OK):
                raise Setup(f"{fj} not found: run 'cargo build --release' (make fault-test does)")

    def proxy_spec(self):
        b, n = self.base_port, self.nodes
        lines = []
        for i in range(1, n + 1):
            me = f"127.0.0.{i}"
            lines.append(f"{me}:{b + 20} {me}:{b} c {i}")
            for k in range(1, n + 1):
                lines.append(f"{me}:{b + 30 + k} {me}:{b + 10 + k} {k} {i}")
                lines.append(f"{me}:{b + 40 + k} {me}:{b + 1} {k} {i} ctl")
        path = os.path.join(self.work, "proxy.spec")
        with open(path, "w") as f:
            f.write("# LISTEN TARGET SRC DST [CLASS] (see compat/lib/common.sh, write_fault_node_properties)\n")
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        import shutil
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.log_path = os.path.join(self.work, "run.log")
        say(f"fault-test: TARGET={self.target} FAULT_SEED={self.seed} FAULT_PROFILE={self.profile} "
            f"FAULT_NODES={self.nodes}{' FAULT_PLANT=' + self.plant if self.plant else ''}")
        say(f"replay: make fault-test TARGET={self.target} FAULT_SEED={self.seed} FAULT_PROFILE={self.profile}"
            + (f" FAULT_NODES={self.nodes}" if self.nodes != 3 else "")
            + (f" FAULT_PLANT={self.plant}" if self.plant else ""))
        say(f"work dir {self.work}, details in {self.log_path}")
        self.build()
        self.proxy = Proxy(self.kit, self.proxy_spec(), os.path.join(self.work, "proxy.log"))
        say(f"proxy: {self.nodes * (1 + 2 * self.nodes)} listeners on 127.0.0.1-{self.nodes}")
        env = {"CLUSTER_FAULT_BASE_PORT": str(self.base_port), "CLUSTER_START_TIMEOUT_S": "180"}
        if self.plant == "unclean":
            env["CLUSTER_EXTRA_PROPS"] = "unclean.leader.election.enable=true\nreplica.lag.time.max.ms=3000"
        elif self.plant == "unclean-control":
            env["CLUSTER_EXTRA_PROPS"] = "replica.lag.time.max.ms=3000"
        self.cluster_started = True
        rc, _ = self.run([os.path.join(LIB, "cluster-start.sh"), self.target, self.cluster, str(self.nodes)], 240,
                         env=env, check=False, capture=False)
        if rc != 0:
            raise Setup(f"cluster-start.sh failed (see {self.log_path} and {self.cluster}/node*/node.log)")
        say(f"cluster of {self.nodes} {self.target} nodes up, clients bootstrap at {self.bootstrap()}")
        # Clients must be sent to the proxy: every node's Metadata, asked
        # through the proxy, lists every broker at its proxy client address.
        want = {str(i): f"127.0.0.{i}:{self.base_port + 20}" for i in range(1, self.nodes + 1)}
        for addr in self.bootstrap().split(","):
            _, out = self.run([sys.executable, os.path.join(LIB, "kafka-wire.py"), "metadata", addr], 30, check=False)
            try:
                import json
                got = json.loads(out)["brokers"]
            except Exception:
                got = out
            if got != want:
                raise Setup(f"Metadata through {addr} lists brokers {got}, want the proxy's client addresses {want}")
        min_isr = "1" if self.plant == "unclean" else "2"
        rc, out = self.java("create-topic", self.bootstrap(), self.topic, "6", "3", min_isr, "90", timeout=150,
                            check=False)
        if rc != 0:
            msg = out.splitlines()[-1].removeprefix("FAIL: ") if out else "FaultClient create-topic failed"
            hint = ""
            if self.target == "fjord":
                hint = (" -- fjord refuses replication.factor > 1 until partition replication lands; "
                        "the harness needs RF=3 topics")
            raise Setup(msg + hint)
        say(f"topic {self.topic}: 6 partitions, replication factor 3, min.insync.replicas={min_isr}")

    def start_clients(self):
        b = self.bootstrap()
        java = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xms32m", "-Xmx256m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", self.java_cp, "dev.fjord.compat.FaultClient"]
        w = self.work
        self.client_files = {
            "java-producer": (java + ["produce", b, self.topic, "java", str(self.rate), f"{w}/acked-java.txt"]),
            "franz-producer": ([self.kit, "produce", b, self.topic, "franz", str(self.rate), f"{w}/acked-franz.txt"]),
            "java-consumer": (java + ["consume", b, self.topic, f"fault-java-{self.seed}", f"{w}/seen-java.txt"]),
            "franz-consumer": ([self.kit, "consume", b, self.topic, f"fault-franz-{self.seed}", f"{w}/seen-franz.txt"]),
        }
        for name, args in self.client_files.items():
            log = open(os.path.join(w, f"{name}.log"), "ab")
            self.procs[name] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                start_new_session=True)
        say("clients: java and franz-go producers (idempotent, acks=all, "
            f"{self.rate} records/s each), java and franz-go group consumers")

    def stop_client(self, name, timeout):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            say(f"{name}: no exit {timeout}s after SIGTERM, SIGKILL")
            p.kill()
            return p.wait()

    # -- faults --

    def paths_between(self, a, b):
        return [f"{a} {b}", f"{b} {a}"]

    def apply(self, f):
        """Runs fault F to its end (in its own thread)."""
        k = f["kind"]
        px = self.proxy.cmd
        try:
            if k in ("kill", "restart", "pause"):
                i = f["node"]
                action = {"kill": "kill", "restart": "stop", "pause": "pause"}[k]
                if self.node(action, i) != 0:
                    raise RuntimeError(f"cluster-node.sh {action} {i} failed")
                time.sleep(f["dur"])
                if k == "pause":
                    if self.node("resume", i) != 0:
                        raise RuntimeError(f"cluster-node.sh resume {i} failed")
                else:
                    t = now()
                    if self.node("start", i) != 0:
                        raise RuntimeError(f"node {i} did not come back")
                    say(f"  #{f['n']}: node {i} answers again ({now() - t:.1f}s after its start)")
            else:
                if k == "isolate":
                    # cut off from its peers (clients still reach it)
                    i = f["node"]
                    peers = [j for j in range(1, self.nodes + 1) if j != i]
                    on = [f"cut {p}" for j in peers for p in self.paths_between(i, j)]
                    off = [f"heal {p}" for j in peers for p in self.paths_between(i, j)]
                    off_extra = []
                elif k == "data-isolate":
                    i = f["node"]
                    peers = [j for j in range(1, self.nodes + 1) if j != i]
                    on = [f"cut {a} {b}:data" for j in peers for a, b in ((i, j), (j, i))]
                    off = [f"heal {a} {b}:data" for j in peers for a, b in ((i, j), (j, i))]
                    off_extra = []
                elif k == "cut":
                    on = [f"cut {p}" for p in self.paths_between(f["a"], f["b"])]
                    off = [f"heal {p}" for p in self.paths_between(f["a"], f["b"])]
                    off_extra = []
                elif k == "delay":
                    on = [f"delay {p} {f['ms']}" for p in self.paths_between(f["a"], f["b"])]
                    off = [f"delay {p} 0" for p in self.paths_between(f["a"], f["b"])]
                    off_extra = []
                elif k == "drop":
                    a, b = f["a"], f["b"]
                    # bytes a->b: on a's connections to b the forward direction,
                    # on b's connections to a the replies
                    on = [f"drop {a} {b} fwd", f"drop {b} {a} rev"]
                    off = [f"drop {a} {b} none", f"drop {b} {a} none"]
                    off_extra = []
                elif k == "client-cut":
                    on = [f"cut c {f['node']}"]
                    off = [f"heal c {f['node']}"]
                    off_extra = []
                for c in on:
                    px(c)
                time.sleep(f["dur"])
                for c in off + off_extra:
                    px(c)
        except Exception as e:  # noqa: BLE001 - reported, and the run fails
            self.errors.append(f"fault #{f['n']} ({k}): {e}")
            say(f"  #{f['n']}: ERROR {e}")
        finally:
            say(f"  #{f['n']} {k} over")

    def run_schedule(self, schedule):
        budget = PROFILES[self.profile]["budget"]
        if self.plant.startswith("unclean"):
            budget = 120
        start = now()
        node_busy = None  # thread of the running node fault
        link_busy = None
        threads = []
        done = 0
        for f in schedule:
            is_node = f["kind"] in NODE_KINDS
            while True:
                t = now() - start
                if t > budget:
                    break
                busy = node_busy if is_node else link_busy
                if t >= f["at"] and (busy is None or not busy.is_alive()):
                    break
                time.sleep(0.2)
            if now() - start > budget:
                say(f"fault budget of {budget}s spent: {len(schedule) - done} faults not applied")
                break
            self.check_clients()
            say(f"FAULT #{f['n']}/{len(schedule)} {f['kind']}: {describe(f)}")
            th = threading.Thread(target=self.apply, args=(f,), daemon=True)
            th.start()
            threads.append(th)
            if is_node:
                node_busy = th
            else:
                link_busy = th
            done += 1
        for th in threads:
            th.join(max(1.0, budget + 200 - (now() - start)))
        self.faults_applied = done
        kinds = sorted({f["kind"] for f in schedule[:done]})
        say(f"schedule over: {done} faults applied in {now() - start:.0f}s, kinds: {', '.join(kinds)}")

    def check_clients(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited early with status {p.returncode} (see {self.work}/{name}.log)")

    # -- the end --

    def heal_all(self):
        if self.proxy:
            self.proxy.cmd("healall")
        for i in range(1, self.nodes + 1):
            self.node("resume", i)  # a no-op unless it is stopped: SIGCONT

    def settle(self):
        stats = self.proxy.cmd("stats")
        say(f"proxy before healing: {stats}")
        # Every byte through the proxy: the nodes replicated and voted through it.
        used = {p.split("=")[0] for p in stats.split()[3:]}
        for cls in ("data", "ctl"):
            peers = [p for p in used if p.endswith(":" + cls) and p[0] != "c" and p.split(">")[0] != p.split(">")[1].split(":")[0]]
            if not peers:
                self.errors.append(f"no node connected to another through the proxy's {cls} paths: "
                                   "the nodes bypass the proxy")
        self.heal_all()
        for i in range(1, self.nodes + 1):
            if self.node("alive", i) != 0:
                say(f"node {i} is down: starting it")
                if self.node("start", i) != 0:
                    self.errors.append(f"node {i} does not start after the schedule")
        say("every link healed, every node running; stopping the producers")
        for name in ("java-producer", "franz-producer"):
            rc = self.stop_client(name, 90)
            if rc not in (0, None, 143):  # a JVM that ran its shutdown hook exits 143
                self.errors.append(f"{name} exited with status {rc}")
        rc, out = self.java("wait-isr", self.bootstrap(), "120", self.topic, timeout=180, check=False)
        say(f"ISR: {out.splitlines()[-1] if out else rc}")
        if rc != 0:
            self.errors.append(f"ISR not full again: {out}")
        # The consumers catch up: wait until their files stop growing.
        files = [os.path.join(self.work, f) for f in ("seen-java.txt", "seen-franz.txt")]
        size = lambda: [os.path.getsize(f) if os.path.exists(f) else 0 for f in files]  # noqa: E731
        last, still, end = size(), now(), now() + 90
        while now() < end and now() - still < 8:
            time.sleep(1)
            s = size()
            if s != last:
                last, still = s, now()
        for name in ("java-consumer", "franz-consumer"):
            rc = self.stop_client(name, 40)
            if rc not in (0, None, 143):
                self.errors.append(f"{name} exited with status {rc}")
        say("consumers stopped; stopping the cluster cleanly")
        # All at once; the last node standing may wait for a controller
        # that is gone until its SIGKILL (its files are whole either way).
        self.run([os.path.join(LIB, "cluster-stop.sh"), self.cluster], 120, env={"CLUSTER_STOP_TIMEOUT_S": "30"},
                 check=False, capture=False)
        self.cluster_started = False

    def plant_truncate(self):
        """FAULT_PLANT=truncate: cut the last batch off every replica of
        partition 0, as a broker that acknowledged and then forgot would."""
        import glob
        for i in range(1, self.nodes + 1):
            segs = sorted(glob.glob(f"{self.cluster}/node{i}/log/{self.topic}-0/*.log"))
            if not segs:
                continue
            with open(segs[-1], "rb") as f:
                data = f.read()
            pos, last = 0, None
            while pos + 12 <= len(data):
                n = int.from_bytes(data[pos + 8:pos + 12], "big", signed=True)
                if n <= 0 or pos + 12 + n > len(data):
                    break
                last, pos = pos, pos + 12 + n
            if last is not None:
                with open(segs[-1], "r+b") as f:
                    f.truncate(last)
                say(f"PLANTED: node {i} {self.topic}-0 cut at byte {last} of {segs[-1].rsplit('/', 1)[-1]}")

    def plant_diverge(self):
        """FAULT_PLANT=diverge: on node 2's replica of partition 0, change the
        first record's value (":" -> ";") and fix the batch's CRC, so it parses
        but differs from the other replicas at that offset."""
        import glob
        sys.path.insert(0, HERE)
        import check as ck
        segs = sorted(glob.glob(f"{self.cluster}/node2/log/{self.topic}-0/*.log"))
        with open(segs[0], "r+b") as f:
            data = bytearray(f.read())
            n = int.from_bytes(data[8:12], "big", signed=True)
            end = 12 + n
            i = data.index(b":", 61, end)
            data[i] = ord(";")
            data[17:21] = ck.crc32c(bytes(data[21:end])).to_bytes(4, "big")
            f.seek(0)
            f.write(data[:end])
        say(f"PLANTED: node 2 {self.topic}-0 first record's value changed at byte {i}")

    def check(self):
        if self.plant == "truncate":
            self.plant_truncate()
        if self.plant == "diverge":
            self.plant_diverge()
        args = [sys.executable, os.path.join(HERE, "check.py"), "--topic", self.topic]
        for i in range(1, self.nodes + 1):
            args += ["--data", f"{i}={self.cluster}/node{i}/log"]
        for f in ("acked-java.txt", "acked-franz.txt"):
            args += ["--acked", os.path.join(self.work, f)]
        for f in ("seen-java.txt", "seen-franz.txt"):
            args += ["--seen", os.path.join(self.work, f)]
        r = subprocess.run(args, stdout=subprocess.PIPE, text=True, timeout=600)
        sys.stdout.write(r.stdout)
        with open(self.log_path, "a") as log:
            log.write(r.stdout)
        return r.returncode

    def cleanup(self):
        for name in list(self.procs):
            p = self.procs[name]
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.cluster_started:
            try:
                for i in range(1, self.nodes + 1):
                    self.node("resume", i, timeout=20)
            except Exception:
                pass
            subprocess.run([os.path.join(LIB, "cluster-stop.sh"), self.cluster], env=dict(os.environ,
                           CLUSTER_STOP_TIMEOUT_S="10"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
        if self.proxy:
            self.proxy.stop()


def main():
    def interrupted(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt(
        f"FAULT_TIMEOUT_S={total_s} passed")))
    total_s = int(os.environ.get("FAULT_TIMEOUT_S", "1500"))
    signal.alarm(total_s)
    try:
        h = Harness()
    except Setup as e:
        print(f"fault-test: {e}", file=sys.stderr)
        return 2
    t_start = time.time()
    rc = 2
    try:
        schedule = make_schedule(h.seed, h.profile, h.nodes)
        if h.plant.startswith("unclean"):
            schedule = PLANT_UNCLEAN
        h.start()
        with open(os.path.join(h.work, "schedule.txt"), "w") as f:
            for x in schedule:
                f.write(f"#{x['n']} at {x['at']}s {x['kind']}: {describe(x)}\n")
        say(f"schedule: {len(schedule)} faults, kinds {', '.join(sorted({x['kind'] for x in schedule}))} "
            f"({h.work}/schedule.txt)")
        h.start_clients()
        h.run_schedule(schedule)
        h.check_clients()
        h.settle()
        say("checking every replica of every partition")
        rc = h.check()
        if h.errors:
            for e in h.errors:
                say(f"harness error: {e}")
            rc = rc or 1
    except Setup as e:
        say(f"FAIL setup: {e}")
        rc = 2
    except KeyboardInterrupt as e:
        say(f"interrupted ({e})")
        rc = 3
    except Exception as e:  # noqa: BLE001
        say(f"FAIL: {e}")
        rc = 2
    finally:
        h.cleanup()
    say(f"fault-test: {'PASS' if rc == 0 else 'FAIL'} in {time.time() - t_start:.0f}s (FAULT_SEED={h.seed}, "
        f"TARGET={h.target}, FAULT_PROFILE={h.profile})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
