# syntax=docker/dockerfile:1
# calico-hep-agent container image: the esbuild bundle of src/ on a small Node LTS with iproute2.
#   docker build -t calico-hep-agent:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Multi-arch: the build stage runs on the build platform (the bundle is plain JavaScript); only the
# runtime stage is per target platform.
#
# No HEALTHCHECK: Kubernetes ignores it. The DaemonSet's liveness and readiness probes (/healthz,
# /readyz on :9808) are the health checks, and a HEALTHCHECK would only add a second prober.

ARG NODE_VERSION=24.21.0

FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY src/ src/
COPY scripts/bundle.ts scripts/bundle.ts
RUN npm run build && node dist/calico-hep-agent.mjs --help > /dev/null

FROM node:${NODE_VERSION}-alpine AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="calico-hep-agent" \
      org.opencontainers.image.description="Kubernetes node agent that keeps Calico HostEndpoints for every node's own interfaces correct" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/calico-hep-agent/calico-hep-agent" \
      org.opencontainers.image.documentation="https://github.com/calico-hep-agent/calico-hep-agent/blob/main/docs/install.md"
# iproute2 gives the full `ip` with JSON output (-j); BusyBox's `ip` has none. The runtime needs
# neither npm nor yarn: remove them (smaller, fewer CVEs to triage).
# hadolint ignore=DL3018
RUN apk add --no-cache iproute2 \
 && ip -j -V >/dev/null \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
COPY --from=build /src/dist/calico-hep-agent.mjs /src/dist/calico-hep-agent.mjs.map /app/
ENV NODE_ENV=production
# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 9808
ENTRYPOINT ["node", "/app/calico-hep-agent.mjs"]
CMD ["run"]
