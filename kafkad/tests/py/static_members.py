"""confluent-kafka static membership (group.instance.id): a static member
that closes (no LeaveGroup for static members) and restarts within the
session timeout gets its old partitions back without a rebalance; the
other member sees no revoke/assign.
Usage: static_members.py BOOTSTRAP TOPIC GROUP. Prints ALL OK."""
import sys
import time

from confluent_kafka import Consumer

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


class Member:
    def __init__(self, instance):
        self.events = []
        self.assigned = set()
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.instance.id": instance,
                           "session.timeout.ms": 10000, "heartbeat.interval.ms": 300,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    def on_assign(self, c, parts):
        self.events.append(("assign", sorted(p.partition for p in parts)))
        self.assigned = {p.partition for p in parts}

    def on_revoke(self, c, parts):
        self.events.append(("revoke", sorted(p.partition for p in parts)))
        self.assigned = set()

    def poll(self):
        m = self.c.poll(0.05)
        if m is not None and m.error():
            fail(str(m.error()))


def until(what, pred, members, timeout=40):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            fail(f"timed out waiting for {what}: {[(m.events, m.assigned) for m in members]}")
        for m in members:
            m.poll()


a, b = Member("static-a"), Member("static-b")
until("two members sharing four partitions",
      lambda: len(a.assigned) == 2 and len(b.assigned) == 2, [a, b])
a_parts = set(a.assigned)
b_events = len(b.events)
a.c.close()  # a static member does not leave the group on close

a2 = Member("static-a")
until("the restarted static member's assignment", lambda: len(a2.assigned) > 0, [a2, b], timeout=20)
if a2.assigned != a_parts:
    fail(f"restarted member got {sorted(a2.assigned)}, had {sorted(a_parts)}")
# Several heartbeat intervals: a rebalance would reach b as a revoke.
deadline = time.time() + 3
while time.time() < deadline:
    a2.poll()
    b.poll()
if len(b.events) != b_events:
    fail(f"the other member rebalanced: {b.events[b_events:]}")
print("STATIC", sorted(a_parts), flush=True)
a2.c.close()
b.c.close()
print("ALL OK", flush=True)
