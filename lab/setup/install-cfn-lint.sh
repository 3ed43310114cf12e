#!/usr/bin/env bash
# Installs cfn-lint (the CloudFormation linter, pinned from PyPI) into a virtualenv under
# $LIFEBOAT_CACHE/cfn-lint-<version>, like moto. The tests lint deploy/cloudformation/ with it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
venv="$cache/cfn-lint-$CFN_LINT_VERSION"
if [[ -x "$venv/bin/cfn-lint" ]]; then echo "[setup] cfn-lint $CFN_LINT_VERSION: cached in $venv" >&2; exit 0; fi
command -v python3 >/dev/null || { echo "install-cfn-lint: python3 (3.9+) is required" >&2; exit 1; }
t0=$(date +%s)
rm -rf "$venv.tmp"
python3 -m venv "$venv.tmp"
"$venv.tmp/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" >&2
rm -rf "$venv"; mv "$venv.tmp" "$venv"
# a venv is not relocatable: recreate the console script's shebang for the final path
sed -i "1s|.*|#!$venv/bin/python3|" "$venv/bin/cfn-lint"
echo "[setup] cfn-lint $CFN_LINT_VERSION: installed in $(( $(date +%s) - t0 )) s" >&2
