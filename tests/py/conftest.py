"""Server harness for the Python client-compatibility suite.

Starts Apache ZooKeeper 3.8 (Debian package `zookeeper`) and/or zookeeperd,
each on a free 127.0.0.1 port with its own temporary dataDir, waits for them
with a polling deadline, and stops them (SIGTERM, then SIGKILL) at teardown.

Environment:
  ZOOKEEPERD_BIN   path of the zookeeperd binary (default: <repo>/target/
                   release/zookeeperd, then target/debug/zookeeperd)
  ZK_ALLOW_SKIP=1  skip zookeeperd-side tests when the binary is missing
                   (default: fail, so CI never silently skips)
  ZK_DIFF_SELF=1   the "zookeeperd" side is Apache ZooKeeper too; this
                   validates the harness / normalisation (apache-vs-apache)
  ZK_KEEP_LOGS=1   do not delete server temp dirs (logs) at the end
"""

import contextlib
import hashlib
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent  # tests/py -> tests -> repo root

APACHE_CLASSPATH = ":".join([
    "/usr/share/java/zookeeper.jar",  # its manifest Class-Path pulls deps
    "/usr/share/java/slf4j-simple.jar",  # log binding -> stderr
])
APACHE_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"

SUPER_USER = "super"
SUPER_PASSWORD = "secret"


def digest(user, password):
    """DigestAuthenticationProvider.generateDigest: user:base64(sha1(user:pw))"""
    h = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(h).decode())


def default_cfg():
    """Common zoo.cfg keys (dataDir / clientPort are filled in per server)."""
    return {
        "tickTime": "2000",
        "initLimit": "10",
        "syncLimit": "5",
        "4lw.commands.whitelist": "*",
        "extendedTypesEnabled": "true",
        "admin.enableServer": "false",
        "DigestAuthenticationProvider.superDigest": digest(SUPER_USER, SUPER_PASSWORD),
        # Apache reads this as a JVM system property (we pass -D too); the
        # zoo.cfg key is a hint for zookeeperd to sweep containers/TTLs fast.
        "znode.container.checkIntervalMs": "100",
    }


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def diff_self():
    return env_flag("ZK_DIFF_SELF")


def zookeeperd_bin():
    env = os.environ.get("ZOOKEEPERD_BIN")
    if env:
        return Path(env)
    for p in (REPO_ROOT / "target" / "release" / "zookeeperd",
              REPO_ROOT / "target" / "debug" / "zookeeperd"):
        if p.exists():
            return p
    return REPO_ROOT / "target" / "release" / "zookeeperd"


def require_zookeeperd():
    """Skip (ZK_ALLOW_SKIP=1) or fail when zookeeperd is not built."""
    if diff_self():
        return
    b = zookeeperd_bin()
    if b.exists() and os.access(b, os.X_OK):
        return
    msg = ("zookeeperd binary not found at %s (set ZOOKEEPERD_BIN or build "
           "with `cargo build --release -p zookeeperd`)" % b)
    if env_flag("ZK_ALLOW_SKIP"):
        pytest.skip(msg)
    pytest.fail(msg, pytrace=False)


def _die_with_parent():
    """preexec_fn: SIGKILL the server if the pytest process dies (e.g. killed
    by a CI timeout) so no orphan servers are left behind (Linux only)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except Exception:  # noqa: BLE001
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ 4lw
def four_letter(host, port, cmd, timeout=5.0):
    """Send a four-letter word and return the whole reply as str."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")


def wait_until(pred, timeout=10.0, interval=0.02, desc="condition"):
    """Poll pred() until truthy or the deadline passes; returns its value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last=%r)"
                                 % (timeout, desc, last))
        time.sleep(interval)


# ------------------------------------------------------------------ servers
class ZkServer:
    """One server process: kind is 'apache' or 'zookeeperd' (the role in a
    differential test); impl is what really runs ('apache' under
    ZK_DIFF_SELF=1)."""

    def __init__(self, kind, cfg=None, tmp_root=None):
        self.kind = kind
        self.impl = "apache" if (kind == "apache" or diff_self()) else "zookeeperd"
        self.dir = Path(tempfile.mkdtemp(prefix="zk-%s-" % kind, dir=tmp_root))
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.cfg = default_cfg()
        self.cfg.update(cfg or {})
        self.cfg["dataDir"] = str(self.data_dir)
        self.cfg["clientPort"] = str(self.port)
        self.cfg["clientPortAddress"] = self.host
        self.cfg_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "server.log"
        self.proc = None
        self._log = None
        self.starts = 0

    @property
    def hostport(self):
        return "%s:%d" % (self.host, self.port)

    def write_cfg(self):
        with open(self.cfg_path, "w") as f:
            for k, v in self.cfg.items():
                if v is None:
                    continue
                f.write("%s=%s\n" % (k, v))

    # Apache's main class (ensemble members run QuorumPeerMain instead)
    apache_main = APACHE_MAIN
    # extra -D system properties for Apache's JVM (e.g. readonlymode.enabled)
    jvm_props = ()

    def command(self):
        if self.impl == "apache":
            jvm = [
                "java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xshare:auto",
                "-Dznode.container.checkIntervalMs=%s"
                % self.cfg.get("znode.container.checkIntervalMs", "100"),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dzookeeper.jmx.log4j.disable=true",
                *("-D%s" % p for p in self.jvm_props),
                "-cp", APACHE_CLASSPATH, self.apache_main, str(self.cfg_path),
            ]
            return jvm
        return [str(zookeeperd_bin()), str(self.cfg_path)]

    def start(self, timeout=30.0):
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self):
        """Start the process without waiting for it to serve (an ensemble
        member serves only once a quorum is up)."""
        self.write_cfg()
        self._log = open(self.log_path, "ab")
        self._log.write(("\n===== start #%d: %s\n" % (self.starts, " ".join(self.command()))).encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     cwd=str(self.dir),
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.starts += 1
        return self

    def log_tail(self, n=60):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(lines[-n:])

    def is_ready(self):
        try:
            r = four_letter(self.host, self.port, "srvr", timeout=1.0)
        except OSError:
            return False  # not listening yet
        if "Mode:" in r or "Zxid:" in r:
            return True
        if "not currently serving" in r:
            return False
        if "not in the whitelist" in r:
            return True  # srvr not whitelisted, but 4lw are answered
        # fallbacks (e.g. a server without 4lw support): ruok, then a real
        # session handshake closed right away
        try:
            if four_letter(self.host, self.port, "ruok", timeout=1.0) == "imok":
                return True
            import zkproto
            c = zkproto.RawClient(self.host, self.port, sock_timeout=2.0)
            ok = c.session_id != 0
            c.close()
            return ok
        except Exception:  # noqa: BLE001
            return False

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s server exited with %s during startup; log:\n%s"
                                   % (self.impl, self.proc.returncode, self.log_tail()))
            if self.is_ready():
                return
            time.sleep(0.05)
        raise RuntimeError("%s server on port %d not ready after %.0fs; log:\n%s"
                           % (self.impl, self.port, timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def restart(self, timeout=30.0):
        self.stop()
        return self.start(timeout)

    def cleanup(self):
        self.stop()
        if not env_flag("ZK_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __repr__(self):
        return "<ZkServer %s(%s) %s>" % (self.kind, self.impl, self.hostport)


class ServerPool:
    """Session-wide cache of servers keyed by (kind, cfg)."""

    def __init__(self):
        self.cached = {}
        self.failed = {}  # key -> message: don't retry a server that failed to start
        self.all = []
        self.lock = threading.Lock()

    def get(self, kind, cfg=None):
        """Shared server for (kind, cfg).  Tests must use unique paths."""
        if kind == "zookeeperd":
            require_zookeeperd()
        key = (kind, tuple(sorted((cfg or {}).items())))
        with self.lock:
            if key in self.failed:
                pytest.fail(self.failed[key], pytrace=False)
            srv = self.cached.get(key)
            if srv is not None and srv.alive():
                return srv
            try:
                srv = self.fresh(kind, cfg)
            except pytest.fail.Exception as e:
                self.failed[key] = str(e)
                raise
            self.cached[key] = srv
            return srv

    def fresh(self, kind, cfg=None):
        """A new server owned by the caller (still cleaned up at session end)."""
        if kind == "zookeeperd":
            require_zookeeperd()
        srv = ZkServer(kind, cfg)
        self.all.append(srv)
        try:
            srv.start()
        except Exception as e:
            pytest.fail("could not start %s: %s" % (kind, e), pytrace=False)
        return srv

    def close(self):
        for s in self.all:
            with contextlib.suppress(Exception):
                s.cleanup()


@pytest.fixture(scope="session")
def server_pool():
    pool = ServerPool()
    yield pool
    pool.close()


KINDS = ["apache", "zookeeperd"]


@pytest.fixture(scope="session")
def apache_server(server_pool):
    return server_pool.get("apache")


@pytest.fixture(scope="session")
def zkd_server(server_pool):
    return server_pool.get("zookeeperd")


@pytest.fixture(params=KINDS)
def any_server(request, server_pool):
    """Parametrized over both implementations (shared default server)."""
    return server_pool.get(request.param)


def target_kind():
    """Implementation used by zookeeperd-only suites (ZK_TARGET=apache runs
    them against Apache ZooKeeper instead)."""
    return os.environ.get("ZK_TARGET", "zookeeperd")


@pytest.fixture(scope="session")
def target_server(server_pool):
    return server_pool.get(target_kind())


# ------------------------------------------------------------------ clients
_uniq_lock = threading.Lock()
_uniq_n = [0]


def unique(prefix="t"):
    with _uniq_lock:
        _uniq_n[0] += 1
        return "%s-%d-%d" % (prefix, os.getpid(), _uniq_n[0])


@pytest.fixture
def uniq(request):
    """A unique znode base path for this test (not created)."""
    name = request.node.name
    for ch in "[]/ :.":
        name = name.replace(ch, "_")
    return "/" + unique(name[:60])


def make_kazoo(server, timeout=10.0, **kw):
    """server: a ZkServer, or a kazoo hosts string ("h:p,h:p")."""
    from kazoo.client import KazooClient
    hosts = server if isinstance(server, str) else server.hostport
    c = KazooClient(hosts=hosts, timeout=timeout, **kw)
    c.start(timeout=15)
    return c


@pytest.fixture
def kazoo_factory():
    """kazoo_factory(server, **kw) -> started KazooClient, stopped at teardown."""
    clients = []

    def make(server, **kw):
        c = make_kazoo(server, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        with contextlib.suppress(Exception):
            c.stop()
        with contextlib.suppress(Exception):
            c.close()


# ------------------------------------------------------------------ diffing
def assert_same(apache_value, zkd_value, what="transcript"):
    """Compare two transcripts (lists of lines / nested data) with a unified
    diff on failure."""
    import difflib
    import pprint
    if apache_value == zkd_value:
        return
    a = apache_value if isinstance(apache_value, str) else pprint.pformat(apache_value, width=110)
    b = zkd_value if isinstance(zkd_value, str) else pprint.pformat(zkd_value, width=110)
    diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(),
                                          "apache", "zookeeperd", lineterm="", n=3))
    raise AssertionError("%s differs between Apache ZooKeeper and zookeeperd:\n%s"
                         % (what, diff))
