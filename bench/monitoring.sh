#!/usr/bin/env bash
# What monitoring costs the ingest path, in the same minutes: the phishing example served
# with its `[[monitors]]` (seven: drift of three features and of the scores, the fallback
# rate, a goal's latency, recall), without them, and with them made busy (every window of
# the file 2 s and `[alerts] lateness = "0s"`: each monitor judges a window every 2 s,
# far more often than the example's hours and days), taking turns at wrk's maximum rate,
# round after round, as bench/ab.sh does. Prints req/s and the server's CPU µs a request
# for each, and how many windows the monitors had evaluated by the end of the turn
# (`GET /v1/monitors`). Target: monitoring costs under 5% of the throughput. With RATE=N
# set, each turn also serves a fresh server at N req/s for SECONDS (oha, coordinated-omission
# corrected, over CONNECTIONS connections: 32 unless set), where the store keeps up and the
# monitors do judge their windows: p50/p99 and the server's CPU µs a request.
#
#   [RATE=N] bench/monitoring.sh SECONDS ROUNDS [MODE=durable]      (MODE: durable | buffered)
#
# e.g. bench/monitoring.sh 8 3   (release build first: cargo build --release -p rein-cli;
# REIN=path/to/rein runs another build)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; rounds="$2"; mode="${3:-durable}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh
bin=${REIN:-./target/release/rein}
[ -x "$bin" ] || { echo "build rein first: cargo build --release -p rein-cli" >&2; exit 1; }
if [ -n "${RATE:-}" ]; then need_oha; fi

work=$(mktemp -d)
trap 'stop_server 2>/dev/null || true; rm -rf "$work"' EXIT
example=examples/phishing-warning

# The example's system file, its model by absolute path (its reference profile,
# model.profile.json, is found beside it), as NAME: with its monitors as they are
# (`monitors`), without the `[[monitors]]` tables (`none`), or with every window 2 s and
# no lateness (`busy`). Checks that the file parses as TOML and holds the monitors it should.
variant() {
  python3 - "$example/rein.toml" "$work/$1.toml" "$PWD/$example/model.onnx" "$1" <<'PY'
import re, sys, tomllib
src, dst, model, name = sys.argv[1:]
text = open(src).read().replace('path = "model.onnx"', 'path = "%s"' % model)
if name == "none":
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("["):
            skipping = line.strip() == "[[monitors]]"
        if not skipping:
            out.append(line)
    text = "".join(out)
elif name == "busy":
    text = re.sub(r'^window = "[^"]*"', 'window = "2s"', text, flags=re.M)
    if re.search(r'^lateness = ', text, flags=re.M):
        text = re.sub(r'^lateness = "[^"]*"', 'lateness = "0s"', text, flags=re.M)
    elif re.search(r'^\[alerts\]', text, flags=re.M):
        text = re.sub(r'^\[alerts\]\n', '[alerts]\nlateness = "0s"\n', text, count=1, flags=re.M)
    else:
        text += '\n[alerts]\nlateness = "0s"\n'
    assert tomllib.loads(text)["alerts"]["lateness"] == "0s"
parsed = tomllib.loads(text)
want = {"none": 0}.get(name, len(tomllib.loads(open(src).read())["monitors"]))
assert len(parsed.get("monitors", [])) == want, (name, len(parsed.get("monitors", [])))
open(dst, "w").write(text)
PY
}
configs=(monitors none busy)
for config in "${configs[@]}"; do variant "$config"; done

addr=127.0.0.1:18083
url="http://$addr/v1/components/phishing/predict"
echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Serves CONFIG in the background, waits until it answers and warms it up: start CONFIG.
start() {
  rein_data=$(mktemp -d)
  "$bin" serve "$work/$1.toml" --addr "$addr" --telemetry "$mode" --data-dir "$rein_data" > "/tmp/rein-monitoring-$1.log" 2>&1 &
  pid=$!
  wait_up "$addr"
  wrk -t1 -c32 -d2s -s bench/predict.lua "$url" > /dev/null
}
# Windows judged so far, summed over the monitors (the `figures` each holds, at most 48),
# and the task's last error, if any.
judged() {
  curl -s "http://$addr/v1/monitors?window=48" | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("no monitors route"); sys.exit()
ms = d.get("monitors", [])
n = sum(len(m.get("figures") or []) for m in ms)
print("%d monitors, %d windows judged%s" % (len(ms), n, ", error: %s" % d["error"] if d.get("error") else ""))'
}
for round in $(seq "$rounds"); do
  for config in "${configs[@]}"; do
    start "$config"
    before=$(cpu_seconds "$pid")
    out=$(wrk -t1 -c32 -d"${seconds}s" -s bench/predict.lua "$url")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
    cpu=$(python3 -c "print(f'{($(cpu_seconds "$pid") - $before) / ($rps * $seconds) * 1e6:.1f}')")
    bad=$(not_2xx "$out" "$rps")
    echo "round $round, $config $mode: $rps req/s, $cpu µs of server CPU a request$bad ($(judged))"
    stop_server
    if [ -n "${RATE:-}" ]; then
      start "$config"
      before=$(cpu_seconds "$pid")
      report=$(oha_at_rate "$url" "$RATE" "$seconds" "${CONNECTIONS:-32}")
      used=$(python3 -c "print($(cpu_seconds "$pid") - $before)")
      echo "$report" | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; n=sum(d["statusCodeDistribution"].values())
other = {k: v for k, v in d["statusCodeDistribution"].items() if k != "200"}
print("round %s, %s %s at %s req/s over %s connections: p50 %.2f ms, p99 %.2f ms, %.1f µs of server CPU a request%s (%s)" % (sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[1], sys.argv[3], p["p50"]*1000, p["p99"]*1000, float(sys.argv[2]) / n * 1e6, ", answers not 200: %s" % other if other else "", sys.argv[7]))' "$RATE" "$used" "${CONNECTIONS:-32}" "$round" "$config" "$mode" "$(judged)"
      stop_server
    fi
  done
done
