"""Writes quality_cases.json: rows, and the quality scikit-learn (and the hand-written
references below) computes on them, for tests/quality.rs to check rein-monitor against.

Regenerate with the versions named in quality_cases.json's "made_by":

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0 scikit-learn==1.9.1
    PYTHONPATH=/tmp/pylib python3 crates/monitor/tests/reference/make_quality.py

What comes from where:

- accuracy, precision, recall, F1, the confusion matrix: sklearn.metrics
  (`precision_recall_fscore_support(labels=..., average=None | "macro")`);
- ROC AUC: `roc_auc_score` (binary on a label's probability; multiclass
  `multi_class="ovr", average="macro"`);
- Brier: `brier_score_loss` (the positive label's, or the multiclass sum with
  `scale_by_half=False`); a label's own Brier one-vs-rest by hand (`mean((p_l − y_l)²)`);
- ECE and the reliability table: by hand (sklearn has no ECE), on the bins of
  `sklearn.calibration.calibration_curve(strategy="uniform", n_bins=10)`, whose
  `prob_true`/`prob_pred` the script checks its table against;
- Wilson intervals: statsmodels' `proportion_confint(method="wilson")`; the t interval
  of the bias: scipy's `stats.t.interval`; MAE, RMSE: sklearn;
- bootstrap intervals: the same resamples rein draws (rein-stats' generator, written
  again below as crates/stats/tests/reference/make_reference.py writes it), each resample
  materialized as rows and its statistics computed by the functions above;
- the label-free estimate (CBPE) and its isotonic calibration: make_estimate.py beside this.

The "insufficient" rules are written again here, independently of the Rust, so the test
checks which figures are judged as well as their values.
"""

import json
import math
import pathlib

import numpy as np
import scipy
import sklearn
import statsmodels
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    mean_absolute_error,
    precision_recall_fscore_support,
    roc_auc_score,
    root_mean_squared_error,
)
from statsmodels.stats.proportion import proportion_confint

M64 = (1 << 64) - 1
MIN_LABELED = 30
MIN_PER_CLASS = 5


class Rng:
    """crates/stats/src/rng.rs (and crates/monitor/src/resample.rs), line for line."""

    def __init__(self, seed):
        x = seed & M64
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            state.append(z ^ (z >> 31))
        self.s = state

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next_u64(self):
        s = self.s
        result = (self._rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        m = self.next_u64() * n
        if (m & M64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M64) < threshold:
                m = self.next_u64() * n
        return m >> 64


def resamples(strata, count, seed):
    """Stratified resamples: per stratum in order, len(stratum) draws from it."""
    gen = Rng(seed)
    for _ in range(count):
        out = []
        for stratum in strata:
            for _ in stratum:
                out.append(stratum[gen.below(len(stratum))])
        yield out


def percentile_interval(values, confidence):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None, None, 0
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi), len(values)


# --- the "insufficient" rules ----------------------------------------------------------------

def lacking(rules):
    """rules: (count, needed, lacking); the first that falls short, as the JSON says it."""
    for count, needed, what in rules:
        if count < needed:
            return {"status": "insufficient", "labeled": int(count), "needed": int(needed), "lacking": what}
    return None


def measured(labeled, value, lower, upper, method, max_width=None, resamples_kept=None):
    width = upper - lower
    if max_width is not None and width > max_width:
        needed = max(math.ceil(labeled * (width / max_width) ** 2), labeled + 1)
        return {"status": "insufficient", "labeled": int(labeled), "needed": int(needed),
                "lacking": {"kind": "width", "width": width, "max_width": max_width}}
    out = {"status": "measured", "labeled": int(labeled), "value": float(value), "lower": float(lower),
           "upper": float(upper), "method": method}
    if resamples_kept is not None:
        out["resamples"] = resamples_kept
    return out


def wilson(count, total, confidence):
    lo, hi = proportion_confint(count, total, alpha=1.0 - confidence, method="wilson")
    lo = 0.0 if count == 0 else min(max(lo, 0.0), 1.0)
    hi = 1.0 if count == total else min(max(hi, 0.0), 1.0)
    return lo, hi


# --- ECE, by hand --------------------------------------------------------------------------

EDGES = np.linspace(0.0, 1.0, 11)


def ece_and_table(confidence, outcome):
    confidence = np.asarray(confidence, float)
    outcome = np.asarray(outcome, float)
    if len(confidence) == 0:
        return float("nan"), []
    bins = np.searchsorted(EDGES[1:-1], confidence)
    total = len(confidence)
    ece = 0.0
    table = []
    for b in range(10):
        mask = bins == b
        n = int(mask.sum())
        if n:
            observed = float(outcome[mask].mean())
            mean_conf = float(confidence[mask].mean())
            ece += n / total * abs(observed - mean_conf)
            table.append({"count": n, "mean_confidence": mean_conf, "observed": observed})
        else:
            table.append({"count": 0, "mean_confidence": None, "observed": None})
    return float(ece), table


def check_table_against_calibration_curve(confidence, outcome, table):
    if len(set(outcome)) < 2:
        return
    prob_true, prob_pred = calibration_curve(outcome, confidence, n_bins=10, strategy="uniform")
    filled = [b for b in table if b["count"]]
    assert len(filled) == len(prob_true)
    for b, t, p in zip(filled, prob_true, prob_pred):
        assert abs(b["observed"] - t) < 1e-12 and abs(b["mean_confidence"] - p) < 1e-12


# --- a classifier's statistics on materialized rows ----------------------------------------

def classifier_statistics(labels, positive, truth, predicted, probs, scored):
    """Every bootstrapped statistic (NaN where undefined), by the library functions."""
    k = len(labels)
    out = {}
    p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=labels, average=None,
                                                 zero_division=np.nan)
    for i, label in enumerate(labels):
        out[("f1", label)] = float(f[i])
        out[("precision", label)] = float(p[i])
        out[("recall", label)] = float(r[i])
    st = [truth[i] for i in scored]
    sp = np.array([probs[i] for i in scored], float).reshape(-1, k)
    for i, label in enumerate(labels):
        y = np.array([t == label for t in st])
        out[("auc", label)] = float(roc_auc_score(y, sp[:, i])) if 0 < y.sum() < len(y) else float("nan")
        out[("brier", label)] = float(np.mean((sp[:, i] - y) ** 2)) if len(y) else float("nan")
    out["macro_precision"] = float(np.mean(p))
    out["macro_recall"] = float(np.mean(r))
    out["macro_f1"] = float(np.mean(f))
    if positive is not None:
        out["macro_auc"] = out["brier_sum"] = float("nan")
    # scikit-learn takes a multiclass score's columns in sorted label order
    in_sorted = sorted(labels)
    sp_sorted = sp[:, [labels.index(l) for l in in_sorted]]
    if positive is not None:
        pass
    elif len(set(st)) == k:
        out["macro_auc"] = float(roc_auc_score(st, sp_sorted, multi_class="ovr", average="macro", labels=in_sorted))
    else:
        out["macro_auc"] = float("nan")
    if positive is None:
        out["brier_sum"] = float(brier_score_loss(st, sp_sorted, labels=in_sorted, scale_by_half=False)) if st else float("nan")
    conf, outcome = confidences(labels, positive, st, sp)
    out["ece"] = ece_and_table(conf, outcome)[0]
    return out


def confidences(labels, positive, truth, probs):
    if positive is not None:
        p = labels.index(positive)
        return [float(row[p]) for row in probs], [t == positive for t in truth]
    top = [int(np.argmax(row)) for row in probs]
    return [float(row[j]) for row, j in zip(probs, top)], [labels[j] == t for j, t in zip(top, truth)]


def probabilities_of(labels, positive, scores):
    if scores is None:
        return None
    if isinstance(scores, float):
        p = labels.index(positive)
        row = [0.0, 0.0]
        row[p] = scores
        row[1 - p] = 1.0 - scores
        return row
    return list(scores)


def classifier_case(name, labels, positive, rows, resamples_count=300, confidence=0.95, seed=0,
                    max_width=None):
    k = len(labels)
    labeled = [r for r in rows if r[2] is not None]
    truth = [r[2] for r in labeled]
    predicted = [r[0] for r in labeled]
    probs = [probabilities_of(labels, positive, r[1]) for r in labeled]
    scored = [i for i, pr in enumerate(probs) if pr is not None]
    n, m = len(labeled), len(scored)
    order = ([positive] + [l for l in labels if l != positive]) if positive is not None else labels
    strata = [s for s in ([i for i in range(n) if truth[i] == l] for l in order) if s]

    point = classifier_statistics(labels, positive, truth, predicted, probs, scored)
    boot = {key: [] for key in point}
    if n >= MIN_LABELED:
        for idx in resamples(strata, resamples_count, seed):
            t = [truth[i] for i in idx]
            pr = [predicted[i] for i in idx]
            pb = [probs[i] for i in idx]
            sc = [j for j, i in enumerate(idx) if probs[i] is not None]
            for key, value in classifier_statistics(labels, positive, t, pr, pb, sc).items():
                boot[key].append(value)

    def boot_figure(key, count):
        lo, hi, kept = percentile_interval(boot[key], confidence)
        value = point[key]
        if lo is None:
            lo = hi = value
        return measured(count, value, lo, hi, "bootstrap", max_width, kept)

    cm = confusion_matrix(truth, predicted, labels=labels) if n else np.zeros((k, k), int)
    truth_of = {l: int(cm[i].sum()) for i, l in enumerate(labels)}
    predicted_as = {l: int(cm[:, i].sum()) for i, l in enumerate(labels)}
    scored_truth = {l: sum(1 for i in scored if truth[i] == l) for l in labels}
    labeled_rule = (n, MIN_LABELED, {"kind": "labeled"})
    scored_rule = (m, MIN_LABELED, {"kind": "labeled"})

    def precision_rules(l):
        return [labeled_rule, (predicted_as[l], MIN_PER_CLASS, {"kind": "predicted", "label": l})]

    def truth_rules(l):
        return [labeled_rule, (truth_of[l], MIN_PER_CLASS, {"kind": "truth", "label": l})]

    def auc_rules(l):
        return [scored_rule, (scored_truth[l], MIN_PER_CLASS, {"kind": "truth", "label": l}),
                (m - scored_truth[l], MIN_PER_CLASS, {"kind": "other_truth", "label": l})]

    per_label = []
    for i, l in enumerate(labels):
        tp = int(cm[i, i])
        precision = lacking(precision_rules(l)) or measured(
            predicted_as[l], tp / predicted_as[l], *wilson(tp, predicted_as[l], confidence), "wilson", max_width)
        recall = lacking(truth_rules(l)) or measured(
            truth_of[l], tp / truth_of[l], *wilson(tp, truth_of[l], confidence), "wilson", max_width)
        f1 = lacking(truth_rules(l)) or boot_figure(("f1", l), n)
        auc = lacking(auc_rules(l)) or boot_figure(("auc", l), m)
        brier = lacking([scored_rule]) or boot_figure(("brier", l), m)
        per_label.append({"label": l, "truth": truth_of[l], "predicted": predicted_as[l], "precision": precision,
                          "recall": recall, "f1": f1, "auc": auc, "brier": brier})

    correct = int(np.trace(cm))
    accuracy = lacking([labeled_rule]) or measured(
        n, accuracy_score(truth, predicted), *wilson(correct, n, confidence), "wilson", max_width)
    ece = lacking([scored_rule]) or boot_figure("ece", m)
    if positive is not None:
        own = per_label[labels.index(positive)]
        headline = {key: own[key] for key in ["precision", "recall", "f1", "auc", "brier"]}
        # the binary headline Brier is scikit-learn's binary brier_score_loss
        if own["brier"]["status"] == "measured":
            st = [truth[i] for i in scored]
            sp = [probs[i][labels.index(positive)] for i in scored]
            assert abs(brier_score_loss([t == positive for t in st], sp) - own["brier"]["value"]) < 1e-15
    else:
        def macro(rules, key, count):
            return lacking([rule for l in labels for rule in rules(l)]) or boot_figure(key, count)
        headline = {
            "precision": macro(precision_rules, "macro_precision", n),
            "recall": macro(truth_rules, "macro_recall", n),
            "f1": macro(truth_rules, "macro_f1", n),
            "auc": macro(auc_rules, "macro_auc", m),
            "brier": lacking([scored_rule]) or boot_figure("brier_sum", m),
        }
        # the macro averages are scikit-learn's average="macro" where every label is judged
        macro_prf = precision_recall_fscore_support(truth, predicted, labels=labels, average="macro")
        for key, value in zip(["precision", "recall", "f1"], macro_prf):
            if headline[key]["status"] == "measured":
                assert abs(value - headline[key]["value"]) < 1e-15

    conf, outcome = confidences(labels, positive, [truth[i] for i in scored], [probs[i] for i in scored])
    _, table = ece_and_table(conf, outcome)
    check_table_against_calibration_curve(conf, outcome, table)
    feedback = None
    if rows:
        lo, hi = wilson(n, len(rows), confidence)
        feedback = {"value": n / len(rows), "lower": lo, "upper": hi}
    return {
        "name": name, "labels": labels, "positive": positive, "rows": rows,
        "options": {"resamples": resamples_count, "confidence": confidence, "seed": seed, "max_width": max_width},
        "expected": {
            "predictions": len(rows), "labeled": n, "with_probabilities": m, "feedback": feedback,
            "accuracy": accuracy, **headline, "ece": ece, "per_label": per_label,
            "confusion": cm.tolist(), "reliability": table,
        },
    }


# --- the classifier cases ------------------------------------------------------------------

rng = np.random.default_rng(20261204)


def r4(x):
    return float(round(float(x), 4))


def binary_rows(n, positive_share, separation, labels=("legit", "phishing"), unlabeled=0.0,
                absent=0.0, decimals=4, threshold=0.5, as_score=False):
    neg, pos = labels
    rows = []
    for _ in range(n):
        is_pos = rng.uniform() < positive_share
        logit = rng.normal(separation if is_pos else -separation, 1.0)
        p = 1.0 / (1.0 + math.exp(-logit))
        p = float(round(p, decimals))
        predicted = pos if p >= threshold else neg
        truth = (pos if is_pos else neg) if rng.uniform() >= unlabeled else None
        if rng.uniform() < absent:
            scores = None
        elif as_score:
            scores = p
        else:
            scores = [r4(1.0 - p), p] if labels.index(neg) == 0 else [p, r4(1.0 - p)]
        rows.append([predicted, scores, truth])
    return rows


def multiclass_rows(n, labels, shares, strength, unlabeled=0.0):
    rows = []
    k = len(labels)
    for _ in range(n):
        t = int(rng.choice(k, p=shares))
        logits = rng.normal(0.0, 1.0, k)
        logits[t] += strength
        e = np.exp(logits - logits.max())
        p = [r4(v) for v in e[:-1] / e.sum()]
        p.append(float(1.0 - sum(p)))
        if p[-1] < 0:
            p[-1] = 0.0
            p[0] = float(1.0 - sum(p[1:]))
        predicted = labels[int(np.argmax(p))]
        truth = labels[t] if rng.uniform() >= unlabeled else None
        rows.append([predicted, p, truth])
    return rows


def classifier_cases():
    cases = []
    cases.append(classifier_case(
        "binary, 240 predictions, some unlabeled, some without probabilities", ["legit", "phishing"], "phishing",
        binary_rows(240, 0.35, 1.2, unlabeled=0.2, absent=0.05), seed=1))
    perfect = []
    for i in range(60):
        pos = i % 3 == 0
        p = r4(0.8 + 0.19 * ((i * 7) % 10) / 10) if pos else r4(0.02 + 0.15 * ((i * 3) % 10) / 10)
        perfect.append(["phishing" if pos else "legit", [r4(1 - p), p], "phishing" if pos else "legit"])
    cases.append(classifier_case("perfect binary classifier", ["legit", "phishing"], "phishing", perfect, seed=2))
    worst = [[("legit" if t == "phishing" else "phishing"), [s[1], s[0]], t] for _, s, t in perfect]
    cases.append(classifier_case("worst binary classifier", ["legit", "phishing"], "phishing", worst, seed=3))
    cases.append(classifier_case(
        "ties: scores rounded to 0.1", ["no", "yes"], "yes", binary_rows(150, 0.4, 0.8, labels=("no", "yes"),
                                                                          decimals=1), seed=4))
    cases.append(classifier_case(
        "positive label first in the labels, score only", ["fraud", "ok"], "fraud",
        binary_rows(120, 0.3, 1.0, labels=("ok", "fraud"), as_score=True), seed=5, confidence=0.9))
    cases.append(classifier_case(
        "few positives: 3 of 100", ["legit", "phishing"], "phishing",
        [[p, s, ("phishing" if i in (5, 50, 77) else "legit")] for i, (p, s, _) in
         enumerate(binary_rows(100, 0.0, 1.0))], seed=6))
    labels = ["cat", "dog", "bird"]
    cases.append(classifier_case(
        "multiclass, 3 labels, 240 predictions", labels, None,
        multiclass_rows(240, labels, [0.5, 0.3, 0.2], 1.8, unlabeled=0.1), seed=7))
    absent = [r for r in multiclass_rows(200, labels, [0.6, 0.4, 0.0], 1.5)]
    cases.append(classifier_case("multiclass, one class absent from the truth", labels, None, absent, seed=8))
    cases.append(classifier_case(
        "tiny: fewer than 30 labeled", ["legit", "phishing"], "phishing",
        binary_rows(40, 0.4, 1.0, unlabeled=0.7), seed=9))
    cases.append(classifier_case(
        "binary, 240 predictions, at most 0.15 wide", ["legit", "phishing"], "phishing",
        cases[0]["rows"], seed=1, max_width=0.15))
    return cases


# --- regression ----------------------------------------------------------------------------

def regression_case(name, rows, resamples_count=300, confidence=0.95, seed=0):
    labeled = [(p, t) for p, t in rows if t is not None]
    n = len(labeled)
    pred = np.array([p for p, _ in labeled])
    true = np.array([t for _, t in labeled])
    expected = {"predictions": len(rows), "labeled": n}
    if rows:
        lo, hi = wilson(n, len(rows), confidence)
        expected["feedback"] = {"value": n / len(rows), "lower": lo, "upper": hi}
    if n < MIN_LABELED:
        for key in ["mae", "rmse", "bias"]:
            expected[key] = lacking([(n, MIN_LABELED, {"kind": "labeled"})])
    else:
        mae, rmse = mean_absolute_error(true, pred), root_mean_squared_error(true, pred)
        boot_mae, boot_rmse = [], []
        for idx in resamples([list(range(n))], resamples_count, seed):
            boot_mae.append(mean_absolute_error(true[idx], pred[idx]))
            boot_rmse.append(root_mean_squared_error(true[idx], pred[idx]))
        errors = pred - true
        mean = float(np.mean(errors))
        lo, hi = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(errors))
        if not np.isfinite(lo):
            lo = hi = mean
        lo_m, hi_m, kept_m = percentile_interval(boot_mae, confidence)
        lo_r, hi_r, kept_r = percentile_interval(boot_rmse, confidence)
        expected["mae"] = measured(n, mae, lo_m, hi_m, "bootstrap", resamples_kept=kept_m)
        expected["rmse"] = measured(n, rmse, lo_r, hi_r, "bootstrap", resamples_kept=kept_r)
        expected["bias"] = measured(n, mean, lo, hi, "t")
    return {"name": name, "rows": rows, "options": {"resamples": resamples_count, "confidence": confidence,
                                                    "seed": seed}, "expected": expected}


def regression_cases():
    rows = []
    for _ in range(150):
        x = float(rng.uniform(0, 100))
        true = r4(3.0 * x + rng.normal(0, 12))
        rows.append([r4(3.1 * x - 2.0), true if rng.uniform() > 0.15 else None])
    constant = [[50.0, r4(rng.normal(48, 10))] for _ in range(80)]
    tiny = [[r4(rng.normal(0, 1)), r4(rng.normal(0, 1))] for _ in range(20)]
    return [
        regression_case("150 predictions, some unlabeled", rows, seed=11),
        regression_case("a constant prediction", constant, seed=12, confidence=0.9),
        regression_case("tiny: 20 labeled", tiny, seed=13),
    ]


def write_cases(name, cases):
    """Writes `cases` beside this script as `name`, with the versions that made them and the
    bins' edges; a case a line."""
    out = {
        "made_by": f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, "
                   f"statsmodels {statsmodels.__version__}",
        "edges": [float(e) for e in EDGES],
        **cases,
    }
    path = pathlib.Path(__file__).with_name(name)
    text = json.dumps(out, indent=None, separators=(",", ":"), allow_nan=False)
    path.write_text(text.replace('},{"name"', '},\n{"name"') + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    write_cases("quality_cases.json", {"classifier": classifier_cases(), "regression": regression_cases()})


if __name__ == "__main__":
    main()
