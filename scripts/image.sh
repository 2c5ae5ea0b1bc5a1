#!/usr/bin/env bash
# `npm run image [-- TAG]`: builds the container image from the Dockerfile with whichever of buildah,
# podman or docker is installed (in that order; override with IMAGE_BUILDER=docker). The default tag
# is calico-hep-agent:<package version>. Behind a TLS-inspecting proxy, set EXTRA_CA_FILE to its CA
# (NODE_EXTRA_CA_CERTS is used when set): it reaches `npm ci` as a build secret, never a layer.
# IMAGE_BUILD_FLAGS adds flags to the build command (e.g. "--isolation chroot --pull=never", as the
# image test does).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
tag=${1:-calico-hep-agent:$version}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
builder=${IMAGE_BUILDER:-}
if [ -z "$builder" ]; then
  for b in buildah podman docker; do
    if command -v "$b" >/dev/null 2>&1; then builder=$b; break; fi
  done
fi
if [ -z "$builder" ]; then
  echo "npm run image: none of buildah, podman or docker is installed (Debian/Ubuntu: apt-get install buildah)" >&2
  exit 1
fi
read -r -a extra <<<"${IMAGE_BUILD_FLAGS:-}"
args=("${extra[@]}" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" -t "$tag")
ca=${EXTRA_CA_FILE:-${NODE_EXTRA_CA_CERTS:-}}
if [ -n "$ca" ] && [ -s "$ca" ]; then args+=(--secret "id=ca,src=$ca"); fi
echo "npm run image: $builder building $tag" >&2
case "$builder" in
  buildah) exec buildah bud --layers "${args[@]}" . ;;
  podman) exec podman build "${args[@]}" . ;;
  docker) DOCKER_BUILDKIT=1 exec docker build "${args[@]}" . ;;
  *) echo "npm run image: unknown IMAGE_BUILDER '$builder' (buildah, podman or docker)" >&2; exit 1 ;;
esac
