#!/usr/bin/env python3
"""Writes the width benchmark's data (bench/drift_width.sh): a reference and a current sample
of 300,000 rows x 1,000 features each (800 numbers, 200 categories) as Parquet (snappy),
seeded, and the system file declaring them (rein.toml, beside the data: a thousand
features are generated, not committed). Every tenth feature moved in the current sample:
numbers by half a standard deviation, categories by quartering their most frequent value and
tripling their rarest (a Jensen-Shannon distance of 0.13 to 0.32).

Needs numpy and pyarrow.

    python3 bench/drift/make_wide.py OUT_DIR [ROWS]
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261206
NUMBERS = 800
CATEGORIES = 200
ROWS = 300_000
CHUNK = 50_000  # rows generated at a time: the script's memory stays near one chunk


def column(rng, n, i, drifted):
    moved = drifted and i % 10 == 0
    if i < NUMBERS:
        x = rng.normal(0.0, 1.0, n) if i % 2 == 0 else rng.lognormal(1.0, 0.5, n)
        return pa.array(x + 0.5 if moved else x)
    k = 3 + i % 17
    weights = np.linspace(2.0, 1.0, k)
    if moved:
        weights[0] /= 4.0
        weights[-1] *= 3.0
    codes = rng.choice(k, size=n, p=weights / weights.sum()).astype(np.int32)
    names = pa.array([f"v{j}" for j in range(k)])
    return pa.DictionaryArray.from_arrays(pa.array(codes), names).cast(pa.string())


def write(path, rng, rows, drifted):
    names = [f"n{i:03d}" for i in range(NUMBERS)] + [f"c{i:03d}" for i in range(CATEGORIES)]
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        table = pa.table([column(rng, n, i, drifted) for i in range(NUMBERS + CATEGORIES)], names=names)
        writer = writer or pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table)
    writer.close()


def system_file(path):
    lines = [
        "# The width benchmark's component (bench/drift_width.sh), written by bench/drift/make_wide.py:",
        "# 800 numbers and 200 categories. `rein drift` reads only the schema: no model is loaded.",
        "",
        "[system]",
        'name = "drift-width"',
        'description = "A component of a thousand features for the width benchmark."',
        "",
        "[[components]]",
        'name = "wide"',
        'task = "binary"',
        'labels = ["no", "yes"]',
        'positive_label = "yes"',
        'model = { path = "model.onnx", timeout_ms = 50 }',
    ]
    for i in range(NUMBERS):
        lines += ["", "[[components.features]]", f'name = "n{i:03d}"', 'type = "number"']
    for i in range(CATEGORIES):
        k = 3 + (NUMBERS + i) % 17
        values = ", ".join(f'"v{j}"' for j in range(k))
        lines += ["", "[[components.features]]", f'name = "c{i:03d}"', 'type = "category"', f"categories = [{values}]"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else ROWS
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    system_file(os.path.join(out, "rein.toml"))
    write(os.path.join(out, "reference.parquet"), rng, rows, False)
    write(os.path.join(out, "current.parquet"), rng, rows, True)


if __name__ == "__main__":
    main()
