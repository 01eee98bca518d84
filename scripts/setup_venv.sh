#!/usr/bin/env bash
# Creates the checkout's virtual environment and installs the pinned Python packages into it.
#   scripts/setup_venv.sh PYTHON VENV GPU(0|1)
set -euo pipefail
python=$1 venv=$2 gpu=${3:-0}
py=$venv/bin/python
test -x "$py" || "$python" -m venv "$venv"
pip=("$py" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" -r requirements/dev.txt
# Installed without their own requirements (see the file's comment).
"${pip[@]}" --no-deps -r requirements/nodeps.txt
if [[ "$gpu" == "1" ]]; then bash scripts/use_onnxruntime_gpu.sh "$py"; fi
