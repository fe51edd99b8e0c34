#!/usr/bin/env bash
# Runs rein's whole test suite. Installs what it needs when it is missing:
# the ONNX Runtime library (from the PyPI wheel, into .rein/onnxruntime).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-onnxruntime.sh
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"

cargo test --workspace --locked "$@"
