#!/usr/bin/env bash
# Latency of one rein mode at fixed request rates: the tail a product sees below the
# maximum. oha with coordinated-omission correction, 32 connections, the phishing example.
#
#   bench/rates.sh [MODE=off|durable|buffered] [SECONDS=6] [RATE ...=15000 25000]
#
# Prints the maximum (wrk, as bench/load.sh) and p50/p95/p99/p99.9 at each rate, as the
# client saw them and, from the server's histograms, its handler time and model calls.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-off}"; seconds="${2:-6}"; shift $(( $# > 2 ? 2 : $# ))
if [ $# -gt 0 ]; then rates=("$@"); else rates=(15000 25000); fi

source bench/lib.sh
need_oha
build_rein

addr=127.0.0.1:18079
url="http://$addr/v1/components/phishing/predict"
serve_rein "$addr" "$mode" /tmp/rein-rates.log

echo "telemetry $mode, max: $(wrk -t1 -c32 -d4s -s bench/predict.lua "$url" | awk '/Requests\/sec/ {print int($2)}') req/s"
# The server's own view, from its histograms: the bucket bounds (seconds) under which half
# and 99% of the requests answered 200 (handler time) and of the model calls fell, over
# what was counted between two scrapes.
server_view() { # before-file after-file
  python3 - "$1" "$2" <<'PY'
import re, sys
def buckets(path, name, want):
    out = {}
    for line in open(path):
        m = re.match(name + r'_bucket\{(.*)le="([^"]+)"\} (\S+)', line)
        if m and want(m.group(1)):
            out[m.group(2)] = out.get(m.group(2), 0) + float(m.group(3))
    return out
def quantiles(name, want):
    a, b = buckets(sys.argv[1], name, want), buckets(sys.argv[2], name, want)
    rows = sorted(((float(le), b[le] - a.get(le, 0)) for le in b), key=lambda r: r[0])
    total = rows[-1][1] if rows else 0
    q = lambda f: next((f"≤ {le * 1e3:g} ms" for le, n in rows if total and n >= f * total), "n/a")
    return f"p50 {q(0.5)}, p99 {q(0.99)}"
print("  server: handler " + quantiles("rein_request_duration_seconds", lambda l: 'status="200"' in l)
      + "; model call " + quantiles("rein_model_duration_seconds", lambda l: True))
PY
}
for rate in "${rates[@]}"; do
  curl -s "http://$addr/metrics" > /tmp/rein-rates-before.txt
  oha_at_rate "$url" "$rate" "$seconds" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; r=sys.argv[1]
print(f"at {r} req/s: " + ", ".join(f"{k} {p[k]*1000:.2f} ms" for k in ("p50","p95","p99","p99.9")))' "$rate"
  curl -s "http://$addr/metrics" > /tmp/rein-rates-after.txt
  server_view /tmp/rein-rates-before.txt /tmp/rein-rates-after.txt
done
