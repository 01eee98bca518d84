#!/usr/bin/env bash
# Sanitizer builds of the native core.
#   asan: ASan+UBSan build of rtvoice._core, the Python tests that exercise native code run against it,
#         plus every native test program.
#   tsan: ThreadSanitizer build of the native test programs (ring buffer and front-end threads).
# Usage: scripts/sanitize.sh asan|tsan PYTHON BUILD_DIR JOBS
set -euo pipefail
mode=$1 py=$2 build=$3 jobs=${4:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

configure() {
  mkdir -p "$build"
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE="$root/$py" "$@" \
      >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
  fi
  cmake --build "$build" -j "$jobs" 2>&1 | grep -E "error|warning: " || true
}

run_native_tests() {
  local status=0
  for t in "$build"/test_*; do
    [[ -x "$t" ]] || continue
    echo "  $(basename "$t")"
    # Scaled-down workloads: the sanitizers slow code 5-15x.
    if ! "$t" 1000000; then echo "FAILED: $t under $mode" >&2; status=1; fi
  done
  return $status
}

case "$mode" in
  asan)
    echo "== ASan+UBSan: building rtvoice._core and native tests in $build"
    stage="$build/stage"
    configure -DRTVOICE_SANITIZE=address,undefined -DRTVOICE_BUILD_TESTS=ON -DRTVOICE_OUTPUT_DIR="$root/$stage/rtvoice"
    # Stage the Python package beside the sanitized module so the tests import this build.
    "$py" -c "import shutil, sys; shutil.copytree('rtvoice', sys.argv[1], dirs_exist_ok=True,
        ignore=shutil.ignore_patterns('*.so', '__pycache__'))" "$stage/rtvoice"
    # Model manifests: rtvoice.models looks for them beside the package (tests load the Silero VAD).
    "$py" -c "import shutil, sys; shutil.copytree('models', sys.argv[1], dirs_exist_ok=True)" "$stage/models"
    # Reports go to files as well: pytest captures stderr, and a process that dies cannot print it.
    reports="$root/$build/reports"; rm -rf "$reports"; mkdir -p "$reports"
    export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:verify_asan_link_order=0:detect_stack_use_after_return=0:log_path=$reports/asan
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
    echo "== ASan+UBSan: native test programs"
    run_native_tests
    preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    mapfile -t native_tests < <(ls tests/test_{ring_buffer,features,lstm,vad,vad_level,silero*,endpoint*,denois*,dc_blocker,callback_meter,frontend*}.py 2>/dev/null || true)
    echo "== ASan+UBSan: ${#native_tests[@]} Python test files against the sanitized module"
    if ! RTVOICE_SANITIZED=1 LD_PRELOAD="$preload" PYTHONPATH="$root/$stage" PYTHONFAULTHANDLER=1 \
        "$py" -P -m pytest -q -p no:cacheprovider -m "not slow" "${native_tests[@]}"; then  # -P: not the checkout first
      echo "sanitized test run failed; sanitizer reports:" >&2
      cat "$reports"/* 2>/dev/null >&2 || echo "(none written)" >&2
      exit 1
    fi
    ;;
  tsan)
    echo "== TSan: building native test programs in $build"
    configure -DRTVOICE_SANITIZE=thread -DRTVOICE_BUILD_PYTHON=OFF -DRTVOICE_BUILD_TESTS=ON
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    run_native_tests
    ;;
  *)
    echo "usage: $0 asan|tsan PYTHON BUILD_DIR JOBS" >&2; exit 2 ;;
esac
