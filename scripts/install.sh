#!/usr/bin/env bash
# Install codeeval and the system tools its sandbox needs (bubblewrap, util-linux).
# As root on Debian/Ubuntu, missing packages are installed with apt-get; otherwise the
# script names them and stops. EXTRAS selects pip extras, e.g. EXTRAS="[test]".
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "codeeval needs Python >= 3.11; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi

need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
{ command -v prlimit && command -v setpriv; } >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "codeeval's sandbox needs the Debian package(s): ${need[*]}" >&2
    echo "install them (sudo apt-get install ${need[*]}) and run this script again" >&2
    exit 1
  fi
fi

"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -e ".${EXTRAS:-[humaneval]}"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "codeeval installed: $("$PY" -m codeeval --version)" >&2
