#!/usr/bin/env bash
# bench/drift_width.sh [RUNS=3] [ROWS=300000]: `rein drift` (release) on a wide table: ROWS
# current rows x 1,000 features (800 numbers, 200 categories) against a reference of the
# same size, as Parquet written by bench/drift/make_wide.py (seeded; every tenth feature
# moved). Prints wall and CPU seconds and the peak resident memory of each run (the median
# run counts), and how many features were flagged (100 moved).
#
# Installs what it needs when missing: pyarrow and numpy into .rein/pylib (as
# scripts/test.sh does), the data (.rein/bench-wide, about 4 GB for 300,000 rows).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
rows=${2:-300000}
data=.rein/bench-wide-$rows
target=${CARGO_TARGET_DIR:-target}

if ! PYTHONPATH=.rein/pylib python3 -c 'import pyarrow, numpy' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --target .rein/pylib numpy pyarrow
fi
if [ ! -f "$data/current.parquet" ]; then
  PYTHONPATH=.rein/pylib python3 bench/drift/make_wide.py "$data" "$rows"
fi
cargo build --release --locked -q -p rein-cli

echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "files: $(du -h "$data/reference.parquet" | cut -f1) reference, $(du -h "$data/current.parquet" | cut -f1) current (snappy Parquet), $rows rows x 1000 features each"

walls=()
for i in $(seq "$runs"); do
  /usr/bin/time -f '%e %U %S %M' -o "$data/time" "$target/release/rein" drift "$data/rein.toml" wide \
    --reference "$data/reference.parquet" --current "$data/current.parquet" --json > "$data/rein.json"
  read -r wall user sys rss < "$data/time"
  walls+=("$wall")
  flagged=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(1 for c in r["columns"] if c["role"]=="feature" and c["drifted"]))' "$data/rein.json")
  echo "rein drift, run $i: $wall s wall, $(echo "$user + $sys" | bc) s CPU, peak memory $((rss / 1024)) MiB, $flagged features flagged (100 moved)"
done
printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print "median of " NR ": " a[int((NR+1)/2)] " s wall"}'
