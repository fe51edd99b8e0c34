#!/usr/bin/env bash
# Builds rein and runs its demo: the phishing-warning example served on the embedded
# store while a simulated week of users browses against it (drift, a phishing campaign,
# a broken feature, a surge). Interactive: afterwards it keeps serving and prints curls.
#
#   scripts/demo.sh [EXAMPLE] [rein demo options, e.g. --scale 0.2 --seed 7]
#
# Installs the ONNX Runtime library (from the PyPI wheel, into .rein/onnxruntime) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-onnxruntime.sh
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.rein/onnxruntime/libonnxruntime.so}"

cargo build --release --locked -p rein-cli
keep=()
[ -t 0 ] && [ -t 1 ] && keep=(--keep-serving)
exec ./target/release/rein demo "$@" "${keep[@]}"
