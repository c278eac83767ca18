"""Harness for the deployment test: the book's hosts as systemd machines.

tests/deploy/machines.sh boots the hosts (systemd-nspawn on a cached
debootstrap root, one network namespace each, names in /etc/hosts) and the
tests drive them as the seed does: `ansible-playbook -i hosts zookeeper.yml`
and `ansible-playbook -i hosts kafka.yml` from ansible/, then the Kafka tools
over ssh on the hosts.

Environment:
  DEPLOY_LAYOUT=full|compact  full (default): six machines, one per
                   inventory host; compact: three machines, machine NN
                   being both peter-zkNN.foo.bar and peter-kafkaNN.foo.bar
  ZK_KAFKA_TARBALL the release tarball to deploy (default: packaged from
                   the built binaries with PROFILE=${PROFILE:-debug}
                   SKIP_BUILD=1 scripts/dist.sh)
  DEPLOY_KEEP=1    leave the machines running after the tests
                   (tests/deploy/machines.sh down stops them)
"""

import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ANSIBLE_DIR = REPO / "ansible"
MACHINES = HERE / "machines.sh"

ZK_HOSTS = [f"peter-zk0{i}.foo.bar" for i in (1, 2, 3)]
KAFKA_HOSTS = [f"peter-kafka0{i}.foo.bar" for i in (1, 2, 3)]
BOOTSTRAP = "peter-kafka01.foo.bar:9092"
KAFKA_BIN = "/usr/local/kafka/bin"


def wait_for(what, probe, timeout=60.0, interval=0.5):
    """Poll probe() until it returns a truthy value; fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - reported if it never settles
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Playbook:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout
        self.recap = {
            m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)),
                         "unreachable": int(m.group(4)), "failed": int(m.group(5))}
            for m in RECAP.finditer(self.out)
        }

    def check(self):
        assert self.rc == 0 and self.recap, f"{' '.join(self.args)} exited {self.rc}:\n{self.out[-6000:]}"
        for host, r in self.recap.items():
            assert r["failed"] == 0 and r["unreachable"] == 0, f"{host}: {r}\n{self.out[-6000:]}"
        return self


class Cluster:
    def __init__(self, layout, env, key, tarball):
        self.layout = layout
        self.env = env
        self.key = key
        self.tarball = tarball

    # -- ansible, as the seed types it ------------------------------------
    def playbook(self, *args, timeout=900):
        argv = ["ansible-playbook", *args]
        proc = subprocess.run(argv, cwd=ANSIBLE_DIR, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return Playbook(argv, proc)

    # -- the hosts ---------------------------------------------------------
    def ssh_argv(self, host, argv, sudo=False):
        cmd = " ".join(shlex.quote(a) for a in argv)
        if sudo:
            cmd = "sudo -n " + cmd
        return ["ssh", "-i", self.key, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"deploy@{host}", cmd]

    def run(self, host, *argv, sudo=False, input=None, timeout=60, check=True):
        proc = subprocess.run(self.ssh_argv(host, argv, sudo), input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, (
                f"{host}: {' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def popen(self, host, *argv, sudo=False):
        return subprocess.Popen(self.ssh_argv(host, argv, sudo), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def unit(self, host, unit):
        """systemctl show properties of a unit, as a dict."""
        out = self.run(host, "systemctl", "show", unit, "--no-pager", "-p",
                       "ActiveState,SubState,MainPID,NRestarts,StatusText,Type,ExecMainStartTimestampMonotonic,"
                       "User,Result,WatchdogUSec").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def proc_info(self, host, pid):
        """(user, command name) of a process on a host."""
        out = self.run(host, "ps", "-o", "user:32=,comm=", "-p", str(pid)).stdout.split()
        return tuple(out) if len(out) == 2 else None

    # -- ZooKeeper ---------------------------------------------------------
    @staticmethod
    def four_letter(host, word="srvr", port=2181, timeout=3.0):
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode(errors="replace")

    def zk_mode(self, host):
        try:
            m = re.search(r"^Mode: (\w+)", self.four_letter(host), re.M)
        except OSError:
            return None
        return m.group(1) if m else None

    def zk_modes(self, hosts=ZK_HOSTS):
        return {h: self.zk_mode(h) for h in hosts}

    def wait_quorum(self, hosts=ZK_HOSTS, timeout=90):
        def settled():
            modes = self.zk_modes(hosts)
            vals = sorted(modes.values(), key=str)
            ok = vals.count("leader") == 1 and vals.count("follower") == len(hosts) - 1
            return modes if ok else None
        return wait_for(f"one leader and {len(hosts) - 1} followers among {hosts}", settled, timeout=timeout)

    # -- Kafka tools on a broker host, as the seed runs them ---------------
    def kafka(self, tool, *args, host=KAFKA_HOSTS[0], input=None, timeout=90, check=True):
        return self.run(host, f"{KAFKA_BIN}/{tool}", *args, input=input, timeout=timeout, check=check)

    def describe(self, topic):
        """{partition: {"leader": int, "replicas": [...], "isr": [...]}}"""
        out = self.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--describe", "--topic", topic).stdout
        parts = {}
        for m in re.finditer(r"Partition: (\d+)\s+Leader: (-?\d+|none)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)", out):
            ids = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
            leader = -1 if m.group(2) == "none" else int(m.group(2))
            parts[int(m.group(1))] = {"leader": leader, "replicas": ids(m.group(3)), "isr": ids(m.group(4))}
        return parts

    def produce(self, topic, lines, host=KAFKA_HOSTS[0]):
        self.kafka("kafka-console-producer.sh", "--bootstrap-server", BOOTSTRAP, "--topic", topic,
                   host=host, input="".join(f"{l}\n" for l in lines))

    def consume_all(self, topic, count, host=KAFKA_HOSTS[0]):
        out = self.kafka("kafka-console-consumer.sh", "--bootstrap-server", BOOTSTRAP, "--topic", topic,
                         "--from-beginning", "--max-messages", str(count), "--timeout-ms", "30000",
                         host=host, check=False).stdout
        return out.splitlines()

    def end_offsets(self, topic):
        """{partition: log end offset} (kafka-get-offsets.sh --time -1)."""
        out = self.kafka("kafka-get-offsets.sh", "--bootstrap-server", BOOTSTRAP, "--topic", topic,
                         "--time", "-1").stdout
        ends = {}
        for line in out.splitlines():
            name, part, offset = line.rsplit(":", 2)
            if name == topic:
                ends[int(part)] = int(offset)
        return ends

    def read_log(self, topic):
        """Every record of the topic: {(partition, offset): value}, read to
        the log end offsets with the console consumer."""
        total = sum(self.end_offsets(topic).values())
        out = self.kafka("kafka-console-consumer.sh", "--bootstrap-server", BOOTSTRAP, "--topic", topic,
                         "--from-beginning", "--max-messages", str(total), "--timeout-ms", "30000",
                         "--property", "print.partition=true", "--property", "print.offset=true",
                         timeout=300, check=False).stdout
        log = {}
        for line in out.splitlines():
            m = re.fullmatch(r"Partition:(\d+)\tOffset:(\d+)\t(.*)", line)
            assert m, f"{topic}: unexpected console consumer line {line!r}"
            log[(int(m.group(1)), int(m.group(2)))] = m.group(3)
        assert len(log) == total, f"{topic}: read {len(log)} records of {total}"
        return log


class VerifiableProducer:
    """kafka-verifiable-producer.sh on a broker host, over ssh, until stop().

    It prints one JSON event per record: producer_send_success is a record
    the leader acknowledged (with --acks -1 once the in-sync replicas have
    it), at the partition and offset in the event. stop() ends it with
    SIGTERM, as an operator's Ctrl-C would."""

    def __init__(self, cluster, host, topic, *args):
        # The remote shell holds the producer until a line (or EOF) arrives
        # on its stdin: stopping does not depend on ssh forwarding signals.
        tool = " ".join(shlex.quote(a) for a in (f"{KAFKA_BIN}/kafka-verifiable-producer.sh", "--topic", topic, *args))
        script = f"{tool} </dev/null & p=$!; read _; kill -TERM $p; wait $p"
        self.host = host
        self.acked = []  # (timestamp ms, value, partition, offset)
        self.events = []
        self.other = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(cluster.ssh_argv(host, ["sh", "-c", script]), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr = []
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True)]
        for t in self._threads:
            t.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                with self._lock:
                    self.other.append(line.rstrip("\n"))
                continue
            with self._lock:
                self.events.append(ev)
                if ev.get("name") == "producer_send_success":
                    self.acked.append((ev["timestamp"], ev["value"], ev["partition"], ev["offset"]))

    def acked_count(self):
        with self._lock:
            return len(self.acked)

    def acked_since(self, ms):
        """Records acknowledged at or after wall-clock time `ms`."""
        with self._lock:
            return sum(1 for ts, *_ in self.acked if ts >= ms)

    def errors(self):
        with self._lock:
            return [e for e in self.events if e.get("name") == "producer_send_error"]

    def stderr(self):
        return "".join(self._stderr)[-3000:]

    def stop_when_done(self, timeout=120):
        """For a run with --max-messages: wait for its summary, then stop."""
        def done():
            with self._lock:
                return any(e.get("name") == "tool_data" for e in self.events) or self.proc.poll() is not None
        try:
            wait_for(f"{self.host}: the producer's tool_data", done, timeout=timeout)
        except BaseException:
            self.stop(check=False)
            raise
        return self.stop()

    def stop(self, timeout=60, check=True):
        """SIGTERM; returns the tool_data event after checking the run."""
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=10)
        if not check:
            return None
        assert self.proc.returncode == 0, f"{self.host}: the producer exited {self.proc.returncode}: {self.stderr()}"
        names = [e.get("name") for e in self.events]
        assert names[:1] == ["startup_complete"] and names[-2:] == ["shutdown_complete", "tool_data"], (
            names[:3], names[-3:], self.other[-20:], self.stderr())
        data = self.events[-1]
        assert data["acked"] == len(self.acked), (data, len(self.acked))
        return data


# Figures the tests measured (records acknowledged under load, ...), shown
# at the end of the run.
MEASURED = []


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("measured")
        for line in MEASURED:
            terminalreporter.write_line(line)


def _env_from(text):
    """machines.sh's KEY=VALUE lines (shell-quoted)."""
    return dict(shlex.split(line)[0].split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("the deployment test boots systemd-nspawn machines: run it as root")
    layout = os.environ.get("DEPLOY_LAYOUT", "full")
    tarball = os.environ.get("ZK_KAFKA_TARBALL")
    tmp = tempfile.TemporaryDirectory(prefix="zkk-deploy-")
    if not tarball:
        env = dict(os.environ, PROFILE=os.environ.get("PROFILE", "debug"), SKIP_BUILD="1")
        out = subprocess.run([str(REPO / "scripts/dist.sh"), tmp.name], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        tarball = out.strip().splitlines()[-1]
    up = subprocess.run([str(MACHINES), "up", layout], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if up.returncode != 0:
        subprocess.run([str(MACHINES), "down"])
        pytest.fail(f"machines.sh up {layout} failed:\n{up.stderr[-4000:]}")
    menv = _env_from(up.stdout)
    env = dict(os.environ, ZK_KAFKA_TARBALL=tarball, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               **{k: v for k, v in menv.items() if k.startswith("ANSIBLE_")})
    try:
        yield Cluster(layout, env, menv["DEPLOY_SSH_KEY"], tarball)
    finally:
        if os.environ.get("DEPLOY_KEEP") != "1":
            subprocess.run([str(MACHINES), "down"])
        tmp.cleanup()
