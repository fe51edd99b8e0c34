#!/usr/bin/env bash
# Installs the ONNX Runtime shared library rein loads at run time (ort, load-dynamic)
# into the project-local, git-ignored folder .rein/onnxruntime/.
#
# The library comes from the PyPI `onnxruntime` wheel: only the file
# onnxruntime/capi/libonnxruntime.so.<version> is extracted, nothing is installed
# into any Python environment. Idempotent: does nothing when the library is there.
#
# Afterwards, rein finds it on its own (it searches .rein/onnxruntime upward from
# the current directory), or export ORT_DYLIB_PATH=<printed path>.
set -euo pipefail

VERSION="1.22.1"
LIB="libonnxruntime.so.${VERSION}"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${root}/.rein/onnxruntime"
link="${dest}/libonnxruntime.so"

if [[ -f "${dest}/${LIB}" && -L "${link}" && -e "${link}" ]]; then
  echo "ONNX Runtime ${VERSION} is already installed: ${link}"
  exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then
  pip_cmd=(pip3)
elif command -v pip >/dev/null 2>&1; then
  pip_cmd=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  pip_cmd=(python3 -m pip)
else
  echo "error: pip is missing; it is needed to fetch the onnxruntime==${VERSION} wheel." >&2
  echo "       Install pip (e.g. 'apt-get install python3-pip'), or get ${LIB} yourself" >&2
  echo "       and set ORT_DYLIB_PATH to its path." >&2
  exit 1
fi
python="python3"
command -v python3 >/dev/null 2>&1 || python="python"

mkdir -p "${dest}"
if [[ ! -f "${dest}/${LIB}" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "${tmp}"' EXIT
  echo "Downloading the onnxruntime==${VERSION} wheel (library only, no install)..."
  "${pip_cmd[@]}" download --quiet --no-deps --only-binary=:all: "onnxruntime==${VERSION}" -d "${tmp}"
  wheel="$(ls "${tmp}"/onnxruntime-"${VERSION}"-*.whl 2>/dev/null | head -n 1 || true)"
  if [[ -z "${wheel}" ]]; then
    echo "error: pip did not download an onnxruntime ${VERSION} wheel for this platform." >&2
    exit 1
  fi
  "${python}" - "${wheel}" "${dest}" "${LIB}" <<'PY'
import os, shutil, sys, zipfile
wheel, dest, lib = sys.argv[1:4]
member = f"onnxruntime/capi/{lib}"
with zipfile.ZipFile(wheel) as z:
    try:
        info = z.getinfo(member)
    except KeyError:
        sys.exit(f"error: {member} is not in {os.path.basename(wheel)}")
    tmp = os.path.join(dest, lib + ".partial")
    with z.open(info) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(tmp, 0o755)
    os.replace(tmp, os.path.join(dest, lib))
PY
fi
ln -sfn "${LIB}" "${link}"
echo "ONNX Runtime ${VERSION} installed: ${link}"
