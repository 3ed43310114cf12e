#!/usr/bin/env bash
# Builds aws-node-termination-handler (NTH) at the pinned version from the Go module proxy, for the lab's
# handlers `nth` and `nth-tuned`. The output is cached by version under $LIFEBOAT_CACHE/bin/nth-<version>/.
# `go install ...@version` does not work here (the proxy serves the version but not the module's version
# list), so a wrapper module requires it as a tool and builds that.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
out="$cache/bin/nth-$NTH_VERSION"
log() { printf '[setup] %s\n' "$*" >&2; }
if [[ -x "$out/node-termination-handler" ]]; then log "nth $NTH_VERSION: cached in $out"; exit 0; fi
command -v go >/dev/null || { echo "build-nth: Go is required (go 1.25+) and was not found on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
t0=$(date +%s)
mod="$cache/build/nth-$NTH_VERSION"
rm -rf "$mod"; mkdir -p "$mod" "$out.tmp"
log "nth $NTH_VERSION: building (cold: about 3 min on 2 cores)"
(
  cd "$mod"
  go mod init lifeboat.local/lab/nth-build >/dev/null 2>&1
  go get -tool "github.com/aws/aws-node-termination-handler/cmd@$NTH_VERSION"
  go build -ldflags "-s -w" -o "$out.tmp/node-termination-handler" github.com/aws/aws-node-termination-handler/cmd
)
rm -rf "$out"; mv "$out.tmp" "$out"
log "nth $NTH_VERSION: built in $(( $(date +%s) - t0 )) s"
