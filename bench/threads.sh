#!/usr/bin/env bash
# Where the server's threads spend a fixed-rate load: for each rein binary, oha drives
# predict on the phishing example at RATE req/s (as bench/load.sh does below the maximum)
# and each thread's CPU time, time waiting for a core, and count of runs are read from
# /proc/PID/task/*/schedstat, summed by thread name (a thread that ended during the load,
# such as a blocking-pool thread idle for 10 s, is not counted).
#
#   bench/threads.sh MODE RATE SECONDS BINARY...     (MODE: off | durable | buffered)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="$1"; rate="$2"; seconds="$3"; shift 3
[ -r /proc/self/schedstat ] || { echo "this kernel keeps no /proc/PID/schedstat" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh
need_oha

addr=127.0.0.1:18076
url="http://$addr/v1/components/phishing/predict"
# "<tid> <name> <ns on a core> <ns waiting for one> <runs>" for every thread of $pid
threads() { for t in /proc/"$pid"/task/*; do echo "${t##*/} $(tr ' ' _ < "$t/comm") $(cat "$t/schedstat")"; done 2>/dev/null | sort; }
for bin in "$@"; do
  start_server "$bin" "$addr" "$mode" /tmp/rein-threads.log
  threads > /tmp/rein-threads-before
  report=$(oha_at_rate "$url" "$rate" "$seconds")
  threads > /tmp/rein-threads-after
  echo "$report" | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]
print("%s %s at %s req/s: p50 %.2f ms, p99 %.2f ms" % (sys.argv[1], sys.argv[2], sys.argv[3], p["p50"]*1000, p["p99"]*1000))' "$bin" "$mode" "$rate"
  # a thread that started during the load counts from zero
  join -a 2 -e 0 -o 2.1,2.2,1.3,1.4,1.5,2.3,2.4,2.5 /tmp/rein-threads-before /tmp/rein-threads-after |
    awk '{ name = $2; n[name]++; run[name] += ($6 - $3) / 1e6; wait[name] += ($7 - $4) / 1e6; slices[name] += $8 - $5 }
         END { for (k in n) if (run[k] >= 1 || n[k] > 1)
                 printf "  %-18s %4d threads: %7.0f ms on a core, %7.0f ms waiting for one, %7d runs\n", k, n[k], run[k], wait[k], slices[k] }' |
    sort -k4 -rn
  stop_server
done
