# syntax=docker/dockerfile:1
# The lifeboat image, for users who build with Docker (multi-arch through buildx):
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/lifeboat:0.1.0 --push .
#
# The same image as scripts/build-image builds without Docker (image/build.ts): a distroless base (glibc,
# libgcc, libstdc++, CA certificates, tzdata, the nonroot user 65532; no shell, no package manager), the
# pinned Node 24 as /usr/bin/node, and the app as `npm pack` makes it (compiled dist/, bin/) with its
# production node_modules in /app. It writes nothing to its root file system (readOnlyRootFilesystem).
# Keep NODE_VERSION equal to lab/versions.env (a test checks it).
ARG NODE_VERSION=24.21.0

# Build on the builder's own platform: the app is JavaScript and its dependencies have no native code.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS app
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md CHANGELOG.md ./
COPY bin/ bin/
COPY common/ common/
COPY src/ src/
# prepack compiles src/ to dist/; the tarball is exactly what the npm package holds.
RUN npm pack --pack-destination /tmp \
 && mkdir /app \
 && tar -xzf /tmp/lifeboat-*.tgz --strip-components=1 --no-same-owner -C /app \
 && cp package-lock.json /app/ \
 && cd /app \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.map' \) -delete \
 && rm -f node_modules/.package-lock.json

# The target platform's Node binary (no RUN here, so no emulation is needed for arm64).
FROM node:${NODE_VERSION}-bookworm-slim AS node

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=node /usr/local/bin/node /usr/bin/node
COPY --from=app /app /app
USER 65532:65532
WORKDIR /app
ENV NODE_ENV=production SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/usr/bin/node", "/app/bin/lifeboat.js"]
CMD ["run"]
