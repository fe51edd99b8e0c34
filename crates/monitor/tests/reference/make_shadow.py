"""Writes shadow_cases.json: pairs of (answered, shadow) outputs on the same requests, and what
scipy and statsmodels compute on them, for tests/shadow.rs to check rein-monitor's shadow
comparison (crates/monitor/src/shadow.rs) against.

Regenerate with the versions named in shadow_cases.json's "made_by":

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0
    PYTHONPATH=/tmp/pylib python3 crates/monitor/tests/reference/make_shadow.py

What comes from where:

- agreement, the share changed and the share of scores more than 0.1 apart: statsmodels'
  `proportion_confint(method="wilson")`, clipped as rein clips it (make_quality.py's `wilson`);
- the mean difference (shadow − answered) and the mean absolute difference: scipy's
  `stats.t.interval(0.95, n − 1, loc=mean, scale=sem)`;
- the output drift's tests (the sizes where a p-value decides): `stats.ks_2samp` on the
  scores or values (every value: the samples are smaller than rein's reservoir), and
  `stats.chi2_contingency(correction=False)` on the label counts.
"""

import json
import math
import pathlib

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

CONFIDENCE = 0.95
GAP = 0.1
LABELS = ["legit", "fraud"]


def wilson(count, total):
    lo, hi = proportion_confint(count, total, alpha=1.0 - CONFIDENCE, method="wilson")
    lo = 0.0 if count == 0 else min(max(lo, 0.0), 1.0)
    hi = 1.0 if count == total else min(max(hi, 0.0), 1.0)
    return [count / total, float(lo), float(hi)]


def t_interval(values):
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    sem = float(values.std(ddof=1)) / math.sqrt(len(values))
    lo, hi = stats.t.interval(CONFIDENCE, len(values) - 1, loc=mean, scale=sem)
    return [mean, float(lo), float(hi)]


def binary_case(name, n, seed, shift, noise):
    rng = np.random.default_rng(seed)
    answered = np.round(rng.beta(2.0, 5.0, n), 6)
    shadow = np.round(np.clip(answered + shift + rng.normal(0.0, noise, n), 0.0, 1.0), 6)
    label = lambda p: LABELS[1] if p >= 0.5 else LABELS[0]
    pairs = [[label(a), float(a), label(s), float(s)] for a, s in zip(answered, shadow)]
    agreeing = sum(1 for a, _, s, _ in pairs if a == s)
    disagreements = {}
    for a, _, s, _ in pairs:
        if a != s:
            disagreements[f"{a}>{s}"] = disagreements.get(f"{a}>{s}", 0) + 1
    d = shadow - answered
    beyond = int(np.sum(np.abs(d) > GAP + 1e-12))
    ks = stats.ks_2samp(shadow, answered, method="auto")
    counts = [[sum(1 for p in pairs if p[0] == l) for l in LABELS], [sum(1 for p in pairs if p[2] == l) for l in LABELS]]
    chi2, chi_p, dof, _ = stats.chi2_contingency(counts, correction=False)
    return {
        "name": name,
        "task": "binary",
        "pairs": pairs,
        "agreeing": agreeing,
        "agreement": wilson(agreeing, n),
        "changed": wilson(n - agreeing, n),
        "disagreements": disagreements,
        "mean_difference": t_interval(d),
        "mean_absolute_difference": t_interval(np.abs(d)),
        "beyond_gap": beyond,
        "beyond_gap_share": wilson(beyond, n),
        "ks": [float(ks.statistic), float(ks.pvalue)],
        "chi_squared": [float(chi2), float(chi_p), int(dof)],
    }


def regression_case(name, n, seed):
    rng = np.random.default_rng(seed)
    answered = np.round(rng.normal(50.0, 12.0, n), 4)
    shadow = np.round(answered * 1.04 + rng.normal(0.0, 3.0, n), 4)
    d = shadow - answered
    ks = stats.ks_2samp(shadow, answered, method="auto")
    return {
        "name": name,
        "task": "regression",
        "pairs": [[float(a), float(s)] for a, s in zip(answered, shadow)],
        "mean_difference": t_interval(d),
        "mean_absolute_difference": t_interval(np.abs(d)),
        "ks": [float(ks.statistic), float(ks.pvalue)],
    }


def main():
    cases = [
        binary_case("close", 600, 7, 0.0, 0.04),
        binary_case("shifted", 400, 11, 0.06, 0.08),
        regression_case("scaled", 300, 13),
    ]
    out = {
        "made_by": f"scipy {scipy.__version__}, numpy {np.__version__}, statsmodels {statsmodels.__version__}",
        "confidence": CONFIDENCE,
        "gap": GAP,
        "cases": cases,
    }
    path = pathlib.Path(__file__).with_name("shadow_cases.json")
    text = json.dumps(out, indent=None, separators=(",", ":"), allow_nan=False)
    path.write_text(text.replace(',{"name"', ',\n{"name"') + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
