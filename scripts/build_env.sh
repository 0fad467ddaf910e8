#!/usr/bin/env bash
# build_env.sh DIR PYTHON_VERSION LOCKFILE: (re)build a virtualenv from a pinned lock.
# Builds into DIR.tmp and swaps it in, so an interrupted build never leaves a half env.
#
# A lock's `--find-links` folder holds wheels no package index has: on this project's machines
# /opt/wheels holds the CPU build of torch 2.13.0 (`torch==2.13.0+cpu` in actions.lock).
# WHEEL_DIR names another folder. Where the folder (or its wheel) is missing, a pin with a local
# version (`+cpu`) falls back to the package index's release of the same version
# (`torch==2.13.0`), installed with its own dependencies, and the build says so.
set -euo pipefail
dir="$1"; version="$2"; lock="$3"
py=$(bash "$(dirname "$0")/find_python.sh" "$version")
stamp="$dir/.lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  touch "$stamp"  # newer than this script too, so make stops asking
  echo "$dir is up to date with $lock"; exit 0
fi

links=$(sed -n 's/^--find-links[= ]*//p' "$lock" | head -1)
wheels="${WHEEL_DIR:-$links}"
requirements="$lock"
fallback=(); missing=()
if [ -n "$wheels" ]; then
  requirements=$(mktemp)
  trap 'rm -f "$requirements"' EXIT
  shopt -s nocaseglob
  { [ -d "$wheels" ] && echo "--find-links $wheels"
    while IFS= read -r line; do
      [[ $line == --find-links* ]] && continue
      # `name==1.2.3+local`: kept when the folder has its wheel, else the index's `name==1.2.3`.
      if [[ $line =~ ^([A-Za-z0-9._-]+)==([^\ +]+)\+([^\ ]+) ]]; then
        name=${BASH_REMATCH[1]}; release=${BASH_REMATCH[2]}
        if ! compgen -G "$wheels/${name//-/_}-$release+${BASH_REMATCH[3]}-*.whl" >/dev/null; then
          fallback+=("$name==$release"); missing+=("$name==$release+${BASH_REMATCH[3]}")
          continue
        fi
      fi
      echo "$line"
    done < "$lock"
  } > "$requirements"
  shopt -u nocaseglob
  if [ ${#fallback[@]} -gt 0 ]; then
    note=""
    [[ " ${fallback[*]}" == *" torch=="* ]] && note=" (on Linux x86_64 the index's torch brings its CUDA libraries: several GB)"
    echo ">> no ${missing[*]} wheel in $wheels (the lock's --find-links; WHEEL_DIR names another folder):" \
         "installing ${fallback[*]} from the package index instead, with its own dependencies$note"
  fi
fi

echo ">> building $dir (Python $version) from $lock"
rm -rf "$dir.tmp"
"$py" -m venv "$dir.tmp"
"$dir.tmp/bin/python" -m pip install --quiet --upgrade "pip<26" >/dev/null
# The lock is complete and pinned, so --no-deps skips re-resolution; pip check proves it.
"$dir.tmp/bin/python" -m pip install --no-deps --progress-bar off -r "$requirements"
if [ ${#fallback[@]} -gt 0 ]; then
  # The rest of the lock is installed; -c keeps it as pinned while these bring what they need.
  "$dir.tmp/bin/python" -m pip install --progress-bar off -c "$requirements" "${fallback[@]}"
fi
"$dir.tmp/bin/python" -m pip check
echo "$want" > "$dir.tmp/.lock.sha256"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
# venv scripts embed the build path: rewrite them for the final location.
grep -rlI --null "$dir.tmp" "$dir/bin" | xargs -0 -r sed -i "s#$(realpath -m "$dir.tmp")#$(realpath "$dir")#g; s#$dir.tmp#$dir#g"
echo ">> $dir ready"
