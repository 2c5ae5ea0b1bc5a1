#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing (idempotent, quiet):
#   buildah, podman, mmdebstrap, uidmap   the image test builds and runs the real image (test/deploy/image.test.ts)
#   iproute2, util-linux                  network namespaces (ip netns), unshare, setpriv
set -euo pipefail
declare -A need=([buildah]=buildah [podman]=podman [mmdebstrap]=mmdebstrap [newuidmap]=uidmap [ip]=iproute2 [unshare]=util-linux)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "packages.sh: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "packages.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
