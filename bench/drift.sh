#!/usr/bin/env bash
# bench/drift.sh [RUNS=3]: `rein drift` (release) against Evidently's DataDriftPreset on the
# same files in the same run: 1,000,000 current rows x 20 features (12 numbers, 8
# categories, some drifted) against a 200,000-row reference, as Parquet written by
# bench/drift/make_data.py (seeded). rein runs RUNS times (the median counts), Evidently
# once (it takes a minute). Prints seconds for each (wall, and CPU: user + system, which
# moves less with the machine's neighbours) and the features each flagged.
#
# Installs what it needs when missing: Evidently 0.7.23 with pandas<3 and pyarrow in a venv
# of its own (.rein/evidently-venv, never committed), the data (.rein/bench-drift).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
venv=.rein/evidently-venv
data=.rein/bench-drift
target=${CARGO_TARGET_DIR:-target}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import evidently' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "evidently==0.7.23" "pandas<3" pyarrow
fi
if [ ! -f "$data/current.parquet" ]; then
  "$venv/bin/python" bench/drift/make_data.py "$data"
fi
cargo build --release --locked -q -p rein-cli

echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "files: $(du -h "$data/reference.parquet" | cut -f1) reference, $(du -h "$data/current.parquet" | cut -f1) current (snappy Parquet)"

# wall and CPU seconds of a command: timed OUT COMMAND...; prints "WALL CPU"
timed() {
  local out=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$data/time" "$@" > "$out"
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$data/time"
}

rein_times=()
for i in $(seq "$runs"); do
  read -r wall cpu < <(timed "$data/rein.json" "$target/release/rein" drift bench/drift/rein.toml bench \
    --reference "$data/reference.parquet" --current "$data/current.parquet" --json)
  rein_times+=("$wall")
  echo "rein drift, run $i: $wall s wall, $cpu s CPU (whole process: read both files, profile the reference, compare)"
done

read -r wall cpu < <(timed "$data/evidently.json" "$venv/bin/python" bench/drift/evidently_drift.py \
  "$data/reference.parquet" "$data/current.parquet")
echo "evidently, whole process: $wall s wall, $cpu s CPU (python, imports, pandas reading the files, the report)"

python3 - "$data/rein.json" "$data/evidently.json" "${rein_times[@]}" <<'PY'
import json, statistics, sys
rein = json.load(open(sys.argv[1]))
evidently = json.load(open(sys.argv[2]))
rein_s = statistics.median(float(t) for t in sys.argv[3:])
ev_s = evidently["read_s"] + evidently["report_s"]
print(f"evidently: {evidently['read_s']:.2f} s reading with pandas + {evidently['report_s']:.2f} s DataDriftPreset = {ev_s:.2f} s")
print(f"rein drift, median of {len(sys.argv) - 3}: {rein_s:.3f} s; Evidently / rein = {ev_s / rein_s:.0f}x")
print()
print(f"{'column':8} {'rein: decided by':24} {'value':>8} {'drift':6} {'evidently: method':31} {'value':>8} {'drift':6} agree")
same = True
for c in rein["columns"]:
    if c["role"] != "feature":
        continue
    name = c["name"]
    d = c["decision"]
    e = evidently["columns"][name]
    e_drift = e["value"] >= e["threshold"]
    rein_flag = c["drifted"]
    agree = "yes" if rein_flag == e_drift else "no"
    why = ""
    if rein_flag != e_drift and c["values"]["risen"]:
        why = f" (rein: {', '.join(c['values']['risen'])} share rose)"
    elif d["drifted"] != e_drift:
        same = False
    print(f"{name:8} {d['method']:24} {d['value']:8.4f} {str(rein_flag).lower():6} {e['method']:31} {e['value']:8.4f} {str(e_drift).lower():6} {agree}{why}")
flagged = [c["name"] for c in rein["columns"] if c["role"] == "feature" and c["drifted"]]
ev_flagged = [n for n, e in evidently["columns"].items() if e["value"] >= e["threshold"]]
print()
print("rein flagged:     ", ", ".join(flagged))
print("evidently flagged:", ", ".join(ev_flagged))
print("the same method's verdict agrees on every feature" if same else "a verdict by the same method DIFFERS")
PY

# The HTML report of the same comparison: its size, and how long headless Chromium takes to
# open it (bench/report_size.sh, which can also run alone).
echo
bench/report_size.sh 3
