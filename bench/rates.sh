#!/usr/bin/env bash
# Latency of one rein mode at fixed request rates: the tail a product sees below the
# maximum. oha with coordinated-omission correction, 32 connections, the phishing example.
#
#   bench/rates.sh [MODE=off|durable|buffered] [SECONDS=6] [RATE ...=15000 25000]
#
# Prints the maximum (wrk, as bench/load.sh) and p50/p95/p99/p99.9 at each rate.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-off}"; seconds="${2:-6}"; shift $(( $# > 2 ? 2 : $# ))
if [ $# -gt 0 ]; then rates=("$@"); else rates=(15000 25000); fi

oha=.rein/tools/bin/oha
[ -x "$oha" ] || cargo install oha --locked --root .rein/tools
source bench/lib.sh
build_rein

addr=127.0.0.1:18079
url="http://$addr/v1/components/phishing/predict"
serve_rein "$addr" "$mode" /tmp/rein-rates.log

body='{"unit":"user-1","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,"uses_https":false,"domain_age_days":3,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'
echo "telemetry $mode, max: $(wrk -t1 -c32 -d4s -s bench/predict.lua "$url" | awk '/Requests\/sec/ {print int($2)}') req/s"
for rate in "${rates[@]}"; do
  "$oha" --no-tui --output-format json -z "${seconds}s" -c 32 -q "$rate" --latency-correction -m POST \
    -H 'content-type: application/json' -d "$body" "$url" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; r=sys.argv[1]
print(f"at {r} req/s: " + ", ".join(f"{k} {p[k]*1000:.2f} ms" for k in ("p50","p95","p99","p99.9")))' "$rate"
done
