#!/usr/bin/env python3
"""Trains the audit-risk example model: the risk meter of a tax-filing product.

The synthetic dataset mimics returns of individual filers and whether a return of that
profile was selected for an audit (about 10% of the rows; real audit rates are far lower,
the rate is raised so that a small dataset has enough positives). Audit triggers follow
common lore: self-employment with a home office, deductions large relative to income,
charitable giving that is high for the income, foreign accounts, very high or very low
income with many dependents.

Writes, next to this file:
  model.onnx     ColumnTransformer (StandardScaler on the numeric features, OneHotEncoder on
                 filing_status) + GradientBoostingClassifier (80 trees, depth 3), exported
                 with zipmap=False and one named input per feature: numbers as
                 tensor(float) [N, 1], integers and booleans as tensor(int64) [N, 1],
                 filing_status as tensor(string) [N, 1].
  expected.json  inputs and ONNX Runtime's outputs (labels in model class order).

With `--reference-only OUT.csv` it writes the training rows instead and trains nothing:
scripts/make_profiles.sh profiles them into model.profile.json, the reference of drift.

Seeded and deterministic. Needs numpy, scikit-learn, skl2onnx, onnxruntime==1.22.1.

    python3 examples/audit-risk/train.py
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
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 7
N = 20_000

# Schema order, as in rein.toml: (name, rein type).
NUMERIC = [
    ("income", "number"),
    ("deductions_ratio", "number"),
    ("self_employed", "boolean"),
    ("home_office", "boolean"),
    ("charitable_ratio", "number"),
    ("num_dependents", "integer"),
    ("foreign_accounts", "boolean"),
]
STATUSES = ["single", "married_joint", "married_separate", "head_of_household"]


def synthesize(rng: np.random.Generator, n: int):
    status = rng.choice(STATUSES, size=n, p=[0.45, 0.38, 0.05, 0.12])
    income = np.exp(rng.normal(11.0, 0.8, n))  # median about 60k
    income = np.where(status == "married_joint", income * 1.6, income).clip(0, 3_000_000).round(-1)
    self_employed = rng.random(n) < 0.16
    home_office = self_employed & (rng.random(n) < 0.45) | (~self_employed & (rng.random(n) < 0.03))
    dependents = np.where(
        np.isin(status, ["married_joint", "head_of_household"]), rng.poisson(1.6, n), rng.poisson(0.3, n)
    )
    dependents = np.where(status == "head_of_household", np.maximum(dependents, 1), dependents).clip(0, 10)
    deductions_ratio = rng.beta(2, 12, n) + np.where(self_employed, rng.beta(2, 8, n), 0.0)
    deductions_ratio = deductions_ratio.clip(0, 0.95)
    charitable_ratio = np.minimum(rng.beta(1.2, 40, n) * (1 + 2 * (rng.random(n) < 0.05)), deductions_ratio)
    charitable_ratio = np.where(rng.random(n) < 0.45, 0.0, charitable_ratio)  # many filers give nothing
    foreign_accounts = rng.random(n) < 0.04

    log_income = np.log(np.maximum(income, 1000))
    logit = (
        -3.9
        + 1.4 * self_employed
        + 1.0 * home_office
        + 8.0 * np.maximum(deductions_ratio - 0.25, 0)
        + 25.0 * np.maximum(charitable_ratio - 0.05, 0)
        + 2.4 * foreign_accounts
        + 0.9 * np.maximum(log_income - 12.5, 0)  # above ~270k
        + 0.8 * ((income < 25_000) & (dependents >= 2))  # earned income credit claims
        + 0.5 * (status == "married_separate")
    )
    p = 1 / (1 + np.exp(-logit))
    audited = rng.random(n) < p
    labels = np.where(audited, "audit", "no_audit")
    columns = {
        "income": income.astype(np.float32),
        "deductions_ratio": deductions_ratio.astype(np.float32),
        "self_employed": self_employed.astype(np.int64),
        "home_office": home_office.astype(np.int64),
        "charitable_ratio": charitable_ratio.astype(np.float32),
        "num_dependents": dependents.astype(np.int64),
        "foreign_accounts": foreign_accounts.astype(np.int64),
        "filing_status": status,
    }
    return columns, labels


def to_matrix(columns: dict, idx) -> np.ndarray:
    names = [n for n, _ in NUMERIC] + ["filing_status"]
    X = np.empty((len(idx), len(names)), dtype=object)
    for j, name in enumerate(names):
        X[:, j] = columns[name][idx]
    return X



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
    columns, labels = synthesize(rng, N)
    train, test = train_test_split(np.arange(N), test_size=0.25, random_state=SEED, stratify=labels)
    if "--reference-only" in sys.argv:  # write the training rows, train nothing
        write_reference(sys.argv[sys.argv.index("--reference-only") + 1], [n for n, _ in NUMERIC] + ["filing_status"], to_matrix(columns, train))
        return
    k = len(NUMERIC)
    prep = ColumnTransformer([
        ("numeric", StandardScaler(), list(range(k))),
        ("status", OneHotEncoder(categories=[STATUSES], handle_unknown="ignore"), [k]),
    ])
    clf = GradientBoostingClassifier(n_estimators=80, max_depth=3, learning_rate=0.1, random_state=SEED)
    pipe = Pipeline([("prep", prep), ("clf", clf)])
    pipe.fit(to_matrix(columns, train), labels[train])

    X_test = to_matrix(columns, test)
    proba = pipe.predict_proba(X_test)[:, list(clf.classes_).index("audit")]
    y = labels[test] == "audit"
    print(f"holdout: {len(test)} rows, {y.mean():.1%} audit")
    print(f"holdout accuracy {accuracy_score(labels[test], pipe.predict(X_test)):.4f}, "
          f"ROC AUC {roc_auc_score(y, proba):.4f}, Brier {brier_score_loss(y, proba):.4f} "
          f"(base-rate Brier {brier_score_loss(y, np.full(len(y), y.mean())):.4f})")
    for lo, hi in [(0, 0.1), (0.1, 0.3), (0.3, 0.6), (0.6, 1.01)]:
        m = (proba >= lo) & (proba < hi)
        if m.any():
            print(f"  calibration: score in [{lo}, {min(hi, 1)}): {m.sum():5d} rows, "
                  f"mean score {proba[m].mean():.3f}, audit rate {y[m].mean():.3f}")
    print(f"  share with score >= 0.6 (prompt): {(proba >= 0.6).mean():.1%}")

    initial_types = []
    for name, kind in NUMERIC:
        initial_types.append((name, FloatTensorType([None, 1]) if kind == "number" else Int64TensorType([None, 1])))
    initial_types.append(("filing_status", StringTensorType([None, 1])))
    onx = convert_sklearn(
        pipe,
        initial_types=initial_types,
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.graph.name = "audit-risk"
    # skl2onnx lists the opset imports in set order, which changes with PYTHONHASHSEED:
    # sort them so that the file is byte-for-byte reproducible.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    path = os.path.join(HERE, "model.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    # Holdout rows, plus hand-written filers: a salaried single filer, a self-employed
    # filer with a home office and large deductions, and a low-risk profile with foreign accounts.
    names = [n for n, _ in NUMERIC] + ["filing_status"]
    rows = []
    for i in test[:8]:
        row = {}
        for name, kind in NUMERIC:
            v = columns[name][i]
            row[name] = bool(v) if kind == "boolean" else int(v) if kind == "integer" else round(float(v), 4)
        row["filing_status"] = str(columns["filing_status"][i])
        rows.append(row)
    rows.append({"income": 52000.0, "deductions_ratio": 0.12, "self_employed": False, "home_office": False,
                 "charitable_ratio": 0.02, "num_dependents": 0, "foreign_accounts": False, "filing_status": "single"})
    rows.append({"income": 185000.0, "deductions_ratio": 0.55, "self_employed": True, "home_office": True,
                 "charitable_ratio": 0.12, "num_dependents": 1, "foreign_accounts": False,
                 "filing_status": "married_separate"})
    rows.append({"income": 48000.0, "deductions_ratio": 0.1, "self_employed": False, "home_office": False,
                 "charitable_ratio": 0.01, "num_dependents": 0, "foreign_accounts": True, "filing_status": "single"})

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for name, kind in NUMERIC:
        dtype = np.float32 if kind == "number" else np.int64
        feeds[name] = np.array([r[name] for r in rows], dtype=dtype).reshape(-1, 1)
    feeds["filing_status"] = np.array([r["filing_status"] for r in rows], dtype=object).reshape(-1, 1)
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    # Check against scikit-learn.
    X_rows = np.array([[r[n] for n in names] for r in rows], dtype=object)
    sk = pipe.predict_proba(X_rows)
    diff = float(np.abs(sk - outs["probabilities"]).max())
    print(f"onnxruntime vs scikit-learn: max |Δp| = {diff:.2e}")
    assert diff < 1e-4, diff

    doc = {
        "name": "risk",
        "model": "model.onnx",
        "task": "binary",
        "layout": "named",
        "features": [{"name": n, "type": t} for n, t in NUMERIC] + [{"name": "filing_status", "type": "category"}],
        "model_inputs": [
            {"name": i.name, "type": i.type, "shape": [d if isinstance(d, int) else None for d in i.shape]}
            for i in sess.get_inputs()
        ],
        "labels": [str(c) for c in clf.classes_],
        "inputs": rows,
        "expected": [
            {"label": str(l), "probabilities": [float(p) for p in ps]}
            for l, ps in zip(outs["label"].reshape(-1), outs["probabilities"])
        ],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, 'expected.json')}")


if __name__ == "__main__":
    main()
