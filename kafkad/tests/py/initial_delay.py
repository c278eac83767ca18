"""group.initial.rebalance.delay.ms as Kafka's InitialDelayedJoin: members
of a new group that arrive during the delay, and during the extension a
late arrival earns, all land in the first generation; nobody is assigned
before the delay. Member a joins at once, b at half the delay, c at 1.25x
the delay (after the first window, inside the extension b earned).
Usage: initial_delay.py BOOTSTRAP TOPIC GROUP DELAY_MS. Prints ALL OK."""
import sys
import time

from confluent_kafka import Consumer

bootstrap, topic, group, delay_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PARTS = 6


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


log = []


def member(name):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                  "session.timeout.ms": 30000, "max.poll.interval.ms": 60000,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic], on_assign=lambda c, parts: log.append((name, time.time(), len(parts))))
    return c


def poll_all(members, until):
    while time.time() < until:
        for m in members:
            m.poll(0.02)


t0 = time.time()
members = [member("a")]
poll_all(members, t0 + delay_ms / 2000)
members.append(member("b"))
poll_all(members, t0 + delay_ms * 1.25 / 1000)
members.append(member("c"))
deadline = time.time() + 30
while len({n for n, _, _ in log}) < 3:
    if time.time() > deadline:
        fail(f"not everyone assigned: {log}")
    poll_all(members, time.time() + 0.05)
first = min(t for _, t, _ in log)
if sorted(n for _, _, n in log) != [2, 2, 2]:
    fail(f"not one shared first generation (extension missing?): {log}")
waited = (first - t0) * 1000
if waited < delay_ms * 2 * 0.9:
    fail(f"first assignment after {waited:.0f} ms; the extended delay is {2 * delay_ms} ms")
print("WAITED", int(waited), flush=True)
for m in members:
    m.close()
print("ALL OK", flush=True)
