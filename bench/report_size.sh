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
chromium --version 2> /dev/null
echo '<!DOCTYPE html><html><body></body></html>' > "$data/empty.html"
# seconds for headless Chromium to load FILE, lay it out and print its DOM: open_s FILE
open_s() {
  /usr/bin/time -f '%e' -o "$data/time" chromium --headless --no-sandbox --disable-gpu --dump-dom \
    "file://$PWD/$1" > "$1.dom" 2> /dev/null
  cat "$data/time"
}
# The page's own time, measured in it, without Chromium's start-up: a copy of the report
# with a script that, on the load event (the report itself has no script), forces layout
# and writes the milliseconds since navigation started into the DOM --dump-dom prints.
# The same for the empty page, beside it.
python3 - "$data/report.html" "$data/probe.html" "$data/empty.html" "$data/probe-empty.html" <<'PY'
import sys
probe = ('<script>addEventListener("load", () => { document.body.offsetHeight; '
         'document.documentElement.setAttribute("data-open-ms", performance.now().toFixed(1)) })</script>')
for src, dst in [sys.argv[1:3], sys.argv[3:5]]:
    s = open(src).read()
    at = s.rindex("</body>")
    open(dst, "w").write(s[:at] + probe + s[at:])
PY
report=(); empty=(); inpage=(); inempty=()
for i in $(seq "$runs"); do
  r=$(open_s "$data/report.html"); e=$(open_s "$data/empty.html"); open_s "$data/probe.html" > /dev/null; open_s "$data/probe-empty.html" > /dev/null
  p=$(grep -o 'data-open-ms="[0-9.]*"' "$data/probe.html.dom" | grep -o '[0-9.]*')
  q=$(grep -o 'data-open-ms="[0-9.]*"' "$data/probe-empty.html.dom" | grep -o '[0-9.]*')
  report+=("$r"); empty+=("$e"); inpage+=("$p"); inempty+=("$q")
  echo "run $i: report $r s, empty page $e s (the report's DOM as laid out: $(stat -c %s "$data/report.html.dom") bytes); in the page: loaded and laid out $p ms after navigation started (empty page $q ms)"
done
python3 - "${report[*]}" "${empty[*]}" "${inpage[*]}" "${inempty[*]}" <<'PY'
import statistics, sys
r, e, p, q = (statistics.median(map(float, a.split())) for a in sys.argv[1:5])
print(f"chromium --headless --dump-dom, median of {len(sys.argv[1].split())}: report {r:.2f} s, empty page {e:.2f} s (the difference {r - e:.2f} s); in the page, navigation start to loaded and laid out: report {p:.0f} ms, empty page {q:.0f} ms")
PY
