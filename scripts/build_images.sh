#!/usr/bin/env bash
# Build codeeval's sandbox images without a container registry.
#
#   scripts/build_images.sh [RUNTIME...]      (default: every folder of sandbox_images/)
#
# For each runtime: a base root filesystem made from Debian packages with mmdebstrap is piped
# into `docker import` as codeeval-base/<runtime>:<hash of suite, mirrors, packages, options>
# (skipped when that tag exists), then `codeeval images build <runtime> --base-image <base>`
# builds sandbox_images/<runtime>/Dockerfile on it (skipped when its content-hash tag exists).
# Downloaded .debs are kept in $CODEEVAL_DEB_CACHE and shared between mmdebstrap runs.
# Needs root (mmdebstrap's root mode), mmdebstrap and a reachable Docker engine
# (scripts/docker_up.sh provides both on Debian).
#
# Environment: CODEEVAL_DEBIAN_SUITE (bookworm), CODEEVAL_DEBIAN_MIRROR
# (http://deb.debian.org/debian), CODEEVAL_DEBIAN_SECURITY (http://deb.debian.org/debian-security),
# CODEEVAL_DEB_CACHE (/var/cache/codeeval/debs), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
SUITE="${CODEEVAL_DEBIAN_SUITE:-bookworm}"
MIRROR="${CODEEVAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${CODEEVAL_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
CACHE="${CODEEVAL_DEB_CACHE:-/var/cache/codeeval/debs}"

# Debian packages of each runtime's base. python3 (not -minimal): the docker backend's agent
# needs ctypes, which lives in libpython3.x-stdlib.
packages_for() {
  case "$1" in
    python) echo "python3 python3-numpy" ;;  # numpy: what candidates import most
    cpp) echo "python3 g++" ;;
    java) echo "python3 default-jdk-headless" ;;
    javascript) echo "python3 nodejs" ;;
    go) echo "python3 golang-go" ;;
    rust) echo "python3 rustc" ;;
    *) return 1 ;;
  esac
}

if [ $# -gt 0 ]; then
  runtimes=("$@")
else
  runtimes=()
  for f in sandbox_images/*/Dockerfile; do runtimes+=("$(basename "$(dirname "$f")")"); done
fi
for rt in "${runtimes[@]}"; do
  if [ ! -f "sandbox_images/$rt/Dockerfile" ] || ! packages_for "$rt" >/dev/null; then
    echo "build_images.sh: unknown runtime '$rt' (no sandbox_images/$rt/Dockerfile or no" \
      "Debian package list for it in this script)" >&2
    exit 2
  fi
done
"$PY" -c 'import docker' 2>/dev/null || {
  echo "build_images.sh: the docker SDK is missing for $PY (pip install -e '.[docker]')" >&2
  exit 1
}
command -v mmdebstrap >/dev/null || {
  echo "build_images.sh: mmdebstrap is missing (apt-get install mmdebstrap, or run" \
    "scripts/docker_up.sh, which installs it)" >&2
  exit 1
}
docker info >/dev/null 2>&1 || {
  echo "build_images.sh: no Docker engine answers (start dockerd, or run scripts/docker_up.sh)" >&2
  exit 1
}
mkdir -p "$CACHE"

sources=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main"
  "deb $SECURITY $SUITE-security main")

build_base() { # runtime tag packages
  # Root mode; no recommends; dpkg without fsync. The .debs are hard-linked from the shared
  # cache into the chroot and new ones back (copied where the cache is on another filesystem;
  # mmdebstrap's sync-in/sync-out would copy the whole cache both ways, ~10 s per base);
  # essential/unlink keeps the essential .debs until then. Docs, man pages and locales are
  # deleted after installing rather than excluded with dpkg's path-exclude, which makes
  # mmdebstrap filter every archive through mmtarfilter (~25 s more per base). The import is
  # tagged only when mmdebstrap succeeded: a cut-off tar must not pass for a cached base.
  local rt="$1" tag="$2" pkgs="$3" id cache archives debs
  cache="$(printf '%q' "$CACHE")"
  archives='"$1"/var/cache/apt/archives'
  debs="find $archives -maxdepth 1 -name '*.deb'"
  if ! id="$(mmdebstrap --mode=root --variant=apt --format=tar \
    --include="${pkgs// /,}" \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='force-unsafe-io' \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="cp -al $cache/. $archives/ 2>/dev/null || cp -a $cache/. $archives/" \
    --customize-hook="$debs -exec cp -aln -t $cache {} + 2>/dev/null \
      || $debs -exec cp -an -t $cache {} +" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    --customize-hook='rm -rf "$1"/usr/share/man/* "$1"/usr/share/locale/* "$1"/usr/share/info/*' \
    --customize-hook='find "$1"/usr/share/doc ! -type d ! -name copyright -delete' \
    --customize-hook='mkdir -p "$1"/box' \
    "$SUITE" - "${sources[@]}" |
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' \
      --change "LABEL codeeval.base.runtime=$rt codeeval.base.suite=$SUITE" \
      --message "codeeval base for $rt: mmdebstrap $SUITE + $pkgs" \
      -)"; then
    echo "build_images.sh: building the $rt base failed (mmdebstrap's messages are above)" >&2
    [ -z "$id" ] || docker rmi "$id" >/dev/null 2>&1 || true
    return 1
  fi
  docker tag "$id" "$tag"
}

summary=()
for rt in "${runtimes[@]}"; do
  pkgs="$(packages_for "$rt")"
  # The tag covers the suite, the mirrors, the package list and build_base itself (its
  # mmdebstrap options), so changing any of them builds a new base.
  key="$(declare -f build_base)|$SUITE|${sources[*]}|$(tr ' ' '\n' <<<"$pkgs" | sort | tr '\n' ' ')"
  base="codeeval-base/$rt:$(printf '%s' "$key" | sha256sum | cut -c1-12)"
  start=$SECONDS
  if docker image inspect "$base" >/dev/null 2>&1; then
    echo "== $rt: base $base exists" >&2
    base_s="cached"
  else
    echo "== $rt: building base $base from Debian $SUITE: $pkgs" >&2
    build_base "$rt" "$base" "$pkgs"
    base_s="$((SECONDS - start)) s"
  fi
  start=$SECONDS
  tag="$("$PY" -m codeeval images build "$rt" --base-image "$base" --quiet)"
  summary+=("$rt: base $base_s, image $((SECONDS - start)) s -> $tag")
done
printf '%s\n' "${summary[@]}" >&2
