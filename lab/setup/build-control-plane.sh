#!/usr/bin/env bash
# Builds the lab's control plane from pinned Go modules: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl (one Kubernetes release) and kwok. Outputs are cached by version under
# $LIFEBOAT_CACHE/bin/<name>-<version>/ so a second run does nothing. Go's own build and module caches
# (GOCACHE, GOMODCACHE) make a rebuild after a version bump incremental.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
mkdir -p "$cache/bin" "$cache/build"
command -v go >/dev/null || { echo "build-control-plane: Go is required (go 1.25+) and was not found on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local

log() { printf '[setup] %s\n' "$*" >&2; }
stamp() { date +%s; }

build_kubernetes() {
  local out="$cache/bin/kubernetes-$KUBERNETES_VERSION"
  if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" && -x "$out/kubectl" ]]; then
    log "kubernetes $KUBERNETES_VERSION: cached in $out"; return
  fi
  local t0; t0=$(stamp)
  local mod="$cache/build/kubernetes-$KUBERNETES_VERSION"
  mkdir -p "$mod"
  # k8s.io/kubernetes points its staging modules at ./staging/... with replace lines, which a dependent
  # module ignores. The wrapper repeats one replace line per staging module, at the matching v0.x tag,
  # read from the release's own go.mod.
  local gomod; gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  {
    echo "module lifeboat.local/lab/kubernetes-build"
    echo
    echo "go 1.25.0"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    grep -E '=> \./staging/src/' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$mod/go.mod"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  log "kubernetes $KUBERNETES_VERSION: building (cold: about 3.5 min on 2 cores)"
  mkdir -p "$out.tmp"
  (cd "$mod" && go build -ldflags "$ldflags" -o "$out.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "kubernetes $KUBERNETES_VERSION: built in $(( $(stamp) - t0 )) s"
}

build_etcd() {
  local out="$cache/bin/etcd-$ETCD_VERSION"
  if [[ -x "$out/etcd" ]]; then log "etcd $ETCD_VERSION: cached in $out"; return; fi
  local t0; t0=$(stamp)
  local mod="$cache/build/etcd-$ETCD_VERSION"
  mkdir -p "$mod" "$out.tmp"
  printf 'module lifeboat.local/lab/etcd-build\n\ngo 1.25.0\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 %s\n)\n' "$ETCD_VERSION" > "$mod/go.mod"
  log "etcd $ETCD_VERSION: building"
  (cd "$mod" && go build -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "etcd $ETCD_VERSION: built in $(( $(stamp) - t0 )) s"
}

build_kwok() {
  local out="$cache/bin/kwok-$KWOK_VERSION"
  if [[ -x "$out/kwok" ]]; then log "kwok $KWOK_VERSION: cached in $out"; return; fi
  local t0; t0=$(stamp)
  local mod="$cache/build/kwok-$KWOK_VERSION"
  mkdir -p "$mod" "$out.tmp"
  printf 'module lifeboat.local/lab/kwok-build\n\ngo 1.25.0\n\nrequire sigs.k8s.io/kwok %s\n' "$KWOK_VERSION" > "$mod/go.mod"
  log "kwok $KWOK_VERSION: building"
  (cd "$mod" && go build -ldflags "-s -w" -o "$out.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "kwok $KWOK_VERSION: built in $(( $(stamp) - t0 )) s"
}

t_all=$(stamp)
what="${1:-all}"
case "$what" in
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  kubernetes) build_kubernetes ;;
  all) build_etcd; build_kwok; build_kubernetes ;;
  *) echo "usage: $0 [all|etcd|kwok|kubernetes]" >&2; exit 2 ;;
esac
log "control plane ready in $(( $(stamp) - t_all )) s (binaries under $cache/bin)"
