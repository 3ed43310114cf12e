#!/usr/bin/env bash
# Installs moto's server (pinned, from PyPI) into a virtualenv under $LIFEBOAT_CACHE/moto-<version>.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
venv="$cache/moto-$MOTO_VERSION"
if [[ -x "$venv/bin/moto_server" ]]; then echo "[setup] moto $MOTO_VERSION: cached in $venv" >&2; exit 0; fi
command -v python3 >/dev/null || { echo "install-moto: python3 (3.9+) is required" >&2; exit 1; }
t0=$(date +%s)
rm -rf "$venv.tmp"
python3 -m venv "$venv.tmp"
"$venv.tmp/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
rm -rf "$venv"; mv "$venv.tmp" "$venv"
# a venv is not relocatable: recreate the console script's shebang for the final path
sed -i "1s|.*|#!$venv/bin/python3|" "$venv/bin/moto_server"
echo "[setup] moto $MOTO_VERSION: installed in $(( $(date +%s) - t0 )) s" >&2
