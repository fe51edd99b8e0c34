#!/usr/bin/env python3
"""Writes the drift benchmark's data (bench/drift.sh): a 200,000-row reference and a
1,000,000-row current sample of 20 features (12 numbers, 8 categories) as Parquet
(snappy, pyarrow's default), seeded. What moved in the current sample, and by how much in
the measure that decides at this size (normalized Wasserstein for numbers, Jensen-Shannon
distance in natural log for categories, both drift at 0.1):

  n02  mean +0.5 std                       ~0.5     drift
  n05  spread x1.6                         ~0.4     drift
  n08  mean +0.3 std                       ~0.3     drift
  n04  mean +0.03 std                      ~0.03    no drift (a KS p-value on 10^6 rows says drift)
  n10  30% of values missing, rest as before        drift by rein's missing share, not by Evidently
  c01  the most frequent category halved            ~0.2     drift
  c04  a new category takes 25%                     ~0.3     drift
  c06  a mild reweighting                           ~0.05    no drift

Needs numpy, pandas and pyarrow.

    python3 bench/drift/make_data.py OUT_DIR
"""

import os
import sys

import numpy as np
import pandas as pd

SEED = 20261207
REFERENCE_ROWS = 200_000
CURRENT_ROWS = 1_000_000


def numbers(rng, n, i, drifted):
    kind = i % 4
    if kind == 0:
        x = rng.normal(50.0, 10.0, n)
        std = 10.0
    elif kind == 1:
        x = rng.lognormal(3.0, 0.6, n)
        std = float(np.exp(3.0 + 0.18) * np.sqrt(np.exp(0.36) - 1.0))
    elif kind == 2:
        x = rng.uniform(0.0, 1000.0, n)
        std = 1000.0 / np.sqrt(12.0)
    else:
        x = rng.exponential(5.0, n)
        std = 5.0
    if not drifted:
        return x
    if i == 2:
        x = x + 0.5 * std
    elif i == 5:
        x = x.mean() + (x - x.mean()) * 1.6
    elif i == 8:
        x = x + 0.3 * std
    elif i == 4:
        x = x + 0.03 * std
    elif i == 10:
        x = x.copy()
        x[rng.random(n) < 0.3] = np.nan
    return x


def categories(rng, n, i, drifted):
    k = [3, 5, 8, 12, 4, 20, 6, 50][i]
    names = np.array([f"c{i}_{j}" for j in range(k)] + [f"c{i}_new"])
    weights = np.linspace(2.0, 1.0, k)
    weights = np.append(weights, 0.0)
    if drifted and i == 1:
        weights[0] /= 2.0
        weights[-2] *= 2.0
    if drifted and i == 4:
        weights[-1] = weights[:-1].sum() / 3.0  # 25% of the total
    if drifted and i == 6:
        weights[0] *= 1.25
    p = weights / weights.sum()
    return names[rng.choice(len(names), size=n, p=p)]


def frame(rng, n, drifted):
    data = {}
    for i in range(12):
        data[f"n{i:02d}"] = numbers(rng, n, i, drifted)
    for i in range(8):
        data[f"c{i:02d}"] = categories(rng, n, i, drifted)
    return pd.DataFrame(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    frame(rng, REFERENCE_ROWS, False).to_parquet(os.path.join(out, "reference.parquet"), index=False)
    frame(rng, CURRENT_ROWS, True).to_parquet(os.path.join(out, "current.parquet"), index=False)


if __name__ == "__main__":
    main()
