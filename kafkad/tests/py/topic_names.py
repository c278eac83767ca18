"""CreateTopics through confluent-kafka's AdminClient with Kafka's topic
name rules: "", ".", "..", a 250-character name, "bad/name" and "bad name"
each fail with INVALID_TOPIC_EXCEPTION (17) while valid names in the same
request, one of them 249 characters long, are created.
Usage: topic_names.py BOOTSTRAP. Prints ALL OK."""
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
INVALID = ["", ".", "..", "x" * 250, "bad/name", "bad name"]
VALID = ["ok-topic", "y" * 249]


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


futs = admin.create_topics([NewTopic(n, 1, 1) for n in INVALID + VALID], operation_timeout=20)
for name, f in futs.items():
    try:
        f.result(30)
        code = 0
    except KafkaException as e:
        code = e.args[0].code()
    want = 17 if name in INVALID else 0
    if code != want:
        fail(f"topic {name!r} ({len(name)} chars): error {code}, want {want}")
md = admin.list_topics(timeout=20)
for name in VALID:
    if name not in md.topics or md.topics[name].error is not None:
        fail(f"{name!r} not in metadata: {md.topics.get(name)}")
for name in INVALID:
    if name in md.topics:
        fail(f"invalid {name!r} listed")
print("ALL OK", flush=True)
