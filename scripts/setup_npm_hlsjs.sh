#!/usr/bin/env bash
# Installs the hls.js browser player from the npm registry into the virtual environment, for the HLS subtitle
# test (tests/test_hls_vtt.py):
#   scripts/setup_npm_hlsjs.sh VENV
# The pin (version, npm's sha512 integrity, the files kept: dist/hls.min.js and LICENSE) is
# requirements/npm-hlsjs.json; the fetching, the integrity check and the unpacking into
# VENV/share/rtvoice/hls.js/ are setup_npm_voices.sh's (a fast no-op once that version is there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/setup_npm_voices.sh" "$1" "$here/../requirements/npm-hlsjs.json"
