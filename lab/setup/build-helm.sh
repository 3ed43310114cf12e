#!/usr/bin/env bash
# Builds Helm from its pinned Go module (helm.sh/helm/v4, version HELM_VERSION in lab/versions.env) through a
# wrapper module, like build-control-plane.sh. The chart tests run it (helm lint, helm template). The output
# is cached by version under $LIFEBOAT_CACHE/bin/helm-<version>/, so a second run does nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
mkdir -p "$cache/bin" "$cache/build"
command -v go >/dev/null || { echo "build-helm: Go is required (go 1.26+ for Helm $HELM_VERSION) and was not found on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local

log() { printf '[setup] %s\n' "$*" >&2; }
out="$cache/bin/helm-$HELM_VERSION"
if [[ -x "$out/helm" ]]; then log "helm $HELM_VERSION: cached in $out"; exit 0; fi
t0=$(date +%s)
major="${HELM_VERSION%%.*}"   # v4
mod="$cache/build/helm-$HELM_VERSION"
mkdir -p "$mod" "$out.tmp"
printf 'module lifeboat.local/lab/helm-build\n\ngo 1.26.0\n\nrequire helm.sh/helm/%s %s\n' "$major" "$HELM_VERSION" > "$mod/go.mod"
# The same -X flags as Helm's Makefile, so `helm version` reports the release.
ldflags="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION -X helm.sh/helm/$major/internal/version.gitTreeState=clean"
log "helm $HELM_VERSION: building"
(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp/helm" "helm.sh/helm/$major/cmd/helm")
rm -rf "$out"; mv "$out.tmp" "$out"
log "helm $HELM_VERSION: built in $(( $(date +%s) - t0 )) s"
