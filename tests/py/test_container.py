"""Seed 002 with podman: the project's image (scripts/image.sh, FROM
scratch, no registry) in place of cp-zookeeper and cp-kafka, run by the
seed's compose file as the seed runs it: compose up, kafka-topics inside
the broker container, a console consumer and producer inside it, a client
on localhost:9092 outside, compose down -v.

Needs podman (Debian's, as root, with runc and cgroupfs in
/etc/containers/containers.conf) and podman-compose; the test command
installs both. Ports 2181 and 9092 on the host must be free."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE = ["podman-compose", "-p", "part7-naive", "-f", str(REPO / "container/naive-docker-compose.yaml")]
DEADLINE = 90

pytestmark = pytest.mark.timeout(600)


def run(cmd, input=None, timeout=120, check=True):
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s -> %d\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def until(what, f, deadline=DEADLINE):
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            v = f()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - report the last failure
            last = e
        time.sleep(0.25)
    raise AssertionError("timed out waiting for %s (last: %s)" % (what, last))


@pytest.fixture(scope="module")
def stack():
    assert shutil.which("podman") and shutil.which("podman-compose"), "podman and podman-compose are installed"
    env = dict(os.environ, SKIP_BUILD="1", PROFILE=os.environ.get("PROFILE", "debug"))
    r = subprocess.run([str(REPO / "scripts/image.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    run(COMPOSE + ["down", "-v"], check=False)
    run(COMPOSE + ["up", "-d"])
    try:
        yield
    finally:
        logs = {c: run(["podman", "logs", c], check=False).stderr[-3000:] for c in ("zookeeper", "broker")}
        run(COMPOSE + ["down", "-v"], check=False)
        gone = run(["podman", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        assert "broker" not in gone and "zookeeper" not in gone, (gone, logs)


def test_seed_002_topic_producer_and_consumer(stack):
    create = ["podman", "exec", "broker", "kafka-topics", "--create", "--topic", "topic-test",
              "--bootstrap-server", "broker:29092", "--partitions", "1", "--replication-factor", "1"]
    out = until("the broker to create topic-test", lambda: run(create, check=False).stdout)
    assert "Created topic topic-test." in out, out
    desc = run(["podman", "exec", "broker", "kafka-topics", "--describe", "--topic", "topic-test",
                "--bootstrap-server", "broker:29092"]).stdout
    assert "Partition: 0\tLeader: 1\tReplicas: 1\tIsr: 1" in desc, desc

    # The consumer first, from a shell in the container, waiting for two.
    consumer = subprocess.Popen(
        ["podman", "exec", "broker", "/bin/bash", "-c",
         "kafka-console-consumer --topic topic-test --bootstrap-server broker:29092 --max-messages 2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # It subscribes before anything is produced: the group has joined once
    # the broker lists it.
    until("the console consumer's group", lambda: "console-consumer" in run(
        ["podman", "exec", "broker", "kafka-consumer-groups", "--bootstrap-server", "broker:29092", "--list"],
        check=False).stdout)
    run(["podman", "exec", "-i", "broker", "/bin/bash", "-c",
         "kafka-console-producer --topic topic-test --broker-list broker:29092"], input="hello\nworld\n")
    out, err = consumer.communicate(timeout=60)
    assert out.splitlines() == ["hello", "world"], (out, err)
    assert "Processed a total of 2 messages" in err, err

    # A client outside, on the host listener the compose file publishes.
    got = until("kcat on localhost:9092", lambda: run(
        ["kcat", "-b", "localhost:9092", "-C", "-t", "topic-test", "-o", "beginning", "-e", "-q"],
        check=False).stdout)
    assert got.splitlines() == ["hello", "world"], got
    # ZooKeeper on the published 2181 shows the broker's registration.
    ids = run(["podman", "exec", "broker", "zookeeper-shell", "zookeeper:2181", "ls", "/brokers/ids"]).stdout
    assert "[1]" in ids, ids
