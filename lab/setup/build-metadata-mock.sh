#!/usr/bin/env bash
# Builds amazon-ec2-metadata-mock (AEMM, the IMDS mock from AWS) from its pinned Go module, like the control plane:
# a wrapper module requires github.com/aws/amazon-ec2-metadata-mock@$AEMM_VERSION and `go build`s its cmd
# package. The binary is cached by version under $LIFEBOAT_CACHE/bin/ec2-metadata-mock-<version>/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
cache="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
out="$cache/bin/ec2-metadata-mock-$AEMM_VERSION"
if [[ -x "$out/ec2-metadata-mock" ]]; then
  echo "[setup] ec2-metadata-mock $AEMM_VERSION: cached in $out" >&2; exit 0
fi
command -v go >/dev/null || { echo "build-metadata-mock: Go is required (go 1.25+) and was not found on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
t0=$(date +%s)
mod="$cache/build/ec2-metadata-mock-$AEMM_VERSION"
mkdir -p "$mod" "$out.tmp"
printf 'module lifeboat.local/lab/ec2-metadata-mock-build\n\ngo 1.25.0\n\nrequire github.com/aws/amazon-ec2-metadata-mock %s\n' \
  "$AEMM_VERSION" > "$mod/go.mod"
echo "[setup] ec2-metadata-mock $AEMM_VERSION: building" >&2
(cd "$mod" && go build -ldflags "-s -w" -o "$out.tmp/ec2-metadata-mock" github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock)
rm -rf "$out"; mv "$out.tmp" "$out"
echo "[setup] ec2-metadata-mock $AEMM_VERSION: built in $(( $(date +%s) - t0 )) s" >&2
