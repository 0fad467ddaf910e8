#!/usr/bin/env bash
# build_env.sh DIR PYTHON_VERSION LOCKFILE: (re)build a virtualenv from a pinned lock.
# Builds into DIR.tmp and swaps it in, so an interrupted build never leaves a half env.
set -euo pipefail
dir="$1"; version="$2"; lock="$3"
py=$(bash "$(dirname "$0")/find_python.sh" "$version")
stamp="$dir/.lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$dir is up to date with $lock"; exit 0
fi
echo ">> building $dir (Python $version) from $lock"
rm -rf "$dir.tmp"
"$py" -m venv "$dir.tmp"
"$dir.tmp/bin/python" -m pip install --quiet --upgrade "pip<26" >/dev/null
# The lock is complete and pinned, so --no-deps skips re-resolution; pip check proves it.
"$dir.tmp/bin/python" -m pip install --no-deps --progress-bar off -r "$lock"
"$dir.tmp/bin/python" -m pip check
echo "$want" > "$dir.tmp/.lock.sha256"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
# venv scripts embed the build path: rewrite them for the final location.
grep -rlI --null "$dir.tmp" "$dir/bin" | xargs -0 -r sed -i "s#$(realpath -m "$dir.tmp")#$(realpath "$dir")#g; s#$dir.tmp#$dir#g"
echo ">> $dir ready"
