"""Writes estimate_cases.json: reference and analysis rows, and the label-free estimate of
the analysis window's quality (CBPE) computed here independently of the Rust, for
tests/estimate.rs to check crates/monitor/src/estimate.rs against.

Regenerate with the versions named in estimate_cases.json's "made_by":

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0 scikit-learn==1.9.1
    PYTHONPATH=/tmp/pylib python3 crates/monitor/tests/reference/make_estimate.py

What comes from where:

- the calibration: sklearn's `IsotonicRegression(out_of_bounds="clip")`, fitted on
  `[truth == label]` against the label's probability (binary: the positive label's only;
  multiclass: one a label, the row then divided by its sum);
- the ECE: by hand on `calibration_curve`'s bins (as make_quality.py), of the scores as
  they are and of the out-of-fold calibrated probabilities (row i in fold i % folds);
- the expected confusion matrix and accuracy, precision, recall, F1: numpy sums of the
  calibrated probabilities;
- the estimated AUC: sklearn's `roc_auc_score` on every row twice, once a positive of
  weight q and once a negative of weight 1 − q (`sample_weight`);
- the intervals: value ± `scipy.stats.norm.ppf` · σ, σ from the closed forms in
  estimate.rs's documentation (Poisson-binomial variances, the delta method, Hanley and
  McNeil for the AUC), clipped to [0, 1].
"""

import json
import math
import pathlib

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

MIN_LABELED = 30
MIN_PER_CLASS = 5
EDGES = np.linspace(0.0, 1.0, 11)

rng = np.random.default_rng(20261206)


def r4(x):
    return float(round(float(x), 4))


def ece(confidence, outcome):
    confidence = np.asarray(confidence, float)
    outcome = np.asarray(outcome, float)
    bins = np.searchsorted(EDGES[1:-1], confidence)
    total = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            total += mask.sum() / len(confidence) * abs(outcome[mask].mean() - confidence[mask].mean())
    return float(total)


def probabilities(labels, positive, scores):
    if scores is None:
        return None
    if isinstance(scores, float):
        p = labels.index(positive)
        row = [0.0, 0.0]
        row[p] = scores
        row[1 - p] = 1.0 - scores
        return row
    return list(scores)


def fit(labels, positive, probs, truth):
    """The isotonic regressions: binary one (positive), multiclass one a label."""
    probs = np.asarray(probs, float)
    which = [labels.index(positive)] if positive is not None else range(len(labels))
    fits = []
    for l in which:
        iso = IsotonicRegression(out_of_bounds="clip")
        iso.fit(probs[:, l], np.array([t == labels[l] for t in truth], float))
        fits.append(iso)
    return fits


def calibrated(labels, positive, fits, probs):
    probs = np.asarray(probs, float)
    if fits is None:
        return probs.copy()
    out = np.zeros_like(probs)
    if positive is not None:
        p = labels.index(positive)
        out[:, p] = fits[0].predict(probs[:, p])
        out[:, 1 - p] = 1.0 - out[:, p]
        return out
    for l, iso in enumerate(fits):
        out[:, l] = iso.predict(probs[:, l])
    sums = out.sum(axis=1)
    for i in range(len(out)):
        out[i] = out[i] / sums[i] if sums[i] > 0 else probs[i]
    return out


def confidences(labels, positive, probs, truth):
    probs = np.asarray(probs, float)
    if positive is not None:
        p = labels.index(positive)
        return probs[:, p], [t == positive for t in truth]
    top = probs.argmax(axis=1)
    return probs[np.arange(len(probs)), top], [labels[j] == t for j, t in zip(top, truth)]


def hanley_mcneil(a, n1, n0):
    q1 = a / (2 - a)
    q2 = 2 * a * a / (1 + a)
    return max((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0), 0.0)


def figure(rules, count, value, sigma, z, confidence):
    for have, needed, lacking in rules:
        if have < needed:
            return {"status": "insufficient", "labeled": int(have), "needed": needed, "lacking": lacking}
    return {"status": "measured", "labeled": int(count), "value": float(value),
            "lower": float(min(max(value - z * sigma, 0.0), 1.0)),
            "upper": float(min(max(value + z * sigma, 0.0), 1.0)), "std_dev": float(sigma), "method": "normal"}


def case(name, labels, positive, reference, rows, confidence=0.95, recalibrate=True, min_reference=200,
         max_ece=0.1, folds=5):
    k = len(labels)
    ref = [(probabilities(labels, positive, s), t) for _, s, t in reference if s is not None and t is not None]
    ref_p = [p for p, _ in ref]
    ref_t = [t for _, t in ref]
    m = len(ref)
    raw_ece = ece(*confidences(labels, positive, ref_p, ref_t)) if m else None
    fits = fit(labels, positive, ref_p, ref_t) if recalibrate and m >= MIN_LABELED else None
    cv = None
    if fits is not None and m >= folds:
        out = np.zeros((m, k))
        for f in range(folds):
            train = [i for i in range(m) if i % folds != f]
            test = [i for i in range(m) if i % folds == f]
            ff = fit(labels, positive, [ref_p[i] for i in train], [ref_t[i] for i in train])
            out[test] = calibrated(labels, positive, ff, [ref_p[i] for i in test])
        cv = ece(*confidences(labels, positive, out, ref_t))
    distrust = []
    if m < min_reference:
        distrust.append({"kind": "too_few_reference", "rows": m, "needed": min_reference})
    judged = cv if fits is not None else raw_ece
    if judged is not None and judged > max_ece:
        distrust.append({"kind": "poor_calibration", "ece": judged, "max_ece": max_ece,
                         "cross_validated": fits is not None})
    if m:
        for l in labels:
            if l not in ref_t:
                distrust.append({"kind": "missing_class", "label": l})

    scored = [(p, probabilities(labels, positive, s)) for p, s, _ in rows if s is not None]
    n = len(scored)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    predicted = np.array([labels.index(p) for p, _ in scored], int)
    raw = np.array([s for _, s in scored], float).reshape(n, k)
    q = calibrated(labels, positive, fits, raw) if n else raw
    counts = np.zeros((k, k))
    for i in range(n):
        counts[:, predicted[i]] += q[i]
    a = q[np.arange(n), predicted] if n else np.zeros(0)
    rows_rule = (n, MIN_LABELED, {"kind": "rows"})
    accuracy = figure([rows_rule], n, a.sum() / n if n else 0, math.sqrt((a * (1 - a)).sum()) / n if n else 0,
                      z, confidence)
    per_label = []
    parts = []
    for l, label in enumerate(labels):
        mine = predicted == l
        ql = q[:, l]
        A, B = ql[mine].sum(), ql[~mine].sum()
        va, vb = (ql[mine] * (1 - ql[mine])).sum(), (ql[~mine] * (1 - ql[~mine])).sum()
        P = int(mine.sum())
        T = A + B
        D = P + T
        n1, n0 = T, n - T
        if n and 0 < n1 and 0 < n0:
            y = np.concatenate([np.ones(n), np.zeros(n)])
            auc = float(roc_auc_score(y, np.concatenate([raw[:, l], raw[:, l]]),
                                      sample_weight=np.concatenate([ql, 1 - ql])))
        else:
            auc = float("nan")
        truth_rule = (math.floor(max(T, 0)), MIN_PER_CLASS, {"kind": "expected_truth", "label": label, "expected": float(T)})
        other_rule = (math.floor(max(n0, 0)), MIN_PER_CLASS,
                      {"kind": "expected_other_truth", "label": label, "expected": float(n0)})
        rules = [
            [rows_rule, (P, MIN_PER_CLASS, {"kind": "predicted", "label": label})],
            [rows_rule, truth_rule],
            [rows_rule, truth_rule],
            [rows_rule, truth_rule, other_rule],
        ]
        safe = lambda x, y: x / y if y else float("nan")
        values = [safe(A, P), safe(A, T), safe(2 * A, D), auc]
        sigmas = [
            safe(math.sqrt(va), P),
            safe(math.sqrt(B * B * va + A * A * vb), T * T),
            safe(2 * math.sqrt((P + B) ** 2 * va + A * A * vb), D * D),
            math.sqrt(hanley_mcneil(auc, n1, n0)) if not math.isnan(auc) else float("nan"),
        ]
        counts_of = [P, n, n, n]
        figs = [figure(rules[w], counts_of[w], values[w], sigmas[w], z, confidence) for w in range(4)]
        parts.append((rules, values, sigmas))
        per_label.append({"label": label, "predicted": P, "expected_truth": float(T), "precision": figs[0],
                          "recall": figs[1], "f1": figs[2], "auc": figs[3]})
    names = ["precision", "recall", "f1", "auc"]
    if positive is not None:
        own = per_label[labels.index(positive)]
        headline = {key: own[key] for key in names}
    else:
        headline = {}
        for w, key in enumerate(names):
            rules = [r for rules, _, _ in parts for r in rules[w]]
            value = sum(v[w] for _, v, _ in parts) / k
            sigma = sum(s[w] for _, _, s in parts) / k
            headline[key] = figure(rules, n, value, sigma, z, confidence)
    return {
        "name": name, "labels": labels, "positive": positive, "reference": reference, "rows": rows,
        "options": {"confidence": confidence, "recalibrate": recalibrate, "min_reference": min_reference,
                    "max_ece": max_ece, "folds": folds},
        "expected": {
            "calibration": {"reference_rows": m, "recalibrated": fits is not None, "ece": raw_ece,
                            "ece_cross_validated": cv, "trusted": not distrust, "distrust": distrust,
                            "fits": [{"scores": [float(x) for x in f.X_thresholds_],
                                      "fitted": [float(y) for y in f.y_thresholds_]} for f in (fits or [])]},
            "predictions": len(rows), "with_probabilities": n, "accuracy": accuracy, **headline,
            "per_label": per_label, "confusion": counts.tolist(),
        },
    }


def binary_rows(n, positive_share, separation, labels=("legit", "phishing"), temperature=1.0, shift=0.0,
                labeled=True, decimals=4, absent=0.0, as_score=False):
    """Scores of a logistic model made over- or under-confident by `temperature`; `shift`
    moves the inputs (covariate shift), not what they mean."""
    neg, pos = labels
    rows = []
    for _ in range(n):
        x = rng.normal(shift, 1.0)
        true_logit = separation * x - 0.5 + math.log(positive_share / (1 - positive_share))
        is_pos = rng.uniform() < 1 / (1 + math.exp(-true_logit))
        p = float(round(1 / (1 + math.exp(-true_logit * temperature)), decimals))
        predicted = pos if p >= 0.5 else neg
        truth = (pos if is_pos else neg) if labeled else None
        if rng.uniform() < absent:
            scores = None
        elif as_score:
            scores = p
        else:
            scores = [r4(1 - p), p] if labels.index(neg) == 0 else [p, r4(1 - p)]
        rows.append([predicted, scores, truth])
    return rows


def multiclass_rows(n, labels, strength, temperature=1.0, shift=0.0, labeled=True):
    k = len(labels)
    rows = []
    for _ in range(n):
        x = rng.normal(0, 1, k)
        x[0] += shift
        logits = strength * x
        true = np.exp(logits - logits.max())
        true /= true.sum()
        t = int(rng.choice(k, p=true))
        shown = np.exp(temperature * (logits - logits.max()))
        shown /= shown.sum()
        p = [r4(v) for v in shown[:-1]]
        p.append(float(max(1.0 - sum(p), 0.0)))
        rows.append([labels[int(np.argmax(p))], p, labels[t] if labeled else None])
    return rows


def cases():
    out = []
    reference = binary_rows(400, 0.3, 2.0, temperature=2.0)
    out.append(case("binary: an overconfident model recalibrated on 400 labeled rows; shifted, unlabeled window",
                    ["legit", "phishing"], "phishing", reference,
                    binary_rows(300, 0.3, 2.0, temperature=2.0, shift=0.6, labeled=False, absent=0.05)))
    out.append(case("binary: a very overconfident model, not recalibrated, too poorly calibrated to trust",
                    ["legit", "phishing"], "phishing", binary_rows(400, 0.3, 2.0, temperature=4.0),
                    binary_rows(250, 0.3, 2.0, temperature=4.0, labeled=False), recalibrate=False))
    out.append(case("binary: 90 reference rows, too few to trust, at 90%", ["legit", "phishing"], "phishing",
                    binary_rows(90, 0.4, 1.5), binary_rows(200, 0.4, 1.5, shift=-0.5, labeled=False),
                    confidence=0.9))
    out.append(case("binary: ties, scores to 0.1, positive label first, score only", ["fraud", "ok"], "fraud",
                    binary_rows(300, 0.35, 1.2, labels=("ok", "fraud"), decimals=1, as_score=True),
                    binary_rows(200, 0.35, 1.2, labels=("ok", "fraud"), decimals=1, as_score=True, labeled=False)))
    labels = ["cat", "dog", "bird"]
    out.append(case("multiclass: 3 labels, recalibrated on 500 rows, shifted window", labels, None,
                    multiclass_rows(500, labels, 1.5, temperature=1.6),
                    multiclass_rows(300, labels, 1.5, temperature=1.6, shift=0.8, labeled=False)))
    out.append(case("tiny: 20 rows in the window", ["legit", "phishing"], "phishing", reference,
                    binary_rows(20, 0.3, 2.0, labeled=False)))
    out.append(case("few expected positives: 60 rows, nearly all surely legit", ["legit", "phishing"], "phishing",
                    reference, binary_rows(60, 0.02, 3.0, shift=-1.5, labeled=False)))
    return out


def main():
    out = {
        "made_by": f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}",
        "cases": cases(),
    }
    path = pathlib.Path(__file__).with_name("estimate_cases.json")
    text = json.dumps(out, indent=None, separators=(",", ":"), allow_nan=False)
    path.write_text(text.replace('},{"name"', '},\n{"name"') + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
