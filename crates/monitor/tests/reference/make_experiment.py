"""Writes experiment_case.json: one recorded A/B experiment, row by row, and what scipy and
statsmodels compute on it, for tests/experiment.rs (which writes the rows into a SQLite
store, runs rein-monitor's experiment analysis, and compares every figure), so the Rust
tests need no Python. Regenerate with the versions named in "made_by":

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0
    PYTHONPATH=/tmp/pylib python3 crates/monitor/tests/reference/make_experiment.py

The analysis (docs/experiments.md): windows of an hour from the start, only closed ones;
per arm, shares per prediction (two-proportion z: statsmodels' proportions_ztest for the
pooled z, confint_proportions_2indep(method='wald') for the interval), the mean outcome
value (scipy's ttest_ind(equal_var=False) and its confidence_interval()), the rate per unit
(units with the outcome by its own time since the start; with CUPED where units had the
outcome in the pre-period: theta from statsmodels' OLS y ~ C(arm) + x, Welch's test on
the adjusted values), latency as the share slower than
the control's quantile (numpy's quantile); SRM by scipy's chisquare on units against the
weights; the mSPRT over every look transcribed from Johari et al. (Lambda and the
confidence sequence), its tau^2 fixed at the first counted look as
r * V * min(1, k / horizon), r the root of r = 2 ln(1/alpha) + ln(1 + r) (brentq).
"""

import json
import math
import pathlib

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import optimize, stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

T0 = 1_767_225_600_000
HOUR = 3_600_000
WINDOWS = 3
HORIZON = 14
ALPHA = 0.05
MIN_SAMPLES = 100
ARMS = [("a", 0.6), ("b", 0.4)]

rng = np.random.default_rng(2323)
units = [f"u{i}" for i in range(500)]
arm_of = {u: ("a" if rng.random() < 0.6 else "b") for u in units}
behaviour = {  # fallback, rule acted, incorrect feedback, purchase, mean basket, latency log-mean
    "a": (0.05, 0.10, 0.10, 0.20, 20.0, 3.0),
    "b": (0.08, 0.10, 0.07, 0.26, 22.0, 3.1),
    "main": (0.05, 0.10, 0.10, 0.20, 20.0, 3.0),
}


def row(i, at, unit, variant):
    fb, rule, incorrect, purchase, basket, lat = behaviour[variant]
    bought = bool(rng.random() < purchase)
    return {
        "id": f"p{i:05}",
        "at": int(at),
        "unit": unit,
        "variant": variant,
        "latency_us": int(np.exp(rng.normal(lat, 0.5)) * 1000),
        "fallback": bool(rng.random() < fb),
        "rule": bool(rng.random() < rule),
        "feedback": "incorrect" if rng.random() < incorrect else ("correct" if rng.random() < 0.2 else None),
        "purchase": round(float(rng.gamma(4.0, basket / 4.0)), 2) if bought else None,
    }


rows = []
i = 0
# before the start: not the experiment's (a purchase among them, by a unit seen later too)
for k in range(20):
    u = units[k]
    rows.append(row(i, T0 - HOUR + k * 1000, u, arm_of[u]))
    i += 1
# three closed windows and part of the fourth (open at the instant asked for)
for w in range(WINDOWS + 1):
    count = 300 if w < WINDOWS else 60
    for t in sorted(rng.integers(0, 3_590_000, size=count)):
        u = units[int(rng.integers(0, len(units)))]
        rows.append(row(i, T0 + w * HOUR + t, u, arm_of[u]))
        i += 1
    # a variant that is no arm's
    for t in range(5):
        rows.append(row(i, T0 + w * HOUR + 100_000 + t, None, "main"))
        i += 1
# a prediction with no unit in each arm (counted as a prediction, not as a unit)
rows.append(row(i, T0 + 200_000, None, "a"))
rows.append(row(i + 1, T0 + 200_001, None, "b"))
AS_OF = T0 + WINDOWS * HOUR + 600_000
UNTIL = T0 + WINDOWS * HOUR


def in_period(r, until):
    return T0 <= r["at"] < until


def proportion(x_c, n_c, x_v, n_v):
    _, p = proportions_ztest([x_v, x_c], [n_v, n_c])
    z, _ = proportions_ztest([x_v, x_c], [n_v, n_c])
    lo, hi = confint_proportions_2indep(x_v, n_v, x_c, n_c, method="wald", compare="diff", alpha=0.05)
    pc, pv = x_c / n_c, x_v / n_v
    se = math.sqrt(pc * (1 - pc) / n_c + pv * (1 - pv) / n_v)
    return {"control": pc, "variant": pv, "difference": pv - pc, "lower": float(lo), "upper": float(hi),
            "statistic": float(z), "p_value": float(p), "se": se, "n": (n_c, n_v)}


def means(c, v):
    t = stats.ttest_ind(v, c, equal_var=False)
    ci = t.confidence_interval(0.95)
    se = math.sqrt(np.var(c, ddof=1) / len(c) + np.var(v, ddof=1) / len(v))
    return {"control": float(np.mean(c)), "variant": float(np.mean(v)),
            "difference": float(np.mean(v) - np.mean(c)), "lower": float(ci.low), "upper": float(ci.high),
            "statistic": float(t.statistic), "p_value": float(t.pvalue), "se": se, "n": (len(c), len(v)),
            "degrees_of_freedom": float(t.df)}


def figures(until):
    """Every metric of every arm on the data since the start to `until`."""
    period = [r for r in rows if in_period(r, until)]
    reached = {r["unit"] for r in rows if r["purchase"] is not None and T0 <= r["at"] + 1000 < until and r["unit"]}
    arms = {}
    for name, _ in ARMS:
        mine = [r for r in period if r["variant"] == name]
        arm_units = {r["unit"] for r in mine if r["unit"]}
        arms[name] = {
            "rows": mine,
            "units": arm_units,
            "conversion": (sum(r["purchase"] is not None for r in mine), len(mine)),
            "basket": [r["purchase"] for r in mine if r["purchase"] is not None],
            "buyers": (len(arm_units & reached), len(arm_units)),
            "reached": reached,
            "latency": np.array([r["latency_us"] / 1000.0 for r in mine]),
            "fallback_rate": (sum(r["fallback"] for r in mine), len(mine)),
            "guardrail_rate": (sum(r["rule"] for r in mine), len(mine)),
            "incorrect_feedback_rate": (sum(r["feedback"] == "incorrect" for r in mine), len(mine)),
        }
    return arms


METRICS = [("conversion", "share"), ("basket", "mean"), ("buyers", "share"), ("fast", 0.5),
           ("fallback_rate", "share"), ("guardrail_rate", "share"), ("incorrect_feedback_rate", "share"),
           ("latency_p99", 0.99)]


# CUPED's pre-period: as long as the planned horizon, before the start
PRE = {r["unit"] for r in rows
       if r["purchase"] is not None and r["unit"] and T0 - HORIZON * HOUR <= r["at"] + 1000 < T0}


def cuped_rate(c, v):
    """The rate per unit adjusted by whether the unit bought in the pre-period: theta from
    statsmodels' OLS y ~ C(arm) + x, then Welch's test on y - theta (x - mean x)."""
    pairs = lambda arm: [(float(u in arm["reached"]), float(u in PRE)) for u in sorted(arm["units"])]  # noqa: E731
    pc, pv = np.array(pairs(c)), np.array(pairs(v))
    x = np.concatenate([pc[:, 1], pv[:, 1]])
    if x.min() == x.max():
        return None
    y = np.concatenate([pc[:, 0], pv[:, 0]])
    arm = np.concatenate([np.zeros(len(pc)), np.ones(len(pv))])
    theta = float(sm.OLS(y, np.column_stack([np.ones_like(y), arm, x])).fit().params[2])
    adjust = lambda p: p[:, 0] - theta * (p[:, 1] - x.mean())  # noqa: E731
    ac, av = adjust(pc), adjust(pv)
    out = means(ac, av)
    out["cuped"] = {"theta": theta, "variance_ratio": [float(np.var(ac, ddof=1) / np.var(pc[:, 0], ddof=1)),
                                                      float(np.var(av, ddof=1) / np.var(pv[:, 0], ddof=1))],
                    "units_with_pre_period_outcome": int(x.sum())}
    return out


def comparisons(arms):
    c, v = arms["a"], arms["b"]
    out = {}
    for name, how in METRICS:
        if name == "buyers" and (adjusted := cuped_rate(c, v)) is not None:
            out[name] = adjusted
        elif how == "share":
            (xc, nc), (xv, nv) = c[name], v[name]
            out[name] = proportion(xc, nc, xv, nv)
        elif how == "mean":
            out[name] = means(np.array(c[name]), np.array(v[name]))
        else:
            threshold = float(np.quantile(c["latency"], how))
            slower = lambda lat: (int((lat > threshold).sum()), len(lat))  # noqa: E731
            out[name] = proportion(*slower(c["latency"]), *slower(v["latency"]))
            out[name]["threshold_ms"] = threshold
    return out


two_l = 2 * math.log(1 / ALPHA)
RATIO = optimize.brentq(lambda r: r - two_l - math.log1p(r), 1.0, 100.0, xtol=1e-15)

# the mSPRT over the looks
sequential = {name: {"tau2": None, "p": 1.0, "lo": -math.inf, "hi": math.inf, "counted": 0} for name, _ in METRICS}
looks = []
for k in range(1, WINDOWS + 1):
    cmp = comparisons(figures(T0 + k * HOUR))
    for name, _ in METRICS:
        s, f = sequential[name], cmp[name]
        v = f["se"] ** 2
        counts = f["n"][0] >= MIN_SAMPLES and f["n"][1] >= MIN_SAMPLES and v > 0
        if s["tau2"] is None and counts:
            s["tau2"] = RATIO * v * min(1.0, k / HORIZON)
        if s["tau2"] is not None and counts:
            tau2, d = s["tau2"], f["difference"]
            lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * d * d / (2 * v * (v + tau2)))
            half = math.sqrt(v * (v + tau2) / tau2 * (two_l + math.log1p(tau2 / v)))
            s["p"] = min(s["p"], min(1.0, 1 / lam))
            s["lo"], s["hi"] = max(s["lo"], d - half), min(s["hi"], d + half)
            s["counted"] += 1
        if name == "conversion":
            looks.append({"until_ms": T0 + k * HOUR, "difference": f["difference"], "fixed_p_value": f["p_value"],
                          "p_value": s["p"]})

arms = figures(UNTIL)
final = comparisons(arms)
observed = [len(arms[n]["units"]) for n, _ in ARMS]
weights = np.array([w for _, w in ARMS])
srm = stats.chisquare(observed, np.sum(observed) * weights / weights.sum())

expected = {
    "until_ms": UNTIL,
    "windows": WINDOWS,
    "other_predictions": sum(1 for r in rows if in_period(r, UNTIL) and r["variant"] == "main"),
    "arms": {
        n: {
            "units": len(a["units"]),
            "predictions": len(a["rows"]),
            "conversion": list(a["conversion"]),
            "basket": [len(a["basket"]), float(np.mean(a["basket"])), float(np.std(a["basket"], ddof=1))],
            "buyers": list(a["buyers"]),
            "fast": float(np.quantile(a["latency"], 0.5)),
            "latency_p99": float(np.quantile(a["latency"], 0.99)),
            "fallback_rate": list(a["fallback_rate"]),
            "guardrail_rate": list(a["guardrail_rate"]),
            "incorrect_feedback_rate": list(a["incorrect_feedback_rate"]),
            "latency_n": len(a["latency"]),
        }
        for n, a in arms.items()
    },
    "fixed": {name: {k: v for k, v in f.items() if k not in ("n", "se", "cuped")} for name, f in final.items()},
    "cuped": {name: f["cuped"] for name, f in final.items() if "cuped" in f},
    "sequential": {
        name: {"p_value": s["p"], "lower": s["lo"] if math.isfinite(s["lo"]) else None,
               "upper": s["hi"] if math.isfinite(s["hi"]) else None, "windows_counted": s["counted"],
               "mixing_variance": s["tau2"]}
        for name, s in sequential.items()
    },
    "looks": looks,
    "srm": {"observed": observed, "statistic": float(srm.statistic), "p_value": float(srm.pvalue)},
}

out = {
    "made_by": {"scipy": scipy.__version__, "numpy": np.__version__, "statsmodels": statsmodels.__version__},
    "start_ms": T0,
    "window_ms": HOUR,
    "as_of_ms": AS_OF,
    "horizon_windows": HORIZON,
    "arms": [[n, w] for n, w in ARMS],
    "rows": rows,
    "expected": expected,
}
path = pathlib.Path(__file__).parent / "experiment_case.json"
# a row a line: readable diffs, a smaller file
text = json.dumps({**out, "rows": []}, indent=1).replace('"rows": []', '"rows": [\n' + ",\n".join(
    json.dumps(r, separators=(",", ":")) for r in rows) + "\n ]")
path.write_text(text + "\n")
print(f"wrote {path}: {len(rows)} rows; SRM p = {srm.pvalue:.3g}; conversion", final["conversion"]["difference"],
      sequential["conversion"])
