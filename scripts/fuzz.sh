#!/usr/bin/env bash
# Runs every atheris harness tests/fuzz/fuzz_*.py for SECONDS each, on a copy of its seed corpus
# (tests/fuzz/corpus/<name>/), so new inputs never land in the checkout. Crashes are saved to
# build/fuzz/crashes/. With an ASan build staged (make asan), the harnesses run against it.
# Usage: scripts/fuzz.sh PYTHON SECONDS
set -euo pipefail
py=$1 seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build/fuzz/crashes
env_prefix=(env PYTHONPATH="$root")
if [[ -f build/asan/stage/rtvoice/__init__.py ]] && ls build/asan/stage/rtvoice/_core*.so >/dev/null 2>&1; then
  preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  env_prefix=(env PYTHONPATH="$root/build/asan/stage" LD_PRELOAD="$preload"
              ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 UBSAN_OPTIONS=halt_on_error=1)
  echo "== fuzzing against the ASan+UBSan build, ${seconds}s per harness"
else
  echo "== fuzzing, ${seconds}s per harness"
fi
status=0
for harness in tests/fuzz/fuzz_*.py; do
  name=$(basename "$harness" .py); name=${name#fuzz_}
  work="build/fuzz/corpus-$name"
  rm -rf "$work"; mkdir -p "$work"
  [[ -d tests/fuzz/corpus/$name ]] && cp -r tests/fuzz/corpus/$name/. "$work/"
  if "${env_prefix[@]}" "$py" "$harness" "$work" -max_total_time="$seconds" -rss_limit_mb=4096 \
       -artifact_prefix="build/fuzz/crashes/$name-" >"build/fuzz/$name.log" 2>&1; then
    echo "  $name: ok ($(grep -Eo '#[0-9]+' "build/fuzz/$name.log" | tail -1 | tr -d '#') runs)"
  else
    echo "  $name: FAILED, see build/fuzz/$name.log and build/fuzz/crashes/" >&2
    tail -30 "build/fuzz/$name.log" >&2
    status=1
  fi
done
exit $status
