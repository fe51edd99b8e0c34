# Shared by the bench scripts (sourced, from the repository root).

# One predict request on the phishing example: every guardrail and the policy run on it.
predict_body='{"unit":"user-1","features":{"url_length":142,"num_dots":6,"num_hyphens":4,"has_ip_host":true,"uses_https":false,"domain_age_days":3,"num_subdomains":4,"suspicious_words":3,"tld_category":"new_gtld"}}'

# The ONNX Runtime library and a release build of rein.
build_rein() {
  bash scripts/setup-onnxruntime.sh >/dev/null
  export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
  cargo build --release --locked -p rein-cli "$@" 2>&1 | tail -1
}

# Waits until a server answers on ADDR, or fails.
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

# Starts rein on the phishing example in the background: serve_rein ADDR MODE LOG.
# Sets `pid`, stops the server and deletes its data when the script exits, and waits until
# it answers.
serve_rein() {
  rein_data=$(mktemp -d)
  ./target/release/rein serve examples/phishing-warning/rein.toml --addr "$1" --telemetry "$2" --data-dir "$rein_data" \
    > "$3" 2>&1 &
  pid=$!
  # the store goes with the server: a minute at the maximum writes gigabytes
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$rein_data"' EXIT
  wait_up "$1"
}
