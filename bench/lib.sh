# Shared by the bench scripts (sourced, from the repository root).

# One predict request on the phishing example: every guardrail and the policy run on it.
predict_body='{"unit":"user-1","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,"uses_https":false,"domain_age_days":3,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'

# wrk's answers other than 2xx/3xx, which it counts in its req/s (e.g. 503
# telemetry_unavailable once the store's backlog is full): not_2xx WRK_OUTPUT REQ_PER_S prints
# ", B of N answers not 2xx: R answered a second", or nothing when every answer was 2xx.
not_2xx() {
  echo "$1" | awk '/requests in/ {n = $1} /Non-2xx or 3xx responses/ {b = $NF}
    END {if (b) printf ", %d of %d answers not 2xx: %d answered a second", b, n, '"$2"' * (n - b) / n}'
}

# oha, installed into .rein/tools if missing.
need_oha() { [ -x .rein/tools/bin/oha ] || cargo install oha --locked --root .rein/tools; }

# oha's JSON report of predict at a fixed rate, coordinated-omission corrected:
# oha_at_rate URL RATE SECONDS [CONNECTIONS=32].
oha_at_rate() {
  .rein/tools/bin/oha --no-tui --output-format json -z "$3s" -c "${4:-32}" -q "$2" --latency-correction \
    -m POST -H 'content-type: application/json' -d "$predict_body" "$1"
}

# The ONNX Runtime library and a release build of rein.
build_rein() {
  bash scripts/setup-onnxruntime.sh >/dev/null
  export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
  cargo build --release --locked -p rein-cli "$@" 2>&1 | tail -1
}

# CPU seconds (user and system, every thread) process PID has used: cpu_seconds PID.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{t += $14 + $15} END {printf "%.2f", t / hz}' /proc/"$1"/task/*/stat; }

# Waits until a server answers on ADDR, or fails.
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

# Starts a rein binary on the phishing example in the background, waits until it answers
# and warms it up with two seconds of wrk: start_server BINARY ADDR MODE LOG. Sets `pid`
# and `rein_data`, the store's directory, which stop_server deletes.
start_server() {
  rein_data=$(mktemp -d)
  "$1" serve examples/phishing-warning/rein.toml --addr "$2" --telemetry "$3" --data-dir "$rein_data" > "$4" 2>&1 &
  pid=$!
  wait_up "$2"
  wrk -t1 -c32 -d2s -s bench/predict.lua "http://$2/v1/components/phishing/predict" > /dev/null
}

# Stops the server start_server started and deletes its store: a minute at the maximum
# writes gigabytes.
stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$rein_data"
}

# The release build on the phishing example, stopped when the script exits: serve_rein ADDR MODE LOG.
serve_rein() {
  start_server ./target/release/rein "$@"
  trap stop_server EXIT
}
