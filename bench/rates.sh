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
bash scripts/setup-onnxruntime.sh >/dev/null
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
cargo build --release --locked -p rein-cli 2>&1 | tail -1

addr=127.0.0.1:18079
url="http://$addr/v1/components/phishing/predict"
data=$(mktemp -d)
./target/release/rein serve examples/phishing-warning/rein.toml --addr "$addr" --telemetry "$mode" --data-dir "$data" \
  > /tmp/rein-rates.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://$addr/" && break; sleep 0.1; done

body='{"unit":"user-1","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,"uses_https":false,"domain_age_days":3,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'
echo "telemetry $mode, max: $(wrk -t1 -c32 -d4s -s bench/predict.lua "$url" | awk '/Requests\/sec/ {print int($2)}') req/s"
for rate in "${rates[@]}"; do
  "$oha" --no-tui --output-format json -z "${seconds}s" -c 32 -q "$rate" --latency-correction -m POST \
    -H 'content-type: application/json' -d "$body" "$url" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; r=sys.argv[1]
print(f"at {r} req/s: " + ", ".join(f"{k} {p[k]*1000:.2f} ms" for k in ("p50","p95","p99","p99.9")))' "$rate"
done
