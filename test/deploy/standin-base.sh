#!/usr/bin/env bash
# Builds local stand-ins for the Dockerfile's base images where no registry but Debian's archive and
# the npm registry can be reached (CI, this project's machines):
#   debian:<release>-slim                 mmdebstrap --variant=minbase, slimmed like Debian's -slim images
#   node:<version>-<release>-slim         the same plus the official Node binary (npm package
#                                         node-linux-<arch>@<version>) and npm, laid out as the official image
# Usage: standin-base.sh NODE_VERSION DEBIAN_RELEASE  (the storage: $CONTAINERS_STORAGE_CONF, as for buildah)
# Skips the work when both tags exist in that storage with this script's key (its inputs) as a label.
set -euo pipefail

node_version=$1
release=$2
npm_spec=${NPM_SPEC:-npm@11}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "standin-base: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
key=$( { cat "$0"; echo "$node_version $release $npm_spec $arch"; } | sha256sum | cut -c1-16)
debian_tag="docker.io/library/debian:${release}-slim"
node_tag="docker.io/library/node:${node_version}-${release}-slim"
label=io.calico-hep-agent.standin-key

has_key() {
  [ "$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$key" ]
}
if has_key "$debian_tag" && has_key "$node_tag"; then
  echo "standin-base: cached ($key)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hep-standin-XXXXXX")
ctrs=()
cleanup() {
  for c in "${ctrs[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Debian's -slim images drop documentation, man pages and translations (dpkg path excludes) and apt lists.
mmdebstrap --variant=minbase --quiet \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/apt/* "$1"/var/log/dpkg.log' \
  "$release" "$work/rootfs.tar" \
  "deb http://deb.debian.org/debian $release main" \
  "deb http://deb.debian.org/debian $release-updates main" \
  "deb http://deb.debian.org/debian-security $release-security main"

(cd "$work" && npm pack --silent "node-linux-$arch@$node_version" "$npm_spec" >/dev/null)

image() { # tag, then commands run with $root = the mounted file system
  local tag=$1 c root
  shift
  c=$(buildah from scratch)
  ctrs+=("$c")
  root=$(buildah mount "$c")
  tar -C "$root" -xf "$work/rootfs.tar"
  "$@" "$root"
  buildah umount "$c" >/dev/null
  buildah config --label "$label=$key" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd "$CMD" "$c"
  buildah commit --quiet --rm "$c" "$tag" >/dev/null
  ctrs=("${ctrs[@]/$c}")
}

nothing() { :; }
add_node() { # the official image's layout: /usr/local/bin/node, npm in /usr/local/lib/node_modules
  local root=$1
  tar -C "$root/usr/local" --strip-components=1 -xzf "$work"/node-linux-"$arch"-*.tgz package/bin/node package/include package/share
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work"/npm-*.tgz
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" /usr/local/bin/node -e 'process.exit(process.version === "v" + process.argv[1] ? 0 : 1)' "$node_version"
}

CMD=bash image "$debian_tag" nothing
CMD=node image "$node_tag" add_node
# Stand-ins of earlier inputs are no longer tagged: remove them (unless a cached build still uses them).
for id in $(buildah images --quiet --noheading --filter "label=$label" 2>/dev/null | sort -u); do
  [ "$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$label\"}}" "$id" 2>/dev/null)" = "$key" ] ||
    buildah rmi "$id" >/dev/null 2>&1 || true
done
echo "standin-base: built $debian_tag and $node_tag ($key)"
