#!/usr/bin/env python3
"""Trains the smart-toaster example models: a toasting time, in seconds, from the bread,
the darkness the user asked for and the temperatures the toaster measures.

The synthetic dataset stands for toasting sessions logged by test kitchens: the time that
gave the asked-for darkness. Thicker, colder (frozen) and denser bread needs longer; a
chamber still hot from the previous slice needs less.

Writes, next to this file:
  model.onnx         ColumnTransformer (OneHotEncoder on bread_type, the numbers passed
                     through) + GradientBoostingRegressor (100 trees, depth 3), exported
                     with one named input per feature: numbers as tensor(float) [N, 1],
                     desired_darkness as tensor(int64) [N, 1], bread_type as
                     tensor(string) [N, 1]. Output `variable`, float [N, 1], seconds.
  model-broken.onnx  the same pipeline trained on times in tenths of a second (labels
                     multiplied by 10): a deliberately bad model proposing 10 to 30 minutes,
                     for showing the guardrails catch it (rein-broken.toml serves it).
  expected.json      inputs and ONNX Runtime's outputs for both models.

With `--reference-only OUT.csv` it writes the training rows instead and trains nothing:
scripts/make_profiles.sh profiles them into model.profile.json, the reference of drift.

Seeded and deterministic. Needs numpy, scikit-learn, skl2onnx, onnxruntime==1.22.1.

    python3 examples/smart-toaster/train.py
"""

from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 11
N = 12_000

BREADS = ["bagel", "brioche", "gluten_free", "rye", "sourdough", "white", "wholewheat"]
# Seconds for a 12 mm slice at room temperature, medium darkness (3), cold chamber.
BASE = {"bagel": 150, "brioche": 95, "gluten_free": 140, "rye": 135, "sourdough": 125, "white": 105, "wholewheat": 120}
# Schema order, as in rein.toml: (name, rein type).
FEATURES = [
    ("bread_type", "category"),
    ("thickness_mm", "number"),
    ("desired_darkness", "integer"),
    ("start_temp_c", "number"),
    ("chamber_temp_c", "number"),
]


def synthesize(rng: np.random.Generator, n: int):
    bread = rng.choice(BREADS, size=n, p=[0.08, 0.06, 0.06, 0.1, 0.2, 0.3, 0.2])
    thickness = np.where(bread == "bagel", rng.normal(24, 3, n), rng.normal(13, 3, n)).clip(6, 35)
    darkness = rng.integers(1, 6, n)
    frozen = rng.random(n) < 0.15
    start = np.where(frozen, rng.normal(-18, 2, n), rng.normal(20, 3, n)).clip(-25, 35)
    # Chamber: cold (room temperature) or still warm from the previous slice.
    warm = rng.random(n) < 0.35
    chamber = np.where(warm, rng.uniform(60, 180, n), rng.normal(21, 3, n)).clip(5, 200)
    base = np.vectorize(BASE.get)(bread).astype(float)
    seconds = (
        base
        * (thickness / 12.0) ** 0.6
        * (1 + 0.18 * (darkness - 3))
        + 0.9 * np.maximum(20 - start, 0)  # thawing
        - 0.25 * np.maximum(chamber - 25, 0)  # preheated chamber
    )
    seconds = (seconds * rng.normal(1, 0.05, n)).clip(30, 235)
    columns = {
        "bread_type": bread,
        "thickness_mm": thickness.round(1).astype(np.float32),
        "desired_darkness": darkness.astype(np.int64),
        "start_temp_c": start.round(1).astype(np.float32),
        "chamber_temp_c": chamber.round(1).astype(np.float32),
    }
    return columns, seconds


def to_matrix(columns: dict, idx) -> np.ndarray:
    X = np.empty((len(idx), len(FEATURES)), dtype=object)
    for j, (name, _) in enumerate(FEATURES):
        X[:, j] = columns[name][idx]
    return X


def fit(X, y):
    prep = ColumnTransformer([
        ("bread", OneHotEncoder(categories=[BREADS], handle_unknown="ignore"), [0]),
        ("numbers", "passthrough", [1, 2, 3, 4]),
    ])
    reg = GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=SEED)
    pipe = Pipeline([("prep", prep), ("reg", reg)])
    pipe.fit(X, y)
    return pipe


def export(pipe, name: str, path: str) -> None:
    initial_types = [
        ("bread_type", StringTensorType([None, 1])),
        ("thickness_mm", FloatTensorType([None, 1])),
        ("desired_darkness", Int64TensorType([None, 1])),
        ("start_temp_c", FloatTensorType([None, 1])),
        ("chamber_temp_c", FloatTensorType([None, 1])),
    ]
    onx = convert_sklearn(pipe, initial_types=initial_types, target_opset={"": 17, "ai.onnx.ml": 3})
    onx.graph.name = name
    # skl2onnx lists the opset imports in set order, which changes with PYTHONHASHSEED:
    # sort them so that the file is byte-for-byte reproducible.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def run(path: str, rows: list[dict]) -> np.ndarray:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for name, kind in FEATURES:
        dtype = {"category": object, "number": np.float32, "integer": np.int64}[kind]
        feeds[name] = np.array([r[name] for r in rows], dtype=dtype).reshape(-1, 1)
    (out,) = sess.run(["variable"], feeds)
    return out.reshape(-1)



def write_reference(path: str, names: list, rows) -> None:
    """The training rows, features only, as `rein profile` reads them (scripts/make_profiles.sh)."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for row in rows:
            out.writerow([str(v).lower() if isinstance(v, (bool, np.bool_)) else v for v in row])
    print(f"wrote {len(rows)} training rows to {path}")


def main() -> None:
    rng = np.random.default_rng(SEED)
    columns, seconds = synthesize(rng, N)
    train, test = train_test_split(np.arange(N), test_size=0.25, random_state=SEED)
    if "--reference-only" in sys.argv:  # write the training rows, train nothing
        write_reference(sys.argv[sys.argv.index("--reference-only") + 1], [n for n, _ in FEATURES], to_matrix(columns, train))
        return
    X_train, X_test = to_matrix(columns, train), to_matrix(columns, test)

    pipe = fit(X_train, seconds[train])
    pred = pipe.predict(X_test)
    print(f"holdout: {len(test)} rows, toasting time {seconds[test].min():.0f}–{seconds[test].max():.0f} s")
    print(f"holdout MAE {mean_absolute_error(seconds[test], pred):.2f} s, R² {r2_score(seconds[test], pred):.4f}, "
          f"max prediction {pred.max():.1f} s")

    # The broken model: someone fed it tenths of a second.
    broken = fit(X_train, seconds[train] * 10)
    bpred = broken.predict(X_test)
    print(f"broken model: holdout MAE {mean_absolute_error(seconds[test], bpred):.1f} s, "
          f"predictions {bpred.min():.0f}–{bpred.max():.0f} s ({(bpred > 240).mean():.0%} above 240 s)")

    path = os.path.join(HERE, "model.onnx")
    broken_path = os.path.join(HERE, "model-broken.onnx")
    export(pipe, "smart-toaster", path)
    export(broken, "smart-toaster-broken", broken_path)

    rows = []
    for i in test[:8]:
        rows.append({
            "bread_type": str(columns["bread_type"][i]),
            "thickness_mm": round(float(columns["thickness_mm"][i]), 1),
            "desired_darkness": int(columns["desired_darkness"][i]),
            "start_temp_c": round(float(columns["start_temp_c"][i]), 1),
            "chamber_temp_c": round(float(columns["chamber_temp_c"][i]), 1),
        })
    # Hand-written: a frozen thick bagel, dark; and a chamber at 260 °C (the shut-down rule).
    rows.append({"bread_type": "bagel", "thickness_mm": 30.0, "desired_darkness": 5,
                 "start_temp_c": -18.0, "chamber_temp_c": 21.0})
    rows.append({"bread_type": "white", "thickness_mm": 12.0, "desired_darkness": 3,
                 "start_temp_c": 20.0, "chamber_temp_c": 260.0})

    values = run(path, rows)
    broken_values = run(broken_path, rows)
    X_rows = np.array([[r[n] for n, _ in FEATURES] for r in rows], dtype=object)
    diff = float(np.abs(pipe.predict(X_rows) - values).max())
    print(f"onnxruntime vs scikit-learn: max |Δ| = {diff:.2e} s")
    assert diff < 1e-2, diff

    doc = {
        "name": "toast",
        "model": "model.onnx",
        "broken_model": "model-broken.onnx",
        "task": "regression",
        "layout": "named",
        "features": [{"name": n, "type": t} for n, t in FEATURES],
        "model_inputs": [
            {"name": i.name, "type": i.type, "shape": [d if isinstance(d, int) else None for d in i.shape]}
            for i in ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_inputs()
        ],
        "inputs": rows,
        "expected": [{"value": float(v)} for v in values],
        "expected_broken": [{"value": float(v)} for v in broken_values],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, 'expected.json')}")


if __name__ == "__main__":
    main()
