#!/usr/bin/env bash
# What a traffic plan costs, in the same minutes: the phishing example served by the
# champion alone, by a two-way split (champion / challenger, 50/50 by unit), and by the
# split plus a shadow (the challenger again, max_in_flight 64), taking turns at wrk's
# maximum rate, round after round, as bench/ab.sh does. Prints req/s and the server's CPU
# µs a request for each; with RATE=N set, also p50/p99 at N req/s (oha, coordinated-omission
# corrected, over CONNECTIONS connections: 32 unless set), where the shadow must not show.
# The split should cost under 3% of the throughput; a shadow at most its own model's cost
# (about the champion's own model time a request), none of it in the answers' latency.
#
#   [RATE=N] bench/traffic.sh SECONDS ROUNDS MODE      (MODE: off | durable | buffered)
#
# e.g. bench/traffic.sh 8 3 durable   (release build first: cargo build --release -p rein-cli;
# REIN=path/to/rein runs another build)
# The challenger is the example's model with one byte of its producer's name changed:
# another version, the same answers and cost.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; rounds="$2"; mode="$3"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh
bin=${REIN:-./target/release/rein}
[ -x "$bin" ] || { echo "build rein first: cargo build --release -p rein-cli" >&2; exit 1; }
if [ -n "${RATE:-}" ]; then need_oha; fi

work=$(mktemp -d)
trap 'stop_server 2>/dev/null || true; rm -rf "$work"' EXIT
example=examples/phishing-warning
python3 - "$example/model.onnx" "$work/challenger.onnx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = b.find(b"skl2onnx")
assert at >= 0, "no producer name in the model"
b[at + 7] = ord("2")
open(sys.argv[2], "wb").write(b)
PY

# The example's system file with a traffic plan, its model by absolute path: plan NAME TABLE.
plan() {
  python3 - "$example/rein.toml" "$work/$1.toml" "$PWD/$example/model.onnx" "$2" <<'PY'
import sys
text = open(sys.argv[1]).read().replace('path = "model.onnx"', 'path = "%s"' % sys.argv[3])
if sys.argv[4]:
    text = text.replace("[[components.features]]", "[components.traffic]\n%s\n\n[[components.features]]" % sys.argv[4], 1)
open(sys.argv[2], "w").write(text)
PY
}
split='experiment = "bench"
split = [{ variant = "control", alias = "champion", weight = 50 },
         { variant = "treatment", alias = "challenger", weight = 50 }]'
plan single ""
plan split "$split"
plan shadow "$split
shadow = { alias = \"challenger\", max_in_flight = 64 }"

addr=127.0.0.1:18082
url="http://$addr/v1/components/phishing/predict"
# As bench/lib.sh's start_server, with a registry holding the challenger.
start() {
  rein_data=$(mktemp -d)
  "$bin" models register "$work/$1.toml" phishing "$work/challenger.onnx" --alias challenger --data-dir "$rein_data" >/dev/null
  "$bin" serve "$work/$1.toml" --addr "$addr" --telemetry "$mode" --data-dir "$rein_data" > "/tmp/rein-traffic-$1.log" 2>&1 &
  pid=$!
  wait_up "$addr"
  wrk -t1 -c32 -d2s -s bench/predict.lua "$url" > /dev/null
}
echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for config in single split shadow; do
    start "$config"
    before=$(cpu_seconds "$pid")
    out=$(wrk -t1 -c32 -d"${seconds}s" -s bench/predict.lua "$url")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
    cpu=$(python3 -c "print(f'{($(cpu_seconds "$pid") - $before) / ($rps * $seconds) * 1e6:.1f}')")
    bad=$(not_2xx "$out" "$rps")
    # What the plan did, from the server's counters: requests a variant, shadow copies
    # recorded, failed and dropped (the warm-up's included).
    routed=$(curl -s "http://$addr/metrics" | python3 -c 'import re, sys
counts = {}
for line in sys.stdin:
    m = re.match(r"(rein_traffic_requests_total|rein_shadow_predictions_total|rein_shadow_dropped_total)\{([^}]*)\} (\S+)", line)
    if m:
        labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2)))
        key = {"rein_traffic_requests_total": labels.get("variant"), "rein_shadow_dropped_total": "shadow dropped"}.get(m.group(1), "shadow " + labels.get("result", ""))
        counts[key] = int(float(m.group(3)))
print(", ".join("%s %d" % kv for kv in sorted(counts.items())))')
    tail=""
    if [ -n "${RATE:-}" ]; then
      report=$(oha_at_rate "$url" "$RATE" "$seconds" "${CONNECTIONS:-32}")
      tail=$(echo "$report" | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]
other = {k: v for k, v in d["statusCodeDistribution"].items() if k != "200"}
print(", at %s req/s p50 %.2f ms, p99 %.2f ms%s" % (sys.argv[1], p["p50"]*1000, p["p99"]*1000, ", answers not 200: %s" % other if other else ""))' "$RATE")
    fi
    echo "round $round, $config $mode: $rps req/s, $cpu µs of server CPU a request$bad${routed:+ ($routed)}$tail"
    stop_server
  done
done
