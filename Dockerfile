# syntax=docker/dockerfile:1
# calico-hep-agent container image: the esbuild bundle of src/ run by the official Node binary on
# Debian slim, with Debian's iproute2.
#   npm run image                        (buildah, podman or docker, whichever is installed)
#   docker build -t calico-hep-agent:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Behind a TLS-inspecting proxy, hand its CA to `npm ci` as a build secret (optional):
#   docker build --secret id=ca,src=/path/to/proxy-ca.pem ...
#
# Stages: `build` runs on the build platform (the bundle is plain JavaScript); `node` is the official
# image for the target platform, used only as the source of the node binary; `runtime` is Debian slim
# of the same release (the base of the official image) plus that binary: no npm, corepack, yarn or
# C headers, which the official image carries and which a RUN rm could not take out of its layers.
#
# No HEALTHCHECK: Kubernetes ignores it. The DaemonSet's liveness and readiness probes (/healthz,
# /readyz on :9808) are the health checks, and a HEALTHCHECK would only add a second prober.

ARG NODE_VERSION=24.21.0
ARG DEBIAN_RELEASE=trixie

FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs its install script for the bundle (esbuild finds its
# platform binary through its optional dependency), and the project's own preinstall is for checkouts.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --no-audit --no-fund --no-update-notifier --ignore-scripts
COPY src/ src/
COPY scripts/bundle.ts scripts/bundle.ts
RUN node scripts/bundle.ts && node dist/calico-hep-agent.mjs --version

FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS node
# An instruction of its own: buildah (1.28) leaves the working container of an instruction-less
# stage behind, mounted, after COPY --from it.
WORKDIR /usr/local/bin

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# iproute2 gives `ip` with JSON output (-j) and `ip monitor`; nothing it recommends is needed.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && ip -j -V >/dev/null
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /src/dist/calico-hep-agent.mjs /src/dist/calico-hep-agent.mjs.map /app/
# After the layers with content, so that a new revision does not rebuild them.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="calico-hep-agent" \
      org.opencontainers.image.description="Kubernetes node agent that keeps Calico HostEndpoints for every node's own interfaces correct" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/calico-hep-agent/calico-hep-agent" \
      org.opencontainers.image.documentation="https://github.com/calico-hep-agent/calico-hep-agent/blob/main/docs/install.md"
ENV NODE_ENV=production
# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 9808
# ---- NODE FLAGS: the one place for Node/V8 flags, between "node" and the bundle. ----
# Chosen by measurement (docs/benchmarks.md, "Footprint on the integrated build"): --lite-mode runs
# V8's interpreter only (-9 MiB RSS; no JIT, so CPU-heavy work is slower, and no WebAssembly: fetch/undici
# and Node's type stripping fail under it; the bundle uses neither, test/deploy/bundle.test.ts checks it);
# --max-semi-space-size=1 caps the young generation (-2.7 MiB without --lite-mode, ~0 with it; no
# measurable CPU cost). Not --max-old-space-size: it would turn a large list answer into a crash.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--lite-mode", "/app/calico-hep-agent.mjs"]
CMD ["run"]
