#!/usr/bin/env bash
# Where rein's server spends its CPU under load: perf with DWARF call graphs while wrk
# drives predict on the phishing example at the maximum rate (as bench/load.sh does).
#
#   bench/profile.sh [MODE=off|durable|buffered] [SECONDS=4]
#
# Prints the share of the server's CPU samples under each step of the request path
# (inclusive), the mean rows per batched model call and events per telemetry commit.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-off}"; seconds="${2:-4}"
command -v perf >/dev/null || { echo "perf is missing: apt-get install -y linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
source bench/lib.sh
build_rein

addr=127.0.0.1:18078
url="http://$addr/v1/components/phishing/predict"
serve_rein "$addr" "$mode" /tmp/rein-profile.log

wrk -t1 -c32 -d"$((seconds + 3))s" -s bench/predict.lua "$url" > /tmp/rein-profile-wrk.txt &
load=$!
sleep 1
perf record -F 499 --call-graph dwarf,16384 -p "$pid" -o /tmp/rein-profile.data -- sleep "$seconds" 2> /dev/null
wait "$load"
echo "telemetry $mode: $(awk '/Requests\/sec/ {print int($2)}' /tmp/rein-profile-wrk.txt) req/s under perf"
curl -s "http://$addr/metrics" | awk '/^rein_model_batch_rows_sum/ {s=$2} /^rein_model_batch_rows_count/ {c=$2}
  /^rein_telemetry_events_total\{state="written"\}/ {w=$2} /^rein_telemetry_commits_total/ {k=$2}
  END { if (c > 0) printf "model calls: %.1f rows a call on average\n", s / c
        if (k > 0) printf "telemetry: %.1f events a commit on average\n", w / k }'

# inclusive share of samples per step; names are the functions of the request path
perf report -i /tmp/rein-profile.data --children --sort sym --stdio -g none 2> /dev/null |
  awk '/%/ && !/inlined/' |
  grep -E 'rein_server::predict::(decide|parse|record)|Served as rein_decision::model::Model>::infer$|Scope::fires|Variables::new|Output::to_cel|schema::validate|FrequencyLimiter::apply|__GI___writev|ComponentMetrics::request|Output>::serialize|Decision>::serialize|prediction_event|Sender<T>::try_send|Worker::run|SqliteStore as rein_telemetry::store::Store>::write_batch|wal_checkpoint' |
  awk '{ pct = $1; sub(/%/, "", pct); $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); share[$0] += pct }
       END { for (name in share) printf "%6.2f%%  %s\n", share[name], name }' | sort -rn
