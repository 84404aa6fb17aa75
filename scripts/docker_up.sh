#!/usr/bin/env bash
# Make a Docker engine answer on this machine and build the sandbox images the tests need.
#
#   scripts/docker_up.sh [RUNTIME...]     (default: every runtime of sandbox_images/)
#
# As root on Debian: installs docker.io and mmdebstrap with apt-get when they are missing,
# starts dockerd in the background (log: $CODEEVAL_DOCKERD_LOG) unless `docker info` already
# answers, waits for it (bounded), then runs scripts/build_images.sh, which skips every base
# and image whose content-hash tag exists. scripts/check calls this when CI=true or
# CODEEVAL_DOCKER_TESTS=1. dockerd is left running.
#
# Storage driver: overlay2, or $CODEEVAL_DOCKER_STORAGE; vfs (a full copy per layer) only if
# overlay2 does not start.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG="${CODEEVAL_DOCKERD_LOG:-/var/log/codeeval-dockerd.log}"
DRIVER="${CODEEVAL_DOCKER_STORAGE:-overlay2}"
WAIT_S=60
t0=$SECONDS

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "docker_up.sh: needs the Debian package(s) ${need[*]}; install them as root" >&2
    exit 1
  fi
  echo "docker_up.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

answering() { docker info >/dev/null 2>&1; }

start_dockerd() { # storage driver
  echo "docker_up.sh: starting dockerd (storage driver $1, log $LOG)" >&2
  mkdir -p "$(dirname "$LOG")"
  setsid dockerd --storage-driver="$1" >>"$LOG" 2>&1 </dev/null &
  local pid=$! waited=0
  until answering; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "docker_up.sh: dockerd ($1) exited; last lines of $LOG:" >&2
      tail -n 5 "$LOG" >&2
      return 1
    fi
    if [ "$waited" -ge $((WAIT_S * 5)) ]; then
      echo "docker_up.sh: dockerd ($1) did not answer within ${WAIT_S} s; see $LOG" >&2
      kill "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

if answering; then
  echo "docker_up.sh: Docker engine already answers" >&2
elif ! start_dockerd "$DRIVER"; then
  [ "$DRIVER" != vfs ] || exit 1
  echo "docker_up.sh: falling back to the vfs storage driver (a full copy per layer)" >&2
  start_dockerd vfs
fi
driver="$(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')"
root="$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)"
echo "docker_up.sh: engine up after $((SECONDS - t0)) s (storage $driver," \
  "$(df -h --output=avail "$root" 2>/dev/null | tail -n 1 | tr -d ' ') free in $root)" >&2

bash scripts/build_images.sh "$@"
echo "docker_up.sh: done in $((SECONDS - t0)) s" >&2
