"""Seed 000's deployment, end to end, on systemd machines.

The tests run in order against one set of machines (conftest.py): each
step builds on the state the one before left, as an operator's session does.
"""

import json
import os
import queue
import re
import subprocess
import threading
import time

import pytest

from conftest import (ANSIBLE_DIR, BOOTSTRAP, KAFKA_BIN, KAFKA_HOSTS, MEASURED, ZK_HOSTS, VerifiableProducer,
                      wait_for)

TOPIC = "peter-overview01"
SEED_MESSAGES = ["hello kafka", "peter-overview01 on systemd", "third record"]
LOG0 = "/data/kafka-logs/peter-overview01-0/00000000000000000000.log"

# Every record the tests wrote to TOPIC, in order.
written = []


def journal(cluster, host, unit, expect):
    """The unit's log is in the journal, as plain text."""
    text = cluster.run(host, "journalctl", "-u", unit, "-o", "cat", "--no-pager", sudo=True).stdout
    assert expect in text, text[-3000:]
    assert "\x1b[" not in text, f"{host}: ANSI escapes in the {unit} journal: {text[-1000:]!r}"


def test_ansible_lint():
    proc = subprocess.run(["ansible-lint"], cwd=ANSIBLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:]


def test_zookeeper_playbook(cluster):
    # Seed 000: cd .../ansible_playbook && ansible-playbook -i hosts zookeeper.yml
    run = cluster.playbook("-i", "hosts", "zookeeper.yml").check()
    assert set(run.recap) == set(ZK_HOSTS)
    for h in ZK_HOSTS:
        # Seed 000: sudo systemctl status zookeeper-server
        status = cluster.run(h, "systemctl", "status", "zookeeper-server", "--no-pager", sudo=True).stdout
        assert "Active: active (running)" in status, status
        u = cluster.unit(h, "zookeeper-server")
        assert u["Type"] == "notify" and u["User"] == "zookeeper" and u["WatchdogUSec"] == "30s", u
        # The wrappers exec: systemd's main process is the daemon itself.
        assert cluster.proc_info(h, u["MainPID"]) == ("zookeeper", "zookeeperd")
        myid = cluster.run(h, "cat", "/data/zk/myid", sudo=True).stdout.strip()
        assert myid == h[len("peter-zk0"):len("peter-zk0") + 1]
        zoo_cfg = cluster.run(h, "cat", "/usr/local/zookeeper/conf/zoo.cfg").stdout
        assert zoo_cfg.splitlines() == [
            "tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=/data/zk", "clientPort=2181",
            "autopurge.snapRetainCount=3", "autopurge.purgeInterval=1",
            "server.1=peter-zk01.foo.bar:2888:3888;2181",
            "server.2=peter-zk02.foo.bar:2888:3888;2181",
            "server.3=peter-zk03.foo.bar:2888:3888;2181",
        ], zoo_cfg
    modes = cluster.wait_quorum()
    # zookeeperd keeps systemd's status line current.
    for h, mode in modes.items():
        text = cluster.unit(h, "zookeeper-server")["StatusText"]
        assert text.startswith("leading" if mode == "leader" else "following"), (h, mode, text)
        journal(cluster, h, "zookeeper-server", "zookeeperd serving")


def test_kafka_playbook(cluster):
    # Seed 000: ansible-playbook -i hosts kafka.yml
    run = cluster.playbook("-i", "hosts", "kafka.yml").check()
    assert set(run.recap) == set(KAFKA_HOSTS)
    for i, h in enumerate(KAFKA_HOSTS, 1):
        status = cluster.run(h, "systemctl", "status", "kafka-server", "--no-pager", sudo=True).stdout
        assert "Active: active (running)" in status, status
        u = cluster.unit(h, "kafka-server")
        assert u["Type"] == "notify" and u["User"] == "kafka" and u["WatchdogUSec"] == "30s", u
        assert cluster.proc_info(h, u["MainPID"]) == ("kafka", "kafkad")
        wait_for(f"{h}: kafka-server's status line",
                 lambda: cluster.unit(h, "kafka-server")["StatusText"].startswith(f"broker {i}"), timeout=30)
        props = cluster.run(h, "cat", "/usr/local/kafka/config/server.properties").stdout
        assert f"broker.id={i}\n" in props
        assert f"advertised.listeners=PLAINTEXT://{h}:9092\n" in props
        assert "zookeeper.connect=peter-zk01.foo.bar:2181,peter-zk02.foo.bar:2181,peter-zk03.foo.bar:2181\n" in props
        journal(cluster, h, "kafka-server", "kafkad started")
    ids = cluster.kafka("zookeeper-shell.sh", "peter-zk01.foo.bar:2181", "ls", "/brokers/ids").stdout
    assert "[1, 2, 3]" in ids, ids


def _reader(proc, lines):
    for line in proc.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def test_seed_topic_produce_consume(cluster):
    # Seed 000, on the broker host, as typed.
    out = cluster.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", TOPIC,
                        "--partitions", "1", "--replication-factor", "3").stdout
    assert f"Created topic {TOPIC}." in out
    # The consumer first, then the producer (seed 000's order). The consumer
    # starts at the end of the log: probe records tell when it is reading.
    consumer = cluster.popen(KAFKA_HOSTS[0], f"{KAFKA_BIN}/kafka-console-consumer.sh", "--bootstrap-server",
                             BOOTSTRAP, "--topic", TOPIC, "--timeout-ms", "60000")
    lines = queue.Queue()
    threading.Thread(target=_reader, args=(consumer, lines), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        got = None
        n = 0
        while got is None:
            assert time.monotonic() < deadline, "the console consumer printed none of the probe records"
            n += 1
            cluster.produce(TOPIC, [f"probe-{n}"])
            written.append(f"probe-{n}")
            try:
                got = lines.get(timeout=3)
            except queue.Empty:
                continue
            assert got is not None, f"the consumer exited: {consumer.stderr.read()[-3000:]}"
        cluster.produce(TOPIC, SEED_MESSAGES)
        written.extend(SEED_MESSAGES)
        seen = []
        while not all(m in seen for m in SEED_MESSAGES):
            line = lines.get(timeout=60)
            assert line is not None, f"the consumer exited: {seen} {consumer.stderr.read()[-3000:]}"
            seen.append(line)
        assert [m for m in seen if not m.startswith("probe-")] == SEED_MESSAGES
    finally:
        consumer.kill()
        consumer.wait()
    parts = cluster.describe(TOPIC)
    assert len(parts) == 1 and sorted(parts[0]["replicas"]) == [1, 2, 3], parts
    assert sorted(parts[0]["isr"]) == [1, 2, 3], parts
    assert cluster.consume_all(TOPIC, len(written)) == written


def test_rerun_changes_nothing_and_keeps_the_records(cluster):
    pids = {(h, u): cluster.unit(h, u)["MainPID"]
            for u, hosts in (("zookeeper-server", ZK_HOSTS), ("kafka-server", KAFKA_HOSTS)) for h in hosts}
    for play, hosts in (("zookeeper.yml", ZK_HOSTS), ("kafka.yml", KAFKA_HOSTS)):
        run = cluster.playbook("-i", "hosts", play).check()
        assert set(run.recap) == set(hosts)
        changed = {h: r["changed"] for h, r in run.recap.items() if r["changed"]}
        assert not changed, f"{play} changed {changed} on a second run:\n{run.out[-6000:]}"
    # Nothing restarted, and the data is all there.
    assert pids == {(h, u): cluster.unit(h, u)["MainPID"] for h, u in pids}
    assert cluster.consume_all(TOPIC, len(written)) == written
    cluster.wait_quorum()


def test_changed_binary_or_config_restarts_that_host_only(cluster):
    # A binary that is not the release's (here: another mtime) and a
    # hand-edited zoo.cfg: a run puts both back and restarts only there.
    kafka_host, zk_host = KAFKA_HOSTS[2], ZK_HOSTS[1]
    cluster.run(kafka_host, "touch", "/usr/local/kafka/libexec/kafkad", sudo=True)
    cluster.run(zk_host, "sh", "-c", "echo maxClientCnxns=7 >> /usr/local/zookeeper/conf/zoo.cfg", sudo=True)
    for play, hosts, unit, touched in (("kafka.yml", KAFKA_HOSTS, "kafka-server", kafka_host),
                                       ("zookeeper.yml", ZK_HOSTS, "zookeeper-server", zk_host)):
        pids = {h: cluster.unit(h, unit)["MainPID"] for h in hosts}
        run = cluster.playbook("-i", "hosts", play).check()
        changed = {h for h, r in run.recap.items() if r["changed"]}
        assert changed == {touched}, (play, run.recap)
        after = {h: cluster.unit(h, unit)["MainPID"] for h in hosts}
        assert {h for h in hosts if after[h] != pids[h]} == {touched}, (pids, after)
    assert "maxClientCnxns" not in cluster.run(zk_host, "cat", "/usr/local/zookeeper/conf/zoo.cfg").stdout
    cluster.wait_quorum()
    wait_for("the ISR whole again", lambda: sorted(cluster.describe(TOPIC)[0]["isr"]) == [1, 2, 3], timeout=120)
    assert cluster.consume_all(TOPIC, len(written)) == written


def test_kill9_kafkad_is_restarted_and_rejoins(cluster):
    part = cluster.describe(TOPIC)[0]
    # A follower of the partition: the records written while it is down must
    # reach its own log once systemd has started it again.
    victim_id = next(b for b in part["replicas"] if b != part["leader"])
    host = KAFKA_HOSTS[victim_id - 1]
    before = cluster.unit(host, "kafka-server")
    cluster.run(host, "kill", "-9", before["MainPID"], sudo=True)
    wait_for(f"{host}: kafkad gone", lambda: cluster.unit(host, "kafka-server")["MainPID"] != before["MainPID"],
             timeout=30, interval=0.2)
    down = [f"while broker {victim_id} was restarting {i}" for i in range(3)]
    cluster.produce(TOPIC, down)
    written.extend(down)

    def restarted():
        u = cluster.unit(host, "kafka-server")
        return u if (u["ActiveState"] == "active" and u["MainPID"] not in ("0", before["MainPID"])
                     and int(u["NRestarts"]) == int(before["NRestarts"]) + 1) else None
    after = wait_for(f"{host}: kafka-server restarted by systemd", restarted, timeout=120)
    assert cluster.proc_info(host, after["MainPID"]) == ("kafka", "kafkad")
    wait_for(f"broker {victim_id} back in the ISR",
             lambda: sorted(cluster.describe(TOPIC)[0]["isr"]) == [1, 2, 3], timeout=120)

    def replicated():
        dump = cluster.run(host, f"{KAFKA_BIN}/kafka-dump-log.sh", "--print-data-log", "--files", LOG0,
                           sudo=True).stdout
        return all(f"payload: {m}" in dump for m in down)
    wait_for(f"the records written while broker {victim_id} was down in its own log", replicated, timeout=60)
    assert cluster.consume_all(TOPIC, len(written)) == written


def test_zookeeper_server_down_cluster_serves(cluster):
    modes = cluster.wait_quorum()
    leader = next(h for h, m in modes.items() if m == "leader")
    cluster.run(leader, "systemctl", "stop", "zookeeper-server", sudo=True)
    try:
        assert cluster.unit(leader, "zookeeper-server")["ActiveState"] == "inactive"
        rest = [h for h in ZK_HOSTS if h != leader]
        cluster.wait_quorum(rest)
        # Metadata writes (a new topic) and the data path both work.
        topic = "peter-overview02"
        cluster.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", topic,
                      "--partitions", "1", "--replication-factor", "3")
        wait_for(f"{topic} fully replicated",
                 lambda: (p := cluster.describe(topic)) and sorted(p[0]["isr"]) == [1, 2, 3], timeout=60)
        msgs = [f"with {leader} stopped {i}" for i in range(3)]
        cluster.produce(topic, msgs)
        assert cluster.consume_all(topic, len(msgs)) == msgs
        assert cluster.consume_all(TOPIC, len(written)) == written
    finally:
        cluster.run(leader, "systemctl", "start", "zookeeper-server", sudo=True)
    modes = cluster.wait_quorum()
    assert modes[leader] in ("leader", "follower")


ALL_BROKERS = ",".join(f"{h}:9092" for h in KAFKA_HOSTS)
LOAD_TOPIC = "peter-rolling01"
# Records acknowledged before the playbook starts and after it ends: the
# producer demonstrably ran across the whole restart.
LOAD_MARGIN = 200


def _acked_between(acked, lo_ms, hi_ms):
    return sum(1 for ts, *_ in acked if lo_ms <= ts < hi_ms)


def test_rolling_restart(cluster):
    # Under load: a producer with acks=all to a topic on all three brokers
    # that takes a write only while two replicas are in sync, from before
    # the playbook starts until after it ends. No acknowledged record may be
    # missing afterwards (unacknowledged ones may; duplicates may appear).
    cluster.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", LOAD_TOPIC,
                  "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2")
    wait_for(f"{LOAD_TOPIC} fully replicated", lambda: (p := cluster.describe(LOAD_TOPIC)) and len(p) == 3 and all(
        sorted(x["isr"]) == [1, 2, 3] for x in p.values()), timeout=60)
    modes = cluster.wait_quorum()
    zk_leader = next(h for h, m in modes.items() if m == "leader")
    units = [(h, "zookeeper-server") for h in ZK_HOSTS] + [(h, "kafka-server") for h in KAFKA_HOSTS]
    before = {k: cluster.unit(*k) for k in units}
    producer = VerifiableProducer(cluster, KAFKA_HOSTS[0], LOAD_TOPIC, "--bootstrap-server", ALL_BROKERS,
                                  "--acks", "-1", "--throughput", "100")
    try:
        wait_for(f"{LOAD_MARGIN} records acknowledged before the restarts",
                 lambda: producer.acked_count() >= LOAD_MARGIN or producer.proc.poll() is not None, timeout=120)
        assert producer.proc.poll() is None, f"the producer exited: {producer.stderr()}"
        t_start = time.time()
        run = cluster.playbook("-i", "hosts", "rolling-restart.yml")
        t_end = time.time()
        wait_for(f"{LOAD_MARGIN} records acknowledged after the restarts",
                 lambda: producer.acked_since(t_end * 1000) >= LOAD_MARGIN or producer.proc.poll() is not None,
                 timeout=180)
    except AssertionError as e:
        producer.stop(check=False)
        raise AssertionError(f"{e}\nthe producer's last send errors: {producer.errors()[-5:]}\n"
                             f"{producer.stderr()}") from e
    except BaseException:
        producer.stop(check=False)
        raise
    data = producer.stop()
    run.check()
    after = {k: cluster.unit(*k) for k in units}
    for k in units:
        assert after[k]["ActiveState"] == "active", (k, after[k])
        assert after[k]["MainPID"] != before[k]["MainPID"], (k, "not restarted")
    start = {k: int(after[k]["ExecMainStartTimestampMonotonic"]) for k in units}
    # The ZooKeeper leader last; the brokers one after another, after ZooKeeper.
    zk_order = sorted(ZK_HOSTS, key=lambda h: start[(h, "zookeeper-server")])
    assert zk_order[-1] == zk_leader, (zk_order, zk_leader, run.out[-4000:])
    kafka_order = sorted(KAFKA_HOSTS, key=lambda h: start[(h, "kafka-server")])
    assert kafka_order == KAFKA_HOSTS
    assert start[(KAFKA_HOSTS[0], "kafka-server")] > start[(zk_leader, "zookeeper-server")]
    cluster.wait_quorum()
    assert sorted(cluster.describe(TOPIC)[0]["isr"]) == [1, 2, 3]
    assert cluster.consume_all(TOPIC, len(written)) == written

    # The machines share this host's clocks: the units' monotonic start
    # times and the producer's wall-clock event times on one scale.
    mono_to_ms = lambda us: (us / 1e6 + time.time() - time.monotonic()) * 1000  # noqa: E731
    first_up, last_up = (mono_to_ms(start[(h, "kafka-server")]) for h in (KAFKA_HOSTS[0], KAFKA_HOSTS[-1]))
    acked = list(producer.acked)
    phases = {
        "before the playbook": _acked_between(acked, 0, t_start * 1000),
        "during the playbook": _acked_between(acked, t_start * 1000, t_end * 1000),
        "between the first and the last broker's restart": _acked_between(acked, first_up, last_up),
        "after the playbook": _acked_between(acked, t_end * 1000, float("inf")),
    }
    errors = producer.errors()
    MEASURED.append(f"test_rolling_restart: {data['sent']} records sent to {LOAD_TOPIC}, {len(acked)} acknowledged "
                    f"({', '.join(f'{n} {k}' for k, n in phases.items())}), {len(errors)} send errors")
    assert phases["before the playbook"] >= LOAD_MARGIN and phases["after the playbook"] >= LOAD_MARGIN, phases
    assert phases["between the first and the last broker's restart"] > 0, phases
    # Every acknowledged record is in the log, at the offset it was
    # acknowledged with.
    log = cluster.read_log(LOAD_TOPIC)
    lost = [(v, p, o, log.get((p, o))) for _, v, p, o in acked if log.get((p, o)) != v]
    assert not lost, (f"{len(lost)} of {len(acked)} acknowledged records not in the log where acknowledged "
                      f"(value, partition, offset, found): {lost[:20]}")
    assert set(v for _, v, _, _ in acked) <= set(log.values())


@pytest.mark.skipif(os.environ.get("DEPLOY_LAYOUT", "full") != "full",
                    reason="broker 4 goes on peter-zk03.foo.bar, a broker host of its own only in the full layout")
def test_scaleout_broker4(cluster):
    # A topic of the three-broker cluster, with records on every partition,
    # to move onto broker 4 afterwards as the tutorial does.
    topic0, host = "peter-reassign01", KAFKA_HOSTS[0]
    cluster.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", topic0,
                  "--partitions", "4", "--replication-factor", "2")
    wait_for(f"{topic0} fully replicated", lambda: (p := cluster.describe(topic0)) and len(p) == 4 and all(
        sorted(x["isr"]) == sorted(x["replicas"]) for x in p.values()), timeout=60)
    producer = VerifiableProducer(cluster, host, topic0, "--bootstrap-server", ALL_BROKERS, "--acks", "-1",
                                  "--max-messages", "200", "--repeating-keys", "20")
    data = producer.stop_when_done()
    assert data["acked"] == 200, (data, producer.errors()[:5])
    records = {(p, o): v for _, v, p, o in producer.acked}
    assert {p for p, _ in records} == {0, 1, 2, 3}, records
    old = cluster.describe(topic0)
    assert all(4 not in x["replicas"] for x in old.values()), old

    run = cluster.playbook("-i", "hosts", "kafka-scaleout.yml").check()
    assert set(run.recap) == {"peter-zk03.foo.bar"}
    ids = wait_for("broker 4 registered", lambda: "[1, 2, 3, 4]" in cluster.kafka(
        "zookeeper-shell.sh", "peter-zk01.foo.bar:2181", "ls", "/brokers/ids").stdout, timeout=60)
    assert ids
    u = cluster.unit("peter-zk03.foo.bar", "kafka-server")
    assert u["ActiveState"] == "active" and cluster.proc_info("peter-zk03.foo.bar", u["MainPID"]) == ("kafka", "kafkad")
    topic = "peter-scaleout01"
    cluster.kafka("kafka-topics.sh", "--bootstrap-server", "peter-zk03.foo.bar:9092", "--create", "--topic", topic,
                  "--partitions", "4", "--replication-factor", "1")
    leaders = {p["leader"] for p in cluster.describe(topic).values()}
    assert leaders == {1, 2, 3, 4}, leaders

    # The tutorial's reassignment: generate a plan over the four brokers,
    # execute it, verify until it completes.
    reassign = lambda *args, **kw: cluster.kafka(  # noqa: E731
        "kafka-reassign-partitions.sh", "--bootstrap-server", BOOTSTRAP, *args, **kw).stdout
    to_move, plan = "/tmp/topics-to-move.json", "/tmp/reassignment.json"
    cluster.run(host, "tee", to_move, input=json.dumps({"topics": [{"topic": topic0}], "version": 1}))
    out = reassign("--topics-to-move-json-file", to_move, "--broker-list", "1,2,3,4", "--generate")
    m = re.fullmatch(r"Current partition replica assignment\n(\{.*\})\n\n"
                     r"Proposed partition reassignment configuration\n(\{.*\})\n", out)
    assert m, out
    current, proposed = (json.loads(m.group(i)) for i in (1, 2))
    assert {(x["topic"], x["partition"]): x["replicas"] for x in current["partitions"]} == {
        (topic0, p): x["replicas"] for p, x in old.items()}, (current, old)
    target = {x["partition"]: x["replicas"] for x in proposed["partitions"] if x["topic"] == topic0}
    assert sorted(target) == [0, 1, 2, 3] and all(len(r) == 2 for r in target.values()), proposed
    assert any(4 in r for r in target.values()), proposed
    cluster.run(host, "tee", plan, input=m.group(2) + "\n")
    out = reassign("--execute", "--reassignment-json-file", plan)
    assert "Successfully started partition reassignments for " + ",".join(
        f"{topic0}-{p}" for p in range(4)) in out, out
    done = [f"Reassignment of partition {topic0}-{p} is completed." for p in range(4)]

    def completed():
        out = reassign("--verify", "--reassignment-json-file", plan)
        return out if all(line in out.splitlines() for line in done) else None
    out = wait_for("the reassignment completed (--verify)", completed, timeout=180, interval=2)
    assert "Status of partition reassignment:" in out, out
    assert "No partition reassignments found." in reassign("--list")
    now = wait_for(f"{topic0}'s replicas in sync", lambda: (p := cluster.describe(topic0)) and all(
        sorted(x["isr"]) == sorted(x["replicas"]) for x in p.values()) and p, timeout=60)
    assert {p: x["replicas"] for p, x in now.items()} == target, (now, target)
    # Broker 4 has the records of the partitions it now holds, in its own log.
    for part in (p for p, r in target.items() if 4 in r):
        want = [v for (p, _), v in sorted(records.items()) if p == part]
        log0 = f"/data/kafka-logs/{topic0}-{part}/00000000000000000000.log"

        def in_broker4_log():
            dump = cluster.run("peter-zk03.foo.bar", f"{KAFKA_BIN}/kafka-dump-log.sh", "--print-data-log",
                               "--files", log0, sudo=True, check=False).stdout
            return re.findall(r"payload: (\S+)", dump) == want
        wait_for(f"{topic0}-{part}'s records in broker 4's log", in_broker4_log, timeout=60)
    # Every record written before is still there, where it was written.
    log = cluster.read_log(topic0)
    assert log == records, (len(log), len(records))
    moved = sum(1 for p, r in target.items() if r != old[p]["replicas"])
    on4 = sum(4 in r for r in target.values())
    MEASURED.append(f"test_scaleout_broker4: {moved} of 4 partitions of {topic0} moved, {on4} now with a replica "
                    f"on broker 4, {len(records)} records kept")


def test_kafka1_chroot_cluster(cluster):
    # kafka1.yml: the same hosts as a cluster under the chroot /kafka1 with
    # its logs in /data/kafka1-logs (a drop-in lets the unit write there).
    run = cluster.playbook("-i", "hosts", "kafka1.yml").check()
    assert set(run.recap) == set(KAFKA_HOSTS)
    ids = wait_for("the brokers under /kafka1", lambda: "[1, 2, 3]" in cluster.kafka(
        "zookeeper-shell.sh", "peter-zk01.foo.bar:2181", "ls", "/kafka1/brokers/ids").stdout, timeout=60)
    assert ids
    topic = "peter-kafka1-01"
    cluster.kafka("kafka-topics.sh", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", topic,
                  "--partitions", "1", "--replication-factor", "3")
    msgs = ["in the kafka1 cluster"]
    cluster.produce(topic, msgs)
    assert cluster.consume_all(topic, 1) == msgs
    listing = cluster.run(KAFKA_HOSTS[0], "ls", "/data/kafka1-logs", sudo=True).stdout.split()
    assert f"{topic}-0" in listing, listing
    # The first cluster's logs stay where they were.
    assert cluster.run(KAFKA_HOSTS[0], "test", "-f", LOG0, sudo=True, check=False).returncode == 0


def test_no_watchdog_timeouts(cluster):
    # Both units ask for watchdog pings (WatchdogSec=30): through everything
    # above, no daemon missed them.
    for h in sorted(set(ZK_HOSTS + KAFKA_HOSTS)):
        text = cluster.run(h, "journalctl", "-o", "cat", "--no-pager", sudo=True).stdout
        assert "Watchdog timeout" not in text, [l for l in text.splitlines() if "atchdog" in l]
