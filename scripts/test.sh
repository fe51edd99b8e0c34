#!/usr/bin/env bash
# Runs rein's whole test suite: formatting, clippy (warnings are errors), every test.
# Installs what it needs when it is missing:
# the ONNX Runtime library (from the PyPI wheel, into .rein/onnxruntime), and into
# .rein/pylib the standard Triton OIP v2 client (the protocol check) and pyarrow (an
# export read back as a data scientist reads it), and Debian's chromium (the report rendered).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-onnxruntime.sh
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"

pylib_ok=1
if [ ! -d .rein/pylib/tritonclient ] || [ ! -d .rein/pylib/pyarrow ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target .rein/pylib "tritonclient[http]" numpy pyarrow ||
    { pylib_ok=0; echo "SKIPPED the Python clients' checks: pip could not install tritonclient[http] and pyarrow"; }
fi
export REIN_PYLIB="$PWD/.rein/pylib"

# Headless Chromium renders `rein report`'s page in its test (Debian's package).
if ! command -v chromium >/dev/null 2>&1; then
  { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null 2>&1 ||
    echo "SKIPPED the report's Chromium check: apt-get could not install chromium"
fi
if command -v chromium >/dev/null 2>&1; then export REIN_REQUIRE_CHROMIUM=1; fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"

# Open Inference Protocol v2: a standard client (tritonclient) against a real rein.
[ "$pylib_ok" = 1 ] || exit 0
cargo build --locked -q -p rein-cli
log=$(mktemp)
./target/debug/rein serve examples/phishing-warning/rein.toml --addr 127.0.0.1:0 --telemetry off >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
addr=$(sed -n 's|.*listening on http://\([^,]*\),.*|\1|p' "$log")
[ -n "$addr" ] || { cat "$log"; echo "rein did not start for the tritonclient check"; exit 1; }
PYTHONPATH=.rein/pylib python3 scripts/oip_client_check.py "$addr"
