#!/usr/bin/env bash
# Builds rein and serves the phishing-warning example on 127.0.0.1:8080 (or $REIN_ADDR).
# Installs the ONNX Runtime library (from the PyPI wheel, into .rein/onnxruntime) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-onnxruntime.sh
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"
addr="${REIN_ADDR:-127.0.0.1:8080}"

cargo build --release --locked -p rein-cli
./target/release/rein check examples/phishing-warning/rein.toml

cat <<MSG

Serving examples/phishing-warning on http://$addr — in another terminal, try:

  curl -s http://$addr/v1/components/phishing/predict -H 'content-type: application/json' -d '{
    "unit": "user-42",
    "features": {"url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
                 "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"}
  }'

Stop with Ctrl-C.
MSG
exec ./target/release/rein serve examples/phishing-warning/rein.toml --addr "$addr" --data-dir .rein/data
