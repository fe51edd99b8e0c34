#!/usr/bin/env bash
# Where a split's cost is not: the server time rein records for each prediction
# (`server_time_us`, `GET /v1/predictions`), by variant and model version, for the phishing
# example served by the champion alone and by bench/traffic.sh's 50/50 split (the challenger
# the same model, one byte of its producer's name changed), durable telemetry, 2,000
# requests at low load (oha, 10 units of 200 requests, 2 connections), in turns.
# Prints, over the newest 1,000 predictions, each variant's count, median and 90th
# percentile in µs.
#
#   bench/split_time.sh [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh
need_oha
bin=${REIN:-./target/release/rein}
work=$(mktemp -d)
trap 'stop_server 2>/dev/null || true; rm -rf "$work"' EXIT
example=examples/phishing-warning
cp "$example/model.onnx" "$work/challenger.onnx"
python3 - "$work/challenger.onnx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = b.find(b"skl2onnx")
assert at >= 0, "no producer name in the model"
b[at + 7] = ord("2")
open(sys.argv[1], "wb").write(b)
PY
for config in single split; do
  python3 - "$example/rein.toml" "$work/$config.toml" "$PWD/$example/model.onnx" "$config" <<'PY'
import sys
text = open(sys.argv[1]).read().replace('path = "model.onnx"', 'path = "%s"' % sys.argv[3])
if sys.argv[4] == "split":
    text = text.replace("[[components.features]]", '''[components.traffic]
experiment = "bench"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", alias = "challenger", weight = 50 }]

[[components.features]]''', 1)
open(sys.argv[2], "w").write(text)
PY
done
addr=127.0.0.1:18084
echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for config in single split; do
    rein_data=$(mktemp -d)
    "$bin" models register "$work/$config.toml" phishing "$work/challenger.onnx" --alias challenger --data-dir "$rein_data" > /dev/null
    "$bin" serve "$work/$config.toml" --addr "$addr" --telemetry durable --data-dir "$rein_data" > "/tmp/rein-split-time-$config.log" 2>&1 &
    pid=$!
    wait_up "$addr"
    for u in $(seq 10); do
      .rein/tools/bin/oha --no-tui -n 200 -c 2 -m POST -H 'content-type: application/json' \
        -d "${predict_body/user-1/user-$u}" "http://$addr/v1/components/phishing/predict" > /dev/null
    done
    sleep 1
    curl -s "http://$addr/v1/predictions?component=phishing&limit=1000" | python3 -c 'import json, statistics, sys
by = {}
for p in json.load(sys.stdin)["predictions"]:
    by.setdefault("%s %s" % (p["variant"], p["model"]["version"]), []).append(p["server_time_us"])
print("round %s, %s: " % (sys.argv[1], sys.argv[2]) + "; ".join("%s: %d predictions, median %.0f µs, p90 %d µs" % (k, len(v), statistics.median(v), sorted(v)[int(0.9 * len(v))]) for k, v in sorted(by.items())))' "$round" "$config"
    stop_server
  done
done
