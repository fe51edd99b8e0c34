#!/usr/bin/env python3
"""Builds the ONNX fixture models of rein-runtime's tests, and what ONNX Runtime answers.

Writes fixtures/models/<name>.onnx and fixtures/expected/<name>.json. Seeded and
deterministic: running it twice gives the same models and the same numbers.

Needs: numpy, scikit-learn, skl2onnx, onnx, onnxruntime==1.22.1 (the version rein loads).

    python3 scripts/make_fixtures.py

Each expected JSON holds:
  name, model (file name), task (binary | multiclass | regression),
  layout ("single": one float input [N, k]; "named": one input per feature),
  features: [{name, type}] in schema order (type: number | integer | boolean | category | text),
  labels: the model's class labels in model order (strings; absent for regression),
  inputs: rows, one JSON value per feature in schema order,
  expected: per row {label, probabilities} (probabilities in model label order) or {value}.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor
import onnx
from onnx import TensorProto, version_converter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "fixtures", "models")
EXPECTED = os.path.join(ROOT, "fixtures", "expected")
ROWS = 20


def check_runtime() -> None:
    if ort.__version__ != "1.22.1":
        print(f"warning: onnxruntime {ort.__version__} is installed; rein loads 1.22.1", file=sys.stderr)


def save(onx, path: str) -> None:
    # skl2onnx names the graph with a random UUID: name it after the file so runs are byte-identical.
    onx.graph.name = os.path.splitext(os.path.basename(path))[0]
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))


def save_sorted(onx, path: str) -> None:
    """save(), with the opset list sorted: skl2onnx writes it in an unstable order."""
    opsets = sorted(((o.domain, o.version) for o in onx.opset_import))
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.append(onnx.helper.make_opsetid(domain, version))
    save(onx, path)


def py(value):
    """A numpy scalar as a plain JSON value."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, bytes):
        return value.decode()
    return value


def run_onnx(path: str, feeds: dict) -> tuple[list, dict]:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(None, feeds)
    return names, dict(zip(names, outs))


def classifier_expected(outs: dict) -> list:
    labels = outs["label"].reshape(-1)
    probs = outs["probabilities"]
    return [
        {"label": str(py(l)), "probabilities": [float(p) for p in row]} for l, row in zip(labels, probs)
    ]


def regressor_expected(outs: dict) -> list:
    (values,) = outs.values()
    return [{"value": float(v)} for v in np.asarray(values).reshape(-1)]


def model_inputs(path: str) -> list:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [{"name": i.name, "type": i.type, "shape": [d if isinstance(d, int) else None for d in i.shape]} for i in sess.get_inputs()]


def write(name: str, task: str, layout: str, features: list, labels, rows: list, expected: list, path: str) -> None:
    doc = {
        "name": name,
        "model": os.path.basename(path),
        "task": task,
        "layout": layout,
        "features": features,
        "model_inputs": model_inputs(path),
    }
    if labels is not None:
        doc["labels"] = [str(py(l)) for l in labels]
    doc["inputs"] = rows
    doc["expected"] = expected
    out = os.path.join(EXPECTED, f"{name}.json")
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{name}: {os.path.getsize(path)} bytes, {len(rows)} rows")


def single_input_classifier(name, model, X, y, task, feature_types, seed_rows) -> None:
    k = X.shape[1]
    model.fit(X, y)
    onx = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, k]))],
        options={id(model if not isinstance(model, Pipeline) else model.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    path = os.path.join(MODELS, f"{name}.onnx")
    save(onx, path)
    rows_x = seed_rows
    _, outs = run_onnx(path, {"input": rows_x.astype(np.float32)})
    features = [{"name": f"f{i}", "type": t} for i, t in enumerate(feature_types)]
    rows = [[to_json_value(v, t) for v, t in zip(r, feature_types)] for r in rows_x]
    labels = model.classes_ if not isinstance(model, Pipeline) else model.steps[-1][1].classes_
    write(name, task, "single", features, list(labels), rows, classifier_expected(outs), path)


def to_json_value(v, t):
    if t == "number":
        return float(np.float32(v))
    if t == "integer":
        return int(v)
    if t == "boolean":
        return bool(v)
    return str(v)


def main() -> None:
    check_runtime()
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(EXPECTED, exist_ok=True)
    rng = np.random.default_rng(20261126)

    # 1. StandardScaler + LogisticRegression, binary, string labels, 6 float features.
    X = rng.normal(size=(400, 6)) * np.array([1.0, 10.0, 0.5, 3.0, 100.0, 2.0]) + np.array([0, 50, 1, -2, 500, 0])
    z = 1.2 * (X[:, 0]) - 0.1 * (X[:, 1] - 50) + 2.0 * (X[:, 2] - 1) + 0.01 * (X[:, 4] - 500)
    y = np.where(z + rng.normal(scale=0.8, size=400) > 0.5, "phishing", "legit")
    X = X.astype(np.float32)
    single_input_classifier(
        "scaler_logreg",
        Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]),
        X, y, "binary", ["number"] * 6, X[:ROWS],
    )

    # 2. RandomForest, 30 trees, 3 classes with int labels 0, 1, 2; mixed numeric kinds.
    X = np.column_stack([
        rng.normal(size=500),
        rng.integers(0, 100, size=500),
        rng.integers(0, 2, size=500),
        rng.normal(size=500) * 5,
    ]).astype(np.float32)
    score = X[:, 0] + 0.03 * X[:, 1] + X[:, 2] + 0.1 * X[:, 3]
    y = np.digitize(score, np.quantile(score, [0.33, 0.66])).astype(np.int64)
    single_input_classifier(
        "random_forest",
        RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0),
        X, y, "multiclass", ["number", "integer", "boolean", "number"], X[:ROWS],
    )

    # 3. GradientBoosting, binary, int labels 0/1.
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] + X[:, 2] + rng.normal(scale=0.5, size=400)) > 0).astype(np.int64)
    single_input_classifier(
        "gradient_boosting",
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        X, y, "binary", ["number"] * 5, X[:ROWS],
    )

    # 4. Regressors: DecisionTreeRegressor, GradientBoostingRegressor.
    X = rng.normal(size=(400, 4)).astype(np.float32)
    y = 3 * X[:, 0] - 2 * X[:, 1] ** 2 + X[:, 2] * X[:, 3] + rng.normal(scale=0.1, size=400)
    for name, model in [
        ("tree_regressor", DecisionTreeRegressor(max_depth=6, random_state=0)),
        ("gbr_regressor", GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)),
    ]:
        model.fit(X, y)
        onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 4]))], target_opset={"": 17, "ai.onnx.ml": 3})
        path = os.path.join(MODELS, f"{name}.onnx")
        save(onx, path)
        _, outs = run_onnx(path, {"input": X[:ROWS]})
        features = [{"name": f"x{i}", "type": "number"} for i in range(4)]
        rows = [[float(v) for v in r] for r in X[:ROWS]]
        write(name, "regression", "single", features, None, rows, regressor_expected(outs), path)

    # 5. ColumnTransformer: float `income`, int64 `age`, string `region` -> LogisticRegression, 3 string labels.
    n = 600
    income = rng.lognormal(mean=10, sigma=0.5, size=n).astype(np.float32)
    age = rng.integers(18, 90, size=n).astype(np.int64)
    regions = np.array(["north", "south", "east", "west"])
    region = regions[rng.integers(0, 4, size=n)]
    score = (np.log(income) - 10) * 2 + (age - 50) / 20 + np.where(region == "north", 1.0, 0.0) - np.where(region == "west", 1.0, 0.0)
    score = score + rng.normal(scale=0.5, size=n)
    y = np.array(["low", "medium", "high"])[np.digitize(score, np.quantile(score, [0.33, 0.66]))]
    Xo = np.empty((n, 3), dtype=object)
    Xo[:, 0] = income
    Xo[:, 1] = age
    Xo[:, 2] = region
    ct = ColumnTransformer([
        ("income", StandardScaler(), [0]),
        ("age", StandardScaler(), [1]),
        ("region", OneHotEncoder(handle_unknown="ignore"), [2]),
    ])
    clf = LogisticRegression(max_iter=1000)
    pipe = Pipeline([("prep", ct), ("clf", clf)])
    pipe.fit(Xo, y)
    onx = convert_sklearn(
        pipe,
        initial_types=[
            ("income", FloatTensorType([None, 1])),
            ("age", Int64TensorType([None, 1])),
            ("region", StringTensorType([None, 1])),
        ],
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    path = os.path.join(MODELS, "column_transformer.onnx")
    save(onx, path)
    # Reorder the row inputs differently from the model's input order to test name mapping:
    # schema order is region, age, income.
    feeds = {
        "income": income[:ROWS].reshape(-1, 1),
        "age": age[:ROWS].reshape(-1, 1),
        "region": region[:ROWS].reshape(-1, 1).astype(object),
    }
    _, outs = run_onnx(path, feeds)
    features = [{"name": "region", "type": "category"}, {"name": "age", "type": "integer"}, {"name": "income", "type": "number"}]
    rows = [[str(region[i]), int(age[i]), float(income[i])] for i in range(ROWS)]
    write("column_transformer", "multiclass", "named", features, list(clf.classes_), rows, classifier_expected(outs), path)

    # 6. Text: TfidfVectorizer + LogisticRegression over one string input `text`.
    topics = {
        "family": ["child", "custody", "divorce", "marriage", "parent", "adoption", "visit", "support"],
        "housing": ["landlord", "rent", "eviction", "lease", "repair", "deposit", "tenant", "apartment"],
        "debt": ["loan", "creditor", "collection", "bankruptcy", "payment", "interest", "card", "owe"],
    }
    filler = ["the", "my", "a", "is", "and", "about", "help", "need", "question", "with", "I", "we"]
    docs, labels = [], []
    for _ in range(300):
        topic = list(topics)[int(rng.integers(0, 3))]
        words = list(rng.choice(topics[topic], size=int(rng.integers(2, 5)))) + list(rng.choice(filler, size=int(rng.integers(2, 6))))
        if rng.random() < 0.3:
            other = list(topics)[int(rng.integers(0, 3))]
            words.append(str(rng.choice(topics[other])))
        rng.shuffle(words)
        docs.append(" ".join(str(w) for w in words))
        labels.append(topic)
    vec = TfidfVectorizer()
    clf = LogisticRegression(max_iter=1000)
    pipe = Pipeline([("tfidf", vec), ("clf", clf)])
    pipe.fit(docs, labels)
    onx = convert_sklearn(
        pipe,
        initial_types=[("text", StringTensorType([None, 1]))],
        options={id(vec): {"locale": "C"}, id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    path = os.path.join(MODELS, "text_tfidf.onnx")
    save(onx, path)
    texts = docs[:ROWS - 3] + ["My Landlord kept the DEPOSIT", "", "unknown words only"]
    _, outs = run_onnx(path, {"text": np.array(texts, dtype=object).reshape(-1, 1)})
    write(
        "text_tfidf", "multiclass", "named", [{"name": "text", "type": "text"}], list(clf.classes_),
        [[t] for t in texts], classifier_expected(outs), path,
    )

    credit_fixtures()
    mixed_double_float()


def credit_fixtures() -> None:
    """7. Credit: a ColumnTransformer over one input per column (float `income` and
    `debt_ratio`, int64 `age` and `late_payments`, string `housing` and `purpose`, one-hot
    encoded) and GradientBoosting, binary, string labels `bad`/`good`. Exported at opset 21
    (`credit`, which rein evaluates itself) and stamped opset 22 by ONNX's version converter
    (`credit_opset22`, the same graph: rein leaves it to ONNX Runtime and says why).
    skl2onnx 1.20 stamps the opset its operators need, 21 for these even with
    `target_opset=22`."""
    rng = np.random.default_rng(20261206)
    n = 800
    income = rng.lognormal(mean=10.5, sigma=0.6, size=n).astype(np.float32)
    debt_ratio = rng.uniform(0, 1.2, size=n).astype(np.float32)
    age = rng.integers(18, 80, size=n).astype(np.int64)
    late_payments = rng.poisson(0.7, size=n).astype(np.int64)
    housing = np.array(["own", "rent", "mortgage", "family"])[rng.integers(0, 4, size=n)]
    purpose = np.array(["car", "education", "home", "business", "other"])[rng.integers(0, 5, size=n)]
    score = (
        (np.log(income) - 10.5) * 1.5 - 2 * debt_ratio + (age - 40) / 30 - 0.8 * late_payments
        + np.where(housing == "own", 0.7, 0.0) - np.where(purpose == "business", 0.6, 0.0)
    )
    y = np.where(score + rng.normal(scale=0.7, size=n) > -0.5, "good", "bad")
    columns = [income, debt_ratio, age, late_payments, housing, purpose]
    names = ["income", "debt_ratio", "age", "late_payments", "housing", "purpose"]
    Xo = np.empty((n, len(columns)), dtype=object)
    for i, c in enumerate(columns):
        Xo[:, i] = c
    ct = ColumnTransformer([
        ("numbers", StandardScaler(), [0, 1, 2, 3]),
        ("categories", OneHotEncoder(handle_unknown="ignore"), [4, 5]),
    ])
    clf = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0)
    pipe = Pipeline([("prep", ct), ("clf", clf)])
    pipe.fit(Xo, y)
    initial_types = [
        ("income", FloatTensorType([None, 1])),
        ("debt_ratio", FloatTensorType([None, 1])),
        ("age", Int64TensorType([None, 1])),
        ("late_payments", Int64TensorType([None, 1])),
        ("housing", StringTensorType([None, 1])),
        ("purpose", StringTensorType([None, 1])),
    ]
    onx = convert_sklearn(
        pipe,
        initial_types=initial_types,
        options={id(clf): {"zipmap": False}},
        target_opset={"": 21, "ai.onnx.ml": 3},
    )
    feeds = {name: c[:ROWS].reshape(-1, 1) for name, c in zip(names, columns)}
    feeds["housing"] = feeds["housing"].astype(object)
    feeds["purpose"] = feeds["purpose"].astype(object)
    features = [
        {"name": "income", "type": "number"},
        {"name": "debt_ratio", "type": "number"},
        {"name": "age", "type": "integer"},
        {"name": "late_payments", "type": "integer"},
        {"name": "housing", "type": "category"},
        {"name": "purpose", "type": "category"},
    ]
    rows = [
        [float(income[i]), float(debt_ratio[i]), int(age[i]), int(late_payments[i]), str(housing[i]), str(purpose[i])]
        for i in range(ROWS)
    ]
    stamped = version_converter.convert_version(onx, 22)
    onnx.checker.check_model(stamped)
    for name, model in [("credit", onx), ("credit_opset22", stamped)]:
        path = os.path.join(MODELS, f"{name}.onnx")
        save_sorted(model, path)
        _, outs = run_onnx(path, feeds)
        write(name, "binary", "named", features, list(clf.classes_), rows, classifier_expected(outs), path)


def mixed_double_float() -> None:
    """8. A model ONNX Runtime refuses: a ColumnTransformer passing two float columns to a
    DecisionTreeRegressor, exported, then its `amount` input declared double, as a float64
    column given `DoubleTensorType` leaves it: the Concat joining the columns is bound to
    tensor(double) and tensor(float). No expected outputs: it does not load."""
    rng = np.random.default_rng(20261207)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    y = 2 * X[:, 0] + X[:, 1]
    pipe = Pipeline([
        ("prep", ColumnTransformer([("columns", "passthrough", [0, 1])])),
        ("reg", DecisionTreeRegressor(max_depth=2, random_state=0)),
    ])
    pipe.fit(X, y)
    onx = convert_sklearn(
        pipe,
        initial_types=[("amount", FloatTensorType([None, 1])), ("rate", FloatTensorType([None, 1]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
    path = os.path.join(MODELS, "mixed_double_float.onnx")
    save_sorted(onx, path)
    try:
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        raise SystemExit("mixed_double_float.onnx loaded in ONNX Runtime; it is meant to be refused")
    except Exception as e:  # the refusal this fixture is for
        if "bound to different types" not in str(e):
            raise
    print(f"mixed_double_float: {os.path.getsize(path)} bytes, refused by ONNX Runtime as meant")


if __name__ == "__main__":
    main()
