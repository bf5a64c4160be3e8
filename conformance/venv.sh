#!/usr/bin/env bash
# Creates (or reuses, while conformance/requirements.txt is unchanged) the venv of the
# official Python clients, and prints its python. Used by conformance/run.sh and
# bench/run.sh.
#
#   py="$(bash conformance/venv.sh VENV_DIR [REQUIREMENTS_FILE])"   (default: requirements.txt)
set -u -o pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$1"
req="${2:-$here/requirements.txt}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "venv: creating $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "venv: python3 -m venv failed (on Debian: apt-get install -y python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2 || { echo "venv: pip install -r $req failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
