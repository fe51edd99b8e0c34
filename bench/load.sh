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

data=$(mktemp -d)
start ceiling 127.0.0.1:18090 ./target/release/rein-bench-ceiling 127.0.0.1:18090
start rein-off 127.0.0.1:18081 ./target/release/rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:18081 --telemetry off --data-dir "$data/off"
start rein-durable 127.0.0.1:18082 ./target/release/rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:18082 --telemetry durable --data-dir "$data/durable"
start rein-buffered 127.0.0.1:18083 ./target/release/rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:18083 --telemetry buffered --data-dir "$data/buffered"

# sanity: rein answers with a decision
for port in 18081 18082 18083; do
  curl -sf "http://127.0.0.1:$port/v1/components/phishing/predict" -H 'content-type: application/json' -d "$body" | grep -q '"decision"'
done

targets="ceiling:127.0.0.1:18090 rein-off:127.0.0.1:18081 rein-durable:127.0.0.1:18082 rein-buffered:127.0.0.1:18083"
declare -A rps p50 p99 hp50 hp99 herr
for target in $targets; do
  name=${target%%:*}; addr=${target#*:}
  : > "/tmp/rein-bench-$name.runs"
  for _ in $(seq "$runs"); do max_rate "$addr" >> "/tmp/rein-bench-$name.runs"; done
  rps[$name]=$(cut -d' ' -f1 "/tmp/rein-bench-$name.runs" | median)
  p50[$name]=$(cut -d' ' -f2 "/tmp/rein-bench-$name.runs" | median)
  p99[$name]=$(cut -d' ' -f3 "/tmp/rein-bench-$name.runs" | median)
done

# latency at half of rein's maximum rate (telemetry off), the same rate for every target
half=$(( ${rps[rein-off]} / 2 ))
for target in $targets; do
  name=${target%%:*}; addr=${target#*:}
  read -r hp50[$name] hp99[$name] herr[$name] < <(at_rate "$addr" "$half")
done

ratio() { python3 -c "print(f'{$1/$2:.0%}')"; }
mkdir -p bench/results
out="bench/results/load-$(date -u +%Y-%m-%d).md"
{
  echo "Load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t1 -c32 -d${duration}s, median of $runs runs; oha at a fixed ${half} req/s for ${duration}s; load generator on the same machine."
  echo
  echo "| target | max req/s | vs ceiling | p50 ms | p99 ms | p50 ms at ${half} req/s | p99 ms at ${half} req/s | non-200 at ${half} req/s |"
  echo "|---|---|---|---|---|---|---|---|"
  for target in $targets; do
    name=${target%%:*}
    echo "| $name | ${rps[$name]} | $(ratio "${rps[$name]}" "${rps[ceiling]}") | ${p50[$name]} | ${p99[$name]} | ${hp50[$name]} | ${hp99[$name]} | ${herr[$name]} |"
  done
  echo
  echo "ceiling: bare axum handler returning constant JSON. rein-*: POST /v1/components/phishing/predict on examples/phishing-warning (schema, 4 guardrails, expected-value policy, frequency cap) with telemetry off, durable (answered after the group commit; SQLite WAL, synchronous=NORMAL: survives a crash of rein, not power loss; `[telemetry] fsync = true` for power loss) or buffered."
  echo "Telemetry cost: durable keeps $(ratio "${rps[rein-durable]}" "${rps[rein-off]}") of the telemetry-off throughput, buffered $(ratio "${rps[rein-buffered]}" "${rps[rein-off]}")."
} | tee "$out"
