#!/usr/bin/env bash
# Fetches the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs from its pinned Go module
# (github.com/prometheus-operator/prometheus-operator, PROMETHEUS_OPERATOR_VERSION in lab/versions.env), so
# that the chart tests validate the chart's ServiceMonitor and PrometheusRule against the real schemas on the
# lab's kube-apiserver. Cached by version under $LIFEBOAT_CACHE/crds/prometheus-operator-<version>/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
out="$cache/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
log() { printf '[setup] %s\n' "$*" >&2; }
crds=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
if [[ -f "$out/${crds[0]}" && -f "$out/${crds[1]}" ]]; then
  log "prometheus-operator CRDs $PROMETHEUS_OPERATOR_VERSION: cached in $out"; exit 0
fi
command -v go >/dev/null || { echo "fetch-prometheus-operator-crds: Go is required and was not found on PATH" >&2; exit 1; }
mod="$cache/build/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
mkdir -p "$mod" "$out.tmp"
printf 'module lifeboat.local/lab/prometheus-operator-crds\n\ngo 1.25.0\n' > "$mod/go.mod"
dir=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
for crd in "${crds[@]}"; do cp "$dir/example/prometheus-operator-crd/$crd" "$out.tmp/"; done
chmod -R u+w "$out.tmp"
rm -rf "$out"; mv "$out.tmp" "$out"
log "prometheus-operator CRDs $PROMETHEUS_OPERATOR_VERSION: fetched into $out"
