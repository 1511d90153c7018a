#!/usr/bin/env python3
"""An analytics consumer of autoenroll's event topic, as a data team would write it.

It joins a Kafka consumer group, reads with isolation.level=read_committed (so records of
aborted or unfinished transactions never arrive), decodes each record's Envelope with the
descriptor set the project ships (events/events.desc, no generated code), prints one JSON
line per event, and commits the group's offsets after the events it printed. Several
copies with the same --group share the topic's partitions; a copy that restarts resumes
from the group's committed offsets. SIGTERM or Ctrl-C commits and leaves the group.

    examples/analytics/setup        # once: a virtualenv with confluent-kafka and protobuf
    examples/analytics/.venv/bin/python examples/analytics/consume.py \\
        --bootstrap 127.0.0.1:9092 --topic autoenroll.events --group analytics

Output, one JSON object per line:
    {"assigned": [0, 2]}                                   partitions this copy now reads
    {"partition": 0, "offset": 17, "stream": "user/...", "stream_version": 1,
     "type": "user_created", "event_id": "...", "recorded_at": "2026-...Z"}
"""

import argparse
import json
import os
import signal
import sys

from confluent_kafka import Consumer, KafkaError, KafkaException
from google.protobuf import descriptor_pool, descriptor_pb2, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DESCRIPTORS = os.path.join(HERE, "..", "..", "events", "events.desc")


def envelope_class(descriptor_file):
    """The Envelope message class, built from the shipped descriptor set."""
    fds = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_file, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("autoenroll.events.v1.Envelope"))


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True, help="bootstrap servers HOST:PORT[,...]")
    ap.add_argument("--topic", default="autoenroll.events")
    ap.add_argument("--group", required=True, help="consumer group id")
    ap.add_argument("--descriptors", default=DEFAULT_DESCRIPTORS,
                    help="the descriptor set (events/events.desc)")
    ap.add_argument("--idle-exit", type=float, default=0,
                    help="exit after this many seconds without a record (0: run until stopped)")
    args = ap.parse_args()

    Envelope = envelope_class(args.descriptors)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,         # committed below, after the events are printed
        "auto.offset.reset": "earliest",     # a new group starts at the first event
    })
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    def on_assign(c, partitions):
        emit({"assigned": sorted(p.partition for p in partitions)})

    def on_revoke(c, partitions):
        try:
            c.commit(asynchronous=False)  # what this copy printed stays done for the next owner
        except KafkaException as e:
            if e.args[0].code() != KafkaError._NO_OFFSET:
                raise

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    idle = 0.0
    try:
        while not stopping:
            messages = consumer.consume(num_messages=500, timeout=0.5)
            if not messages:
                idle += 0.5
                if args.idle_exit and idle >= args.idle_exit:
                    break
                continue
            idle = 0.0
            for m in messages:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        print("consume error: %s" % m.error(), file=sys.stderr, flush=True)
                    continue
                env = Envelope()
                env.ParseFromString(m.value())
                emit({
                    "partition": m.partition(),
                    "offset": m.offset(),
                    "stream": env.stream,
                    "stream_version": env.stream_version,
                    "type": env.WhichOneof("payload"),
                    "event_id": env.event_id,
                    "recorded_at": env.recorded_at.ToJsonString(),
                })
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()  # commits nothing more (everything printed is committed) and leaves
    return 0


if __name__ == "__main__":
    sys.exit(main())
