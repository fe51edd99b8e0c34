#!/usr/bin/env bash
# Load benchmark: rein's predict on the phishing example (every guardrail and the
# experience policy on) against a bare axum handler returning constant JSON (the ceiling),
# in the same run on the same machine.
#
#   bench/load.sh [DURATION_SECONDS=20] [RUNS=3]
#
# Max throughput: wrk, 1 thread, 32 connections. Latency at half the max rate: oha with a
# fixed request rate (coordinated-omission corrected). Prints a markdown table and writes it
# to bench/results/load-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
runs="${2:-3}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
oha=.rein/tools/bin/oha
[ -x "$oha" ] || cargo install oha --locked --root .rein/tools
bash scripts/setup-onnxruntime.sh >/dev/null
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
cargo build --release --locked -p rein-cli -p rein-bench-ceiling 2>&1 | tail -1

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

start() { # name addr command...
  local name=$1 addr=$2; shift 2
  "$@" > "/tmp/rein-bench-$name.log" 2>&1 &
  pids+=($!)
  wait_up "$addr"
}

body='{"unit":"user-1","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,"uses_https":false,"domain_age_days":3,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'

# wrk: prints "<req/s> <p50 ms> <p99 ms>"
max_rate() {
  wrk -t1 -c32 -d"${duration}s" --latency -s bench/predict.lua "http://$1/v1/components/phishing/predict" |
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
         function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
         END { printf "%.0f %.3f %.3f\n", rps, ms(p50), ms(p99) }'
}

# oha at a fixed rate: prints "<p50 ms> <p99 ms>"
at_rate() {
  "$oha" --no-tui --output-format json -z "${duration}s" -c 32 -q "$2" --latency-correction -m POST \
    -H 'content-type: application/json' -d "$body" "http://$1/v1/components/phishing/predict" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; print("%.3f %.3f %d" % (p["p50"]*1000, p["p99"]*1000, sum(v for k,v in d["statusCodeDistribution"].items() if k != "200")))'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start ceiling 127.0.0.1:18090 ./target/release/rein-bench-ceiling 127.0.0.1:18090
start rein 127.0.0.1:18080 ./target/release/rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:18080 --data-dir "$(mktemp -d)"

# sanity: rein answers with a decision
curl -sf "http://127.0.0.1:18080/v1/components/phishing/predict" -H 'content-type: application/json' -d "$body" | grep -q '"decision"'

declare -A rps p50 p99
for target in ceiling:127.0.0.1:18090 rein:127.0.0.1:18080; do
  name=${target%%:*}; addr=${target#*:}
  : > "/tmp/rein-bench-$name.runs"
  for _ in $(seq "$runs"); do max_rate "$addr" >> "/tmp/rein-bench-$name.runs"; done
  rps[$name]=$(cut -d' ' -f1 "/tmp/rein-bench-$name.runs" | median)
  p50[$name]=$(cut -d' ' -f2 "/tmp/rein-bench-$name.runs" | median)
  p99[$name]=$(cut -d' ' -f3 "/tmp/rein-bench-$name.runs" | median)
done

half=$(( ${rps[rein]} / 2 ))
read -r half_p50 half_p99 half_errors < <(at_rate 127.0.0.1:18080 "$half")
read -r chalf_p50 chalf_p99 _ < <(at_rate 127.0.0.1:18090 "$half")

ratio=$(python3 -c "print(f'{${rps[rein]}/${rps[ceiling]}:.0%}')")
mkdir -p bench/results
out="bench/results/load-$(date -u +%Y-%m-%d).md"
{
  echo "Load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t1 -c32 -d${duration}s, median of $runs runs; load generator on the same machine."
  echo
  echo "| target | max req/s | p50 ms | p99 ms | p50 ms at ${half} req/s | p99 ms at ${half} req/s |"
  echo "|---|---|---|---|---|---|"
  echo "| bare axum, constant JSON (ceiling) | ${rps[ceiling]} | ${p50[ceiling]} | ${p99[ceiling]} | $chalf_p50 | $chalf_p99 |"
  echo "| rein predict, phishing example | ${rps[rein]} | ${p50[rein]} | ${p99[rein]} | $half_p50 | $half_p99 |"
  echo
  echo "rein reaches $ratio of the ceiling's throughput; non-200 answers at the fixed rate: $half_errors."
} | tee "$out"
