#!/usr/bin/env python3
"""Trains the phishing-warning example model on a synthetic URL-feature dataset.

Writes, next to this file:
  model.onnx     ColumnTransformer (StandardScaler on the numeric features, OneHotEncoder on
                 tld_category) + GradientBoostingClassifier (50 trees), exported with
                 zipmap=False and one named input per feature: integers and booleans as
                 tensor(int64) [N, 1], tld_category as tensor(string) [N, 1].
  expected.json  a few inputs and ONNX Runtime's outputs, in the format of fixtures/expected,
                 so rein-runtime's tests check this model too.

With `--reference-only OUT.csv` it writes the training rows instead and trains nothing:
scripts/make_profiles.sh profiles them into model.profile.json, the reference of drift.

Seeded and deterministic. Needs numpy, scikit-learn, skl2onnx, onnxruntime==1.22.1.

    python3 examples/phishing-warning/train.py
"""

from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import Int64TensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 42
N = 20_000

# Schema order, as in rein.toml.
NUMERIC = [
    ("url_length", "integer"),
    ("num_dots", "integer"),
    ("num_hyphens", "integer"),
    ("has_ip_host", "boolean"),
    ("uses_https", "boolean"),
    ("domain_age_days", "integer"),
    ("num_subdomains", "integer"),
    ("suspicious_words", "integer"),
]
TLDS = ["com", "org", "net", "country", "new_gtld", "other"]


def synthesize(rng: np.random.Generator, n: int):
    """URL features whose relations resemble real phishing data; about 15% phishing."""
    phishing = rng.random(n) < 0.15

    def pick(p_phish, p_legit):
        return np.where(phishing, p_phish, p_legit)

    url_length = np.where(
        phishing, rng.lognormal(4.4, 0.6, n), rng.lognormal(3.7, 0.5, n)
    ).round().clip(5, 2000).astype(np.int64)
    num_subdomains = np.where(phishing, rng.poisson(2.2, n), rng.poisson(0.7, n)).clip(0, 10).astype(np.int64)
    num_dots = (num_subdomains + 1 + rng.poisson(pick(1.5, 0.6), n)).clip(0, 30).astype(np.int64)
    num_hyphens = rng.poisson(pick(1.8, 0.4), n).clip(0, 30).astype(np.int64)
    has_ip_host = rng.random(n) < pick(0.12, 0.005)
    uses_https = rng.random(n) < pick(0.45, 0.9)
    domain_age_days = np.where(
        phishing, rng.exponential(90, n), rng.exponential(3000, n) + rng.uniform(0, 400, n)
    ).round().clip(0, 20000).astype(np.int64)
    # IP hosts have no registered domain age: they look brand new.
    domain_age_days = np.where(has_ip_host, 0, domain_age_days)
    suspicious_words = rng.poisson(pick(1.6, 0.15), n).clip(0, 20).astype(np.int64)
    tld_p_legit = np.array([0.55, 0.12, 0.1, 0.15, 0.04, 0.04])
    tld_p_phish = np.array([0.3, 0.05, 0.07, 0.18, 0.25, 0.15])
    tld = np.where(
        phishing,
        rng.choice(TLDS, size=n, p=tld_p_phish),
        rng.choice(TLDS, size=n, p=tld_p_legit),
    )
    # Label noise: some phishing pages look clean, some legit pages look odd.
    flip = rng.random(n) < 0.02
    labels = np.where(phishing ^ flip, "phishing", "legit")
    columns = {
        "url_length": url_length,
        "num_dots": num_dots,
        "num_hyphens": num_hyphens,
        "has_ip_host": has_ip_host.astype(np.int64),
        "uses_https": uses_https.astype(np.int64),
        "domain_age_days": domain_age_days,
        "num_subdomains": num_subdomains,
        "suspicious_words": suspicious_words,
        "tld_category": tld,
    }
    return columns, labels


def to_matrix(columns: dict, idx) -> np.ndarray:
    names = [n for n, _ in NUMERIC] + ["tld_category"]
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
        write_reference(sys.argv[sys.argv.index("--reference-only") + 1], [n for n, _ in NUMERIC] + ["tld_category"], to_matrix(columns, train))
        return
    k = len(NUMERIC)
    prep = ColumnTransformer([
        ("numeric", StandardScaler(), list(range(k))),
        ("tld", OneHotEncoder(categories=[TLDS], handle_unknown="ignore"), [k]),
    ])
    clf = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=SEED)
    pipe = Pipeline([("prep", prep), ("clf", clf)])
    pipe.fit(to_matrix(columns, train), labels[train])

    X_test = to_matrix(columns, test)
    proba = pipe.predict_proba(X_test)[:, list(clf.classes_).index("phishing")]
    acc = accuracy_score(labels[test], pipe.predict(X_test))
    auc = roc_auc_score(labels[test] == "phishing", proba)
    print(f"holdout: {len(test)} rows, {np.mean(labels[test] == 'phishing'):.1%} phishing")
    print(f"holdout accuracy {acc:.4f}, ROC AUC {auc:.4f}")

    initial_types = [(name, Int64TensorType([None, 1])) for name, _ in NUMERIC]
    initial_types.append(("tld_category", StringTensorType([None, 1])))
    onx = convert_sklearn(
        pipe,
        initial_types=initial_types,
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.graph.name = "phishing"
    path = os.path.join(HERE, "model.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    # A few rows of the holdout, plus two hand-written extremes.
    rows_idx = test[:10]
    rows = []
    for i in rows_idx:
        row = []
        for name, kind in NUMERIC:
            v = int(columns[name][i])
            row.append(bool(v) if kind == "boolean" else v)
        row.append(str(columns["tld_category"][i]))
        rows.append(row)
    rows.append([142, 6, 4, True, False, 3, 4, 3, "new_gtld"])
    rows.append([24, 2, 0, False, True, 9000, 1, 0, "com"])

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for j, (name, _) in enumerate(NUMERIC):
        feeds[name] = np.array([int(r[j]) for r in rows], dtype=np.int64).reshape(-1, 1)
    feeds["tld_category"] = np.array([r[k] for r in rows], dtype=object).reshape(-1, 1)
    out_names = [o.name for o in sess.get_outputs()]
    outs = dict(zip(out_names, sess.run(None, feeds)))
    expected = [
        {"label": str(l), "probabilities": [float(p) for p in ps]}
        for l, ps in zip(outs["label"].reshape(-1), outs["probabilities"])
    ]
    doc = {
        "name": "phishing",
        "model": "model.onnx",
        "task": "binary",
        "layout": "named",
        "features": [{"name": n, "type": t} for n, t in NUMERIC] + [{"name": "tld_category", "type": "category"}],
        "model_inputs": [
            {"name": i.name, "type": i.type, "shape": [d if isinstance(d, int) else None for d in i.shape]}
            for i in sess.get_inputs()
        ],
        "labels": [str(c) for c in clf.classes_],
        "inputs": rows,
        "expected": expected,
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, 'expected.json')}")


if __name__ == "__main__":
    main()
