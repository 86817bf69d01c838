"""Writes small-u64.avro: small-deflate.avro without interval 1700000180,
whose sums exceed 2^64 (TSK carries u64 values). For the Kafka tests.
Run once: python3 make_kafka_fixture.py (deterministic: fixed sync marker)."""
import hashlib

import fastavro

with open("small-deflate.avro", "rb") as f:
    reader = fastavro.reader(f)
    schema = reader.writer_schema
    records = [r for r in reader if r["time"] != 1700000180]
with open("small-u64.avro", "wb") as f:
    fastavro.writer(f, schema, records, codec="deflate", sync_interval=1000,
                    sync_marker=hashlib.md5(b"small-u64").digest())
print(len(records), "records")
