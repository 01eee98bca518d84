#!/usr/bin/env bash
# Builds the native core in place (rtvoice/_core*.so, so the checkout is importable) with the native test
# programs, and installs the `rtvoice` command into the virtual environment.
#   scripts/build_native.sh PYTHON BUILD_DIR JOBS
set -euo pipefail
py=$1 build=$2 jobs=$3
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$root/$py" \
    -DRTVOICE_OUTPUT_DIR="$root/rtvoice" -DRTVOICE_BUILD_TESTS=ON
fi
cmake --build "$build" -j "$jobs" -- --no-print-directory
ls "$root"/rtvoice/_core*.so >/dev/null 2>&1 || { echo "native build produced no rtvoice/_core*.so"; exit 1; }
"$py" "$root/scripts/install_dev_entry_points.py" "$root"
