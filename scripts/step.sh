#!/usr/bin/env bash
# One set-up step of `make`: a single progress line with its time; the full output goes to a log file
# that is printed only when the step fails.
#   scripts/step.sh "what it does" LOGFILE COMMAND [ARG...]
set -uo pipefail
what=$1 log=$2
shift 2
mkdir -p "$(dirname "$log")"
printf '%-44s' "== $what ..."
start=$(date +%s.%N)
"$@" >"$log" 2>&1
status=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [[ $status -eq 0 ]]; then
  echo " done in ${elapsed} s (log: $log)"
else
  echo " FAILED after ${elapsed} s (exit $status); full log, $log:"
  cat "$log"
  exit $status
fi
