#!/usr/bin/env bash
# Swap the CPU build of ONNX Runtime for onnxruntime-gpu with its CUDA libraries from PyPI.
#
#   bash scripts/use_onnxruntime_gpu.sh PYTHON        (what `make run GPU=1` / `make test GPU=1` call)
#
# piper-tts requires the `onnxruntime` package; `onnxruntime` and `onnxruntime-gpu` install the same
# Python package folder, so both must never be installed at once. This script removes both, then
# installs onnxruntime-gpu with the CUDA runtime, cuBLAS, cuFFT, cuRAND and cuDNN wheels (the
# package's [cuda,cudnn] extras; no system CUDA needed, only the NVIDIA driver). rtvoice finds those
# libraries itself and uses the GPU when one answers; on a machine without one it stays on the CPU
# without error messages ("voice on CPU").
#
# To go back to the CPU build: PYTHON -m pip uninstall -y onnxruntime-gpu && PYTHON -m pip install
# onnxruntime==<version in requirements/runtime.txt>.
set -euo pipefail

PY="${1:?usage: use_onnxruntime_gpu.sh PYTHON}"
ORT_GPU_VERSION="${ORT_GPU_VERSION:-1.31.1}"   # the newest onnxruntime-gpu on PyPI when this was written

installed() { "$PY" -m pip show "$1" >/dev/null 2>&1; }

if installed onnxruntime-gpu && ! installed onnxruntime \
   && [ "$("$PY" -m pip show onnxruntime-gpu | sed -n 's/^Version: //p')" = "$ORT_GPU_VERSION" ]; then
  echo "onnxruntime-gpu $ORT_GPU_VERSION already in place"
else
  echo "Replacing onnxruntime with onnxruntime-gpu $ORT_GPU_VERSION and its CUDA libraries ..."
  # Remove both: they share files, so removing one after the other was installed over it breaks it.
  "$PY" -m pip uninstall -q -y onnxruntime onnxruntime-gpu >/dev/null 2>&1 || true
  "$PY" -m pip install -q --disable-pip-version-check "onnxruntime-gpu[cuda,cudnn]==$ORT_GPU_VERSION"
fi

"$PY" - <<'PYCODE'
import onnxruntime as ort
providers = ort.get_available_providers()
assert "CUDAExecutionProvider" in providers, f"onnxruntime-gpu installed but providers are {providers}"
print(f"onnxruntime {ort.__version__}: {', '.join(providers)} (rtvoice uses CUDA only when a GPU answers)")
PYCODE
