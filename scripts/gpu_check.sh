#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: sets up the GPU packages (what `make run GPU=1` does:
# onnxruntime-gpu with its CUDA libraries in place of onnxruntime), then prints one table: Whisper on
# CUDA (encode/decode time, real-time factor), the voice's first audio on the CUDA provider, and the
# server's capacity with cross-stream batching (streams whose final p95 stays <= 1.0 s). Under 8 minutes.
#
#   bash scripts/gpu_check.sh [PYTHON]        (default: .venv/bin/python)
#
# Exits 1 with one line where CUDA is missing (no driver, no GPU, or CTranslate2 sees none); the CPU path
# stays the tested default and this script changes nothing there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${1:-.venv/bin/python}
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no CUDA GPU here (nvidia-smi missing or sees no GPU); nothing measured" >&2
  exit 1
fi
if ! "$py" -c "import ctranslate2, sys; sys.exit(0 if ctranslate2.get_cuda_device_count() > 0 else 1)"; then
  echo "gpu_check: CTranslate2 sees no CUDA device (driver/CUDA runtime mismatch?); nothing measured" >&2
  exit 1
fi
nvidia-smi -L
bash scripts/use_onnxruntime_gpu.sh "$py"
timeout 420 "$py" scripts/gpu_check.py
