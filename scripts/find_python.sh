#!/usr/bin/env bash
# Prints the path of a Python X.Y interpreter, or explains how to get one.
set -euo pipefail
want="$1"                       # e.g. 3.10
var="PYTHON${want/./}"          # e.g. PYTHON310 overrides the search
if [ -n "${!var:-}" ]; then echo "${!var}"; exit 0; fi
candidates=("python$want")
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for d in $(ls -d "$root/versions/$want".* 2>/dev/null | sort -V -r); do candidates+=("$d/bin/python$want"); done
fi
candidates+=("/usr/bin/python$want" "/usr/local/bin/python$want")
for c in "${candidates[@]}"; do
  if p=$(command -v "$c" 2>/dev/null) && "$p" -c "import sys, venv; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
cat >&2 <<MSG
error: Python $want was not found, and the ${want} environment needs it.
  Get it with one of:
    pyenv install $want          (then re-run make)
    uv python install $want      (then set $var=\$(uv python find $want))
    apt-get install python$want python$want-venv
  or point $var at an existing interpreter: make $var=/path/to/python$want ...
MSG
exit 1
