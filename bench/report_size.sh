#!/usr/bin/env bash
# bench/report_size.sh [RUNS=3]: the HTML report of bench/drift.sh's comparison (1,000,000
# current rows x 20 features against a 200,000-row reference, bench/drift/make_data.py,
# seeded): its size (aggregates only, never rows: target under 2 MB), and how long headless
# Chromium takes to open and lay it out (--dump-dom: target under a second), beside an empty
# page's time in the same run (Chromium's own start-up), median of RUNS each, the two
# interleaved. bench/drift.sh runs this as its last part; alone it needs neither Evidently
# nor its venv.
#
# Installs what it needs when missing: numpy, pandas<3 and pyarrow in a venv of their own
# (.rein/drift-data-venv, never committed) unless bench/drift.sh's (.rein/evidently-venv)
# is there, to write the data (.rein/bench-drift, as bench/drift.sh). Needs chromium
# (apt-get install -y chromium) for the open time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
data=.rein/bench-drift
target=${CARGO_TARGET_DIR:-target}

if [ ! -f "$data/current.parquet" ]; then
  python=.rein/evidently-venv/bin/python
  if ! "$python" -c 'import numpy, pandas, pyarrow' 2>/dev/null; then
    python=.rein/drift-data-venv/bin/python
    if ! "$python" -c 'import numpy, pandas, pyarrow' 2>/dev/null; then
      python3 -m venv .rein/drift-data-venv
      .rein/drift-data-venv/bin/pip install --quiet --disable-pip-version-check numpy "pandas<3" pyarrow
    fi
  fi
  "$python" bench/drift/make_data.py "$data"
fi
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
cargo build --release --locked -q -p rein-cli

echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "files: $(du -h "$data/reference.parquet" | cut -f1) reference, $(du -h "$data/current.parquet" | cut -f1) current (snappy Parquet)"
"$target/release/rein" drift bench/drift/rein.toml bench --reference "$data/reference.parquet" \
  --current "$data/current.parquet" --out "$data/report.html" > /dev/null
bytes=$(stat -c %s "$data/report.html")
echo "HTML report: $bytes bytes ($(python3 -c "print(f'{$bytes / 1e6:.3f}')") MB), $(gzip -c "$data/report.html" | wc -c) bytes gzipped"
if ! command -v chromium > /dev/null 2>&1; then
  echo "chromium is missing (apt-get install -y chromium): no open time" >&2
  exit 0
fi
chromium --version
echo '<!DOCTYPE html><html><body></body></html>' > "$data/empty.html"
# seconds for headless Chromium to load FILE, lay it out and print its DOM: open_s FILE
open_s() {
  /usr/bin/time -f '%e' -o "$data/time" chromium --headless --no-sandbox --disable-gpu --dump-dom \
    "file://$PWD/$1" > "$1.dom" 2> /dev/null
  cat "$data/time"
}
report=(); empty=()
for i in $(seq "$runs"); do
  r=$(open_s "$data/report.html"); e=$(open_s "$data/empty.html")
  report+=("$r"); empty+=("$e")
  echo "run $i: report $r s, empty page $e s (the report's DOM as laid out: $(stat -c %s "$data/report.html.dom") bytes)"
done
python3 - "${report[*]}" "${empty[*]}" <<'PY'
import statistics, sys
r = statistics.median(map(float, sys.argv[1].split()))
e = statistics.median(map(float, sys.argv[2].split()))
print(f"chromium --headless --dump-dom, median of {len(sys.argv[1].split())}: report {r:.2f} s, empty page {e:.2f} s, the report's own {r - e:.2f} s")
PY
