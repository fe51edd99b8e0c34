"""Writes experiments.json: experiment analyses, and what scipy and statsmodels compute on them.

The Rust tests (tests/experiments.rs) check rein-stats' experiment analysis against these
values, so they need no Python. Regenerate with the versions named in "made_by":

    pip install --target /tmp/pylib scipy==1.16.3 numpy==2.4.6 statsmodels==0.15.0 scikit-learn==1.9.1
    PYTHONPATH=/tmp/pylib python3 crates/stats/tests/reference/make_experiments.py

Samples come from make_reference.py's LCG (tests/common/mod.rs implements it identically),
given as {"lcg": {...}, "sum": ...}. A metric correlated with a covariate is given as
{"covariate": spec, "noise": spec, "slope": b, "shift": d}: its values are
`slope * x + e + shift`, computed in that order, which Rust repeats to the last bit.

What each section is checked against:
- proportions: statsmodels' confint_proportions_2indep(method='wald') for the interval,
  test_proportions_2indep(method='score', correction=False) for the pooled z test (the
  script asserts it equals proportions_ztest), NonlinearDeltaCov for the relative lift.
- means: scipy's ttest_ind(equal_var=False) and its confidence_interval(); summaries only:
  ttest_ind_from_stats, with the interval from t.ppf; NonlinearDeltaCov for the lift.
- cuped: theta and the adjusted differences from statsmodels' OLS y ~ C(arm) + x (the
  script asserts they equal the adjusted means' differences); the adjusted summaries from
  numpy on the adjusted values, and Welch's test on them from scipy.
- srm: scipy's chisquare(f_obs, f_exp) with f_exp the configured weights' shares.
- msprt: the mixture likelihood ratio transcribed from Johari et al. and, independently,
  integrated with scipy's quad; the confidence sequence's ends found with brentq where the
  ratio reaches 1/alpha; the mixing variance's optimum with brentq and minimize_scalar.
"""

import json
import math
import pathlib
import sys

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import integrate, optimize, stats
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.proportion import (confint_proportions_2indep, proportions_ztest,
                                          test_proportions_2indep)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from make_reference import generated  # noqa: E402  (the same LCG)


def close(a, b, rel, what):
    assert abs(a - b) <= rel * max(abs(a), abs(b), 1e-300), f"{what}: {a} vs {b}"


def lift(control_mean, control_se, variant_mean, variant_se, confidence, df=None):
    """The relative lift variant/control - 1 by statsmodels' delta method."""
    delta = NonlinearDeltaCov(lambda m: m[1] / m[0] - 1.0, np.array([control_mean, variant_mean]),
                              np.diag([control_se ** 2, variant_se ** 2]))
    lo, hi = delta.conf_int(alpha=1.0 - confidence, use_t=df is not None, df=df)[0]
    return [float(np.ravel(delta.predicted())[0]), float(lo), float(hi)]


# --- comparing a variant with control --------------------------------------------------------

def proportion_cases():
    out = []
    for xc, nc, xv, nv, confidence in [
        (120, 1000, 150, 1000, 0.95),
        (30, 200, 24, 180, 0.9),
        (0, 50, 3, 60, 0.95),            # no success in the control
        (40, 40, 35, 41, 0.95),          # all successes in the control
        (1, 1, 0, 1, 0.8),               # one trial an arm
        (5012, 100000, 5203, 100000, 0.95),
        (123456, 10000000, 124000, 10000000, 0.99),
        (2000, 100000, 4000, 100000, 0.95),   # p-value near 1e-120
        (70, 1000, 70, 1000, 0.95),           # equal rates: p = 1
        (800, 5000, 312, 2000, 0.999),        # unequal arms
    ]:
        lo, hi = confint_proportions_2indep(xv, nv, xc, nc, method="wald", compare="diff", alpha=1 - confidence)
        with np.errstate(divide="ignore"):  # it also computes the ratio, which 0 successes make infinite
            test = test_proportions_2indep(xv, nv, xc, nc, method="score", compare="diff", correction=False,
                                           return_results=True)
        z, p = float(test.statistic), float(test.pvalue)
        if xc + xv not in (0, nc + nv):
            zz, pp = proportions_ztest([xv, xc], [nv, nc])
            close(z, float(zz), 1e-14, "pooled z")
            close(p, float(pp), 1e-12, "pooled p")
        pc, pv = xc / nc, xv / nv
        case = {"control": [xc, nc], "variant": [xv, nv], "confidence": confidence,
                "difference": pv - pc, "lower": float(lo), "upper": float(hi),
                "statistic": z, "p_value": p}
        if xc > 0:
            case["lift"] = lift(pc, math.sqrt(pc * (1 - pc) / nc), pv, math.sqrt(pv * (1 - pv) / nv), confidence)
        out.append(case)
    return out


def mean_cases():
    pairs = [
        ("two and three values", ([0.5, 1.5], [0.5, 1.5]), ([2.0, 4.0, 9.0], [2.0, 4.0, 9.0])),
        ("thirty each, a shift", generated(101, 30, "normal12", loc=10.0, scale=2.0),
         generated(102, 30, "normal12", loc=11.0, scale=2.0)),
        ("unequal variances and sizes", generated(103, 40, "normal12", scale=1.0),
         generated(104, 400, "normal12", loc=0.1, scale=5.0)),
        ("skewed revenue, 2000 x 1900", generated(105, 2000, "cubed", scale=100.0),
         generated(106, 1900, "cubed", loc=1.0, scale=100.0)),
        ("the same distribution, 5000 each", generated(107, 5000, "normal12"), generated(108, 5000, "normal12")),
        ("far apart (p near 0)", generated(109, 3000, "uniform"), generated(110, 3000, "uniform", loc=0.2)),
        ("integers with ties", generated(111, 500, "integers", k=5), generated(112, 700, "integers", loc=0.0, k=6)),
        ("a negative control mean", generated(113, 300, "normal12", loc=-3.0), generated(114, 250, "normal12",
                                                                                             loc=-2.8)),
    ]
    out = []
    for name, (cspec, c), (vspec, v) in pairs:
        for confidence in [0.9, 0.95, 0.99]:
            r = stats.ttest_ind(v, c, equal_var=False)
            ci = r.confidence_interval(confidence)
            c_arr, v_arr = np.asarray(c), np.asarray(v)
            summaries = [[len(a), float(np.mean(a)), float(np.var(a, ddof=1))] for a in (c_arr, v_arr)]
            se_c = math.sqrt(summaries[0][2] / len(c))
            se_v = math.sqrt(summaries[1][2] / len(v))
            out.append({"name": name, "control": cspec, "variant": vspec, "confidence": confidence,
                        "summaries": summaries,
                        "statistic": float(r.statistic), "p_value": float(r.pvalue), "df": float(r.df),
                        "lower": float(ci.low), "upper": float(ci.high),
                        "lift": lift(summaries[0][1], se_c, summaries[1][1], se_v, confidence, df=float(r.df))})
    return out


def mean_summary_cases():
    out = []
    for c, v, confidence in [
        ((100000, 1.0, 4.0), (200000, 1.02, 6.25), 0.95),
        ((2, 3.0, 0.5), (3, 5.0, 8.0), 0.95),
        ((1000000, 12.5, 900.0), (1000000, 12.6, 910.0), 0.99),
        ((50, 0.2, 1e-6), (60, 0.2004, 2e-6), 0.9),
    ]:
        (nc, mc, vc), (nv, mv, vv) = c, v
        r = stats.ttest_ind_from_stats(mv, math.sqrt(vv), nv, mc, math.sqrt(vc), nc, equal_var=False)
        a, b = vv / nv, vc / nc
        df = (a + b) ** 2 / (a * a / (nv - 1) + b * b / (nc - 1))
        half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(a + b)
        out.append({"control": list(c), "variant": list(v), "confidence": confidence,
                    "statistic": float(r.statistic), "p_value": float(r.pvalue), "df": df,
                    "lower": (mv - mc) - half, "upper": (mv - mc) + half})
    return out


# --- CUPED -----------------------------------------------------------------------------------

def correlated(seed, n, slope, noise_scale, shift, covariate_kind="normal12", covariate_loc=0.0):
    """A covariate x and a metric y = slope * x + e + shift, with their specs."""
    xspec, x = generated(seed, n, covariate_kind, loc=covariate_loc)
    espec, e = generated(seed + 500, n, "normal12", scale=noise_scale)
    y = [slope * xi + ei + shift for xi, ei in zip(x, e)]
    return {"covariate": xspec, "noise": espec, "slope": slope, "shift": shift}, np.array(y), np.array(x)


def cuped_cases():
    designs = [
        ("two arms, strong covariate", [correlated(201, 400, 0.8, 0.6, 2.0), correlated(202, 380, 0.8, 0.6, 2.1)]),
        ("three arms, a holdout", [correlated(203, 1000, 1.5, 1.0, 5.0), correlated(204, 900, 1.5, 1.0, 5.2),
                                   correlated(205, 200, 1.5, 1.0, 4.9)]),
        ("weak covariate", [correlated(206, 300, 0.1, 1.0, 0.0), correlated(207, 300, 0.1, 1.0, 0.05)]),
        ("skewed covariate, shifted means", [correlated(208, 2000, 3.0, 2.0, 10.0, "cubed", 1.0),
                                             correlated(209, 2100, 3.0, 2.0, 10.5, "cubed", 1.0)]),
    ]
    out = []
    for name, arms in designs:
        ys = [y for _, y, _ in arms]
        xs = [x for _, _, x in arms]
        k = len(arms)
        # statsmodels: y ~ C(arm) + x, arm 0 the control
        y_all = np.concatenate(ys)
        columns = [np.ones(len(y_all))]
        for j in range(1, k):
            columns.append(np.concatenate([np.full(len(ys[i]), 1.0 if i == j else 0.0) for i in range(k)]))
        columns.append(np.concatenate(xs))
        fit = sm.OLS(y_all, np.column_stack(columns)).fit()
        theta = float(fit.params[-1])
        x_mean = float(np.mean(np.concatenate(xs)))
        adjusted = [y - theta * (x - x_mean) for y, x in zip(ys, xs)]
        summaries = [[len(a), float(np.mean(a)), float(np.var(a, ddof=1))] for a in adjusted]
        # the transcription: adjusted mean and variance from each arm's moments
        for (n, mean, var), y, x in zip(summaries, ys, xs):
            cov = float(np.cov(y, x, ddof=1)[0, 1])
            close(mean, float(np.mean(y)) - theta * (float(np.mean(x)) - x_mean), 1e-12, "adjusted mean")
            close(var, float(np.var(y, ddof=1)) - 2 * theta * cov + theta ** 2 * float(np.var(x, ddof=1)), 1e-9,
                  "adjusted variance")
        comparisons = []
        for j in range(1, k):
            close(summaries[j][1] - summaries[0][1], float(fit.params[j]), 1e-9, "ANCOVA coefficient")
            r = stats.ttest_ind(adjusted[j], adjusted[0], equal_var=False)
            ci = r.confidence_interval(0.95)
            plain = stats.ttest_ind(ys[j], ys[0], equal_var=False).confidence_interval(0.95)
            comparisons.append({"difference": float(fit.params[j]), "statistic": float(r.statistic),
                                "p_value": float(r.pvalue), "df": float(r.df),
                                "lower": float(ci.low), "upper": float(ci.high),
                                "unadjusted_width": float(plain.high - plain.low)})
        out.append({"name": name, "arms": [spec for spec, _, _ in arms], "theta": theta,
                    "covariate_mean": x_mean, "adjusted": summaries, "comparisons": comparisons})
    return out


# --- sample-ratio mismatch -------------------------------------------------------------------

def srm_cases():
    out = []
    for observed, weights in [
        ([5000, 5000], [1, 1]),
        ([50500, 49500], [0.5, 0.5]),          # p = 0.0016: no alarm
        ([50600, 49400], [0.5, 0.5]),          # p = 1.5e-4: alarm
        ([9010, 990], [9, 1]),                 # weights that are not shares
        ([4480, 4530, 990], [0.45, 0.45, 0.1]),  # A/B with a 10% holdout
        ([4000, 5000, 1000], [0.45, 0.45, 0.1]),  # far off: p near 0
        ([30, 20, 25, 25], [0.25, 0.25, 0.25, 0.25]),
        ([700, 0, 300], [0.7, 0.0, 0.3]),      # an arm configured off, and empty
        ([1, 0], [0.5, 0.5]),
    ]:
        total = sum(observed)
        w = np.asarray(weights, float)
        expected = total * w / np.sum(w)
        kept = [i for i in range(len(observed)) if not (weights[i] == 0 and observed[i] == 0)]
        r = stats.chisquare(np.asarray(observed, float)[kept], expected[kept])
        out.append({"observed": observed, "weights": [float(x) for x in weights],
                    "expected": [float(e) for e in expected], "statistic": float(r.statistic),
                    "dof": len(kept) - 1, "p_value": float(r.pvalue)})
    return out


# --- the mixture sequential probability ratio test -------------------------------------------

def log_lr(d, v, tau2):
    """Johari et al.'s normal-mixture likelihood ratio against a difference of 0, as a log."""
    return 0.5 * math.log(v / (v + tau2)) + tau2 * d * d / (2.0 * v * (v + tau2))


def log_lr_by_quadrature(d, v, tau2):
    """The same ratio integrated: the likelihood of d under theta over that under 0, averaged
    over theta ~ N(0, tau2), scaled by its largest value so that quad sees numbers near 1."""
    def log_f(theta):
        return (d * d - (d - theta) ** 2) / (2 * v) - theta * theta / (2 * tau2) - 0.5 * math.log(2 * math.pi * tau2)
    mode = d * tau2 / (v + tau2)
    spread = math.sqrt(v * tau2 / (v + tau2))
    top = log_f(mode)
    value, _ = integrate.quad(lambda t: math.exp(log_f(t) - top), mode - 40 * spread, mode + 40 * spread,
                              epsabs=0, epsrel=1e-13, limit=200)
    return top + math.log(value)


def sequence_ends(d, v, tau2, alpha):
    """The theta0 on each side of d where the ratio against theta0 reaches 1/alpha."""
    target = math.log(1 / alpha)
    g = lambda t0: log_lr(d - t0, v, tau2) - target  # noqa: E731
    far = math.sqrt(v) + math.sqrt(tau2)
    while g(d + far) < 0:
        far *= 2
    lo = optimize.brentq(g, d - far, d, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    hi = optimize.brentq(g, d, d + far, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return lo, hi


def msprt_point_cases():
    out = []
    for d, v, tau2, alpha in [
        (0.0, 1e-3, 8e-3, 0.05),
        (0.05, 1e-3, 8e-3, 0.05),
        (-0.12, 1e-3, 8e-3, 0.05),
        (0.01, 1e-4, 1e-2, 0.05),         # tau2 far above v: a wide mixture
        (0.003, 1e-6, 1e-7, 0.1),         # tau2 below v
        (2.5, 0.04, 0.5, 0.01),
        (0.3, 0.004, 0.03, 0.001),        # a large ratio
        (1e-5, 2.5e-9, 3e-8, 0.05),       # rates: tiny differences and variances
    ]:
        exact = log_lr(d, v, tau2)
        quad = log_lr_by_quadrature(d, v, tau2)
        close(exact, quad, 1e-9 if abs(exact) > 1e-3 else 1e-6, "quadrature")
        lo, hi = sequence_ends(d, v, tau2, alpha)
        out.append({"estimate": d, "variance": v, "mixing_variance": tau2, "alpha": alpha,
                    "log_likelihood_ratio": exact, "log_likelihood_ratio_quad": quad,
                    "p_value": min(1.0, math.exp(-exact)), "lower": lo, "upper": hi})
    return out


def bound(x):
    """An end of a sequence for JSON: null where no window has narrowed it yet."""
    return None if math.isinf(x) else x


def msprt_window(state, d, v, tau2, alpha):
    """One window: the running minimum of 1/ratio and the running intersection."""
    llr = log_lr(d, v, tau2)
    p = min(state["p"], min(1.0, math.exp(-llr)))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log1p(tau2 / v)))
    lo, hi = max(state["lower"], d - half), min(state["upper"], d + half)
    if lo > hi:  # disjoint: the point of the earlier sequence nearest the new interval
        lo = hi = state["upper"] if d - half > state["upper"] else state["lower"]
    return {"p": p, "lower": lo, "upper": hi, "windows": state["windows"] + 1}, llr


def msprt_sequence_cases():
    out = []
    start = {"p": 1.0, "lower": -math.inf, "upper": math.inf, "windows": 0}

    # means: cumulative prefixes of two LCG samples
    for name, (cspec, c), (vspec, v), ends, tau2, alpha, min_samples in [
        ("means, an effect", generated(301, 3000, "normal12"), generated(302, 3000, "normal12", loc=0.12),
         [50, 150, 300, 600, 1000, 1500, 2000, 2500, 3000], 0.008, 0.05, 100),
        ("means, no effect", generated(303, 2000, "normal12", scale=3.0), generated(304, 2000, "normal12", scale=3.0),
         [100, 400, 800, 1200, 1600, 2000], 0.05, 0.1, 100),
    ]:
        state, windows = dict(start), []
        for n in ends:
            a, b = np.asarray(c[:n]), np.asarray(v[:n])
            d = float(np.mean(b) - np.mean(a))
            var = float(np.var(a, ddof=1) / n + np.var(b, ddof=1) / n)
            if n >= min_samples:
                state, llr = msprt_window(state, d, var, tau2, alpha)
            else:
                llr = None
            windows.append({"n": n, "counted": n >= min_samples, "log_likelihood_ratio": llr,
                            "p_value": state["p"], "lower": bound(state["lower"]),
                            "upper": bound(state["upper"])})
        out.append({"name": name, "kind": "means", "control": cspec, "variant": vspec,
                    "mixing_variance": tau2, "alpha": alpha, "min_samples": min_samples, "windows": windows})

    # rates: cumulative counts given as they are
    for name, counts, tau2, alpha, min_samples in [
        ("rates, an effect", [((5, 80), (9, 80)), ((12, 200), (25, 210)), ((50, 1000), (81, 1010)),
                              ((101, 2000), (160, 2010)), ((260, 5000), (370, 5020))], 2e-4, 0.05, 100),
        ("rates, a swing that the intersection keeps", [((100, 1000), (150, 1000)), ((200, 2000), (240, 2000)),
                                                         ((300, 3000), (300, 3000)), ((400, 4000), (330, 4000))],
         1e-3, 0.2, 100),
        ("rates, no variance yet", [((0, 150), (0, 160)), ((2, 400), (1, 390))], 1e-4, 0.05, 100),
    ]:
        state, windows = dict(start), []
        for (xc, nc), (xv, nv) in counts:
            pc, pv = xc / nc, xv / nv
            d = pv - pc
            var = pv * (1 - pv) / nv + pc * (1 - pc) / nc
            counted = nc >= min_samples and nv >= min_samples and var > 0
            llr = None
            if counted:
                state, llr = msprt_window(state, d, var, tau2, alpha)
            windows.append({"control": [xc, nc], "variant": [xv, nv], "counted": counted,
                            "log_likelihood_ratio": llr, "p_value": state["p"],
                            "lower": bound(state["lower"]), "upper": bound(state["upper"])})
        out.append({"name": name, "kind": "rates", "mixing_variance": tau2, "alpha": alpha,
                    "min_samples": min_samples, "windows": windows})
    return out


def mixing_cases():
    """The mixing variance that makes the sequence narrowest at a planned variance V:
    tau2 = r V with r solving r = 2 ln(1/alpha) + ln(1 + r)."""
    out = []
    for alpha, v in [(0.05, 1e-3), (0.01, 2.5e-5), (0.1, 4.0), (0.001, 1e-8), (0.2, 0.5)]:
        two_l = 2 * math.log(1 / alpha)
        r = optimize.brentq(lambda r: r - two_l - math.log1p(r), two_l, 10 * two_l + 10, xtol=1e-300,
                            rtol=4 * np.finfo(float).eps)
        width = lambda r: (1 + 1 / r) * (two_l + math.log1p(r))  # noqa: E731  (half-width squared / V)
        best = optimize.minimize_scalar(width, bounds=(1e-3, 1e3), method="bounded", options={"xatol": 1e-12})
        close(width(r), best.fun, 1e-12, "narrowest width")
        out.append({"alpha": alpha, "variance_at_horizon": v, "ratio": r, "mixing_variance": r * v})
    return out


def main():
    out = {
        "made_by": f"scipy {scipy.__version__}, numpy {np.__version__}, statsmodels {statsmodels.__version__}",
        "proportions": proportion_cases(),
        "means": mean_cases(),
        "mean_summaries": mean_summary_cases(),
        "cuped": cuped_cases(),
        "srm": srm_cases(),
        "msprt_points": msprt_point_cases(),
        "msprt_sequences": msprt_sequence_cases(),
        "mixing": mixing_cases(),
    }
    path = pathlib.Path(__file__).with_name("experiments.json")
    text = json.dumps(out, indent=None, separators=(",", ":"), allow_nan=False)
    path.write_text(text.replace('},{"', '},\n{"') + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
