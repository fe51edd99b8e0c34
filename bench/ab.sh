#!/usr/bin/env bash
# Before and after, in the same minutes: rein binaries (say, builds of two commits) take
# turns at wrk's maximum rate on the phishing example, round after round, as in
# bench/load.sh. Prints req/s and the server's CPU µs a request for each turn; with
# RATE=N set, also the p50/p99 latency and the server's CPU µs a request at N req/s (oha,
# coordinated-omission corrected, as in bench/load.sh, over CONNECTIONS connections: 32
# unless set).
#
#   [RATE=N] bench/ab.sh SECONDS ROUNDS MODE BINARY...     (MODE: off | durable | buffered)
#
# e.g. git worktree add /tmp/before HEAD~1 && (cd /tmp/before && cargo build --release -p rein-cli)
#      bench/ab.sh 8 3 durable /tmp/before/target/release/rein target/release/rein
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; rounds="$2"; mode="$3"; shift 3
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh

if [ -n "${RATE:-}" ]; then need_oha; fi
addr=127.0.0.1:18081
url="http://$addr/v1/components/phishing/predict"
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    start_server "$bin" "$addr" "$mode" /tmp/rein-ab.log
    before=$(cpu_seconds "$pid")
    out=$(wrk -t1 -c32 -d"${seconds}s" -s bench/predict.lua "$url")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
    bad=$(not_2xx "$out" "$rps")
    cpu=$(python3 -c "print(f'{($(cpu_seconds "$pid") - $before) / ($rps * $seconds) * 1e6:.1f}')")
    tail=""
    if [ -n "${RATE:-}" ]; then
      before=$(cpu_seconds "$pid")
      report=$(oha_at_rate "$url" "$RATE" "$seconds" "${CONNECTIONS:-32}")
      used=$(python3 -c "print($(cpu_seconds "$pid") - $before)")
      tail=$(echo "$report" | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["latencyPercentiles"]; n=sum(d["statusCodeDistribution"].values())
print(", at %s req/s over %s connections p50 %.2f ms, p99 %.2f ms, %.1f µs of server CPU a request" % (sys.argv[1], sys.argv[3], p["p50"]*1000, p["p99"]*1000, float(sys.argv[2]) / n * 1e6))' "$RATE" "$used" "${CONNECTIONS:-32}")
    fi
    echo "$bin $mode: $rps req/s, $cpu µs of server CPU a request$bad$tail"
    stop_server
  done
done
