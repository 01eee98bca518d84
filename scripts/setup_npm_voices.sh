#!/usr/bin/env bash
# Installs the Kokoro v1.0 voice vectors from the npm registry into the virtual environment.
#   scripts/setup_npm_voices.sh VENV [MANIFEST]
# `npm pack` fetches the pinned package tarball (models/kokoro-v1-voices.json: package, version and npm's
# sha512 integrity); the tarball is checked against that integrity and only the files the manifest names
# (voices/*.bin, LICENSE) are unpacked, into VENV/share/rtvoice/PACKAGE/ (rtvoice.models finds them there;
# each file's sha256 is checked when it is loaded and by `rtvoice models`). Nothing of the package's
# JavaScript is kept. A fast no-op when that version is already unpacked. npm comes from PATH, else from
# Debian's `npm` package (node may come from elsewhere, so it is not one of the Makefile's APT_PACKAGES).
set -euo pipefail
venv=$1
manifest=${2:-models/kokoro-v1-voices.json}
here=$(cd "$(dirname "$0")" && pwd)
py=$venv/bin/python
[[ -x "$py" ]] || py=python3

# package, version, integrity, then the files to unpack, one a line
mapfile -t fields < <("$py" -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m.get("registry") == "npm", "not an npm manifest"
print(m["package"]); print(m["package_version"]); print(m["integrity"])
print("\n".join(sorted(m["files"])))' "$manifest")
package=${fields[0]} version=${fields[1]} integrity=${fields[2]}
files=("${fields[@]:3}")
dest=$venv/share/rtvoice/$package
record="$package $version $integrity"

if [[ -f "$dest/INSTALLED" && "$(cat "$dest/INSTALLED")" == "$record" ]]; then
  complete=1
  for f in "${files[@]}"; do [[ -f "$dest/$f" ]] || { complete=0; break; }; done
  if [[ $complete == 1 ]]; then echo "$package $version already unpacked in $dest"; exit 0; fi
fi

if ! command -v npm >/dev/null; then
  echo "npm is not on PATH: installing Debian's npm"
  bash "$here/ensure_system_packages.sh" npm
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball=$(ls "$work"/*.tgz)
actual="sha512-$("$py" -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")"
if [[ "$actual" != "$integrity" ]]; then
  echo "$package@$version: the tarball's integrity is $actual, the manifest pins $integrity" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked" "${files[@]/#/package/}"
echo "$record" >"$work/unpacked/package/INSTALLED"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.old"
[[ -e "$dest" ]] && mv "$dest" "$dest.old"
mv "$work/unpacked/package" "$dest"
rm -rf "$dest.old"
echo "$package $version ($integrity) unpacked into $dest: ${#files[@]} files"
