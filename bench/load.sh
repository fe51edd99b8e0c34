#!/usr/bin/env bash
# Load benchmark: rein's predict on the phishing example (every guardrail and the
# experience policy on) against a bare axum handler returning constant JSON (the ceiling),
# in the same run on the same machine.
#
#   bench/load.sh [DURATION_SECONDS=20] [RUNS=3]
#
# Max throughput: wrk, 1 thread, 32 connections. Latency at half the max rate: oha with a
# fixed request rate (coordinated-omission corrected). Every measurement is taken RUNS times,
# the targets in turns, and the median reported. Prints a markdown table and writes it,
# with every turn, to bench/results/load-<date>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
runs="${2:-3}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
source bench/lib.sh
need_oha
build_rein -p rein-bench-ceiling

pid=""
data=$(mktemp -d)
# Each turn's store is deleted with it: a turn at the maximum writes about a gigabyte.
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT


url_of() { echo "http://$1/v1/components/phishing/predict"; }

# wrk: prints "<req/s> <p50 ms> <p99 ms>"; answers other than 2xx, which wrk counts in its
# req/s, are said on stderr (not_2xx)
max_rate() {
  local out
  out=$(wrk -t1 -c32 -d"${2:-$duration}s" --latency -s bench/predict.lua "$(url_of "$1")")
  local rps
  rps=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
  local bad
  bad=$(not_2xx "$out" "$rps")
  [ -z "$bad" ] || echo "$1: wrk's $rps req/s$bad" >&2
  echo "$out" |
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
         function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
         END { printf "%.0f %.3f %.3f\n", rps, ms(p50), ms(p99) }'
}

# oha at a fixed rate: prints "<p50 ms> <p99 ms> <non-200 answers>"
at_rate() {
  oha_at_rate "$(url_of "$1")" "$2" "$duration" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; print("%.3f %.3f %d" % (p["p50"]*1000, p["p99"]*1000, sum(v for k,v in d["statusCodeDistribution"].items() if k != "200")))'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

addr=127.0.0.1:18080
targets="ceiling rein-off rein-durable rein-buffered"
declare -A rps p50 p99 cpu hp50 hp99 herr dp99 derr

# Each target runs alone, so that no idle server's background work (a buffered writer
# draining its queue, a checkpoint) lands in another target's figures; and the targets
# take turns, run after run, so that a slow minute of a shared machine lands on all of them.
start() { # name
  local name=$1
  case $name in
    ceiling) ./target/release/rein-bench-ceiling "$addr" > /tmp/rein-bench-ceiling.log 2>&1 & ;;
    rein-*) serve "${name#rein-}" > "/tmp/rein-bench-$name.log" 2>&1 & ;;
  esac
  pid=$!
  wait_up "$addr"
  if [ "$name" != ceiling ]; then
    curl -sf "$(url_of "$addr")" -H 'content-type: application/json' -d "$predict_body" | grep -q '"decision"'
  fi
  max_rate "$addr" 3 > /dev/null # warm-up
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; rm -rf "${data:?}"/*; }
serve() { exec ./target/release/rein serve examples/phishing-warning/rein.toml --addr "$addr" --telemetry "$1" --data-dir "$data/$1-$RANDOM"; }

for name in $targets; do : > "/tmp/rein-bench-$name.runs"; done
for _ in $(seq "$runs"); do
  for name in $targets; do
    start "$name"
    before=$(cpu_seconds "$pid")
    read -r r a b < <(max_rate "$addr")
    # server CPU per request in µs: what the target costs, whatever else the machine runs
    c=$(python3 -c "print(f'{($(cpu_seconds "$pid") - $before) / ($r * $duration) * 1e6:.1f}')")
    echo "$r $a $b $c" >> "/tmp/rein-bench-$name.runs"
    stop
  done
done
for name in $targets; do
  f="/tmp/rein-bench-$name.runs"
  rps[$name]=$(cut -d' ' -f1 "$f" | median); p50[$name]=$(cut -d' ' -f2 "$f" | median)
  p99[$name]=$(cut -d' ' -f3 "$f" | median); cpu[$name]=$(cut -d' ' -f4 "$f" | median)
done

# Tails at fixed rates, in turns as above, median of the runs (the sum of non-200 answers):
# tails move with the machine's neighbours even more than the maximum does.
# at_rates RATE NAME... : fills /tmp/rein-bench-NAME.rate with "p50 p99 non-200" per turn
at_rates() {
  local rate=$1; shift
  for name in "$@"; do : > "/tmp/rein-bench-$name.rate"; done
  for _ in $(seq "$runs"); do
    for name in "$@"; do
      start "$name"
      at_rate "$addr" "$rate" >> "/tmp/rein-bench-$name.rate"
      stop
    done
  done
}
rate_median() { cut -d' ' -f"$2" "/tmp/rein-bench-$1.rate" | median; }
rate_errors() { awk '{s += $3} END {print s + 0}' "/tmp/rein-bench-$1.rate"; }

# half of rein's maximum with telemetry off is the fixed rate for every target
half=$(( ${rps[rein-off]} / 2 ))
at_rates "$half" $targets
for name in $targets; do
  hp50[$name]=$(rate_median "$name" 1); hp99[$name]=$(rate_median "$name" 2); herr[$name]=$(rate_errors "$name")
  cp "/tmp/rein-bench-$name.rate" "/tmp/rein-bench-$name.half"
done

# What durable telemetry adds to the tail at a rate it sustains: half of durable's own
# maximum, for rein with telemetry off, durable and buffered.
dhalf=$(( ${rps[rein-durable]} / 2 ))
at_rates "$dhalf" rein-off rein-durable rein-buffered
for name in rein-off rein-durable rein-buffered; do
  dp99[$name]=$(rate_median "$name" 2); derr[$name]=$(rate_errors "$name")
done

ratio() { python3 -c "print(f'{$1/$2:.0%}')"; }
mkdir -p bench/results
out="bench/results/load-$(date -u +%Y-%m-%d).md"
{
  echo "Load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), wrk -t1 -c32 -d${duration}s, median of $runs runs taken in turns; oha at a fixed ${half} req/s for ${duration}s, also median of $runs turns; load generator on the same machine."
  echo
  echo "| target | max req/s | vs ceiling | server CPU µs/req | p50 ms | p99 ms | p50 ms at ${half} req/s | p99 ms at ${half} req/s | non-200 at ${half} req/s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for name in $targets; do
    echo "| $name | ${rps[$name]} | $(ratio "${rps[$name]}" "${rps[ceiling]}") | ${cpu[$name]} | ${p50[$name]} | ${p99[$name]} | ${hp50[$name]} | ${hp99[$name]} | ${herr[$name]} |"
  done
  echo
  echo "ceiling: bare axum handler returning constant JSON. rein-*: POST /v1/components/phishing/predict on examples/phishing-warning (schema, 4 guardrails, expected-value policy, frequency cap) with telemetry off, durable (answered once its group is appended to the journal, loaded into SQLite in batches of up to 512; no fsync: survives a crash of rein, not power loss; \`[telemetry] fsync = true\` for power loss) or buffered."
  echo "Telemetry cost: durable keeps $(ratio "${rps[rein-durable]}" "${rps[rein-off]}") of the telemetry-off throughput, buffered $(ratio "${rps[rein-buffered]}" "${rps[rein-off]}")."
  echo "At ${dhalf} req/s (half of durable's maximum): p99 $(for n in rein-off rein-durable rein-buffered; do printf '%s %s ms (non-200: %s); ' "${n#rein-}" "${dp99[$n]}" "${derr[$n]}"; done)durable adds $(python3 -c "print(f'{${dp99[rein-durable]} - ${dp99[rein-off]}:.2f}')") ms to telemetry-off's p99."
  echo "Server CPU per request: rein with telemetry off spends $(python3 -c "print(f'{${cpu[rein-off]} - ${cpu[ceiling]}:.1f}')") µs more than the ceiling; durable telemetry adds $(python3 -c "print(f'{${cpu[rein-durable]} - ${cpu[rein-off]}:.1f}')") µs, buffered $(python3 -c "print(f'{${cpu[rein-buffered]} - ${cpu[rein-off]}:.1f}')") µs."
  echo
  echo "Each turn at the maximum, in order (req/s, p50 ms, p99 ms, server CPU µs/req):"
  for name in $targets; do echo "- $name: $(paste -sd';' "/tmp/rein-bench-$name.runs" | sed 's/;/; /g')"; done
  echo
  echo "Each turn at ${half} req/s (p50 ms, p99 ms, non-200):"
  for name in $targets; do echo "- $name: $(paste -sd';' "/tmp/rein-bench-$name.half" | sed 's/;/; /g')"; done
  echo
  echo "Each turn at ${dhalf} req/s (p50 ms, p99 ms, non-200):"
  for name in rein-off rein-durable rein-buffered; do echo "- $name: $(paste -sd';' "/tmp/rein-bench-$name.rate" | sed 's/;/; /g')"; done
} | tee "$out"
