#!/usr/bin/env python3
"""Trains the phishing-warning example model on a synthetic URL-feature dataset, and two
challengers for the rollout demo (issue #23).

Writes, next to this file:
  model.onnx     ColumnTransformer (StandardScaler on the numeric features, OneHotEncoder on
                 tld_category) + GradientBoostingClassifier (50 trees), exported with
                 zipmap=False and one named input per feature: integers and booleans as
                 tensor(int64) [N, 1], tld_category as tensor(string) [N, 1].
  expected.json  a few inputs and ONNX Runtime's outputs, in the format of fixtures/expected,
                 so rein-runtime's tests check this model too.

With `--reference-only OUT.csv` it writes the training rows instead and trains nothing:
scripts/make_profiles.sh profiles them into model.profile.json, the reference of drift.

With `--challenger` and/or `--bad-challenger` it writes the challengers instead (model.onnx and
expected.json untouched), each the same pipeline and export as model.onnx (the same inputs,
outputs, class labels and opsets: rein registers them as versions of `phishing`):
  challenger.onnx         a better challenger, trained on newer data: 15,000 rows (5,000 more
                          its holdout) of the world after its drifts, as the simulator
                          (crates/simulator/src/worlds/phishing.rs) draws it while its data
                          drift and concept drift are both on (`synthesize(..., drifted=True)`):
                          phishing URLs 1.6 times longer, HTTPS on 85% of phishing and 92% of
                          legitimate pages, and 10% more phishing, half of all phishing a
                          campaign from compromised, established .com sites (2000 + Exp(2000)
                          days old, no suspicious words).
  challenger-broken.onnx  a bad challenger, with a broken feature: the champion's training rows
                          through a feature pipeline with a bug, which reads the domain's age
                          in months (`in_months`: days // 30) where the schema, and every
                          request, give days. Its own holdout, through the same buggy pipeline,
                          looks as good as the champion's (accuracy 0.970, AUC 0.942); served
                          days, a young domain looks 30 times older to it, so most phishing
                          domains (90 days old on average) look established and it misses most
                          phishing. It still loads, fits the schema and the labels, and answers
                          any row with finite probabilities: only live data shows the bug.

Then it prints their figures, from ONNX Runtime on the exported files: recall on phishing and
precision at the model's own label, ROC AUC, on 20,000 fresh rows of the world before its drifts
and 20,000 of the drifted world (days 3 to 6: data and concept drift; labels unflipped, as in
the simulator, 23.5% phishing, 2,357 rows the campaign's), and recall on the campaign's pages:

                          |    before the drifts     |    drifted (days 3-6)    |campaign
                          |  recall   prec.     AUC  |  recall   prec.     AUC  |  recall
  model.onnx              |   0.975   0.969   0.999  |   0.537   0.962   0.907  |   0.101
  challenger.onnx         |   0.933   0.921   0.996  |   0.914   0.953   0.994  |   0.855
  challenger-broken.onnx  |   0.252   0.980   0.929  |   0.179   0.983   0.924  |   0.105

The challenger catches the campaign the champion misses, for some precision and recall before
the drifts (it learned that old, plain .com pages can be phishing). The simulator agrees: played
by `rein demo` (seed 42) with each as the system file's model, the model's own label (`rein
export`'s raw_label) on the phishing pages the takedown feed confirmed, whatever the browser
showed, gives a recall of 0.984, 0.935 and 0.337 before the drifts, and 0.554, 0.928 and 0.168
on days 3 to 6 with the WHOIS feed working; the demo's accuracy against the hidden truth there
is 89.6%, 97.1% and 82.1%.

Seeded and deterministic. Needs numpy, scikit-learn, skl2onnx (and its onnx), onnxruntime==1.22.1.

    python3 examples/phishing-warning/train.py
    python3 examples/phishing-warning/train.py --challenger --bad-challenger
"""

from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np
import onnx
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
LABELS = ["legit", "phishing"]  # the classifier's classes, sorted: the ONNX outputs' columns
MODELS = ["model.onnx", "challenger.onnx", "challenger-broken.onnx"]
EVAL_SEED = 1000
N_EVAL = 20_000


def synthesize(
    rng: np.random.Generator, n: int, drifted: bool = False, label_noise: float = 0.02, with_campaign: bool = False
):
    """URL features whose relations resemble real phishing data; about 15% phishing.

    `drifted` draws the world after its drifts instead, as the simulator's phishing world
    (crates/simulator/src/worlds/phishing.rs, `request`) does while both are on (days 3 to 6):
    the data drift (phishing URLs 1.6 times longer; HTTPS on 85% of phishing pages and 92% of
    legitimate ones) and the concept drift (10% more phishing, 23.5% in all, half of it a
    campaign from compromised, established sites: a domain 2000 + Exp(2000) days old, no
    suspicious words, a .com). Without it the draws are the same as they always were, so the
    pre-drift rows, and model.onnx, do not change. `label_noise` is the share of labels
    flipped (the simulator flips none); the flips are drawn either way. `with_campaign` also
    returns which rows are the campaign's pages.
    """
    phishing = rng.random(n) < 0.15
    campaign = np.zeros(n, dtype=bool)
    if drifted:
        phishing |= rng.random(n) < 0.1
        campaign = phishing & (rng.random(n) < 0.5)

    def pick(p_phish, p_legit):
        return np.where(phishing, p_phish, p_legit)

    url_length = np.where(phishing, rng.lognormal(4.4, 0.6, n), rng.lognormal(3.7, 0.5, n))
    if drifted:
        url_length = np.where(phishing, url_length * 1.6, url_length)
    url_length = url_length.round().clip(5, 2000).astype(np.int64)
    num_subdomains = np.where(phishing, rng.poisson(2.2, n), rng.poisson(0.7, n)).clip(0, 10).astype(np.int64)
    num_dots = (num_subdomains + 1 + rng.poisson(pick(1.5, 0.6), n)).clip(0, 30).astype(np.int64)
    num_hyphens = rng.poisson(pick(1.8, 0.4), n).clip(0, 30).astype(np.int64)
    has_ip_host = rng.random(n) < pick(0.12, 0.005)
    uses_https = rng.random(n) < (pick(0.85, 0.92) if drifted else pick(0.45, 0.9))
    domain_age_days = np.where(
        phishing, rng.exponential(90, n), rng.exponential(3000, n) + rng.uniform(0, 400, n)
    ).round().clip(0, 20000).astype(np.int64)
    if drifted:
        # Compromised, established sites: old domains, plain words, a .com (below).
        campaign_age = (2000 + rng.exponential(2000, n)).round().clip(0, 20000).astype(np.int64)
        domain_age_days = np.where(campaign, campaign_age, domain_age_days)
    # IP hosts have no registered domain age: they look brand new.
    domain_age_days = np.where(has_ip_host, 0, domain_age_days)
    suspicious_words = rng.poisson(pick(1.6, 0.15), n).clip(0, 20).astype(np.int64)
    suspicious_words = np.where(campaign, 0, suspicious_words)
    tld_p_legit = np.array([0.55, 0.12, 0.1, 0.15, 0.04, 0.04])
    tld_p_phish = np.array([0.3, 0.05, 0.07, 0.18, 0.25, 0.15])
    tld = np.where(
        phishing,
        rng.choice(TLDS, size=n, p=tld_p_phish),
        rng.choice(TLDS, size=n, p=tld_p_legit),
    )
    tld = np.where(campaign, "com", tld)
    # Label noise: some phishing pages look clean, some legit pages look odd.
    flip = rng.random(n) < label_noise
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
    return (columns, labels, campaign) if with_campaign else (columns, labels)


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


def fit(columns: dict, labels: np.ndarray, idx) -> Pipeline:
    """The pipeline every model of this example shares, fitted on the rows idx."""
    k = len(NUMERIC)
    prep = ColumnTransformer([
        ("numeric", StandardScaler(), list(range(k))),
        ("tld", OneHotEncoder(categories=[TLDS], handle_unknown="ignore"), [k]),
    ])
    clf = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=SEED)
    pipe = Pipeline([("prep", prep), ("clf", clf)])
    pipe.fit(to_matrix(columns, idx), labels[idx])
    return pipe


def holdout(pipe: Pipeline, columns: dict, labels: np.ndarray, test) -> None:
    clf = pipe.named_steps["clf"]
    X_test = to_matrix(columns, test)
    proba = pipe.predict_proba(X_test)[:, list(clf.classes_).index("phishing")]
    acc = accuracy_score(labels[test], pipe.predict(X_test))
    auc = roc_auc_score(labels[test] == "phishing", proba)
    print(f"holdout: {len(test)} rows, {np.mean(labels[test] == 'phishing'):.1%} phishing")
    print(f"holdout accuracy {acc:.4f}, ROC AUC {auc:.4f}")


def export(pipe: Pipeline, name: str) -> str:
    """The ONNX export every model of this example shares: one named input per feature
    (integers and booleans tensor(int64) [N, 1], tld_category tensor(string) [N, 1]), outputs
    `label` and `probabilities` (zipmap=False), the graph named `phishing`."""
    clf = pipe.named_steps["clf"]
    initial_types = [(n, Int64TensorType([None, 1])) for n, _ in NUMERIC]
    initial_types.append(("tld_category", StringTensorType([None, 1])))
    onx = convert_sklearn(
        pipe,
        initial_types=initial_types,
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.graph.name = "phishing"
    # skl2onnx lists the opsets in an unstable order: sorted, runs are byte-identical.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.append(onnx.helper.make_opsetid(domain, version))
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return path


def in_months(columns: dict) -> dict:
    """The bad challenger's feature pipeline: its bug reads the domain's age in months."""
    return {**columns, "domain_age_days": columns["domain_age_days"] // 30}


def onnx_scores(path: str, columns: dict):
    """The model's labels and P(phishing) for every row, from ONNX Runtime on the file."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {n: np.asarray(columns[n], dtype=np.int64).reshape(-1, 1) for n, _ in NUMERIC}
    feeds["tld_category"] = np.asarray(columns["tld_category"], dtype=object).reshape(-1, 1)
    label, proba = sess.run(["label", "probabilities"], feeds)
    return label.reshape(-1), proba[:, LABELS.index("phishing")]


def figures() -> None:
    """Recall on phishing and precision (at the model's own label), ROC AUC, of each model
    file there is, from ONNX Runtime, on fresh samples of the world before its drifts and
    while both are on (labels unflipped, as in the simulator); and recall on the campaign."""
    before = synthesize(np.random.default_rng(EVAL_SEED), N_EVAL, label_noise=0)
    columns, labels, campaign = synthesize(
        np.random.default_rng(EVAL_SEED + 1), N_EVAL, drifted=True, label_noise=0, with_campaign=True
    )
    worlds = [before, (columns, labels)]
    print(f"\nONNX Runtime on {N_EVAL:,} fresh rows of each world (recall and precision at the model's label):")
    print(f"{'':24}|{'before the drifts':^26}|{'drifted (days 3-6)':^26}|{'campaign':>8}")
    print(f"{'':24}|" + f"{'recall':>8}{'prec.':>8}{'AUC':>8}  |" * 2 + f"{'recall':>8}")
    for m in MODELS:
        path = os.path.join(HERE, m)
        if not os.path.exists(path):
            continue
        cells = []
        for world_columns, world_labels in worlds:
            pred, proba = onnx_scores(path, world_columns)
            y = world_labels == "phishing"
            hit = pred == "phishing"
            recall, precision = (hit & y).sum() / y.sum(), (hit & y).sum() / max(hit.sum(), 1)
            cells.append(f"{recall:>8.3f}{precision:>8.3f}{roc_auc_score(y, proba):>8.3f}  |")
        pred, _ = onnx_scores(path, columns)
        cells.append(f"{np.mean(pred[campaign] == 'phishing'):>8.3f}")
        print(f"{m:24}|" + "".join(cells))
    print(f"(drifted: {labels.size:,} rows, {np.mean(labels == 'phishing'):.1%} phishing, {campaign.sum():,} of it the campaign's)")


def main() -> None:
    rng = np.random.default_rng(SEED)
    columns, labels = synthesize(rng, N)
    train, test = train_test_split(np.arange(N), test_size=0.25, random_state=SEED, stratify=labels)
    if "--reference-only" in sys.argv:  # write the training rows, train nothing
        write_reference(sys.argv[sys.argv.index("--reference-only") + 1], [n for n, _ in NUMERIC] + ["tld_category"], to_matrix(columns, train))
        return
    challengers = False
    if "--challenger" in sys.argv:  # newer data: the world after its drifts
        challengers = True
        new_columns, new_labels = synthesize(np.random.default_rng(SEED + 1), N, drifted=True)
        new_train, new_test = train_test_split(
            np.arange(N), test_size=0.25, random_state=SEED, stratify=new_labels
        )
        print("challenger: trained on the world after its drifts")
        pipe = fit(new_columns, new_labels, new_train)
        holdout(pipe, new_columns, new_labels, new_test)
        export(pipe, "challenger.onnx")
    if "--bad-challenger" in sys.argv:  # the champion's rows, the age read in months
        challengers = True
        print("bad challenger: the champion's rows through a pipeline that reads the age in months")
        months = in_months(columns)
        pipe = fit(months, labels, train)
        holdout(pipe, months, labels, test)  # its own pipeline's holdout: it looks fine
        export(pipe, "challenger-broken.onnx")
    if challengers:
        figures()
        return

    pipe = fit(columns, labels, train)
    clf = pipe.named_steps["clf"]
    k = len(NUMERIC)
    holdout(pipe, columns, labels, test)
    path = export(pipe, "model.onnx")

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
