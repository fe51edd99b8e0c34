#!/usr/bin/env bash
# System calls and context switches a request, for rein binaries at wrk's maximum rate on
# the phishing example (as bench/load.sh), counted by `perf stat` on the server process.
#
#   bench/syscalls.sh MODE BINARY...     (MODE: off | durable | buffered)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="$1"; shift
command -v perf >/dev/null || { echo "perf is missing: apt-get install -y linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
source bench/lib.sh

addr=127.0.0.1:18077
url="http://$addr/v1/components/phishing/predict"
events=syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,raw_syscalls:sys_enter,context-switches
for bin in "$@"; do
  start_server "$bin" "$addr" "$mode" /tmp/rein-syscalls.log
  wrk -t1 -c32 -d8s -s bench/predict.lua "$url" > /tmp/rein-syscalls-wrk.txt &
  load=$!
  sleep 1
  perf stat -x, -e "$events" -p "$pid" -- sleep 6 2> /tmp/rein-syscalls-stat.txt > /dev/null
  wait "$load"
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/rein-syscalls-wrk.txt)
  echo "$bin $mode: $(printf '%.0f' "$rps") req/s; a request:" \
    "$(awk -F, -v n="$rps" '$1 ~ /^[0-9]/ {sub(/^syscalls:sys_enter_|^raw_syscalls:sys_enter/, "", $3); printf "%s %.3f, ", ($3 == "" ? "all system calls" : $3), $1 / (n * 6)}' /tmp/rein-syscalls-stat.txt)"
  stop_server
done
