"""Milestone-2 admin APIs through confluent-kafka's AdminClient (librdkafka
2.x): DescribeConfigs (topic and broker, with synonyms), AlterConfigs,
IncrementalAlterConfigs, CreatePartitions, DeleteRecords, DescribeCluster,
DeleteGroups. Usage: admin_apis.py BOOTSTRAP. The broker runs with
log.segment.bytes=1048576 in server.properties. Prints ALL OK at the end."""
import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, OffsetSpec)

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def result(fut, what):
    try:
        return fut.result(30)
    except KafkaException as e:
        fail(f"{what}: {e}")


def error_code(fut):
    try:
        fut.result(30)
    except KafkaException as e:
        return e.args[0].code()
    return 0


T = "cfg-topic"
for f in admin.create_topics([NewTopic(T, 1, 1)], operation_timeout=20).values():
    result(f, "create")


def describe_topic():
    res = ConfigResource(ConfigResource.Type.TOPIC, T)
    return result(admin.describe_configs([res], request_timeout=20)[res], "describe topic")


cfg = describe_topic()
for name, value, source in [
    ("retention.ms", "604800000", ConfigSource.DEFAULT_CONFIG),
    ("cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG),
    ("segment.bytes", "1048576", ConfigSource.STATIC_BROKER_CONFIG),
    ("max.message.bytes", "1048588", ConfigSource.DEFAULT_CONFIG),
]:
    e = cfg.get(name)
    if e is None or e.value != value or e.source != source.value:
        fail(f"{name}: got {e and (e.value, e.source)} want {(value, source)}")
# librdkafka keys synonyms by name, so the broker's static and default
# entries for log.segment.bytes collapse into one here.
if "log.segment.bytes" not in cfg["segment.bytes"].synonyms:
    fail(f"segment.bytes synonyms {cfg['segment.bytes'].synonyms}")

# IncrementalAlterConfigs: SET then check source TOPIC_CONFIG.
res = ConfigResource(ConfigResource.Type.TOPIC, T, incremental_configs=[
    ConfigEntry("retention.ms", "1234", incremental_operation=AlterConfigOpType.SET),
    ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
])
result(admin.incremental_alter_configs([res])[res], "incremental alter")
cfg = describe_topic()
if cfg["retention.ms"].value != "1234" or cfg["retention.ms"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value:
    fail(f"after incremental alter: {cfg['retention.ms']}")
if cfg["cleanup.policy"].value != "delete,compact":
    fail(f"APPEND cleanup.policy: {cfg['cleanup.policy'].value}")

# An invalid value is refused with INVALID_CONFIG (40), nothing written.
res = ConfigResource(ConfigResource.Type.TOPIC, T, incremental_configs=[
    ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
if error_code(admin.incremental_alter_configs([res])[res]) != 40:
    fail("invalid retention.ms accepted")
res = ConfigResource(ConfigResource.Type.TOPIC, T, incremental_configs=[
    ConfigEntry("retention.ms", "5", incremental_operation=AlterConfigOpType.APPEND)])
if error_code(admin.incremental_alter_configs([res])[res]) != 40:
    fail("APPEND on a non-list config accepted")

# Legacy AlterConfigs replaces the whole set: retention.ms goes back to default.
res = ConfigResource(ConfigResource.Type.TOPIC, T, set_config={"segment.ms": "3600000"})
result(admin.alter_configs([res])[res], "alter configs")
cfg = describe_topic()
if cfg["retention.ms"].source != ConfigSource.DEFAULT_CONFIG.value or cfg["segment.ms"].value != "3600000":
    fail(f"legacy alter: {cfg['retention.ms']} {cfg['segment.ms']}")

# Unknown topic.
res = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")
if error_code(admin.describe_configs([res])[res]) != 3:
    fail("describe of unknown topic did not fail with UNKNOWN_TOPIC_OR_PARTITION")

# Broker configs (kafka-configs --broker 1 --describe --all).
res = ConfigResource(ConfigResource.Type.BROKER, "1")
bcfg = result(admin.describe_configs([res])[res], "describe broker")
if bcfg["log.segment.bytes"].source != ConfigSource.STATIC_BROKER_CONFIG.value:
    fail(f"broker log.segment.bytes {bcfg['log.segment.bytes']}")
if bcfg["log.retention.hours"].value != "168" or bcfg["log.retention.hours"].source != ConfigSource.DEFAULT_CONFIG.value:
    fail(f"broker log.retention.hours {bcfg['log.retention.hours']}")

# CreatePartitions 1 -> 3, then 3 -> 2 fails with INVALID_PARTITIONS (37).
f = admin.create_partitions([NewPartitions(T, 3)], operation_timeout=20)[T]
result(f, "create partitions")
deadline = time.time() + 20
while len(admin.list_topics(T, timeout=10).topics[T].partitions) != 3:
    if time.time() > deadline:
        fail("partitions not visible")
    time.sleep(0.2)
if error_code(admin.create_partitions([NewPartitions(T, 2)])[T]) != 37:
    fail("shrinking partitions did not fail with INVALID_PARTITIONS")

# DeleteRecords moves the low watermark.
p = Producer({"bootstrap.servers": bootstrap})
for i in range(10):
    p.produce(T, value=b"v%d" % i, partition=2)
if p.flush(30) != 0:
    fail("produce")
dr = result(admin.delete_records([TopicPartition(T, 2, 6)])[TopicPartition(T, 2, 6)], "delete records")
if dr.low_watermark != 6:
    fail(f"low watermark {dr.low_watermark}")
tp = TopicPartition(T, 2)
lo = result(admin.list_offsets({tp: OffsetSpec.earliest()})[tp], "list earliest")
if lo.offset != 6:
    fail(f"earliest after delete_records {lo.offset}")

# DescribeCluster.
cl = result(admin.describe_cluster(request_timeout=20), "describe cluster")
if cl.controller is None or cl.controller.id != 1 or [n.id for n in cl.nodes] != [1] or len(cl.cluster_id) != 22:
    fail(f"describe cluster: {cl.controller} {cl.nodes} {cl.cluster_id}")

# DeleteGroups: a live group is NON_EMPTY_GROUP (68); after close it goes;
# deleting it again is GROUP_ID_NOT_FOUND (69).
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "gdel", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000})
c.subscribe([T])
got = 0
deadline = time.time() + 30
while got < 4 and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got += 1
if got < 4:
    fail(f"consumed {got}")
c.commit(asynchronous=False)
if error_code(admin.delete_consumer_groups(["gdel"], request_timeout=20)["gdel"]) != 68:
    fail("deleting a live group did not fail with NON_EMPTY_GROUP")
c.close()
res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("gdel")])["gdel"]
offs = result(res, "list group offsets")
if not any(tp.offset == 10 for tp in offs.topic_partitions):
    fail(f"committed offsets {offs.topic_partitions}")
result(admin.delete_consumer_groups(["gdel"], request_timeout=20)["gdel"], "delete group")
if error_code(admin.delete_consumer_groups(["gdel"], request_timeout=20)["gdel"]) != 69:
    fail("deleting a deleted group did not fail with GROUP_ID_NOT_FOUND")
print("ALL OK", flush=True)
