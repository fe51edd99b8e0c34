"""Writes review_cases.json: labeled predictions of an expected-value policy, and the review
scikit-learn and the hand-written references below compute on them, for tests/review.rs to
check rein-monitor's `review` (crates/monitor/src/review.rs) against.

Regenerate with the versions named in review_cases.json's "made_by" (make_quality.py's):

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0 scikit-learn==1.9.1
    PYTHONPATH=/tmp/pylib python3 crates/monitor/tests/reference/make_review.py

What comes from where:

- the reliability table, the ECE and the Wilson intervals of the bins: make_quality.py's
  (by hand on calibration_curve's bins; statsmodels' `proportion_confint`);
- the isotonic calibration: sklearn's `IsotonicRegression(out_of_bounds="clip")`, fitted on
  the rows (a resample's rows materialized, duplicates and all);
- today's thresholds: the expected-value lines of the stated values, crossed pairwise and
  the winner taken between crossings (ties to the mode later in the list), written here;
- a re-derived threshold: where the fitted isotonic function first exceeds today's, found
  from scikit-learn's own knots (`X_thresholds_`, `y_thresholds_`) and confirmed by
  bisection on its `predict`;
- the cross-fit: row i in fold i mod 5, each fold decided by the fit on the others;
- the bootstrap: the same resamples rein draws (make_quality.py's generator, one stratum),
  each materialized as rows, and numpy's percentiles.
"""

import math

import numpy as np
from sklearn.isotonic import IsotonicRegression

from make_quality import ece_and_table, percentile_interval, resamples, wilson, write_cases

FOLDS = 5
MIN_LABELED = 30
MIN_PER_OUTCOME = 5

PHISHING = [("automate", 25.0, -200.0), ("prompt", 15.0, -15.0), ("annotate", 2.0, -4.0), ("none", -20.0, 0.0)]
TRIAGE = [("automate", 10.0, -40.0), ("annotate", 1.0, -1.0), ("none", 0.0, 0.0)]


def choice(values, p):
    """The mode of the highest expected value at p; a tie goes to the mode later in the list."""
    best, best_ev = None, -math.inf
    for mode, right, wrong in values:
        ev = p * right + (1.0 - p) * wrong
        if ev >= best_ev:
            best, best_ev = mode, ev
    return best


def today_thresholds(values):
    """(below, above, p) where the winning mode changes over [0, 1], lowest p first."""
    cuts = {0.0, 1.0}
    for i, (_, r1, w1) in enumerate(values):
        for _, r2, w2 in values[i + 1:]:
            slope = (r1 - w1) - (r2 - w2)
            if slope != 0:
                p = (w2 - w1) / slope
                if 0 < p < 1:
                    cuts.add(p)
    cuts = sorted(cuts)
    out, current = [], None
    for lo, hi in zip(cuts, cuts[1:]):
        mode = choice(values, (lo + hi) / 2)
        if current is not None and mode != current:
            out.append((current, mode, lo))
        current = mode
    return out


def value(values, mode, held):
    for m, right, wrong in values:
        if m == mode:
            return right if held else wrong
    raise ValueError(mode)


def fit(p, held):
    return IsotonicRegression(out_of_bounds="clip").fit(np.asarray(p, float), np.asarray(held, float))


def crossing(ir, level):
    """The p above which ir.predict exceeds level: 0 when everywhere, 1 when nowhere."""
    xs, ys = ir.X_thresholds_, ir.y_thresholds_
    above = np.nonzero(ys > level)[0]
    if len(above) == 0:
        return 1.0
    j = int(above[0])
    if j == 0:
        return 0.0
    t = float(xs[j - 1] + (level - ys[j - 1]) / (ys[j] - ys[j - 1]) * (xs[j] - xs[j - 1]))
    # confirmed on predict itself: at or below t it does not exceed, just above it does
    lo, hi = float(xs[j - 1]), float(xs[j])
    for _ in range(60):
        mid = (lo + hi) / 2
        if ir.predict([mid])[0] > level:
            hi = mid
        else:
            lo = mid
    assert abs(hi - t) < 1e-9, (hi, t)
    return min(max(t, 0.0), 1.0)


def case(name, values, p, held, resamples_count=300, confidence=0.95, seed=0):
    n = len(p)
    out = {"name": name, "values": [{"mode": m, "right": r, "wrong": w} for m, r, w in values],
           "p": p, "held": held,
           "options": {"resamples": resamples_count, "confidence": confidence, "seed": seed, "folds": FOLDS}}
    held_count = sum(held)
    if n < MIN_LABELED or min(held_count, n - held_count) < MIN_PER_OUTCOME:
        out["too_few"] = {"labeled": n, "held": held_count, "missed": n - held_count}
        return out
    p_arr, h_arr = np.asarray(p, float), np.asarray(held, bool)

    ece, table = ece_and_table(p_arr, h_arr.astype(float))
    for b in table:
        if b["count"]:
            b["wilson"] = list(wilson(round(b["observed"] * b["count"]), b["count"], confidence))
    ir = fit(p_arr, h_arr)
    grid = [i / 200 for i in range(201)]
    cuts = today_thresholds(values)

    rederived_mode = [None] * n
    for f in range(FOLDS):
        train = [i for i in range(n) if i % FOLDS != f]
        held_out = [i for i in range(n) if i % FOLDS == f]
        fitted = fit(p_arr[train], h_arr[train])
        for i, q in zip(held_out, fitted.predict(p_arr[held_out])):
            rederived_mode[i] = choice(values, float(q))
    today_mode = [choice(values, q) for q in p]
    v_today = np.array([value(values, m, h) for m, h in zip(today_mode, held)])
    v_new = np.array([value(values, m, h) for m, h in zip(rederived_mode, held)])

    stats = {"today": [], "rederived": [], "gain": [], "ece": [], "thresholds": [[] for _ in cuts]}
    for drawn in resamples([list(range(n))], resamples_count, seed):
        idx = np.asarray(drawn)
        t, r = float(np.mean(v_today[idx])), float(np.mean(v_new[idx]))
        stats["today"].append(t)
        stats["rederived"].append(r)
        stats["gain"].append(r - t)
        stats["ece"].append(ece_and_table(p_arr[idx], h_arr[idx].astype(float))[0])
        refit = fit(p_arr[idx], h_arr[idx])
        for k, (_, _, at) in enumerate(cuts):
            stats["thresholds"][k].append(crossing(refit, at))

    def interval(estimate, resampled):
        lo, hi, kept = percentile_interval(resampled, confidence)
        return {"value": float(estimate), "lower": lo, "upper": hi, "resamples": kept}

    gain = interval(v_new.mean() - v_today.mean(), stats["gain"])
    changed = sum(a != b for a, b in zip(today_mode, rederived_mode))
    if changed == 0:
        verdict = "same_decisions"
    elif gain["lower"] > 0:
        verdict = "gain"
    elif gain["upper"] < 0:
        verdict = "loss"
    else:
        verdict = "no_clear_difference"
    out["expected"] = {
        "labeled": n,
        "held": held_count,
        "ece": interval(ece, stats["ece"]),
        "bins": table,
        "isotonic_grid": [float(v) for v in ir.predict(grid)],
        "isotonic_knots": [[float(v) for v in ir.X_thresholds_], [float(v) for v in ir.y_thresholds_]],
        "thresholds": [{"below": below, "above": above, "today": at,
                        "rederived": interval(crossing(ir, at), stats["thresholds"][k])}
                       for k, (below, above, at) in enumerate(cuts)],
        "today": interval(v_today.mean(), stats["today"]),
        "rederived": interval(v_new.mean(), stats["rederived"]),
        "gain": gain,
        "changed": changed,
        "decisions": {m: [today_mode.count(m), rederived_mode.count(m)] for m, _, _ in values},
        "rederived_modes": rederived_mode,
        "verdict": verdict,
    }
    return out


rng = np.random.default_rng(20261205)


def rows(n, truth_of_p, decimals=4, low=0.0, high=1.0):
    p = [float(round(rng.uniform(low, high), decimals)) for _ in range(n)]
    held = [bool(rng.uniform() < truth_of_p(q)) for q in p]
    return p, held


def cases():
    out = []
    # overconfident: a p of 0.9 holds 0.81 of the time; the thresholds move up
    p, held = rows(500, lambda q: q * q)
    out.append(case("overconfident", PHISHING, p, held))
    # calibrated: the thresholds stay about where they are, and so does the value
    p, held = rows(400, lambda q: q)
    out.append(case("calibrated", PHISHING, p, held, seed=7))
    # underconfident and on a coarse grid of p (many ties, pooled), another policy, 90%
    p, held = rows(120, lambda q: min(1.0, 0.2 + q), decimals=1)
    out.append(case("underconfident, tied", TRIAGE, p, held, confidence=0.9, seed=3))
    # holds at most 0.6 of the time, and never among the five highest p: the calibration
    # stays below automate's threshold, which the re-derived policy never reaches
    p, held = rows(300, lambda q: 0.6 * q)
    top = sorted(range(len(p)), key=lambda i: p[i])[-5:]
    held = [h and i not in top for i, h in enumerate(held)]
    out.append(case("automate never", PHISHING, p, held, seed=11))
    # too few: 29 rows; 60 rows of which 4 held
    p, held = rows(29, lambda q: q)
    out.append(case("too few rows", PHISHING, p, held))
    p = [float(round(rng.uniform(0, 1), 4)) for _ in range(60)]
    held = [i < 4 for i in range(60)]
    out.append(case("too few held", PHISHING, p, held))
    return out


def main():
    write_cases("review_cases.json", {"cases": cases()})


if __name__ == "__main__":
    main()
