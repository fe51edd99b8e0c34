#!/usr/bin/env bash
# Writes each example's reference profile, examples/<name>/model.profile.json, where
# `rein drift`, `rein report` and the monitors look for it: the training rows its train.py
# synthesizes (the same seeded rows the model was trained on; `--reference-only` trains
# nothing), profiled by `rein profile`, which scores them with the example's model.
#
# Needs what the train.py scripts import (numpy, scikit-learn, skl2onnx, onnxruntime) in
# PYTHON (default python3), and a built rein (cargo build -p rein-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
rein=${REIN:-target/debug/rein}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for example in phishing-warning audit-risk legal-triage smart-toaster; do
  component=$(sed -n '/^\[\[components\]\]/,/^name/ s/^name = "\(.*\)"/\1/p' "examples/$example/rein.toml" | head -1)
  "$python" "examples/$example/train.py" --reference-only "$tmp/$example.csv"
  # 2,000 values a column: enough for KS and Wasserstein, and a profile small enough to commit
  "$rein" profile "examples/$example/rein.toml" "$component" --data "$tmp/$example.csv" --sample-size 2000
done
