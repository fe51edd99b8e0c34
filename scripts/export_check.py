#!/usr/bin/env python3
"""Reads a `rein export` back with pyarrow and checks it is the dataset docs/export.md states.

    pip install pyarrow
    rein export examples/phishing-warning/rein.toml --component phishing --format parquet -o p.parquet
    rein export examples/phishing-warning/rein.toml --component phishing --format jsonl -o p.jsonl
    python3 scripts/export_check.py examples/phishing-warning/rein.toml phishing p.parquet [p.jsonl]

The expected columns come from the system file, read here on its own (not from rein): in
order, their Arrow types, and which are never empty. With the JSON lines export of the same
window, every value of the Parquet file must equal the JSON one (times as unix ms, numbers to
the last digit). `crates/server/tests/export.rs` runs it when pyarrow can be imported.
"""
import json
import sys
import tomllib

import pyarrow as pa
import pyarrow.parquet as pq

system_file, component_name, parquet_file = sys.argv[1:4]
jsonl_file = sys.argv[4] if len(sys.argv) > 4 else None

with open(system_file, "rb") as f:
    system = tomllib.load(f)
component = next(c for c in system["components"] if c["name"] == component_name)
classifier = component["task"] != "regression"
labels = component.get("labels", [])

# rein's own columns, as docs/export.md lists them; (name, type, never empty)
head = [("prediction_id", pa.string(), True), ("time_ms", pa.timestamp("ms", tz="UTC"), True),
        ("unit", pa.string(), False), ("model_version", pa.string(), True)]
outputs = []
for prefix in ["raw", "output"]:
    if classifier:
        outputs += [(f"{prefix}_label", pa.string(), False), (f"{prefix}_score", pa.float64(), False)]
        outputs += [(f"{prefix}_p_{label}", pa.float64(), False) for label in labels]
    else:
        outputs += [(f"{prefix}_value", pa.float64(), False)]
tail = [("mode", pa.string(), True), ("variant", pa.string(), True), ("fallback", pa.string(), False),
        ("guardrails", pa.string(), False), ("truth", pa.string() if classifier else pa.float64(), False),
        ("feedback_kind", pa.string(), False), ("feedback_source", pa.string(), False),
        ("feedback_count", pa.int64(), True)]

table = pq.read_table(parquet_file)
outcomes = [(f.name, f.type, not f.nullable) for f in table.schema if f.name.startswith("outcome_")]
own = {name for name, _, _ in head + outputs + tail + outcomes}

types = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(), "category": pa.string(),
         "text": pa.string()}
features = []
for feature in component.get("features", []):
    policy = feature.get("telemetry", "raw")
    if policy == "drop":
        continue  # not stored, not exported
    name = feature["name"]
    name = f"feature.{name}" if name in own else name
    features.append((name, pa.string() if policy == "hash" else types[feature["type"]], False))

expected = head + features + outputs + tail + outcomes
got = [(f.name, f.type, not f.nullable) for f in table.schema]
problems = []
if [e[0] for e in expected] != [g[0] for g in got]:
    problems.append(f"columns:\n  expected {[e[0] for e in expected]}\n  got      {[g[0] for g in got]}")
for (name, want, required), (_, have, never_empty) in zip(expected, got):
    if want != have:
        problems.append(f"{name}: {have}, expected {want}")
    if required != never_empty:
        problems.append(f"{name}: {'never' if never_empty else 'sometimes'} empty, expected the other")
for name, have, _ in outcomes:
    if have not in (pa.float64(), pa.int64()):
        problems.append(f"{name}: {have}, expected double (a value) or int64 (a count)")

rows = table.to_pylist()
if jsonl_file:
    with open(jsonl_file) as f:
        lines = [json.loads(line) for line in f]
    if len(lines) != len(rows):
        problems.append(f"{len(rows)} Parquet rows, {len(lines)} JSON lines")
    for i, (row, line) in enumerate(zip(rows, lines)):
        if list(line) != [g[0] for g in got]:
            problems.append(f"line {i}: its keys are not the columns in order")
        for name, value in row.items():
            if hasattr(value, "timestamp"):
                value = round(value.timestamp() * 1000)
            if value != line.get(name) or type(value) is not type(line.get(name)):
                problems.append(f"row {i} {name}: {value!r} in Parquet, {line.get(name)!r} in JSON")

try:
    import pandas  # noqa: F401  (optional: the frame a data scientist reads)
    frame = table.to_pandas()
    assert str(frame["time_ms"].dtype) == "datetime64[ms, UTC]", frame["time_ms"].dtype
except ImportError:
    pass

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{parquet_file}: {len(rows)} rows, {len(got)} columns as stated")
for name, have, never_empty in got:
    print(f"  {name}: {have}{'' if never_empty else ' (may be empty)'}")
